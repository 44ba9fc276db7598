// Package kernel is the recipe kind "kernel": the kernel under test is
// built for each side (out of tree, in an incremental tree per settings),
// booted under qemu-system, and the benchmark suite (package suite) runs
// in it. The kernel's own results (kernel-size, build time, whether it
// built and booted) come out beside the benchmarks'; a kernel that does
// not build, boot or survive a run is the change's failure, never an
// infrastructure error.
package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/buildtree"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	linux "github.com/tcbot/tcbot/bot/kernel"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/measure/kinds/suite"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/target"
)

// Kind is the recipe kind kernel.
type Kind struct{}

// Check: the kernel is built with fixed compilers, then the suite's
// checks.
func (Kind) Check(env kinds.CheckEnv, r *config.Repo, rec *recipe.Recipe) error {
	if r.Toolchain != "host" {
		return fmt.Errorf("%s: repo %s: toolchain: %q: recipe %s builds the kernel under test with fixed compilers: want toolchain: host and host: {armv8: {cc: aarch64-linux-gnu-gcc}, ...}", env.Config.Path, r.Name, r.Toolchain, rec.Name)
	}
	return suite.Kind{}.Check(env, r, rec)
}

// BootsKernel: the kind boots the kernel it builds (kinds.Booter).
func (Kind) BootsKernel() bool { return true }

// Start keeps the targets that boot a kernel and measures the suite there
// with the side's own kernel.
func (Kind) Start(ctx context.Context, env *kinds.Env, c *kinds.Change) (kinds.Job, error) {
	targets, err := kernelTargets(env.Config.Path, env.Recipe.Name, c.Targets)
	if err != nil {
		return nil, err
	}
	c.Targets = targets
	j := &job{env: env, kernel: map[*suite.Side]map[string]*sideKernel{}}
	return suite.New(env, c, suite.Hooks{
		Identity: func(t config.Target) string { return j.kernelID(c.Repo.Name, t.Arch) },
		Build: func(ctx context.Context, c *kinds.Change, sides []*suite.Side) error {
			return j.buildKernels(ctx, c.Mirror, c.Repo, sides)
		},
		Executor:     j.newSideExecutor,
		PrepareFault: j.kernelFault,
		RunFault:     j.kernelRunFault,
		Results:      j.kernelResults,
		// The kernels under an identical binary differ: run it.
		RunIdentical: true,
	}), nil
}

// job is the kernel part of measuring one change.
type job struct {
	env    *kinds.Env
	mu     sync.Mutex
	kernel map[*suite.Side]map[string]*sideKernel // by side and target: the kernel built
}

// KernelBenchmark names the pseudo-benchmark under which a kernel recipe
// reports the kernel it built: kernel-size (bytes of the image) and
// status (it built).
const KernelBenchmark = "kernel"

// sideKernel is the kernel one side built for one arch, and how its boot
// went.
type sideKernel struct {
	Path string `json:"path,omitempty"` // the image; empty when it did not build
	Size int64  `json:"size,omitempty"`
	// Note says why it did not build ("" when it did).
	Note string `json:"note,omitempty"`
	// Wall is how long the build took; Incremental, whether the tree
	// followed from another revision.
	Wall        float64 `json:"wall_s,omitempty"`
	Incremental bool    `json:"incremental,omitempty"`
	// BootFailure says why it did not boot ("" when it did, or was not
	// tried); never stored with the build.
	BootFailure string `json:"-"`
}

// kernelBuild is how one arch's kernel is built: the recipe's settings
// with the repository's kernel: key laid over them.
type kernelBuild struct {
	Config, Fragment, Targets []string
	Image                     string
	Env                       []string
}

var kernelArch = map[string]string{"armv8": "arm64", "armv7": "arm"}

func (j *job) kernelBuild(repo *config.Repo, arch string) kernelBuild {
	k := j.env.Recipe.Kernel
	b := kernelBuild{Config: k.Config[arch], Fragment: k.Fragment[arch], Targets: k.Targets[arch], Image: k.Image[arch], Env: envList(k.Env)}
	if o := repo.Kernel; o != nil {
		if v, ok := o.Config[arch]; ok {
			b.Config = v
		}
		if v, ok := o.Fragment[arch]; ok {
			b.Fragment = v
		}
		if v, ok := o.Targets[arch]; ok {
			b.Targets = v
		}
		if v, ok := o.Image[arch]; ok {
			b.Image = v
		}
	}
	return b
}

