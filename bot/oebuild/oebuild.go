// Package oebuild prepares and runs the OpenEmbedded build of one revision
// for the oe-lamp recipe: it writes the recipes tree (kas project files and
// the meta-tcbot layer) and the benchmark suite the layer packages into the
// workdir, renders the per-change kas include that pins the component under
// test (gcc, binutils, glibc or linux) to the revision, and runs `kas build`
// with the build directory per (arch, component, revision) and the download
// and sstate caches shared by every build under the workdir.
package oebuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/oe/layercheck"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/sandbox"
)

// Job is one OpenEmbedded build.
type Job struct {
	Recipes    fs.FS // the recipes tree: holds oe/
	Benchmarks fs.FS // the benchmark suite the meta-tcbot layer builds
	Workdir    string
	Recipe     *recipe.Recipe
	Arch       string
	Component  string // gcc, binutils, glibc, linux
	URL        string // the component's repository
	Rev        string // full commit SHA under test
	Branch     string // a branch holding Rev (kas/bitbake fetchers want one)
}

// Plan is a prepared build.
type Plan struct {
	Project  string // kas project file (absolute)
	Override string // the rendered per-change include (absolute)
	BuildDir string
	// FetchArgv fetches every source the build needs (the recipe's
	// fetch_command; empty: no separate fetch). It is the one step with
	// the network, and sees only the source tree, the download
	// directory, kas's work directory and the build directory.
	FetchArgv []string
	// Argv builds, without network (BB_NO_NETWORK=1).
	Argv    []string
	Env     []string
	Timeout time.Duration
	// Src is the recipes and suite tree; Downloads, Sstate and Work
	// are kas's and bitbake's shared directories.
	Src, Downloads, Sstate, Work string
}

// Prepare writes the source tree and the per-change include and returns
// the command to run.
func Prepare(j Job) (*Plan, error) {
	k := j.Recipe.Kas
	project, ok := k.Projects[j.Arch]
	if !ok {
		return nil, fmt.Errorf("recipe %s: no kas project for arch %s (kas.projects in %s)", j.Recipe.Name, j.Arch, j.Recipe.Source)
	}
	src, err := Materialize(j.Workdir, j.Recipes, j.Benchmarks)
	if err != nil {
		return nil, err
	}
	tmplPath := strings.ReplaceAll(k.Toolchain, "{component}", j.Component)
	tmplText, err := fs.ReadFile(j.Recipes, tmplPath)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: toolchain include for %s: %w (component must be one of %s)", j.Recipe.Name, j.Component, err, strings.Join(recipe.Components, ", "))
	}
	override, err := layercheck.RenderTemplate(tmplPath, string(tmplText), layercheck.TemplateData{URL: j.URL, Rev: j.Rev, Branch: j.Branch})
	if err != nil {
		return nil, err
	}
	short := j.Rev
	if len(short) > 12 {
		short = short[:12]
	}
	// The include lives beside the project files: kas reads every file of
	// one build from the same tree.
	overridePath := filepath.Join(src, "recipes", path.Dir(project), "tcbot-change-"+j.Component+"-"+short+".yml")
	if err := os.WriteFile(overridePath, override, 0o644); err != nil {
		return nil, err
	}
	oe := filepath.Join(j.Workdir, "oe")
	buildDir := filepath.Join(oe, "build", j.Arch+"-"+j.Component+"-"+short)
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return nil, err
	}
	projectPath := filepath.Join(src, "recipes", filepath.FromSlash(project))
	vars := map[string][]string{"project": {projectPath}, "override": {overridePath}}
	argv := recipe.Expand(k.Command, vars)
	var fetch []string
	if len(k.FetchCommand) > 0 {
		fetch = recipe.Expand(k.FetchCommand, vars)
	}
	plan := &Plan{Project: projectPath, Override: overridePath, BuildDir: buildDir, FetchArgv: fetch, Argv: argv, Timeout: timeout(k.Timeout),
		Src: src, Downloads: filepath.Join(oe, "downloads"), Sstate: filepath.Join(oe, "sstate"), Work: filepath.Join(oe, "work")}
	for _, d := range []string{plan.Downloads, plan.Sstate, plan.Work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// Nothing of tcbot's environment: kas and bitbake get these alone.
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + buildDir,
		"LC_ALL=C.UTF-8",
		"KAS_WORK_DIR=" + plan.Work,
		"KAS_BUILD_DIR=" + buildDir,
		"DL_DIR=" + plan.Downloads,
		"SSTATE_DIR=" + plan.Sstate,
	}
	for kk, v := range k.Env {
		env = append(env, kk+"="+v)
	}
	sort.Strings(env)
	plan.Env = env
	return plan, nil
}

