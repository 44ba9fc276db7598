// Package build is the toolchain kind "build": the toolchain is built from
// the revision under test with a toolchain recipe (recipes/toolchain/:
// gcc, binutils, glibc, llvm) in an incremental build tree that follows
// revisions (bot/buildtree), inside the sandbox, and the benchmarks are
// built with it:
//
//   - overlay: the host's cross gcc driver with the built programs (as
//     and ld, or cc1) through -B, and the host's libgcc and sysroot;
//     refused when the component's version (gcc/BASE-VER) is not the
//     host compiler's;
//   - full: a compiler of its own (the recipe's full section);
//   - sysroot: a C library installed into a private sysroot and linked
//     statically by the host compiler.
//
// What a revision builds is cached by (repository, recipe, use, arch,
// revision, host compiler) under workdir/toolchains, so it is built once
// and reused by every report, bisection step and rerun. The toolchain's
// identity hashes what was built, not where: a revision whose built
// programs are byte-identical to its base's (a documentation change) has
// the same identity, and measuring short-circuits it.
package build

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/buildtree"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/toolchain"
)

func init() { toolchain.Register("build", kind{}) }

type kind struct{}

// Check: the toolchain recipe loads (config check is the only check of
// recipes no test builds, such as llvm's).
func (kind) Check(repo *config.Repo, recipes fs.FS, where string) error {
	if repo.Build == nil {
		return nil
	}
	if _, err := recipe.LoadToolchain(recipes, where, repo.Build.Recipe); err != nil {
		return fmt.Errorf("build.recipe: %w", err)
	}
	return nil
}

// Syncer is what the build needs of the repository: its files at a
// revision, written incrementally (source.Mirror).
type Syncer interface {
	toolchain.Source
	Sync(sha, dir string, have source.Files) (source.Files, []string, error)
}

// manifest is what a cached build of one revision holds.
type manifest struct {
	OK          bool              `json:"ok"`
	Step        string            `json:"step,omitempty"`
	Tail        string            `json:"tail,omitempty"`
	Wall        float64           `json:"wall_s"`
	Incremental bool              `json:"incremental"`
	Files       map[string]string `json:"files,omitempty"` // output -> sha256
	Use         string            `json:"use"`
	CC          string            `json:"cc,omitempty"` // full: the compiler, relative to the cache dir
}

const manifestFile = "tcbot-toolchain.json"