func envList(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// kernelID folds the repository's kernel build settings for arch into
// measurement keys ("" for recipes that do not build kernels), so a
// changed kernel config is measured afresh. The recipe's own settings are
// in the suite version already.
func (j *job) kernelID(repoName, arch string) string {
	repo, err := j.env.Config.Repo(repoName)
	if err != nil || repo.Kernel == nil {
		return ""
	}
	data, _ := json.Marshal(j.kernelBuild(repo, arch))
	h := sha256.Sum256(data)
	return "-k" + hex.EncodeToString(h[:])[:8]
}

// kernelTargets keeps the targets a kernel recipe can measure on: those
// that boot a kernel (qemu-system).
func kernelTargets(cfgPath, recipeName string, targets []config.Target) ([]config.Target, error) {
	var out []config.Target
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
		if target.TraitsOf(t).BootsKernel {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: recipe %s boots the kernel it builds, so it needs a target with executor: qemu-system; %s has none", cfgPath, recipeName, strings.Join(names, ", "))
	}
	return out, nil
}

// buildKernels builds, for a kernel recipe, the kernel of every side for
// every target that side must measure (once per revision and arch; cached
// in workdir/kernel-build). A kernel that does not build is the change's
// failure (kernel/status); a build that could not run is an
// infrastructure error of that side and target.
func (j *job) buildKernels(ctx context.Context, mirror *source.Mirror, repo *config.Repo, sides []*suite.Side) error {
	built := map[string]*sideKernel{}
	for _, sd := range sides {
		for _, t := range sd.Targets() {
			id := sd.Commit.SHA + "/" + t.Arch
			k, ok := built[id]
			if !ok {
				var err error
				k, err = j.buildKernel(ctx, mirror, repo, sd.Commit, t.Arch)
				if ctx.Err() != nil {
					return fmt.Errorf("build kernel: %w", ctx.Err())
				}
				if err != nil {
					sd.Fail(t.Name, err.Error())
					continue
				}
				built[id] = k
			}
			c := *k
			j.mu.Lock()
			if j.kernel[sd] == nil {
				j.kernel[sd] = map[string]*sideKernel{}
			}
			j.kernel[sd][t.Name] = &c
			j.mu.Unlock()
		}
	}
	return nil
}

const kernelManifest = "kernel.json"

// buildKernel builds one revision's kernel for arch, out of tree, and
// keeps only the image (and kernel.json) in
// workdir/kernel-build/<repo>/<sha>-<arch>-<settings>.
func (j *job) buildKernel(ctx context.Context, mirror *source.Mirror, repo *config.Repo, c source.Commit, arch string) (*sideKernel, error) {
	kb := j.kernelBuild(repo, arch)
	settings, _ := json.Marshal(kb)
	cc := ""
	if h, ok := repo.Host[arch]; ok {
		cc = h.CC
	}
	sum := sha256.Sum256(append(settings, []byte("|"+cc)...))
	dir := filepath.Join(j.env.Config.Workdir, "kernel-build", repo.Name, c.SHA+"-"+arch+"-"+hex.EncodeToString(sum[:])[:12])
	var k sideKernel
	if data, err := os.ReadFile(filepath.Join(dir, kernelManifest)); err == nil && json.Unmarshal(data, &k) == nil {
		return &k, nil
	}
	log := j.env.Log.WithFields(logrus.Fields{"repo": repo.Name, "rev": c.SHA[:12], "arch": arch})
	// One incremental tree per (repository, arch, settings): a kernel
	// change rebuilds what it touched, not the whole kernel.
	tree := &buildtree.Tree{Dir: filepath.Join(j.env.Config.Workdir, "trees", repo.Name, "kernel-"+arch+"-"+hex.EncodeToString(sum[:])[:12])}
	makeArgs := []string{"make", "-C", tree.Src(), "O=" + tree.Build(), "ARCH=" + kernelArch[arch]}
	switch {
	case strings.HasSuffix(cc, "gcc"):
		makeArgs = append(makeArgs, "CROSS_COMPILE="+strings.TrimSuffix(cc, "gcc"))
	case strings.Contains(filepath.Base(cc), "clang"):
		makeArgs = append(makeArgs, "LLVM=1", "CC="+cc)
	default:
		return nil, &executor.InfraError{Op: "kernel build", Err: fmt.Errorf("repo %s: host.%s.cc %q: want a cross gcc (aarch64-linux-gnu-gcc) or clang", repo.Name, arch, cc)}
	}
	limit, err := time.ParseDuration(j.env.Recipe.Kernel.Timeout)
	if err != nil || limit <= 0 {
		limit = 3 * time.Hour
	}
	with := func(args ...string) []string { return append(append([]string{}, makeArgs...), args...) }
	configure := [][]string{with(kb.Config...)}
	if len(kb.Fragment) > 0 {
		// The fragment is part of the tree's settings (its directory
		// name): merged after the config targets, then olddefconfig.
		if err := os.MkdirAll(tree.Dir, 0o755); err != nil {
			return nil, &executor.InfraError{Op: "kernel build", Err: err}
		}
		frag := filepath.Join(tree.Dir, "fragment.config")
		if err := os.WriteFile(frag, []byte(strings.Join(kb.Fragment, "\n")+"\n"), 0o644); err != nil {
			return nil, &executor.InfraError{Op: "kernel build", Err: err}
		}
		configure = append(configure, []string{"sh", "-c", `cat "$0" >> .config`, frag}, with("olddefconfig"))
	}
	spec := buildtree.Spec{
		Name:      fmt.Sprintf("kernel %s of %s", arch, repo.Name),
		Configure: configure,
		Build:     [][]string{with(append([]string{"-j" + strconv.Itoa(max(1, j.env.Config.Jobs))}, kb.Targets...)...)},
		// kbuild follows Kconfig changes itself; a changed defconfig or
		// config fragment of the tree needs the config targets again.
		Reconfigure: []string{"*defconfig", "*.config"},
		Env:         kb.Env,
		Timeout:     limit,
		Sandbox:     j.env.Sandbox,
		Progress:    j.env.BuildProgress(fmt.Sprintf("build kernel %s %s@%s", arch, repo.Name, c.SHA[:12])),
	}
	j.env.Busy.Begin()
	res, err := tree.Checkout(ctx, mirror, c.SHA, spec)
	j.env.Busy.End()
	if err != nil {
		return nil, &executor.InfraError{Op: "kernel build", Err: err}
	}
	k = sideKernel{Wall: res.Wall.Seconds(), Incremental: res.Incremental}
	tmp := dir + fmt.Sprintf(".tmp-%d", os.Getpid())
	os.RemoveAll(tmp)
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, &executor.InfraError{Op: "kernel build", Err: err}
	}
	if !res.OK {
		args := strings.Join(strings.Fields(strings.TrimPrefix(res.Step, strings.Join(makeArgs, " "))), " ")
		k.Note = fmt.Sprintf("kernel build failed: make %s: %s", args, kinds.OneLineTail(res.Tail, 8))
	} else {
		img := filepath.Join(tree.Build(), filepath.FromSlash(kb.Image))
		st, err := os.Lstat(img)
		if err != nil || !st.Mode().IsRegular() {
			k.Note = fmt.Sprintf("kernel build made no %s (is image right for make %s?)", kb.Image, strings.Join(kb.Targets, " "))
		} else {
			k.Path, k.Size = filepath.Join(dir, filepath.Base(img)), st.Size()
			if err := linux.CopyFile(img, filepath.Join(tmp, filepath.Base(img))); err != nil {
				return nil, &executor.InfraError{Op: "kernel build", Err: err}
			}
		}
	}
	if err := kinds.WriteJSON(filepath.Join(tmp, kernelManifest), k); err != nil {
		return nil, &executor.InfraError{Op: "kernel build", Err: err}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, &executor.InfraError{Op: "kernel build", Err: err}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if data, rerr := os.ReadFile(filepath.Join(dir, kernelManifest)); rerr == nil && json.Unmarshal(data, &k) == nil {
			return &k, nil // another tcbot built it meanwhile
		}
		return nil, &executor.InfraError{Op: "kernel build", Err: err}
	}
	log.WithFields(logrus.Fields{"wall": res.Wall.Round(time.Second), "incremental": res.Incremental, "size": k.Size, "failed": k.Note != ""}).Info("kernel built")
	return &k, nil
}

