package measure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/buildtree"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/source"
)

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

func (m *Measurer) kernelBuild(repo *config.Repo, arch string) kernelBuild {
	k := m.Recipe.Kernel
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
func (m *Measurer) kernelID(repoName, arch string) string {
	if m.Recipe == nil || m.Recipe.Kind != "kernel" {
		return ""
	}
	repo, err := m.Config.Repo(repoName)
	if err != nil || repo.Kernel == nil {
		return ""
	}
	data, _ := json.Marshal(m.kernelBuild(repo, arch))
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
		if t.Executor == "qemu-system" {
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
func (m *Measurer) buildKernels(ctx context.Context, mirror *source.Mirror, repo *config.Repo, sides []*side) error {
	if m.Recipe.Kind != "kernel" {
		return nil
	}
	built := map[string]*sideKernel{}
	for _, sd := range sides {
		for _, tb := range sd.builds {
			t := tb.target
			id := sd.commit.SHA + "/" + t.Arch
			k, ok := built[id]
			if !ok {
				var err error
				k, err = m.buildKernel(ctx, mirror, repo, sd.commit, t.Arch)
				if ctx.Err() != nil {
					return fmt.Errorf("build kernel: %w", ctx.Err())
				}
				if err != nil {
					sd.fail(t.Name, err.Error())
					continue
				}
				built[id] = k
			}
			c := *k
			sd.mu.Lock()
			if sd.kernel == nil {
				sd.kernel = map[string]*sideKernel{}
			}
			sd.kernel[t.Name] = &c
			sd.mu.Unlock()
		}
	}
	return nil
}

const kernelManifest = "kernel.json"

// buildKernel builds one revision's kernel for arch, out of tree, and
// keeps only the image (and kernel.json) in
// workdir/kernel-build/<repo>/<sha>-<arch>-<settings>.
func (m *Measurer) buildKernel(ctx context.Context, mirror *source.Mirror, repo *config.Repo, c source.Commit, arch string) (*sideKernel, error) {
	kb := m.kernelBuild(repo, arch)
	settings, _ := json.Marshal(kb)
	cc := ""
	if h, ok := repo.Host[arch]; ok {
		cc = h.CC
	}
	sum := sha256.Sum256(append(settings, []byte("|"+cc)...))
	dir := filepath.Join(m.Config.Workdir, "kernel-build", repo.Name, c.SHA+"-"+arch+"-"+hex.EncodeToString(sum[:])[:12])
	var k sideKernel
	if data, err := os.ReadFile(filepath.Join(dir, kernelManifest)); err == nil && json.Unmarshal(data, &k) == nil {
		return &k, nil
	}
	log := m.Log.WithFields(logrus.Fields{"repo": repo.Name, "rev": c.SHA[:12], "arch": arch})
	// One incremental tree per (repository, arch, settings): a kernel
	// change rebuilds what it touched, not the whole kernel.
	tree := &buildtree.Tree{Dir: filepath.Join(m.Config.Workdir, "trees", repo.Name, "kernel-"+arch+"-"+hex.EncodeToString(sum[:])[:12])}
	makeArgs := []string{"make", "-C", tree.Src(), "O=" + tree.Build(), "ARCH=" + kernelArch[arch]}
	switch {
	case strings.HasSuffix(cc, "gcc"):
		makeArgs = append(makeArgs, "CROSS_COMPILE="+strings.TrimSuffix(cc, "gcc"))
	case strings.Contains(filepath.Base(cc), "clang"):
		makeArgs = append(makeArgs, "LLVM=1", "CC="+cc)
	default:
		return nil, &executor.InfraError{Op: "kernel build", Err: fmt.Errorf("repo %s: host.%s.cc %q: want a cross gcc (aarch64-linux-gnu-gcc) or clang", repo.Name, arch, cc)}
	}
	limit, err := time.ParseDuration(m.Recipe.Kernel.Timeout)
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
		Build:     [][]string{with(append([]string{"-j" + strconv.Itoa(max(1, m.Config.Jobs))}, kb.Targets...)...)},
		// kbuild follows Kconfig changes itself; a changed defconfig or
		// config fragment of the tree needs the config targets again.
		Reconfigure: []string{"*defconfig", "*.config"},
		Env:         kb.Env,
		Timeout:     limit,
		Sandbox:     m.Sandbox,
		Progress:    m.buildProgress(fmt.Sprintf("build kernel %s %s@%s", arch, repo.Name, c.SHA[:12])),
	}
	m.busy.begin()
	res, err := tree.Checkout(ctx, mirror, c.SHA, spec)
	m.busy.end()
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
		k.Note = fmt.Sprintf("kernel build failed: make %s: %s", args, oneLineTail(res.Tail, 8))
	} else {
		img := filepath.Join(tree.Build(), filepath.FromSlash(kb.Image))
		st, err := os.Lstat(img)
		if err != nil || !st.Mode().IsRegular() {
			k.Note = fmt.Sprintf("kernel build made no %s (is image right for make %s?)", kb.Image, strings.Join(kb.Targets, " "))
		} else {
			k.Path, k.Size = filepath.Join(dir, filepath.Base(img)), st.Size()
			if err := copyFile(img, filepath.Join(tmp, filepath.Base(img))); err != nil {
				return nil, &executor.InfraError{Op: "kernel build", Err: err}
			}
		}
	}
	if err := writeJSON(filepath.Join(tmp, kernelManifest), k); err != nil {
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

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (sd *side) kernelFor(target string) *sideKernel {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.kernel[target]
}

// errKernelNotBuilt is a side whose kernel did not build: nothing to boot.
var errKernelNotBuilt = errors.New("the kernel did not build")

// newSideExecutor makes the executor a side uses on a target; under a
// kernel recipe it boots the side's own kernel.
func (m *Measurer) newSideExecutor(sd *side, t config.Target, files []string) (executor.Executor, error) {
	ex, err := m.newExecutor(t, files)
	if err != nil || m.Recipe.Kind != "kernel" {
		return ex, err
	}
	k := sd.kernelFor(t.Name)
	q, ok := ex.(*executor.QEMUSystem)
	switch {
	case k == nil:
		return nil, &executor.InfraError{Op: t.Name, Err: errors.New("no kernel was built for this side")}
	case k.Note != "":
		return nil, errKernelNotBuilt
	case !ok:
		return nil, fmt.Errorf("target %s: recipe %s boots its kernel: want executor qemu-system", t.Name, m.Recipe.Name)
	}
	q.Kernel = k.Path
	return q, nil
}

// kernelFault reports whether err, met preparing a side's executor, is
// the kernel under test's own failure (it did not build, or did not boot)
// rather than the infrastructure's; then the side's benchmarks on target
// are marked not run, and the failure becomes the side's result.
func (m *Measurer) kernelFault(sd *side, t config.Target, err error) bool {
	if m.Recipe.Kind != "kernel" {
		return false
	}
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
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if k := sd.kernel[t.Name]; k != nil && be != nil {
		k.BootFailure = be.Reason
	}
	for _, runs := range sd.runs[t.Name] {
		if runs.failNote == "" {
			runs.failNote = "not run: " + reason
		}
	}
	return true
}

// kernelResults are the results of the kernel pseudo-benchmark and, when
// it did not boot, the failed boot.
func kernelResults(suiteName string, sd *side, t config.Target) []result.Result {
	k := sd.kernelFor(t.Name)
	if k == nil {
		return nil
	}
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
		out = append(out, r(BootBenchmark, result.Status, st.Unit, "did not boot: "+k.BootFailure, result.Fail))
	}
	return out
}

// kernelRunFault reports whether err, met running a benchmark, is the
// kernel under test's failure: its guest panicked or stopped answering
// during the run (or had died before it). Then the benchmark fails with
// the reason, instead of the side's measurement being an error.
func (m *Measurer) kernelRunFault(sd *side, runs *benchRuns, err error) bool {
	if m.Recipe.Kind != "kernel" {
		return false
	}
	var ge *executor.GuestError
	if !errors.As(err, &ge) {
		return false
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if runs.failNote == "" {
		runs.failNote = "the kernel failed during the run: " + ge.Reason
	}
	return true
}