func (kind) Resolve(ctx context.Context, r *toolchain.Resolver, req toolchain.Request) (*toolchain.Toolchain, error) {
	repo, env := req.Repo, r.Env
	if repo.Build == nil || repo.Build.Recipe == "" {
		return nil, fmt.Errorf("repo %s: toolchain: build needs build: {recipe: gcc}", repo.Name)
	}
	if env.Workdir == "" || env.Recipes == nil {
		return nil, fmt.Errorf("repo %s: toolchain: build: no workdir or recipes to build with", repo.Name)
	}
	rec, err := recipe.LoadToolchain(env.Recipes, env.RecipesWhere, repo.Build.Recipe)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", repo.Name, err)
	}
	use := rec.Use
	if repo.Build.Use != "" {
		use = repo.Build.Use
	}
	if use == "full" && rec.Full == nil && rec.Use != "full" {
		return nil, fmt.Errorf("repo %s: build.use: full, but toolchain recipe %s (%s) has no full section", repo.Name, rec.Name, rec.Source)
	}
	src, ok := req.Source.(Syncer)
	if !ok {
		return nil, fmt.Errorf("repo %s: toolchain: build needs a git mirror of the repository", repo.Name)
	}
	arch, ok := config.Arches[req.Arch]
	if !ok {
		return nil, fmt.Errorf("unknown arch %s", req.Arch)
	}
	hostCC := arch.CC
	triplet := strings.TrimSuffix(hostCC, "-gcc")
	hostHash, hostVersion, err := r.Identify(ctx, hostCC)
	if err != nil {
		return nil, err
	}
	if use == "overlay" && rec.VersionFile != "" {
		if err := sameVersion(ctx, r, src, req.SHA, rec, hostCC, repo.Name); err != nil {
			return nil, err
		}
	}

	name := fmt.Sprintf("%s-%s-%s", rec.Name, use, req.Arch)
	tree, spec, err := treeSpec(ctx, r, req, rec, use, name, hostCC, triplet)
	if err != nil {
		return nil, err
	}
	// A revision's build is kept by what built it: the host compiler and
	// the recipe's commands, environment and outputs (a fixed recipe
	// builds again).
	outs, _ := json.Marshal(rec.Outputs)
	key := sha256.Sum256([]byte(spec.Digest() + "\x00" + string(outs)))
	cache := filepath.Join(env.Workdir, "toolchains", repo.Name, name, req.SHA+"-"+hostHash[:12]+"-"+hex.EncodeToString(key[:])[:12])
	m, err := readManifest(cache)
	if err != nil {
		m, err = buildRevision(ctx, r, src, req, rec, use, name, cache, triplet, tree, spec)
		if err != nil {
			return nil, err
		}
	} else if env.Log != nil {
		env.Log.WithField("toolchain", name).WithField("rev", short(req.SHA)).Debug("built toolchain taken from the cache")
	}
	if !m.OK {
		return nil, &toolchain.BuildError{Component: rec.Component, Arch: req.Arch, Step: m.Step, Tail: m.Tail}
	}

	// The identity: what was built (content, not paths), the host
	// compiler it works with, how it is used, the flags.
	var files []string
	for f := range m.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s use %s host %s cflags %q\n", rec.Name, use, hostHash, rec.CFlags)
	for _, f := range files {
		fmt.Fprintf(h, "%s %s\n", f, m.Files[f])
	}
	salt := hex.EncodeToString(h.Sum(nil))
	cflags := repo.Build.CFlagsOr()
	built := &toolchain.Built{Component: rec.Component, Recipe: rec.Name, Use: use, Wall: time.Duration(m.Wall * float64(time.Second)), Incremental: m.Incremental}
	var t *toolchain.Toolchain
	switch use {
	case "overlay":
		t, err = r.FromEntry(ctx, req, toolchain.Entry{CC: hostCC, CFlags: cflags}, toolchain.Identity{Salt: salt,
			Desc: fmt.Sprintf("%s with %s %s from %s@%s (overlay), %s", hostVersion, rec.Component, strings.Join(files, ", "), repo.Name, short(req.SHA), cflags)})
		if err == nil {
			t.PathFlags = []string{"-B" + filepath.Join(cache, "bin") + "/"}
			if len(rec.CFlags) > 0 {
				var inc string
				inc, err = hostFile(ctx, r, hostCC, "include")
				t.PathFlags = append(t.PathFlags, recipe.Expand(rec.CFlags, map[string][]string{"host_include": {inc}, "triplet": {triplet}})...)
			}
		}
	case "sysroot":
		t, err = r.FromEntry(ctx, req, toolchain.Entry{CC: hostCC, CFlags: cflags}, toolchain.Identity{Salt: salt,
			Desc: fmt.Sprintf("%s with %s from %s@%s (static, private sysroot), %s", hostVersion, rec.Component, repo.Name, short(req.SHA), cflags)})
		if err == nil {
			var inc string
			inc, err = hostFile(ctx, r, hostCC, "include")
			t.PathFlags = sysrootFlags(filepath.Join(cache, "install"), inc, triplet)
			built.Install = filepath.Join(cache, "install")
		}
	default: // full
		var extra []string
		if rec.Full != nil {
			extra = rec.Full.CFlags
		}
		flags := strings.TrimSpace(strings.Join(recipe.Expand(extra, map[string][]string{"triplet": {triplet}}), " ") + " " + cflags)
		t, err = r.FromEntry(ctx, req, toolchain.Entry{CC: filepath.Join(cache, m.CC), CFlags: flags}, toolchain.Identity{Fixed: true, Salt: salt,
			Desc: fmt.Sprintf("%s built from %s@%s (full), %s", rec.Component, repo.Name, short(req.SHA), flags)})
	}
	if err != nil {
		return nil, err
	}
	t.Mounts = []string{cache}
	t.Built = built
	return t, nil
}

