// Package distro is the recipe kind "distro-lamp": the distribution
// scenario. A Debian image (bot/distro: Apache, PHP-FPM, MariaDB and a
// PHP application) is built once per arch; each side's kernel is built
// from the revision (as the kernel kind builds it) and boots that same
// image under qemu-system (a throwaway snapshot per boot); the load
// generator runs inside the guest against each page of the application,
// base and head interleaved, and the QEMU plugin counts the whole
// system's instructions between the two marks the load generator makes
// around a fixed number of requests.
//
// Results per page: requests-per-second, latency-p50-ms, latency-p99-ms
// (timings under emulation), instructions-per-request (a Counted metric)
// and status; boot/boot-time (to a ready web server, on the guest's
// clock); and the kernel's own (kernel-size, build time, status). A kernel
// that does not build, boot or serve is the change's failure, never an
// infrastructure error.
package distro

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/distro"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/insncount"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/measure/kinds/kernel"
	"github.com/tcbot/tcbot/bot/measure/kinds/suite"
	"github.com/tcbot/tcbot/bot/oe"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/target"
	"github.com/tcbot/tcbot/bot/toolchain"
)

// Suite is the name the distribution scenario's results are filed under.
const Suite = "lamp"

// Kind is the recipe kind distro-lamp.
type Kind struct{}

// Check: the kernel under test and the load generator are built with
// fixed compilers; a toolchain under test builds the benchmarks (bench.go),
// a C library under test is swapped into the image (glibc.go).
func (Kind) Check(env kinds.CheckEnv, r *config.Repo, rec *recipe.Recipe) error {
	if benchmarksUnderTest(env.Recipes, env.RecipesWhere, r) {
		return checkBench(env, r, rec)
	}
	if r.Distro != nil || r.Toolchain == "build" {
		return checkLibrary(env, r, rec)
	}
	if r.Toolchain != "host" {
		return fmt.Errorf("%s: repo %s: toolchain: %q: recipe %s builds the kernel under test and the load generator with fixed compilers: want toolchain: host and host: {armv8: {cc: aarch64-linux-gnu-gcc}, armv7: {cc: arm-linux-gnueabihf-gcc}}", env.Config.Path, r.Name, r.Toolchain, rec.Name)
	}
	for _, t := range env.Config.Targets {
		if h, ok := r.Host[t.Arch]; !ok || h.CC == "" {
			return fmt.Errorf("%s: repo %s: host.%s.cc: missing: recipe %s builds the kernel and the load generator for target %s with it", env.Config.Path, r.Name, t.Arch, rec.Name, t.Name)
		}
	}
	return nil
}

// BootsKernel: the kind boots the kernel it builds (kinds.Booter).
func (Kind) BootsKernel() bool { return true }

