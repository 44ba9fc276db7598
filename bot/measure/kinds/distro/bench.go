package distro

// The benchmarks under test: a toolchain repository (toolchain: manifest,
// or a compiler or binutils built from the revision) with distro.kernel
// builds tcbot's benchmark suite with each side's toolchain (the suite
// kind's build and runs, through its hooks) and runs it inside the Debian
// image, booted with the pinned kernel (the same at base and head). Each
// run goes through markrun (benchmarks/loadgen/markrun.c), which executes
// the mark instruction before it forks the benchmark and after it reaped
// it; the QEMU plugin records the whole system's instruction count at each
// mark, and their difference is the run's system-instructions (a Counted
// metric: the benchmark itself is exact, the timer ticks and kernel threads
// around it are not).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/insncount"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/measure/kinds/kernel"
	"github.com/tcbot/tcbot/bot/measure/kinds/suite"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/target"
)

// markrunName is the runner's file name in the guest's /tcbot.
const markrunName = "markrun"

// benchmarksUnderTest reports whether repository r's changes are the
// benchmarks' toolchain (a manifest, or a toolchain built from the
// revision that is not a C library installed as a sysroot): then the
// image runs the suite built by each side's toolchain. A C library built
// from the revision is swapped into the image instead (glibc.go).
func benchmarksUnderTest(recipes fs.FS, where string, r *config.Repo) bool {
	switch r.Toolchain {
	case "manifest":
		return true
	case "build":
		if r.Build == nil || r.Build.Recipe == "" {
			return false
		}
		use := r.Build.Use
		if use == "" {
			tr, err := recipe.LoadToolchain(recipes, where, r.Build.Recipe)
			if err != nil {
				return false // checkLibrary says what is wrong
			}
			use = tr.Use
		}
		return use != "sysroot"
	}
	return false
}

// checkBench checks a toolchain repository whose benchmarks run on the
// image: its toolchain and the suite as the suite kind checks them, and
// distro.kernel naming the kernel the image boots.
func checkBench(env kinds.CheckEnv, r *config.Repo, rec *recipe.Recipe) error {
	if err := (suite.Kind{}).Check(env, r, rec); err != nil {
		return err
	}
	if len(rec.Build.Command) == 0 {
		return fmt.Errorf("%s: build.command: missing: recipe %s builds the benchmark suite with the toolchain of repo %s", rec.Source, rec.Name, r.Name)
	}
	if r.Distro == nil || r.Distro.Kernel.Repo == "" {
		return fmt.Errorf("%s: repo %s: distro.kernel: missing: recipe %s runs the benchmarks built by the toolchain under test on the Debian image, which boots a fixed kernel: add distro: {kernel: {repo: linux, rev: v6.1}} naming a kernel repository of this config", env.Config.Path, r.Name, rec.Name)
	}
	return nil
}

// benchJob measures a toolchain on the image: the suite kind's job with
// hooks that boot the image with the pinned kernel and count each run
// between markrun's marks.
type benchJob struct {
	kinds.Job
	d       *job
	pinned  *pinnedKernel
	markrun map[string]string // by arch
}

