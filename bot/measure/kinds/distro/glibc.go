package distro

// The C library under test: a glibc repository (toolchain: build with the
// glibc toolchain recipe, use sysroot) is built from each side's revision
// and installed over the image's libc6 for the boot (a throwaway overlay:
// the image is never written); both sides boot the same kernel, built
// once from the repository and revision its distro.kernel names.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/distro"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/measure/kinds/kernel"
	"github.com/tcbot/tcbot/bot/measure/kinds/suite"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/target"
	"github.com/tcbot/tcbot/bot/toolchain"
)

// LibraryBenchmark names the results of the C library built from the
// revision (status, build-time).
const LibraryBenchmark = "glibc"

// libcPackage is the Debian package the built C library replaces.
const libcPackage = "libc6"

// library is the swap of a C library, and the kernel every boot uses.
type library struct {
	component string // the toolchain recipe's component (glibc)
	*pinnedKernel
}

// pinnedKernel is the kernel every boot uses when the kernel is not what
// is under test (distro.kernel: a C library, or the benchmarks' toolchain,
// bench.go): built once per arch from the repository and revision the
// config names, with the recipe's kernel settings.
type pinnedKernel struct {
	kernel *config.Repo
	mirror *source.Mirror
	commit source.Commit
	built  map[string]*kernel.Built // by arch
}

// pinKernel is the kernel repository r's distro.kernel names.
func pinKernel(env *kinds.Env, r *config.Repo) (*pinnedKernel, error) {
	kr, err := env.Config.Repo(r.Distro.Kernel.Repo)
	if err != nil {
		return nil, fmt.Errorf("repo %s: distro.kernel.repo: %w", r.Name, err)
	}
	return &pinnedKernel{kernel: kr, built: map[string]*kernel.Built{}}, nil
}

// resolve finds the pinned revision in the kernel repository's mirror.
func (p *pinnedKernel) resolve(ctx context.Context, env *kinds.Env, c *kinds.Change) error {
	var err error
	if p.mirror, err = source.Open(filepath.Join(env.Config.Workdir, "git"), p.kernel.Name, p.kernel.URL); err != nil {
		return fmt.Errorf("repo %s: distro.kernel: %w", c.Repo.Name, err)
	}
	if p.commit, err = p.mirror.Resolve(ctx, c.Repo.Distro.Kernel.Rev); err != nil {
		return fmt.Errorf("repo %s: distro.kernel.rev %q of %s: %w", c.Repo.Name, c.Repo.Distro.Kernel.Rev, p.kernel.Name, err)
	}
	return nil
}

// checkLibrary checks a repository whose C library the image gets: its
// toolchain recipe installs a C library (use sysroot) and distro.kernel
// names the kernel the image boots.
func checkLibrary(env kinds.CheckEnv, r *config.Repo, rec *recipe.Recipe) error {
	where := fmt.Sprintf("%s: repo %s", env.Config.Path, r.Name)
	if r.Toolchain != "build" || r.Build == nil || r.Build.Recipe == "" {
		return fmt.Errorf("%s: recipe %s swaps a C library built from the revision into the image: want toolchain: build and build: {recipe: glibc} (or, for a kernel repository, toolchain: host without distro:)", where, rec.Name)
	}
	tr, err := recipe.LoadToolchain(env.Recipes, env.RecipesWhere, r.Build.Recipe)
	if err != nil {
		return fmt.Errorf("%s: build.recipe: %w", where, err)
	}
	if use := r.Build.Use; tr.Component != "glibc" || tr.Use != "sysroot" || (use != "" && use != "sysroot") {
		return fmt.Errorf("%s: build.recipe %s builds %s (use %s): recipe %s swaps in a C library installed with make install DESTDIR= (component glibc, use sysroot)", where, tr.Name, tr.Component, tr.Use, rec.Name)
	}
	if r.Distro == nil || r.Distro.Kernel.Repo == "" {
		return fmt.Errorf("%s: distro.kernel: missing: the image boots a fixed kernel when glibc is under test: add distro: {kernel: {repo: linux, rev: v6.1}} naming a kernel repository of this config", where)
	}
	return nil
}