// Start keeps the targets that boot a kernel.
func (Kind) Start(ctx context.Context, env *kinds.Env, c *kinds.Change) (kinds.Job, error) {
	targets, err := systemTargets(env.Config.Path, env.Recipe.Name, c.Targets)
	if err != nil {
		return nil, err
	}
	c.Targets = targets
	d := env.Recipe.Distro
	j := &job{env: env, c: c, d: d,
		spec:     distro.Spec{Suite: d.Suite, Sources: d.Sources, Packages: d.Packages, SizeMiB: d.SizeMiB},
		imageKey: map[string]string{}, images: map[string]*distro.Image{}, loadgen: map[string]string{}}
	j.builder = &distro.Builder{Dir: filepath.Join(env.Config.Workdir, "distro"), KernelCache: filepath.Join(env.Config.Workdir, "kernels"),
		Log: func(format string, a ...any) { env.Log.Infof(format, a...) }}
	if c.Repo.Distro != nil && benchmarksUnderTest(env.Recipes, "recipes", c.Repo) {
		return j.startBench()
	}
	if c.Repo.Distro != nil {
		if err := j.startLibrary(); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// systemTargets keeps the targets the scenario can measure on: those
// that boot a kernel (the image with each side's kernel), LAVA labs (the
// same, in a LAVA job per side: lava.go), and boards that run their own
// system (SSH: the load runs against the board's own Debian; its kernel
// is the board's, not the revision's).
func systemTargets(cfgPath, recipeName string, targets []config.Target) ([]config.Target, error) {
	var out []config.Target
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
		if tr := target.TraitsOf(t); tr.BootsKernel || tr.OnBoard {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: recipe %s boots a Debian system with the kernel under test (executor: qemu-system or lava) or loads a board that runs Debian (executor: ssh); %s has none of these", cfgPath, recipeName, strings.Join(names, ", "))
	}
	return out, nil
}

// booted reports whether t boots the image (under qemu-system, or in a
// LAVA lab); else it is a running board.
func booted(t config.Target) bool { return target.TraitsOf(t).BootsKernel || inLAVA(t) }

type job struct {
	env      *kinds.Env
	c        *kinds.Change
	d        *recipe.DistroStage
	spec     distro.Spec
	builder  *distro.Builder
	imageKey map[string]string        // by arch
	images   map[string]*distro.Image // by arch
	loadgen  map[string]string        // by arch: the static binary
	sides    [2]*side
	mu       sync.Mutex
	guests   []*executor.QEMUSystem
	marks    []string // the plugin's marks files
	boards   []executor.Executor
	lib      *library // the C library under test (glibc.go); nil: the kernel
}

// side is a base or head with what it built and measured, by target.
type side struct {
	*kinds.Side
	kernels map[string]*kernel.Built
	boots   map[string][]executor.BootInfo
	pages   map[string]map[string]*pageRuns // target -> page
	// notRun says why a target's pages did not run (its kernel).
	notRun map[string]string
	// lib is the C library built from the side's revision (glibc.go),
	// overlay the tree laid over the image with it, replaced how many of
	// the image's files it replaced; by target.
	lib      map[string]*toolchain.Toolchain
	overlay  map[string]string
	replaced map[string]int
}

// pageRuns are the samples of one page.
type pageRuns struct {
	rps, p50, p99, ipr []float64
	fail               string
}

func (sd *side) page(target, page string) *pageRuns {
	if sd.pages[target] == nil {
		sd.pages[target] = map[string]*pageRuns{}
	}
	if sd.pages[target][page] == nil {
		sd.pages[target][page] = &pageRuns{}
	}
	return sd.pages[target][page]
}

// Resolve resolves each arch's image (its package versions) and keys
// each side's measurement by revision, kernel settings, image and target.
func (j *job) Resolve(ctx context.Context, c *kinds.Change) error {
	for i, sd := range c.Sides {
		j.sides[i] = &side{Side: sd, kernels: map[string]*kernel.Built{}, boots: map[string][]executor.BootInfo{},
			pages: map[string]map[string]*pageRuns{}, notRun: map[string]string{},
			lib: map[string]*toolchain.Toolchain{}, overlay: map[string]string{}, replaced: map[string]int{}}
	}
	if j.lib != nil {
		return j.resolveLibrary(ctx, c)
	}
	for _, t := range c.Targets {
		if !booted(t) {
			for _, sd := range j.sides {
				sd.Key[t.Name] = store.Key{Repo: c.Repo.Name, Revision: sd.Commit.SHA, ToolchainID: "distro-board-" + target.ID(t), Target: t.Name, Suite: Suite, SuiteVersion: j.env.SuiteVersion}
			}
			continue
		}
		key, err := j.resolveImageKey(ctx, c, t)
		if err != nil {
			continue
		}
		for _, sd := range j.sides {
			id := "distro-" + key[:12] + kernel.ID(j.env, c.Repo.Name, t.Arch) + "-" + target.ID(t)
			sd.Key[t.Name] = store.Key{Repo: c.Repo.Name, Revision: sd.Commit.SHA, ToolchainID: id, Target: t.Name, Suite: Suite, SuiteVersion: j.env.SuiteVersion}
		}
	}
	return nil
}

// resolveImageKey is the key of t's image (its package versions); an
// error fails both sides on t.
func (j *job) resolveImageKey(ctx context.Context, c *kinds.Change, t config.Target) (string, error) {
	if key, ok := j.imageKey[t.Arch]; ok {
		return key, nil
	}
	key, _, err := j.builder.Key(ctx, j.spec, t.Arch)
	if err != nil {
		for _, sd := range j.sides {
			sd.Fail(t.Name, err.Error())
		}
		c.Infra = append(c.Infra, fmt.Sprintf("%s: %v", t.Name, err))
		return "", err
	}
	j.imageKey[t.Arch] = key
	return key, nil
}

// Build builds each side's kernel (or, for a C library under test, the
// kernel every boot uses and each side's library overlay), then each arch's image (its first boot
// uses a kernel that built) and load generator.
func (j *job) Build(ctx context.Context, c *kinds.Change) error {
	// The image's bootstrap (mmdebstrap, minutes) needs no kernel: it
	// runs while the kernels build.
	wait := j.bootstrap(ctx, c)
	defer wait()
	built := map[string]*kernel.Built{}
	var arches []string
	seen := map[string]bool{}
	for _, sd := range j.sides {
		for _, t := range c.Targets {
			if !c.Todo(sd.Side, t) {
				continue
			}
			if !seen[t.Arch] {
				seen[t.Arch] = true
				arches = append(arches, t.Arch)
			}
			if !booted(t) {
				continue
			}
			id := sd.Commit.SHA + "/" + t.Arch
			k, ok := built[id]
			if !ok {
				var err error
				if j.lib != nil {
					k, err = j.fixedKernel(ctx, t.Arch)
				} else {
					k, err = kernel.Build(ctx, j.env, c.Mirror, c.Repo, sd.Commit, t.Arch)
				}
				if ctx.Err() != nil {
					return fmt.Errorf("build kernel: %w", ctx.Err())
				}
				if err != nil {
					sd.Fail(t.Name, err.Error())
					c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.Name, err))
					continue
				}
				built[id] = k
			}
			cp := *k
			sd.kernels[t.Name] = &cp
		}
	}
	wait()
	for _, arch := range arches {
		if err := j.prepareArch(ctx, arch); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, t := range c.Targets {
				if t.Arch != arch {
					continue
				}
				for _, sd := range j.sides {
					if c.Todo(sd.Side, t) {
						sd.Fail(t.Name, err.Error())
					}
				}
				c.Infra = append(c.Infra, fmt.Sprintf("%s: %v", t.Name, err))
			}
		}
	}
	if j.lib != nil {
		j.libraryOverlays(ctx, c)
	}
	return nil
}

