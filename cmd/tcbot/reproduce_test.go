package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/recipes"
)

// shellWords splits a command line as a POSIX shell does, by asking one.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "set -- "+line+`; for a in "$@"; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatalf("sh cannot parse %q: %v", line, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// TestReproduceLineParsesAsRun: the reproduce line of any repository, as
// a shell splits it, is a `tcbot run` command line whose flags make the
// standalone config of that very repository (URL, recipe, toolchain,
// build recipe, component), the revisions and the targets.
func TestReproduceLineParsesAsRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		repo config.Repo
	}{
		{"local path with a space and a quote", config.Repo{URL: "/srv/it's my repo", Recipe: "bench", Toolchain: "manifest"}},
		{"https URL", config.Repo{URL: "https://github.com/gcc-mirror/gcc.git"}},
		{"host toolchain", config.Repo{URL: "git@github.com:me/Linux.git", Recipe: "kernel", Toolchain: "host"}},
		{"built toolchain", config.Repo{URL: "https://example.org/binutils-gdb", Toolchain: "build", Build: &config.BuildToolchain{Recipe: "binutils"}}},
		{"OpenEmbedded component", config.Repo{URL: "https://example.org/glibc", Recipe: "oe-lamp", Component: "glibc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const base, head = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80"
			line := report.ReproduceRun(tc.repo.RunRepo().Flags(), base, head, []string{"armv8-qemu"})
			args := shellWords(t, line)
			if len(args) < 2 || args[0] != "tcbot" || args[1] != "run" {
				t.Fatalf("%q is not a tcbot run command", line)
			}
			c := runCmd(logrus.New(), io.Discard, io.Discard)
			if err := c.ParseFlags(args[2:]); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			flag := func(name string) string {
				v, err := c.Flags().GetString(name)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			if flag("rev") != head || flag("base") != base || flag("targets") != "armv8-qemu" || flag("config") != "" {
				t.Errorf("%s: rev %q base %q targets %q config %q", line, flag("rev"), flag("base"), flag("targets"), flag("config"))
			}
			rr := config.RunRepo{URL: flag("repo-url"), Recipe: flag("recipe"), Toolchain: flag("toolchain"), Build: flag("build-recipe"), Component: flag("component"), KernelURL: flag("kernel-url"), KernelRev: flag("kernel-rev")}
			cfg, err := config.Standalone(t.TempDir(), rr)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			got := cfg.Repos[0]
			want := tc.repo
			if want.Recipe == "" {
				want.Recipe = "bench"
			}
			if want.Toolchain == "" {
				want.Toolchain = "manifest"
			}
			if got.URL != want.URL || got.Recipe != want.Recipe || got.Toolchain != want.Toolchain || got.Component != want.Component ||
				!reflect.DeepEqual(got.RunRepo(), want.RunRepo()) {
				t.Errorf("%s makes repo %+v, want %+v", line, got, want)
			}
			if _, err := cfg.SelectTargets([]string{"armv8-qemu"}); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestReproduceLineRunsOnAnotherMachine runs a reproduce line as a user
// would, through the shell and the whole command, without a config: it
// clones the repository, resolves both revisions and measures on the
// standard target. The repository holds no toolchain manifest, so the
// report is the error saying so at both revisions, and it reproduces
// itself with the very same line.
func TestReproduceLineRunsOnAnotherMachine(t *testing.T) {
	dir := t.TempDir()
	url := filepath.Join(dir, "it's my Repo")
	shas, err := demo.MakeRepo(url, []demo.Commit{
		{Subject: "base", Files: map[string]string{"README": "a\n"}},
		{Subject: "head", Files: map[string]string{"README": "b\n"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	line := report.ReproduceRun((&config.Repo{URL: url}).RunRepo().Flags(), shas[0], shas[1], []string{"armv8-qemu"})
	t.Setenv("TCBOT_WORKDIR", filepath.Join(dir, "cache"))
	args := shellWords(t, line)
	code, stdout, stderr := tcbot(t, append(args[1:], "--format", "json")...)
	if code != 1 {
		t.Fatalf("%s: exit %d, want 1 (error)\n%s\n%s", line, code, stderr, stdout)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if r.Repo != "it-s-my-repo" || r.Base != shas[0] || r.Head != shas[1] || r.Reproduce != line {
		t.Errorf("repo %q base %s head %s reproduce %q; want it-s-my-repo, %s, %s, %q", r.Repo, r.Base, r.Head, r.Reproduce, shas[0], shas[1], line)
	}
	if len(r.Errors) != 2 || !strings.Contains(r.Errors[0], "armv8-qemu: base:") || !strings.Contains(r.Errors[1], "armv8-qemu: head:") ||
		!strings.Contains(strings.Join(r.Errors, "\n"), "tcbot-toolchain.yaml: not found") {
		t.Errorf("errors %q: want the missing manifest at base and head on armv8-qemu", r.Errors)
	}
}

// TestRepoURLUsageErrors: a wrong --repo-url command line says which flag
// is wrong and what to do, before anything is fetched.
func TestRepoURLUsageErrors(t *testing.T) {
	t.Setenv("TCBOT_WORKDIR", t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"with --repo", []string{"--repo-url", "/x", "--repo", "tc"}, "--repo-url and --repo exclude each other"},
		{"with --config", []string{"--repo-url", "/x", "--config", "tcbot.yaml"}, "--repo-url and --config exclude each other"},
		{"recipe without it", []string{"--config", "tcbot.yaml", "--repo", "tc", "--recipe", "kernel"}, "--recipe, --toolchain, --build-recipe, --component, --kernel-url and --kernel-rev go with --repo-url"},
		{"kernel url without its revision", []string{"--repo-url", "/x", "--recipe", "distro-lamp", "--toolchain", "build", "--build-recipe", "glibc", "--kernel-url", "/linux"}, "--kernel-url and --kernel-rev go together"},
		{"unknown recipe", []string{"--repo-url", "/x", "--recipe", "nope"}, `--recipe "nope": no such recipe in recipes (built in) (want one of bench, distro-lamp, kernel, oe-lamp)`},
		{"unknown toolchain", []string{"--repo-url", "/x", "--toolchain", "nope"}, `--toolchain "nope": want manifest, build or host`},
		{"build without its recipe", []string{"--repo-url", "/x", "--toolchain", "build"}, "--toolchain build needs --build-recipe"},
		{"build recipe without build", []string{"--repo-url", "/x", "--build-recipe", "gcc"}, "--build-recipe gcc goes with --toolchain build"},
		{"bad component", []string{"--repo-url", "/x", "--recipe", "oe-lamp", "--component", "emacs"}, "tcbot run --repo-url /x --recipe oe-lamp --component emacs: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := tcbot(t, append([]string{"run", "--rev", "main"}, tc.args...)...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

// A recipe that boots the kernel it builds (kernel, distro-lamp) gets the
// standard qemu-system guests in a standalone run; the others qemu-user.
func TestStandaloneTargetsFollowTheRecipe(t *testing.T) {
	for _, tc := range []struct {
		recipe string
		want   []string
		exec   string
	}{
		{"bench", config.StandaloneTargets, "qemu-user"},
		{"kernel", config.StandaloneBootTargets, "qemu-system"},
		{"distro-lamp", config.StandaloneBootTargets, "qemu-system"},
	} {
		rec, err := recipe.Load(recipes.FS, "recipes", tc.recipe)
		if err != nil {
			t.Fatal(err)
		}
		rr := config.RunRepo{URL: "/src/linux", Recipe: tc.recipe, Toolchain: "host", Boot: measure.RecipeBootsKernel(rec)}
		cfg, err := config.Standalone(t.TempDir(), rr)
		if err != nil {
			t.Fatalf("%s: %v", tc.recipe, err)
		}
		var got []string
		for _, tg := range cfg.Targets {
			got = append(got, tg.Name)
			if tg.Executor != tc.exec {
				t.Errorf("%s: target %s executor %s, want %s", tc.recipe, tg.Name, tg.Executor, tc.exec)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: targets %v, want %v", tc.recipe, got, tc.want)
		}
	}
}