func (j *job) kernelFor(sd *suite.Side, target string) *sideKernel {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.kernel[sd][target]
}

// errKernelNotBuilt is a side whose kernel did not build: nothing to boot.
var errKernelNotBuilt = errors.New("the kernel did not build")

// newSideExecutor makes the executor a side uses on a target; under a
// kernel recipe it boots the side's own kernel.
func (j *job) newSideExecutor(sd *suite.Side, t config.Target, ex executor.Executor) (executor.Executor, error) {
	k := j.kernelFor(sd, t.Name)
	q, ok := ex.(*executor.QEMUSystem)
	switch {
	case k == nil:
		return nil, &executor.InfraError{Op: t.Name, Err: errors.New("no kernel was built for this side")}
	case k.Note != "":
		return nil, errKernelNotBuilt
	case !ok:
		return nil, fmt.Errorf("target %s: recipe %s boots its kernel: want executor qemu-system", t.Name, j.env.Recipe.Name)
	}
	q.Kernel = k.Path
	return q, nil
}

// kernelFault reports whether err, met preparing a side's executor, is
// the kernel under test's own failure (it did not build, or did not boot)
// rather than the infrastructure's; then the side's benchmarks on target
// are marked not run, and the failure becomes the side's result.
func (j *job) kernelFault(sd *suite.Side, t config.Target, err error) bool {
	var be *executor.BootError
	reason := ""
	switch {
	case errors.Is(err, errKernelNotBuilt):
		reason = "the kernel did not build"
	case errors.As(err, &be):
		reason = "the kernel did not boot: " + be.Reason
	default:
		return false
	}
	j.mu.Lock()
	if k := j.kernel[sd][t.Name]; k != nil && be != nil {
		k.BootFailure = be.Reason
	}
	j.mu.Unlock()
	sd.FailRuns(t.Name, "not run: "+reason)
	return true
}