// bootstrap starts the bootstrap of each image the change's targets boot
// (nothing when it is cached); wait waits for them (their errors come
// again, with the rest of the build, from Builder.Ensure).
func (j *job) bootstrap(ctx context.Context, c *kinds.Change) (wait func()) {
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for _, t := range c.Targets {
		if !booted(t) || seen[t.Arch] || (!c.Todo(j.sides[0].Side, t) && !c.Todo(j.sides[1].Side, t)) {
			continue
		}
		seen[t.Arch] = true
		wg.Add(1)
		go func(arch string) {
			defer wg.Done()
			j.env.Busy.Begin()
			defer j.env.Busy.End()
			if err := j.builder.Bootstrap(ctx, j.spec, arch); err != nil {
				j.env.Log.Warnf("distro %s: bootstrap beside the kernel build: %v", arch, err)
			}
		}(t.Arch)
	}
	return wg.Wait
}

// prepareArch builds (or finds) the image and the load generator of arch.
func (j *job) prepareArch(ctx context.Context, arch string) error {
	// The image's first boot needs a kernel that built: the base's
	// first.
	for _, sd := range j.sides {
		if sd == nil {
			continue
		}
		for _, t := range j.c.Targets {
			if k := sd.kernels[t.Name]; t.Arch == arch && k != nil && k.Note == "" && j.builder.Kernel == "" {
				j.builder.Kernel = k.Path
			}
		}
	}
	boots := false
	for _, t := range j.c.Targets {
		boots = boots || (t.Arch == arch && booted(t))
	}
	if boots && j.builder.Kernel == "" {
		return nil // no kernel built: every side says so in its results
	}
	if boots {
		j.env.Busy.Begin()
		img, err := j.builder.Ensure(ctx, j.spec, arch)
		j.env.Busy.End()
		j.builder.Kernel = ""
		if err != nil {
			return err
		}
		j.images[arch] = img
	}
	lg, err := buildLoadgen(ctx, j.env, j.c.Repo, arch)
	if err != nil {
		return err
	}
	j.loadgen[arch] = lg
	return nil
}