// treeSpec is the build tree of (repo, recipe, use, arch) and how the
// recipe builds a revision in it.
func treeSpec(ctx context.Context, r *toolchain.Resolver, req toolchain.Request, rec *recipe.Toolchain, use, name, hostCC, triplet string) (*buildtree.Tree, buildtree.Spec, error) {
	env := r.Env
	tree := &buildtree.Tree{Dir: filepath.Join(env.Workdir, "trees", req.Repo.Name, name)}
	install := filepath.Join(tree.Dir, "install")
	hostConf, archOpts, err := hostConfigure(ctx, r, hostCC)
	if err != nil {
		return nil, buildtree.Spec{}, err
	}
	vars := map[string][]string{
		"src": {tree.Src()}, "build": {tree.Build()}, "install": {install}, "triplet": {triplet},
		"jobs": {strconv.Itoa(max(1, env.Jobs))}, "host_cc": {hostCC},
		"host_configure": hostConf, "host_arch_options": archOpts,
	}
	configure, steps := rec.Configure, rec.Build
	if use == "full" && rec.Full != nil && rec.Use != "full" {
		configure, steps = rec.Full.Configure, rec.Full.Build
	}
	spec := buildtree.Spec{
		Name:        fmt.Sprintf("%s %s of %s", rec.Name, req.Arch, req.Repo.Name),
		Configure:   recipe.ExpandSteps(configure, vars),
		Build:       recipe.ExpandSteps(steps, vars),
		Reconfigure: rec.Reconfigure,
		Env:         rec.EnvList(),
		Timeout:     rec.TimeoutOr(3 * time.Hour),
		Sandbox:     r.Sandbox,
	}
	if env.Progress != nil {
		spec.Progress = env.Progress(fmt.Sprintf("build %s %s@%s", name, req.Repo.Name, short(req.SHA)))
	}
	return tree, spec, nil
}

// buildRevision builds sha in tree and keeps its outputs in cache, with a
// manifest; a failed build is kept too (a revision is built once).
func buildRevision(ctx context.Context, r *toolchain.Resolver, src Syncer, req toolchain.Request, rec *recipe.Toolchain, use, name, cache, triplet string, tree *buildtree.Tree, spec buildtree.Spec) (*manifest, error) {
	env := r.Env
	install := filepath.Join(tree.Dir, "install")
	if use != "overlay" {
		// The install directory is the tree's; a new revision installs
		// over a clean one.
		if err := os.RemoveAll(install); err != nil {
			return nil, err
		}
	}
	if env.Log != nil {
		env.Log.WithField("toolchain", name).WithField("rev", short(req.SHA)).Info("building toolchain")
	}
	res, err := tree.Checkout(ctx, src, req.SHA, spec)
	if err != nil {
		return nil, err
	}
	m := &manifest{OK: res.OK, Step: res.Step, Tail: lastLines(res.Tail, 12), Wall: res.Wall.Seconds(), Incremental: res.Incremental, Use: use, Files: map[string]string{}}
	tmp := cache + fmt.Sprintf(".tmp-%d", os.Getpid())
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	if res.OK {
		switch use {
		case "overlay":
			for prog, p := range rec.Outputs {
				if err := copyFile(filepath.Join(tree.Build(), filepath.FromSlash(p)), filepath.Join(tmp, "bin", prog)); err != nil {
					m.OK, m.Step, m.Tail = false, "outputs", fmt.Sprintf("the build made no %s (%s): %v", p, prog, err)
					break
				}
				sum, err := fileSHA(filepath.Join(tmp, "bin", prog))
				if err != nil {
					return nil, err
				}
				m.Files[prog] = sum
			}
		default:
			if err := copyTree(install, filepath.Join(tmp, "install")); err != nil {
				m.OK, m.Step, m.Tail = false, "install", err.Error()
				break
			}
			if m.Files, err = hashTree(filepath.Join(tmp, "install")); err != nil {
				return nil, err
			}
			if use == "full" && rec.Full != nil {
				cc := recipe.Expand([]string{rec.Full.CC}, map[string][]string{"install": {filepath.Join(tmp, "install")}, "triplet": {triplet}})[0]
				rel, err := filepath.Rel(tmp, cc)
				if err != nil || strings.HasPrefix(rel, "..") {
					m.OK, m.Step, m.Tail = false, "install", fmt.Sprintf("full.cc %s is not inside {install}", rec.Full.CC)
				}
				m.CC = rel
			}
		}
	}
	if err := writeManifest(tmp, m); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, cache); err != nil {
		os.RemoveAll(tmp)
		if got, rerr := readManifest(cache); rerr == nil {
			return got, nil // another tcbot built it meanwhile
		}
		return nil, err
	}
	return m, nil
}

// sameVersion refuses overlay when the revision's component version is
// not the host compiler's (its cc1 would not fit the host's driver).
func sameVersion(ctx context.Context, r *toolchain.Resolver, src Syncer, sha string, rec *recipe.Toolchain, hostCC, repo string) error {
	data, found, err := src.ReadFile(sha, rec.VersionFile)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("repo %s@%s: no %s: is this a %s repository? (toolchain recipe %s)", repo, short(sha), rec.VersionFile, rec.Component, rec.Name)
	}
	out, err := r.Sandbox.Output(ctx, 30*time.Second, []string{hostCC, "-dumpfullversion"}, []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}, "", nil)
	if err != nil {
		return err
	}
	want, got := strings.TrimSpace(string(out)), strings.TrimSpace(string(data))
	if got != want {
		return fmt.Errorf("repo %s@%s: %s is %s but the host compiler %s is %s: its %s cannot be used with the host's driver (overlay); set build: {recipe: %s, use: full} to build a whole compiler", repo, short(sha), rec.VersionFile, got, hostCC, want, rec.Component, rec.Name)
	}
	return nil
}