// kernelResults are the results of the kernel pseudo-benchmark and, when
// it did not boot, the failed boot.
func (j *job) kernelResults(sd *suite.Side, t config.Target) ([]result.Result, bool) {
	k := j.kernelFor(sd, t.Name)
	if k == nil {
		return nil, false
	}
	return Results(k, t, j.env.Suite.Name), true
}

// Built is the kernel one side built for one arch (and how its boot
// went), for kinds that boot it their own way (distro-lamp).
type Built = sideKernel

// Build builds revision c's kernel for arch as a kernel recipe does
// (env.Recipe's kernel: key under the repository's), in an incremental
// tree, cached per revision and settings. A kernel that does not build
// has a Note; an error is the infrastructure's.
func Build(ctx context.Context, env *kinds.Env, mirror *source.Mirror, repo *config.Repo, c source.Commit, arch string) (*Built, error) {
	j := &job{env: env}
	return j.buildKernel(ctx, mirror, repo, c, arch)
}

// ID folds the repository's kernel build settings for arch into
// measurement keys (see job.kernelID).
func ID(env *kinds.Env, repoName, arch string) string {
	j := &job{env: env}
	return j.kernelID(repoName, arch)
}

// Targets keeps the targets that boot a kernel (qemu-system); none is an
// error naming the config and the recipe.
func Targets(cfgPath, recipeName string, targets []config.Target) ([]config.Target, error) {
	return kernelTargets(cfgPath, recipeName, targets)
}

// Results are the results of the kernel pseudo-benchmark of a kernel
// built for target t (kernel-size, build time, status), and a failed boot
// when it did not boot (BootFailure).
func Results(k *Built, t config.Target, suiteName string) []result.Result {
	ks, _ := result.LookupMetric(result.KernelSize)
	st, _ := result.LookupMetric(result.Status)
	r := func(bench, metric, unit, note string, v float64) result.Result {
		return result.Result{Target: t.Name, Suite: suiteName, Benchmark: bench, Metric: metric, Unit: unit, Samples: []float64{v}, Note: note}
	}
	if k.Note != "" {
		return []result.Result{r(KernelBenchmark, result.Status, st.Unit, k.Note, result.Fail)}
	}
	out := []result.Result{
		r(KernelBenchmark, result.Status, st.Unit, "", result.Pass),
		r(KernelBenchmark, result.KernelSize, ks.Unit, "", float64(k.Size)),
	}
	if k.Wall > 0 {
		how := "cold build"
		if k.Incremental {
			how = "incremental build"
		}
		out = append(out, r(KernelBenchmark, result.BuildTime, "s", how, k.Wall))
	}
	if k.BootFailure != "" {
		out = append(out, r(suite.BootBenchmark, result.Status, st.Unit, "did not boot: "+k.BootFailure, result.Fail))
	}
	return out
}

// kernelRunFault reports whether err, met running a benchmark, is the
// kernel under test's failure: its guest panicked or stopped answering
// during the run (or had died before it). Then the benchmark fails with
// the reason, instead of the side's measurement being an error.
func (j *job) kernelRunFault(sd *suite.Side, runs *suite.Runs, err error) bool {
	var ge *executor.GuestError
	if !errors.As(err, &ge) {
		return false
	}
	sd.FailRun(runs, "the kernel failed during the run: "+ge.Reason)
	return true
}