// buildLoadgen builds tcbot's load generator statically for arch with the
// repository's host compiler, cached by source and compiler.
func buildLoadgen(ctx context.Context, env *kinds.Env, repo *config.Repo, arch string) (string, error) {
	return buildGuestTool(ctx, env, repo, arch, "loadgen", "the load generator")
}

// buildGuestTool builds tcbot's program benchmarks/loadgen/NAME.c (the
// load generator, markrun) statically for arch with the repository's host
// compiler (the standard cross compiler when it has none: it is never
// the toolchain under test), cached by source and compiler.
func buildGuestTool(ctx context.Context, env *kinds.Env, repo *config.Repo, arch, name, what string) (string, error) {
	src, err := readBench(env, "loadgen/"+name+".c")
	if err != nil {
		return "", err
	}
	cc := repo.Host[arch].CC
	if cc == "" {
		cc = config.Arches[arch].CC
	}
	h := sha256.Sum256(append([]byte(cc+"|"), src...))
	dir := filepath.Join(env.Config.Workdir, "distro", name, arch+"-"+hex.EncodeToString(h[:])[:12])
	out := filepath.Join(dir, name)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, src, 0o644); err != nil {
		return "", err
	}
	tmp := out + ".tmp"
	cmd := exec.CommandContext(ctx, cc, "-O2", "-static", "-o", tmp, c)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s for %s with %s: %v: %s", what, arch, cc, err, msg)
	}
	return out, os.Rename(tmp, out)
}

func readBench(env *kinds.Env, name string) ([]byte, error) {
	if env.Benchmarks == nil {
		return nil, errors.New("no benchmark sources")
	}
	data, err := fs.ReadFile(env.Benchmarks, name)
	if err != nil {
		return nil, fmt.Errorf("the source of tcbot's %s: %w", name, err)
	}
	return data, nil
}

// guest is one side's booted system on one target.
type guest struct {
	sd    *side
	t     config.Target
	q     executor.Executor
	marks string // "" on a board: no instruction counts
	seen  int    // marks read so far
}

// Run boots each side's system on each target and loads each page,
// base and head interleaved.
func (j *job) Run(ctx context.Context, c *kinds.Change) error {
	l := j.d.Load
	timeout := 10 * time.Minute
	if d, err := time.ParseDuration(l.Timeout); err == nil && d > 0 {
		timeout = d
	}
	for _, t := range c.Targets {
		if inLAVA(t) {
			if err := j.runLAVA(ctx, c, t); err != nil {
				return err
			}
			continue
		}
		var gs []*guest
		for _, sd := range j.sides {
			if !c.Todo(sd.Side, t) {
				continue
			}
			g, err := j.boot(ctx, sd, t)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				sd.Fail(t.Name, err.Error())
				c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.Name, err))
				continue
			}
			if g != nil {
				gs = append(gs, g)
			}
		}
		j.env.Progress.Start("lamp "+t.Name, l.Samples*len(l.Pages)*len(gs))
		for s := 0; s < l.Samples; s++ {
			for _, page := range l.Pages {
				for _, g := range gs {
					if err := j.load(ctx, g, page, timeout); err != nil {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						g.sd.Fail(t.Name, err.Error())
						c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, g.sd.Name, err))
					}
					j.env.Progress.Step(g.sd.Name + " " + page)
				}
			}
		}
		j.env.Progress.Finish()
		for _, g := range gs {
			if booted(g.t) {
				_ = g.q.Cleanup()
			}
		}
	}
	return nil
}