func timeout(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 12 * time.Hour
	}
	return d
}

// Materialize writes recipes/ and benchmarks/ side by side under
// workdir/oe, once per content (the meta-tcbot layer finds the suite at
// ../../../benchmarks from itself), and returns the tree's directory.
func Materialize(workdir string, recipesFS, benchFS fs.FS) (string, error) {
	h := sha256.New()
	trees := []struct {
		name string
		fsys fs.FS
	}{{"recipes", recipesFS}, {"benchmarks", benchFS}}
	type file struct {
		path string
		data []byte
		mode fs.FileMode
	}
	var files []file
	for _, t := range trees {
		err := fs.WalkDir(t.fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(t.fsys, p)
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if strings.HasSuffix(p, ".sh") || strings.Contains(p, "/init.d/") {
				mode = 0o755
			}
			files = append(files, file{t.name + "/" + p, data, mode})
			fmt.Fprintf(h, "%s %d\n", t.name+"/"+p, len(data))
			h.Write(data)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("oe source tree: %w", err)
		}
	}
	dir := filepath.Join(workdir, "oe", "src-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	for _, f := range files {
		dst := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, f.data, f.mode); err != nil {
			return "", err
		}
	}
	// kas takes the top of the git repository holding the project file as
	// the root that includes and the meta-tcbot layer path are relative
	// to: make the tree one repository, committed with a fixed author and
	// date so it is the same everywhere.
	if err := commitTree(dir); err != nil {
		return "", fmt.Errorf("oe source tree %s: %w", dir, err)
	}
	return dir, os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644)
}

func commitTree(dir string) error {
	r, err := git.PlainInit(dir, false)
	if errors.Is(err, git.ErrRepositoryAlreadyExists) {
		r, err = git.PlainOpen(dir)
	}
	if err != nil {
		return err
	}
	wt, err := r.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return err
	}
	sig := &object.Signature{Name: "tcbot", Email: "tcbot@localhost", When: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, err = wt.Commit("tcbot recipes and benchmark suite", &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	return err
}

// Run runs the build on ex (the local executor on a build host). A build
// that fails is an Outcome with a non-zero exit; the failing recipe and
// task are read from buildstats afterwards.
//
// Both steps run in sb: the fetch step with the network and only the
// directories it fills, the build without the network.
func Run(ctx context.Context, p *Plan, ex executor.Executor, sb *sandbox.Sandbox) (*executor.Outcome, error) {
	deadline := time.Now().Add(p.Timeout)
	if len(p.FetchArgv) > 0 {
		o, err := ex.Run(ctx, executor.Spec{Name: "kas fetch " + filepath.Base(p.Project), Dir: p.BuildDir, Argv: p.FetchArgv, Env: p.Env, Timeout: p.Timeout,
			Sandbox: sb.WithNetwork(), Mounts: []sandbox.Mount{sandbox.RO(p.Src), sandbox.RW(p.BuildDir), sandbox.RW(p.Downloads), sandbox.RW(p.Work)}})
		if err != nil || !o.OK() {
			return o, err
		}
	}
	env := append(append([]string(nil), p.Env...), "BB_NO_NETWORK=1")
	return ex.Run(ctx, executor.Spec{Name: "kas build " + filepath.Base(p.Project), Dir: p.BuildDir, Argv: p.Argv, Env: env, Timeout: time.Until(deadline),
		Sandbox: sb, Mounts: []sandbox.Mount{sandbox.RO(p.Src), sandbox.RW(p.BuildDir), sandbox.RW(p.Downloads), sandbox.RW(p.Sstate), sandbox.RW(p.Work)}})
}

// Check validates the OpenEmbedded tree a kas recipe builds from: every kas
// file and rendered include template against kas's own JSON schema (from
// Debian's kas package), and the meta-tcbot layer (BitBake syntax,
// layer.conf compatibility, files its recipes fetch). It writes the tree to
// a temporary directory, as a build would.
func Check(recipesFS, benchFS fs.FS) []error {
	schema, err := layercheck.FindKasSchema()
	if err != nil {
		return []error{err}
	}
	tmp, err := os.MkdirTemp("", "tcbot-oe-check-")
	if err != nil {
		return []error{err}
	}
	defer os.RemoveAll(tmp)
	dir, err := Materialize(tmp, recipesFS, benchFS)
	if err != nil {
		return []error{err}
	}
	return layercheck.CheckAll(dir, schema)
}
