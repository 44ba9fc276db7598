package measure

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	suitekind "github.com/tcbot/tcbot/bot/measure/kinds/suite"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/suite"
)

// CheckTarget tells an operator whether a target is usable: its executor
// prepares (emulator, plugin, board reachable), one benchmark of the suite
// builds with the arch's default cross compiler, runs there and prints its
// checksum. It returns what was measured, or an error saying exactly what
// is wrong and how to fix it.
func (m *Measurer) CheckTarget(ctx context.Context, name, benchmark string) (string, error) {
	targets, err := m.Config.SelectTargets([]string{name})
	if err != nil {
		return "", err
	}
	t := targets[0]
	rec := m.suiteRecipe()
	if rec == nil && m.systemRepo() != "" {
		// Only whole systems are measured: check that one boots.
		return m.CheckSystem(ctx, name, m.systemRepo(), "")
	}
	if rec == nil {
		return "", fmt.Errorf("no repository uses a recipe that builds the benchmark suite: add one with recipe: bench to %s", m.Config.Path)
	}
	b, ok := m.Suite.Benchmark(benchmark)
	if !ok {
		return "", fmt.Errorf("no benchmark %q in the suite", benchmark)
	}
	dir, err := os.MkdirTemp("", "tcbot-target-check-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	for n, data := range m.Suite.Files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			return "", err
		}
	}
	cc := config.Arches[t.Arch].CC
	argv := recipe.Expand(rec.Build.Command, map[string][]string{
		"cc": {cc}, "cflags": {"-O2"}, "ldflags": b.LDFlags, "output": {"bin/" + b.Name}, "sources": b.Sources,
	})
	out, err := executor.NewLocal().Run(ctx, executor.Spec{Name: "build " + b.Name, Dir: dir, Argv: argv, Env: rec.Build.EnvList(), Timeout: rec.Build.TimeoutOr(5 * time.Minute),
		Sandbox: m.Sandbox, Mounts: []sandbox.Mount{sandbox.RW(dir)}})
	if err != nil {
		return "", fmt.Errorf("%s: build %s with %s: %w (make deps installs the Debian cross compilers)", t.Name, b.Name, cc, err)
	}
	if !out.OK() {
		return "", fmt.Errorf("%s: build %s with %s failed (%s): %s", t.Name, b.Name, cc, out.Describe(), kinds.Tail(out.Stderr, 6))
	}
	ex, err := m.newExecutor(t, []string{filepath.Join(dir, "bin", b.Name)})
	if err != nil {
		return "", err
	}
	defer ex.Cleanup()
	if err := ex.Prepare(ctx); err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	o, err := ex.Run(ctx, executor.Spec{
		Name: t.Name + "/" + b.Name, Dir: filepath.Join(dir, "bin"),
		Argv: recipe.Expand(rec.Run.Command, map[string][]string{"binary": {b.Name}, "args": b.Args}),
		Env:  rec.Run.EnvList(), Timeout: time.Duration(t.Timeout), Sandbox: m.Sandbox,
	})
	if err != nil {
		return "", fmt.Errorf("%s: run %s: %w", t.Name, b.Name, err)
	}
	if !o.OK() {
		return "", fmt.Errorf("%s: %s %s: %s", t.Name, b.Name, o.Describe(), kinds.Tail(o.Stderr, 6))
	}
	got, ok := suite.Checksum(o.Stdout)
	if !ok || got != b.Checksum {
		return "", fmt.Errorf("%s: %s printed checksum %q, want %s: the target miscomputes (wrong CPU model or emulator?)", t.Name, b.Name, got, b.Checksum)
	}
	msg := fmt.Sprintf("%s: usable: %s (%s) built with %s -O2 and ran on %s in %.2fs wall, checksum %s ok", t.Name, b.Name, t.Arch, cc, ex.Name(), o.Wall.Seconds(), got)
	if o.HasCounts {
		msg += fmt.Sprintf(", %d instructions", o.Instructions)
	}
	if board, ok := ex.(*executor.SSH); ok {
		if info, err := executor.Check(ctx, board); err == nil {
			msg += "\n" + info
		}
	}
	if lab, ok := ex.(interface{ Lab() string }); ok {
		msg += "\n" + lab.Lab()
	}
	if b, ok := ex.(executor.Booter); ok {
		if info, ok := b.Boot(); ok {
			msg += fmt.Sprintf("\nbooted %s in %.2fs (guest uptime %.2fs at the prompt)", info.Kernel, info.Time.Seconds(), info.GuestUptime.Seconds())
		}
	}
	return msg, nil
}

// suiteRecipe is a configured recipe that builds the suite and runs it on
// a target's own executor (kind suite).
func (m *Measurer) suiteRecipe() *recipe.Recipe {
	for _, r := range m.Config.Repos {
		if rec := m.Recipes[r.Name]; rec != nil {
			if _, ok := recipeKinds[rec.Kind].(suitekind.Kind); ok {
				return rec
			}
		}
	}
	return nil
}

// CheckSystem tells an operator whether a target boots the whole system a
// repository's recipe measures (distro-lamp): the repository's revision
// rev (default: the first of its branches, else HEAD) is built and booted
// with the recipe's image, and what came up is returned (kernel version,
// image and LAMP versions, a test request, a short load).
func (m *Measurer) CheckSystem(ctx context.Context, name, repoName, rev string) (string, error) {
	targets, err := m.Config.SelectTargets([]string{name})
	if err != nil {
		return "", err
	}
	repo, err := m.Config.Repo(repoName)
	if err != nil {
		return "", err
	}
	rec := m.Recipes[repo.Name]
	kind, err := kindOf(rec)
	if err != nil {
		return "", err
	}
	sc, ok := kind.(kinds.SystemChecker)
	if !ok {
		return "", fmt.Errorf("repo %s: recipe %s (kind %s) boots no system to check: --repo names a repository whose recipe does (distro-lamp)", repo.Name, rec.Name, rec.Kind)
	}
	m.Recipe = rec
	if m.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		m.Log = l
	}
	if m.Progress == nil {
		m.Progress = progress.Discard{}
	}
	mirror, err := source.Open(filepath.Join(m.Config.Workdir, "git"), repo.Name, repo.URL)
	if err != nil {
		return "", err
	}
	if rev == "" {
		rev = "HEAD"
		if len(repo.Branches) > 0 {
			rev = repo.Branches[0]
		}
	}
	c, err := mirror.Resolve(ctx, rev)
	if err != nil {
		return "", err
	}
	var st Stats
	return sc.CheckSystem(ctx, m.env(&st), repo, mirror, c, targets[0])
}

// systemRepo is the first configured repository whose recipe boots a
// system (distro-lamp), or "".
func (m *Measurer) systemRepo() string {
	for _, r := range m.Config.Repos {
		if rec := m.Recipes[r.Name]; rec != nil {
			if _, ok := recipeKinds[rec.Kind].(kinds.SystemChecker); ok {
				return r.Name
			}
		}
	}
	return ""
}