// startBench keeps the targets that boot the image (qemu-system) and
// starts the suite's job with the distribution scenario's hooks.
func (j *job) startBench() (kinds.Job, error) {
	c := j.c
	var keep []config.Target
	for _, t := range c.Targets {
		if target.TraitsOf(t).BootsKernel {
			// Timings under emulation inform (and are not resampled);
			// the instructions decide.
			t.Informational = slices.Concat(t.Informational, j.d.Informational, []string{result.Time})
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		var names []string
		for _, t := range c.Targets {
			names = append(names, t.Name)
		}
		return nil, fmt.Errorf("%s: recipe %s runs the benchmarks of repo %s inside the Debian image it boots under qemu-system; %s has no such target", j.env.Config.Path, j.env.Recipe.Name, c.Repo.Name, strings.Join(names, ", "))
	}
	c.Targets = keep
	pk, err := pinKernel(j.env, c.Repo)
	if err != nil {
		return nil, err
	}
	b := &benchJob{d: j, pinned: pk, markrun: map[string]string{}}
	b.Job = suite.New(j.env, c, suite.Hooks{
		Identity:     b.identity,
		Build:        b.build,
		Executor:     b.executor,
		Instructions: result.SystemInstructions,
	})
	return b, nil
}

// Resolve resolves the pinned kernel and each arch's image (the keys of
// the measurements hold both), then the suite's toolchains. A head whose
// toolchain is the base's on every target changes nothing measurable.
func (b *benchJob) Resolve(ctx context.Context, c *kinds.Change) error {
	if err := b.resolveSystem(ctx, c); err != nil {
		return err
	}
	if err := b.Job.Resolve(ctx, c); err != nil {
		return err
	}
	if c.Unchanged == "" {
		c.Unchanged = identicalKeys(c)
	}
	return nil
}

// resolveSystem resolves the pinned kernel's revision and the key of each
// target's image; an image that cannot be resolved fails both sides there.
func (b *benchJob) resolveSystem(ctx context.Context, c *kinds.Change) error {
	if err := b.pinned.resolve(ctx, b.d.env, c); err != nil {
		return err
	}
	for _, t := range c.Targets {
		if _, ok := b.d.imageKey[t.Arch]; ok {
			continue
		}
		key, _, err := b.d.builder.Key(ctx, b.d.spec, t.Arch)
		if err != nil {
			for _, sd := range c.Sides {
				sd.Fail(t.Name, err.Error())
			}
			c.Infra = append(c.Infra, fmt.Sprintf("%s: %v", t.Name, err))
			continue
		}
		b.d.imageKey[t.Arch] = key
	}
	return nil
}

// identicalKeys says why nothing needs measuring when base and head have
// the same toolchain (the same compiler and flags: the same identity) on
// every target: every binary, and so the system it runs in, is the same.
func identicalKeys(c *kinds.Change) string {
	base, head := c.Sides[0], c.Sides[1]
	var ids []string
	for _, t := range c.Targets {
		bk, bok := base.Key[t.Name]
		hk, hok := head.Key[t.Name]
		if !bok || !hok || bk.ToolchainID != hk.ToolchainID || head.Meas[t.Name] != nil || head.HasFailed(t.Name) || base.HasFailed(t.Name) {
			return ""
		}
		ids = append(ids, t.Name)
	}
	if len(ids) == 0 {
		return ""
	}
	return fmt.Sprintf("unchanged without measuring: the toolchain at %s is the one at %s on %s (the same compiler and flags), so no benchmark binary and no system it runs in can differ",
		short(head.Commit.SHA), short(base.Commit.SHA), strings.Join(ids, ", "))
}

// identity is what the image and the pinned kernel add to a side's key
// on t.
func (b *benchJob) identity(t config.Target) string {
	key := b.d.imageKey[t.Arch]
	if len(key) < 12 {
		return "-distro-unresolved" // the side failed on t already
	}
	return "-distro-" + key[:12] + "-" + b.pinned.kernel.Name + "-" + short(b.pinned.commit.SHA) + kernel.ID(b.d.env, b.pinned.kernel.Name, t.Arch)
}

// build builds, for each arch the sides measure on, the pinned kernel,
// the image (its first boot with that kernel) and markrun; what fails is
// an infrastructure error of every side on that arch's targets.
func (b *benchJob) build(ctx context.Context, c *kinds.Change, sides []*suite.Side) error {
	var arches []string
	for _, sd := range sides {
		for _, t := range sd.Targets() {
			if !slices.Contains(arches, t.Arch) {
				arches = append(arches, t.Arch)
			}
		}
	}
	for _, arch := range arches {
		err := b.prepare(ctx, c, arch)
		if ctx.Err() != nil {
			return fmt.Errorf("distro %s: %w", arch, ctx.Err())
		}
		if err == nil {
			continue
		}
		for _, sd := range sides {
			for _, t := range sd.Targets() {
				if t.Arch == arch {
					sd.Fail(t.Name, err.Error())
				}
			}
		}
	}
	return nil
}

func (b *benchJob) prepare(ctx context.Context, c *kinds.Change, arch string) error {
	k, err := b.pinned.build(ctx, b.d.env, arch)
	if err != nil {
		return err
	}
	if b.d.images[arch] == nil {
		b.d.builder.Kernel = k.Path // for the image's first boot
		b.d.env.Busy.Begin()
		img, err := b.d.builder.Ensure(ctx, b.d.spec, arch)
		b.d.env.Busy.End()
		b.d.builder.Kernel = ""
		if err != nil {
			return err
		}
		b.d.images[arch] = img
	}
	mr, err := buildGuestTool(ctx, b.d.env, c.Repo, arch, markrunName, "markrun")
	if err != nil {
		return err
	}
	b.markrun[arch] = mr
	return nil
}

// executor makes side sd's guest on t: the image booted with the pinned
// kernel, the side's binaries and markrun in its /tcbot, the plugin
// recording the marks.
func (b *benchJob) executor(sd *suite.Side, t config.Target, ex executor.Executor) (executor.Executor, error) {
	q, ok := ex.(*executor.QEMUSystem)
	if !ok {
		return nil, fmt.Errorf("target %s: recipe %s boots the Debian image: want executor qemu-system", t.Name, b.d.env.Recipe.Name)
	}
	k, img, mr := b.pinned.built[t.Arch], b.d.images[t.Arch], b.markrun[t.Arch]
	if k == nil || img == nil || mr == "" {
		return nil, &executor.InfraError{Op: t.Name, Err: errors.New("no image, kernel or markrun for " + t.Arch)}
	}
	if b.d.env.Plugin == "" {
		return nil, &executor.InfraError{Op: t.Name, Err: errors.New("no instruction-counting plugin: the runs inside the image are counted by its marks")}
	}
	marks, err := os.CreateTemp("", "tcbot-marks-")
	if err != nil {
		return nil, err
	}
	marks.Close()
	q.Kernel, q.Disk = k.Path, img.Path
	// A quiet system: nothing of the LAMP stack changes with the
	// toolchain, and idle daemons would only add to the counts' spread.
	// The binaries copied onto the image are written back before the
	// runs, not in the middle of one.
	q.Stage2 = "sync"
	q.Files = append(slices.Clone(q.Files), mr)
	if b.d.d.MemoryMiB > 0 {
		q.MemoryMiB = b.d.d.MemoryMiB
	}
	q.BootTimeout = 15 * time.Minute
	if d, err := time.ParseDuration(b.d.d.BootTimeout); err == nil && d > 0 {
		q.BootTimeout = d
	}
	q.Plugin, q.PluginArgs = b.d.env.Plugin, []string{"marks=" + marks.Name()}
	return &markedGuest{QEMUSystem: q, marks: marks.Name()}, nil
}

// Collect is the suite's measurement, saying what the benchmarks ran on.
func (b *benchJob) Collect(c *kinds.Change, sd *kinds.Side, t config.Target) (*store.Measurement, error) {
	m, err := b.Job.Collect(c, sd, t)
	if err != nil || m == nil {
		return m, err
	}
	if img := b.d.images[t.Arch]; img != nil {
		m.Toolchain += fmt.Sprintf(", run on Debian %s image %s (%s) + kernel %s@%s", b.d.spec.Suite, img.Key[:12], versionsLine(img), b.pinned.kernel.Name, short(b.pinned.commit.SHA))
	}
	return m, nil
}

// markedGuest is a booted image whose runs go through markrun and are
// counted between its marks.
type markedGuest struct {
	*executor.QEMUSystem
	marks string // the plugin's marks file
	seen  int    // marks read so far
}

// Run runs spec's command under markrun: its outcome is the command's,
// with the whole system's instructions between the two marks.
func (g *markedGuest) Run(ctx context.Context, spec executor.Spec) (*executor.Outcome, error) {
	spec.Argv = append([]string{"./" + markrunName}, spec.Argv...)
	o, err := g.QEMUSystem.Run(ctx, spec)
	if err != nil {
		return o, err
	}
	marks, err := insncount.ReadMarks(g.marks)
	if err != nil {
		return nil, &executor.InfraError{Op: spec.Name, Err: err}
	}
	prev := g.seen
	g.seen = len(marks)
	stdout, st, ok := parseMarkrun(o.Stdout)
	if !ok {
		// markrun did not finish (killed at the timeout) or could not
		// run: no count, the outcome says how it ended.
		return o, nil
	}
	o.Stdout = stdout
	if st.signal == 0 {
		o.ExitCode, o.Signal = st.exit, ""
	}
	if len(marks) != prev+2 {
		return nil, &executor.InfraError{Op: spec.Name, Err: fmt.Errorf("the instruction-count marks: want 2 new marks around the run, have %d: is the plugin loaded?", len(marks)-prev)}
	}
	o.Instructions, o.HasCounts = marks[prev+1]-marks[prev], true
	return o, nil
}

// Cleanup stops the guest and removes its marks file.
func (g *markedGuest) Cleanup() error {
	err := g.QEMUSystem.Cleanup()
	os.Remove(g.marks)
	return err
}

// markrunStatus is how the program markrun ran ended.
type markrunStatus struct {
	exit, signal int
}

// markrunPrefix starts the line markrun prints after its program's
// output.
const markrunPrefix = "tcbot-markrun: "

// parseMarkrun splits markrun's stdout into its program's output and the
// status on markrun's last line; ok is false without that line (markrun
// did not get to its second mark).
func parseMarkrun(stdout []byte) (program []byte, st markrunStatus, ok bool) {
	s := string(stdout)
	if !strings.HasSuffix(s, "\n") {
		return stdout, st, false
	}
	// The program's output need not end its last line.
	i := strings.LastIndex(s, markrunPrefix)
	if i < 0 || strings.Contains(s[i:len(s)-1], "\n") {
		return stdout, st, false
	}
	how, n, _ := strings.Cut(s[i+len(markrunPrefix):len(s)-1], " ")
	v, err := strconv.Atoi(n)
	switch {
	case err != nil || v < 0:
		return stdout, st, false
	case how == "exit":
		st.exit = v
	case how == "signal" && v > 0:
		st.exit, st.signal = -1, v
	default:
		return stdout, st, false
	}
	return stdout[:i], st, true
}

// checkSystem boots the image on t with the pinned kernel (tcbot target
// check of a toolchain repository) and counts one run under markrun.
func (b *benchJob) checkSystem(ctx context.Context, c *kinds.Change, t config.Target) (string, error) {
	if err := b.resolveSystem(ctx, c); err != nil {
		return "", err
	}
	if len(c.Infra) > 0 {
		return "", errors.New(strings.Join(c.Infra, "; "))
	}
	start := time.Now()
	if err := b.prepare(ctx, c, t.Arch); err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	img := b.d.images[t.Arch]
	how := fmt.Sprintf("built in %s", time.Since(start).Round(time.Second))
	if img.Cached {
		how = fmt.Sprintf("cached; built by %s in %.0fs", img.Method, img.BuildTime)
	}
	ex, err := b.d.env.NewExecutor(t, nil)
	if err != nil {
		return "", err
	}
	if ex, err = b.executor(nil, t, ex); err != nil {
		return "", err
	}
	defer ex.Cleanup()
	g := ex.(*markedGuest)
	if err := g.Prepare(ctx); err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	info, _ := g.Boot()
	env := []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := g.QEMUSystem.Run(ctx, executor.Spec{Name: "uname", Argv: []string{"uname", "-r"}, Env: env, Timeout: 5 * time.Minute})
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	uname := strings.TrimSpace(string(out.Stdout))
	out, err = g.Run(ctx, executor.Spec{Name: "markrun", Argv: []string{"/bin/true"}, Env: env, Timeout: 5 * time.Minute})
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	if !out.OK() || !out.HasCounts {
		return "", fmt.Errorf("%s: markrun /bin/true: %s, counted %t: %s", t.Name, out.Describe(), out.HasCounts, kinds.OneLineTail(string(out.Stderr)+string(out.Stdout), 4))
	}
	return fmt.Sprintf("%s: usable for %s: booted Debian %s image %s (%s; %s) with kernel %s of %s@%s in %.1fs (%.2fs on the guest's clock)\n  %s\n  markrun /bin/true: %d instructions of the whole system between the marks (the benchmarks of %s run the same way, built by each side's toolchain)",
		t.Name, b.d.env.Recipe.Name, b.d.spec.Suite, img.Key[:12], img.Path, how, uname, b.pinned.kernel.Name, short(b.pinned.commit.SHA), info.Time.Seconds(), info.GuestUptime.Seconds(),
		versionsLine(img), out.Instructions, c.Repo.Name), nil
}
