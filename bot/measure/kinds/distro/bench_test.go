package distro

import (
	"strings"
	"testing"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/suite"
	"github.com/tcbot/tcbot/recipes"
)

func TestParseMarkrun(t *testing.T) {
	for _, tc := range []struct {
		name, out, program string
		st                 markrunStatus
		ok                 bool
	}{
		{"exit 0", "hello\nchecksum: 00112233aabbccdd\ntcbot-markrun: exit 0\n", "hello\nchecksum: 00112233aabbccdd\n", markrunStatus{}, true},
		{"exit 3", "self-check failed\ntcbot-markrun: exit 3\n", "self-check failed\n", markrunStatus{exit: 3}, true},
		{"signal", "tcbot-markrun: signal 11\n", "", markrunStatus{exit: -1, signal: 11}, true},
		{"no newline before", "checksum: 00112233aabbccddtcbot-markrun: exit 0\n", "checksum: 00112233aabbccdd", markrunStatus{}, true},
		{"program prints the prefix first", "tcbot-markrun: exit 9\nreal\ntcbot-markrun: exit 0\n", "tcbot-markrun: exit 9\nreal\n", markrunStatus{}, true},
		{"killed before the line", "checksum: 00112233aabbccdd\n", "checksum: 00112233aabbccdd\n", markrunStatus{}, false},
		{"line not last", "tcbot-markrun: exit 0\nmore\n", "tcbot-markrun: exit 0\nmore\n", markrunStatus{}, false},
		{"cut line", "tcbot-markrun: exit 0", "tcbot-markrun: exit 0", markrunStatus{}, false},
		{"garbled", "tcbot-markrun: exited 0\n", "tcbot-markrun: exited 0\n", markrunStatus{}, false},
		{"signal 0", "tcbot-markrun: signal 0\n", "tcbot-markrun: signal 0\n", markrunStatus{}, false},
		{"negative", "tcbot-markrun: exit -1\n", "tcbot-markrun: exit -1\n", markrunStatus{}, false},
		{"empty", "", "", markrunStatus{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			program, st, ok := parseMarkrun([]byte(tc.out))
			if string(program) != tc.program || st != tc.st || ok != tc.ok {
				t.Errorf("parseMarkrun(%q) = %q, %+v, %t; want %q, %+v, %t", tc.out, program, st, ok, tc.program, tc.st, tc.ok)
			}
		})
	}
}

func TestBenchmarksUnderTest(t *testing.T) {
	for _, tc := range []struct {
		repo config.Repo
		want bool
	}{
		{config.Repo{Toolchain: "manifest"}, true},
		{config.Repo{Toolchain: "build", Build: &config.BuildToolchain{Recipe: "gcc"}}, true},
		{config.Repo{Toolchain: "build", Build: &config.BuildToolchain{Recipe: "binutils"}}, true},
		{config.Repo{Toolchain: "build", Build: &config.BuildToolchain{Recipe: "glibc"}}, false},
		{config.Repo{Toolchain: "build", Build: &config.BuildToolchain{Recipe: "gcc", Use: "sysroot"}}, false},
		{config.Repo{Toolchain: "build", Build: &config.BuildToolchain{Recipe: "no-such-recipe"}}, false},
		{config.Repo{Toolchain: "host"}, false},
	} {
		if got := benchmarksUnderTest(recipes.FS, "recipes", &tc.repo); got != tc.want {
			t.Errorf("%s %+v: %t, want %t", tc.repo.Toolchain, tc.repo.Build, got, tc.want)
		}
	}
}

// TestCheckToolchainRepos: a toolchain repository with recipe distro-lamp
// needs distro.kernel; a glibc one keeps its own checks; errors name the
// config, the repository and the key.
func TestCheckToolchainRepos(t *testing.T) {
	rec, err := recipe.Load(recipes.FS, "recipes", "distro-lamp")
	if err != nil {
		t.Fatal(err)
	}
	s, err := suite.Load(benchmarks.FS, "benchmarks")
	if err != nil {
		t.Fatal(err)
	}
	kernelRepo := config.Repo{Name: "linux", URL: "/src/linux", Recipe: "distro-lamp", Toolchain: "host", Host: map[string]config.Compiler{"armv8": {CC: "aarch64-linux-gnu-gcc"}}}
	pinned := &config.RepoDistro{Kernel: config.DistroKernel{Repo: "linux", Rev: "v6.1"}}
	for _, tc := range []struct {
		name string
		repo config.Repo
		want []string // "" for no error
	}{
		{"manifest with distro.kernel", config.Repo{Name: "tc", Toolchain: "manifest", Distro: pinned}, nil},
		{"gcc with distro.kernel", config.Repo{Name: "gcc", Toolchain: "build", Build: &config.BuildToolchain{Recipe: "gcc"}, Distro: pinned}, nil},
		{"manifest without distro", config.Repo{Name: "tc", Toolchain: "manifest"},
			[]string{"tcbot.yaml: repo tc: distro.kernel: missing", "benchmarks built by the toolchain under test", "distro: {kernel: {repo: linux, rev: v6.1}}"}},
		{"gcc without distro", config.Repo{Name: "gcc", Toolchain: "build", Build: &config.BuildToolchain{Recipe: "gcc"}},
			[]string{"tcbot.yaml: repo gcc: distro.kernel: missing"}},
		{"glibc without distro", config.Repo{Name: "glibc", Toolchain: "build", Build: &config.BuildToolchain{Recipe: "glibc"}},
			[]string{"tcbot.yaml: repo glibc: distro.kernel: missing", "glibc is under test"}},
		{"host with distro", config.Repo{Name: "tc", Toolchain: "host", Distro: pinned},
			[]string{"tcbot.yaml: repo tc", "want toolchain: build and build: {recipe: glibc}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.repo
			r.Recipe = "distro-lamp"
			cfg := &config.Config{Path: "tcbot.yaml", Repos: []config.Repo{kernelRepo, r},
				Targets: []config.Target{{Name: "armv8-vm", Arch: "armv8", Executor: "qemu-system"}}}
			env := kinds.CheckEnv{Config: cfg, Recipes: recipes.FS, RecipesWhere: "recipes", Suite: s, SuiteWhere: "benchmarks"}
			err := Kind{}.Check(env, &cfg.Repos[1], rec)
			if tc.want == nil {
				if err != nil {
					t.Errorf("Check: %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check: no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check: %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}