// boot starts side sd's system on t: nil without error when its kernel
// failed (noted in its results).
func (j *job) boot(ctx context.Context, sd *side, t config.Target) (*guest, error) {
	if !booted(t) {
		return j.board(ctx, sd, t)
	}
	k := sd.kernels[t.Name]
	img, lg := j.images[t.Arch], j.loadgen[t.Arch]
	switch {
	case k == nil:
		return nil, errors.New("no kernel was built for this side")
	case k.Note != "":
		sd.notRun[t.Name] = "not run: the kernel did not build"
		return nil, nil
	case img == nil || lg == "":
		return nil, errors.New("no image for " + t.Arch)
	}
	ex, err := j.env.NewExecutor(t, []string{lg})
	if err != nil {
		return nil, err
	}
	q, ok := ex.(*executor.QEMUSystem)
	if !ok {
		return nil, fmt.Errorf("target %s: recipe %s boots a Debian system with its kernel: want executor qemu-system", t.Name, j.env.Recipe.Name)
	}
	marks, err := os.CreateTemp("", "tcbot-marks-")
	if err != nil {
		return nil, err
	}
	marks.Close()
	q.Kernel, q.Disk, q.Stage2 = k.Path, img.Path, distro.StartCommand
	q.Overlay = sd.overlay[t.Name]
	q.Files = []string{lg}
	if j.d.MemoryMiB > 0 {
		q.MemoryMiB = j.d.MemoryMiB
	}
	q.BootTimeout = 15 * time.Minute
	if d, err := time.ParseDuration(j.d.BootTimeout); err == nil && d > 0 {
		q.BootTimeout = d
	}
	q.Plugin, q.PluginArgs = j.env.Plugin, []string{"marks=" + marks.Name()}
	j.env.Busy.Begin()
	err = q.Prepare(ctx)
	j.env.Busy.End()
	var be *executor.BootError
	if errors.As(err, &be) {
		k.BootFailure = be.Reason
		sd.notRun[t.Name] = "not run: the kernel did not boot the system: " + be.Reason
		if j.lib != nil {
			sd.notRun[t.Name] = "not run: the system did not boot with this " + j.lib.component + ": " + be.Reason
		}
		os.Remove(marks.Name())
		return nil, nil
	}
	if err != nil {
		os.Remove(marks.Name())
		return nil, err
	}
	j.mu.Lock()
	j.guests = append(j.guests, q)
	j.marks = append(j.marks, marks.Name())
	j.mu.Unlock()
	if info, ok := q.Boot(); ok {
		sd.boots[t.Name] = append(sd.boots[t.Name], info)
	}
	return &guest{sd: sd, t: t, q: q, marks: marks.Name()}, nil
}