// startLibrary prepares the swap of the repository's C library.
func (j *job) startLibrary() error {
	r := j.c.Repo
	pk, err := pinKernel(j.env, r)
	if err != nil {
		return err
	}
	comp := "glibc"
	if tr, err := recipe.LoadToolchain(j.env.Recipes, "recipes", r.Build.Recipe); err == nil {
		comp = tr.Component
	}
	j.lib = &library{component: comp, pinnedKernel: pk}
	return nil
}

// resolveLibrary builds each side's C library (a head that does not build
// is the change's failure) and keys each side's measurement by the
// library, the kernel, the image and the target.
func (j *job) resolveLibrary(ctx context.Context, c *kinds.Change) error {
	l := j.lib
	if err := l.resolve(ctx, j.env, c); err != nil {
		return err
	}
	for _, t := range c.Targets {
		if !booted(t) {
			return fmt.Errorf("%s: target %s: recipe %s swaps %s into the image it boots: a board's own system cannot take it (want executor: qemu-system)", j.env.Config.Path, t.Name, j.env.Recipe.Name, l.component)
		}
	}
	for _, t := range c.Targets {
		key, err := j.resolveImageKey(ctx, c, t)
		if err != nil {
			continue
		}
		for _, sd := range j.sides {
			tc := j.env.ResolveToolchain(ctx, c, sd.Side, t, func(broken *toolchain.BuildError) *store.Measurement {
				return j.libraryFailed(c.Repo.Name, sd, t, broken)
			})
			switch {
			case tc == nil:
				continue
			case tc.Built == nil || tc.Built.Install == "":
				sd.Fail(t.Name, "no installed C library")
				c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: toolchain %s installs no C library (want use: sysroot)", t.Name, sd.Name, tc.Desc))
				continue
			}
			sd.lib[t.Name] = tc
			id := "distro-" + key[:12] + "-" + l.component + "-" + tc.ID + "-" + l.kernel.Name + "-" + short(l.commit.SHA) + kernel.ID(j.env, l.kernel.Name, t.Arch) + "-" + target.ID(t)
			sd.Key[t.Name] = store.Key{Repo: c.Repo.Name, Revision: sd.Commit.SHA, ToolchainID: id, Target: t.Name, Suite: Suite, SuiteVersion: j.env.SuiteVersion}
		}
	}
	c.Unchanged = j.identicalLibraries(c.Targets)
	return nil
}

// identicalLibraries says why nothing needs measuring when the head's
// library is byte-identical to the base's on every target.
func (j *job) identicalLibraries(targets []config.Target) string {
	base, head := j.sides[0], j.sides[1]
	var ids []string
	for _, t := range targets {
		b, h := base.lib[t.Name], head.lib[t.Name]
		if b == nil || h == nil || b.ID != h.ID {
			return ""
		}
		ids = append(ids, t.Arch+" "+h.ID)
	}
	if len(ids) == 0 {
		return ""
	}
	return fmt.Sprintf("unchanged without measuring: the %s built from %s is byte-identical to the one built from %s (%s), so the system it is swapped into cannot differ",
		j.lib.component, short(head.Commit.SHA), short(base.Commit.SHA), strings.Join(kinds.Dedupe(ids), ", "))
}

// libraryFailed is the head's measurement on t when its library did not
// build: the library and every page fail, naming the step and the end of
// its log.
func (j *job) libraryFailed(repo string, sd *side, t config.Target, be *toolchain.BuildError) *store.Measurement {
	note := fmt.Sprintf("%s failed to build for %s (%s): %s", be.Component, be.Arch, be.Step, kinds.OneLineTail(be.Tail, 3))
	meas := &store.Measurement{Key: store.Key{Repo: repo, Revision: sd.Commit.SHA, Target: t.Name, Suite: Suite}, Subject: sd.Commit.Subject}
	st, _ := result.LookupMetric(result.Status)
	add := func(bench, note string) {
		meas.Results = append(meas.Results, result.Result{Target: t.Name, Suite: Suite, Benchmark: bench, Metric: result.Status, Unit: st.Unit, Samples: []float64{result.Fail}, Note: note})
	}
	add(LibraryBenchmark, note)
	add(suite.BootBenchmark, "not run: "+be.Component+" failed to build")
	for _, p := range j.d.Load.Pages {
		add("lamp-"+p, "not run: "+be.Component+" failed to build")
	}
	return meas
}