// hostConfigure reads the host cross compiler's configure options from
// its -v: the paths and target options a compiler must share with it to
// find its headers, libraries and programs, and the arch's defaults.
func hostConfigure(ctx context.Context, r *toolchain.Resolver, hostCC string) (all, arch []string, err error) {
	cmd := exec.CommandContext(ctx, hostCC, "-v")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("%s -v: %w", hostCC, err)
	}
	return ParseConfigured(out.String())
}

// Options of the host compiler's configure line that a built compiler
// shares: where things are, what it targets, and (archOptions) the
// arch's code generation defaults.
var pathOptions = map[string]bool{
	"--prefix": true, "--libexecdir": true, "--libdir": true, "--includedir": true, "--with-sysroot": true,
	"--build": true, "--host": true, "--target": true, "--program-prefix": true,
	"--with-gcc-major-version-only": true, "--enable-multiarch": true, "--enable-linker-build-id": true,
	"--enable-checking": true, "--disable-werror": true, "--enable-gnu-unique-object": true,
	"--with-default-libstdcxx-abi": true, "--enable-clocale": true,
}

var archOptions = map[string]bool{
	"--with-arch": true, "--with-cpu": true, "--with-tune": true, "--with-fpu": true, "--with-float": true,
	"--with-mode": true, "--with-abi": true, "--enable-fix-cortex-a53-843419": true, "--enable-default-pie": true,
	"--enable-default-ssp": true,
}

// ParseConfigured returns the options of a gcc -v "Configured with:" line
// that a compiler built to replace it must share (all), and the arch's
// defaults among them (arch).
func ParseConfigured(v string) (all, arch []string, err error) {
	var line string
	sc := bufio.NewScanner(strings.NewReader(v))
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "Configured with: "); ok {
			line = l
		}
	}
	if line == "" {
		return nil, nil, errors.New("no \"Configured with:\" line in the host compiler's -v")
	}
	for _, w := range shellWords(line)[1:] {
		name, _, _ := strings.Cut(w, "=")
		switch {
		case archOptions[name]:
			arch = append(arch, w)
			all = append(all, w)
		case pathOptions[name]:
			all = append(all, w)
		}
	}
	return all, arch, nil
}

// shellWords splits a configure line as the shell would (single and
// double quotes, no expansions).
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// hostFile is where the host compiler keeps one of its own files
// (-print-file-name): its header directories.
func hostFile(ctx context.Context, r *toolchain.Resolver, hostCC, name string) (string, error) {
	out, err := r.Sandbox.Output(ctx, 30*time.Second, []string{hostCC, "-print-file-name=" + name}, []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}, "", nil)
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(out))
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%s -print-file-name=%s: %q is not a path", hostCC, name, p)
	}
	return p, nil
}

// sysrootFlags build the benchmarks against the C library installed in dir
// (DESTDIR of make install: dir/usr/include, dir/usr/lib) and link them
// statically with it: its headers first, then the compiler's own
// (gccInclude) and the kernel's from Debian's cross sysroot; its crt files
// through -B and its libc.a through -L, ahead of the host's.
func sysrootFlags(dir, gccInclude, triplet string) []string {
	return []string{
		"-nostdinc", "-isystem", filepath.Join(dir, "usr", "include"),
		"-isystem", gccInclude, "-isystem", "/usr/" + triplet + "/include",
		"-B" + filepath.Join(dir, "usr", "lib") + "/", "-L" + filepath.Join(dir, "usr", "lib"),
	}
}

func readManifest(dir string) (*manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for f, sum := range m.Files {
		p := filepath.Join(dir, "bin", f)
		if m.Use != "overlay" {
			p = filepath.Join(dir, "install", filepath.FromSlash(f))
		}
		if got, err := fileSHA(p); err != nil || got != sum {
			return nil, fmt.Errorf("damaged cache %s", dir)
		}
	}
	return &m, nil
}

func writeManifest(dir string, m *manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, manifestFile), data, 0o644)
}

func copyFile(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies regular files, directories and symlinks (as links).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			return copyFile(p, to)
		}
		return nil
	})
}

func hashTree(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum, err := fileSHA(p)
		out[filepath.ToSlash(rel)] = sum
		return err
	})
	return out, err
}

func fileSHA(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