// board prepares a board that runs Debian (SSH): the load generator is
// uploaded, the LAMP stack started when tcbot's start script is there,
// and the read page must answer.
func (j *job) board(ctx context.Context, sd *side, t config.Target) (*guest, error) {
	lg := j.loadgen[t.Arch]
	if lg == "" {
		return nil, errors.New("no load generator for " + t.Arch)
	}
	ex, err := j.env.NewExecutor(t, []string{lg})
	if err != nil {
		return nil, err
	}
	if err := ex.Prepare(ctx); err != nil {
		return nil, err
	}
	j.mu.Lock()
	j.boards = append(j.boards, ex)
	j.mu.Unlock()
	// The daemons the start script leaves running must not hold the SSH
	// session's pipes, or the session never ends.
	// Started only when the page does not answer yet (a board keeps its
	// stack running between measurements).
	check := "curl -fsS -o /dev/null " + distro.ReadPage + " 2>/dev/null && exit 0; " +
		"if [ -x " + distro.StartCommand + " ]; then " + distro.StartCommand + " </dev/null >/tmp/tcbot-lamp-start.log 2>&1 || { cat /tmp/tcbot-lamp-start.log; exit 3; }; fi; " +
		"curl -fsS -o /dev/null " + distro.ReadPage
	out, err := ex.Run(ctx, executor.Spec{Name: "lamp-start", Argv: []string{"/bin/sh", "-c", check}, Env: []string{"LC_ALL=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Timeout: 10 * time.Minute})
	if err != nil {
		return nil, err
	}
	if out.ExitCode != 0 {
		return nil, fmt.Errorf("board %s does not serve %s (exit %d: %s): install tcbot's LAMP application on it (README: \"distro-lamp on a board\")", t.Name, distro.ReadPage, out.ExitCode, kinds.OneLineTail(string(out.Stderr)+string(out.Stdout), 4))
	}
	return &guest{sd: sd, t: t, q: ex}, nil
}

// load runs the load generator once against page in g.
func (j *job) load(ctx context.Context, g *guest, page string, timeout time.Duration) error {
	l := j.d.Load
	pr := g.sd.page(g.t.Name, page)
	if pr.fail != "" {
		return nil
	}
	url := distro.ReadPage
	if page == "write" {
		url = distro.WritePage
	}
	argv := []string{"./loadgen", "-w", strconv.Itoa(l.Warmup), "-n", strconv.Itoa(l.Requests),
		"-c", strconv.Itoa(l.Connections), "-t", "60", "-e", distro.PageOK, url}
	if g.marks != "" {
		argv = append(argv[:1], append([]string{"-M"}, argv[1:]...)...)
	}
	j.env.Busy.Begin()
	out, err := g.q.Run(ctx, executor.Spec{Name: "lamp-" + page, Argv: argv, Env: []string{"LC_ALL=C"}, Timeout: timeout})
	j.env.Busy.End()
	j.env.Stats.AddRun()
	var ge *executor.GuestError
	switch {
	case errors.As(err, &ge):
		pr.fail = "the kernel failed during the load: " + ge.Reason
		return nil
	case err != nil:
		return err
	case out.ExitCode != 0 || out.TimedOut:
		pr.fail = fmt.Sprintf("the load generator failed (exit %d%s): %s", out.ExitCode, map[bool]string{true: ", timed out"}[out.TimedOut], kinds.OneLineTail(string(out.Stderr)+string(out.Stdout), 4))
		return nil
	}
	var lines []string
	marked := -1
	for _, line := range strings.Split(string(out.Stdout), "\n") {
		if v, ok := strings.CutPrefix(line, "marked: "); ok {
			marked, _ = strconv.Atoi(strings.TrimSpace(v))
			continue
		}
		lines = append(lines, line)
	}
	res, err := oe.ParseLAMP("loadgen output", []byte(strings.Join(lines, "\n")))
	if err != nil {
		return fmt.Errorf("%s: %w", page, err)
	}
	if res.Errors > 0 {
		pr.fail = fmt.Sprintf("%d of %d requests failed", res.Errors, res.Requests)
		return nil
	}
	if g.marks != "" {
		marks, err := insncount.ReadMarks(g.marks)
		if err != nil {
			return err
		}
		if len(marks) != g.seen+2 || marked != l.Requests {
			return fmt.Errorf("%s: the instruction-count marks: want 2 new marks around %d requests, have %d new (%d marked): is the plugin loaded?", page, l.Requests, len(marks)-g.seen, marked)
		}
		g.seen = len(marks)
		pr.ipr = append(pr.ipr, float64(marks[len(marks)-1]-marks[len(marks)-2])/float64(l.Requests))
	}
	pr.rps = append(pr.rps, res.RequestsPerSecond)
	pr.p50 = append(pr.p50, res.LatencyP50ms)
	pr.p99 = append(pr.p99, res.LatencyP99ms)
	return nil
}

// Collect assembles a side's measurement on t.
func (j *job) Collect(c *kinds.Change, ksd *kinds.Side, t config.Target) (*store.Measurement, error) {
	var sd *side
	for _, s := range j.sides {
		if s.Side == ksd {
			sd = s
		}
	}
	if sd == nil {
		return nil, fmt.Errorf("side %s is not this change's", ksd.Name)
	}
	want := map[string]bool{}
	for _, m := range j.d.Metrics {
		want[m] = true
	}
	var rs []result.Result
	add := func(bench, metric, note string, samples []float64) {
		if !want[metric] && metric != result.Status || len(samples) == 0 {
			return
		}
		m, _ := result.LookupMetric(metric)
		rs = append(rs, result.Result{Target: t.Name, Suite: Suite, Benchmark: bench, Metric: metric, Unit: m.Unit, Samples: samples, Note: note})
	}
	if k := sd.kernels[t.Name]; k != nil && j.lib == nil {
		rs = append(rs, kernel.Results(k, t, Suite)...)
	}
	if j.lib != nil {
		rs = append(rs, j.libraryResults(sd, t)...)
	}
	img := j.images[t.Arch]
	if boots := sd.boots[t.Name]; len(boots) > 0 {
		var secs []float64
		for _, b := range boots {
			d := b.GuestUptime
			if d <= 0 {
				d = b.Time
			}
			secs = append(secs, d.Seconds())
		}
		note := fmt.Sprintf("to a ready web server, guest clock; host wall %.1fs", boots[0].Time.Seconds())
		if img != nil {
			note += fmt.Sprintf("; Debian %s image %s", j.spec.Suite, img.Key[:12])
		}
		add(suite.BootBenchmark, result.BootTime, note, secs)
		add(suite.BootBenchmark, result.Status, "", []float64{result.Pass})
	}
	for _, page := range j.d.Load.Pages {
		bench := "lamp-" + page
		pr := sd.pages[t.Name][page]
		switch {
		case sd.notRun[t.Name] != "":
			add(bench, result.Status, sd.notRun[t.Name], []float64{result.Fail})
		case pr == nil:
			continue
		case pr.fail != "":
			add(bench, result.Status, pr.fail, []float64{result.Fail})
		default:
			n := fmt.Sprintf("%d requests per sample, %d connections, inside the guest", j.d.Load.Requests, j.d.Load.Connections)
			if !booted(t) {
				n = fmt.Sprintf("%d requests per sample, %d connections, on the board (its own kernel and system)", j.d.Load.Requests, j.d.Load.Connections)
			}
			add(bench, "instructions-per-request", "whole system between the load generator's marks; "+n, pr.ipr)
			add(bench, "requests-per-second", n, pr.rps)
			add(bench, "latency-p50-ms", "", pr.p50)
			add(bench, "latency-p99-ms", "", pr.p99)
			add(bench, result.Status, "", []float64{result.Pass})
		}
	}
	desc := "kernel " + short(sd.Commit.SHA)
	if j.lib != nil {
		desc = fmt.Sprintf("%s %s (%d of libc6's files replaced) + kernel %s@%s", j.lib.component, short(sd.Commit.SHA), sd.replaced[t.Name], j.lib.kernel.Name, short(j.lib.commit.SHA))
	}
	if img != nil {
		desc += fmt.Sprintf(" + Debian %s image %s (%s)", j.spec.Suite, img.Key[:12], versionsLine(img))
	}
	return &store.Measurement{Key: sd.Key[t.Name], Subject: sd.Commit.Subject, Toolchain: desc, Results: rs, CreatedAt: time.Now().UTC()}, nil
}

// Compare: under emulation the recipe's informational metrics (timings)
// never decide; on a board, where there are no instruction counts, the
// timings decide with the boards' statistics.
func (j *job) Compare(opts *compare.Options, targets []config.Target) {
	for _, t := range targets {
		if booted(t) {
			opts.Informational[t.Name] = append(opts.Informational[t.Name], j.d.Informational...)
		}
	}
}

// Close kills the guests still up.
func (j *job) Close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, q := range j.guests {
		_ = q.Cleanup()
	}
	for _, m := range j.marks {
		os.Remove(m)
	}
	for _, b := range j.boards {
		_ = b.Cleanup()
	}
	j.guests, j.marks, j.boards = nil, nil, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