// fixedKernel builds (once per arch) the kernel every boot of a library
// swap uses.
func (j *job) fixedKernel(ctx context.Context, arch string) (*kernel.Built, error) {
	return j.lib.build(ctx, j.env, arch)
}

// build builds (once per arch) the pinned kernel. It is not under test:
// when it does not build, that is an infrastructure error.
func (p *pinnedKernel) build(ctx context.Context, env *kinds.Env, arch string) (*kernel.Built, error) {
	if k, ok := p.built[arch]; ok {
		return k, nil
	}
	k, err := kernel.Build(ctx, env, p.mirror, p.kernel, p.commit, arch)
	if err == nil && k.Note != "" {
		err = fmt.Errorf("the kernel the image boots (%s@%s) did not build: %s", p.kernel.Name, short(p.commit.SHA), k.Note)
	}
	if err != nil {
		return nil, err
	}
	p.built[arch] = k
	return k, nil
}

// libraryOverlays lays each side's built library over the image's libc6,
// once per (image, library), in workdir/distro/overlays.
func (j *job) libraryOverlays(ctx context.Context, c *kinds.Change) {
	for _, sd := range j.sides {
		for _, t := range c.Targets {
			tc, img := sd.lib[t.Name], j.images[t.Arch]
			if tc == nil || img == nil || !c.Todo(sd.Side, t) {
				continue
			}
			dir, replaced, err := libraryOverlay(ctx, j.env.Config.Workdir, img, tc)
			if err != nil {
				sd.Fail(t.Name, err.Error())
				c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.Name, err))
				continue
			}
			sd.overlay[t.Name], sd.replaced[t.Name] = dir, replaced
		}
	}
}

// libraryOverlay is the overlay of library tc on img, made once.
func libraryOverlay(ctx context.Context, workdir string, img *distro.Image, tc *toolchain.Toolchain) (string, int, error) {
	dir := filepath.Join(workdir, "distro", "overlays", img.Arch+"-"+img.Key[:12]+"-"+tc.ID)
	count := filepath.Join(dir, ".tcbot-replaced")
	if data, err := os.ReadFile(count); err == nil {
		n := strings.Count(string(data), "\n")
		return filepath.Join(dir, "root"), n, nil
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	ov, err := distro.MakeLibraryOverlay(ctx, img, libcPackage, tc.Built.Install, filepath.Join(tmp, "root"))
	if err != nil {
		os.RemoveAll(tmp)
		return "", 0, err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".tcbot-replaced"), []byte(strings.Join(ov.Replaced, "\n")+"\n"), 0o644); err != nil {
		return "", 0, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", 0, err
	}
	return filepath.Join(dir, "root"), len(ov.Replaced), nil
}

// libraryResults are the results of side sd's library on t: status and
// build time, and the system's failure to boot with it.
func (j *job) libraryResults(sd *side, t config.Target) []result.Result {
	tc := sd.lib[t.Name]
	if tc == nil || tc.Built == nil {
		return nil
	}
	st, _ := result.LookupMetric(result.Status)
	how := "cold build"
	if tc.Built.Incremental {
		how = "incremental build"
	}
	out := []result.Result{
		{Target: t.Name, Suite: Suite, Benchmark: LibraryBenchmark, Metric: result.Status, Unit: st.Unit, Samples: []float64{result.Pass}},
		{Target: t.Name, Suite: Suite, Benchmark: LibraryBenchmark, Metric: result.BuildTime, Unit: "s", Samples: []float64{tc.Built.Wall.Seconds()}, Note: tc.Built.Component + ", " + how},
	}
	if k := sd.kernels[t.Name]; k != nil && k.BootFailure != "" {
		out = append(out, result.Result{Target: t.Name, Suite: Suite, Benchmark: suite.BootBenchmark, Metric: result.Status, Unit: st.Unit, Samples: []float64{result.Fail}, Note: "did not boot: " + k.BootFailure})
	}
	return out
}
