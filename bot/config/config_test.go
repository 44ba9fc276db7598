package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// designExample is the configuration shown in DESIGN.md (Configuration).
const designExample = `database: sqlite://tcbot.db          # or postgres://user@host/db
workdir: ./work                      # checkouts, builds, artifact cache
listen: 127.0.0.1:8080
github:                              # optional; without it tcbot reports to the dashboard only
  api_url: https://api.github.com/   # GitHub Enterprise or a test server
  token_env: TCBOT_GITHUB_TOKEN      # secrets are named by environment variable, never inline
  webhook_secret_env: TCBOT_WEBHOOK_SECRET
repos:
  - name: toolchain
    url: https://example.org/toolchain.git   # anything go-git reads: https, git, ssh, file
    branches: [main]
    poll: 5m                         # absent or 0: no polling
    github: owner/name               # pull requests of this GitHub repository are tested
    recipe: bench                    # a file in recipes/
    toolchain: manifest              # manifest | build | host
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`

// writeConfig writes text as tcbot.yaml in a fresh directory and returns
// its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tcbot.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDesignExample(t *testing.T) {
	path := writeConfig(t, designExample)
	dir := filepath.Dir(path)

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(design example): %v", err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
	if want := filepath.Join(dir, "work"); c.Workdir != want {
		t.Errorf("Workdir = %q, want %q (relative to the config file's directory)", c.Workdir, want)
	}
	if want := filepath.Join(dir, "tcbot.db"); c.SQLitePath() != want {
		t.Errorf("SQLitePath() = %q, want %q (relative to the config file's directory)", c.SQLitePath(), want)
	}
	if c.Database != "sqlite://"+filepath.Join(dir, "tcbot.db") {
		t.Errorf("Database = %q", c.Database)
	}
	if c.Listen != "127.0.0.1:8080" {
		t.Errorf("Listen = %q", c.Listen)
	}
	if c.Jobs <= 0 {
		t.Errorf("Jobs = %d, want > 0 by default", c.Jobs)
	}
	if c.GitHub == nil || c.GitHub.TokenEnv != "TCBOT_GITHUB_TOKEN" || c.GitHub.WebhookSecretEnv != "TCBOT_WEBHOOK_SECRET" || c.GitHub.APIURL != "https://api.github.com/" {
		t.Errorf("GitHub = %+v", c.GitHub)
	}

	if len(c.Repos) != 1 {
		t.Fatalf("got %d repos, want 1", len(c.Repos))
	}
	r := c.Repos[0]
	want := Repo{
		Name: "toolchain", URL: "https://example.org/toolchain.git", Branches: []string{"main"},
		Poll: Duration(5 * time.Minute), GitHub: "owner/name", Recipe: "bench", Toolchain: "manifest",
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("repo =\n %+v\nwant\n %+v", r, want)
	}

	if len(c.Targets) != 2 {
		t.Fatalf("got %d targets, want 2", len(c.Targets))
	}
	for _, tc := range []struct {
		name, arch, cpu, qemu string
	}{
		{"armv7-qemu", "armv7", "cortex-a15", "qemu-arm"},
		{"armv8-qemu", "armv8", "cortex-a57", "qemu-aarch64"},
	} {
		ts, err := c.SelectTargets([]string{tc.name})
		if err != nil {
			t.Fatalf("SelectTargets(%s): %v", tc.name, err)
		}
		got := ts[0]
		if got.Arch != tc.arch || got.CPU != tc.cpu || got.QEMU != tc.qemu || got.Executor != "qemu-user" {
			t.Errorf("%s = %+v, want arch %s, cpu %s, qemu %s", tc.name, got, tc.arch, tc.cpu, tc.qemu)
		}
		if got.Samples != 1 {
			t.Errorf("%s: Samples = %d, want default 1", tc.name, got.Samples)
		}
		if time.Duration(got.Timeout) != 5*time.Minute {
			t.Errorf("%s: Timeout = %v, want default 5m", tc.name, time.Duration(got.Timeout))
		}
		if !reflect.DeepEqual(got.Informational, []string{"time", "compile-time"}) {
			t.Errorf("%s: Informational = %q, want [time compile-time] under qemu-user", tc.name, got.Informational)
		}
	}
	if c.Compare.FDR != 0.05 || c.Compare.MinEffect != 2 {
		t.Errorf("Compare = %+v, want fdr 0.05 and min_effect 2 by default", c.Compare)
	}
}

func TestLoadDefaults(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, dir string, c *Config)
	}{
		{
			name: "no database: a SQLite file in the workdir",
			yaml: "workdir: state\nrepos: [{name: gcc, url: https://example.org/gcc.git}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\n",
			check: func(t *testing.T, dir string, c *Config) {
				if want := filepath.Join(dir, "state", "tcbot.db"); c.SQLitePath() != want {
					t.Errorf("SQLitePath() = %q, want %q", c.SQLitePath(), want)
				}
			},
		},
		{
			name: "no workdir: ./work next to the config",
			yaml: "repos: [{name: gcc, url: https://example.org/gcc.git}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\n",
			check: func(t *testing.T, dir string, c *Config) {
				if want := filepath.Join(dir, "work"); c.Workdir != want {
					t.Errorf("Workdir = %q, want %q", c.Workdir, want)
				}
			},
		},
		{
			name: "absolute paths are kept",
			yaml: "workdir: /srv/tcbot\ndatabase: sqlite:///var/lib/tcbot.db\nrepos: [{name: gcc, url: https://example.org/gcc.git}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\n",
			check: func(t *testing.T, dir string, c *Config) {
				if c.Workdir != "/srv/tcbot" || c.SQLitePath() != "/var/lib/tcbot.db" {
					t.Errorf("Workdir = %q, SQLitePath() = %q, want /srv/tcbot and /var/lib/tcbot.db", c.Workdir, c.SQLitePath())
				}
			},
		},
		{
			name: "recipe bench and toolchain manifest by default",
			yaml: "repos: [{name: gcc, url: https://example.org/gcc.git}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\n",
			check: func(t *testing.T, dir string, c *Config) {
				if c.Repos[0].Recipe != "bench" || c.Repos[0].Toolchain != "manifest" {
					t.Errorf("repo = %+v, want recipe bench, toolchain manifest", c.Repos[0])
				}
				if c.Repos[0].Poll != 0 {
					t.Errorf("Poll = %v, want 0 (no polling) when absent", time.Duration(c.Repos[0].Poll))
				}
			},
		},
		{
			name: "a local repository path is relative to the config",
			yaml: "repos: [{name: gcc, url: ../repos/gcc}, {name: ll, url: 'file:///srv/llvm'}, {name: k, url: 'git@example.org:linux.git'}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\n",
			check: func(t *testing.T, dir string, c *Config) {
				if want := filepath.Join(filepath.Dir(dir), "repos", "gcc"); c.Repos[0].URL != want {
					t.Errorf("local URL = %q, want %q", c.Repos[0].URL, want)
				}
				if c.Repos[1].URL != "file:///srv/llvm" {
					t.Errorf("file URL = %q, want it unchanged", c.Repos[1].URL)
				}
				if c.Repos[2].URL != "git@example.org:linux.git" {
					t.Errorf("scp-style URL = %q, want it unchanged", c.Repos[2].URL)
				}
			},
		},
		{
			name: "explicit values win over defaults",
			yaml: `jobs: 3
compare: {fdr: 0.1, min_effect: 5}
repos: [{name: gcc, url: https://example.org/gcc.git, poll: 90s}]
targets:
  - {name: a, arch: armv7, executor: qemu-user, cpu: cortex-a9, samples: 10, timeout: 1m, informational: [time]}
`,
			check: func(t *testing.T, dir string, c *Config) {
				tg := c.Targets[0]
				if c.Jobs != 3 || c.Compare.FDR != 0.1 || c.Compare.MinEffect != 5 {
					t.Errorf("jobs %d, compare %+v", c.Jobs, c.Compare)
				}
				if tg.CPU != "cortex-a9" || tg.Samples != 10 || time.Duration(tg.Timeout) != time.Minute || !reflect.DeepEqual(tg.Informational, []string{"time"}) {
					t.Errorf("target = %+v", tg)
				}
				if time.Duration(c.Repos[0].Poll) != 90*time.Second {
					t.Errorf("Poll = %v, want 90s", time.Duration(c.Repos[0].Poll))
				}
			},
		},
		{
			name: "toolchain host with a compiler for every target arch",
			yaml: `repos:
  - name: linux
    url: https://example.org/linux.git
    toolchain: host
    host:
      armv7: {cc: arm-linux-gnueabihf-gcc, cflags: -O2}
      armv8: {cc: aarch64-linux-gnu-gcc, cflags: -O3}
targets: [{name: a, arch: armv7, executor: qemu-user}, {name: b, arch: armv8, executor: qemu-user}]
`,
			check: func(t *testing.T, dir string, c *Config) {
				want := Compiler{CC: "aarch64-linux-gnu-gcc", CFlags: "-O3"}
				if got := c.Repos[0].Host["armv8"]; got != want {
					t.Errorf("host armv8 = %+v, want %+v", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, filepath.Dir(path), c)
		})
	}
}

func TestLoadRelativeConfigPathFromAnotherDirectory(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "tcbot.yaml"), []byte(designExample), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	c, err := Load(filepath.Join("etc", "tcbot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// t.TempDir may sit behind a symlink; compare resolved paths.
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ what, got, want string }{
		{"workdir", c.Workdir, filepath.Join(realRoot, "etc", "work")},
		{"database", c.SQLitePath(), filepath.Join(realRoot, "etc", "tcbot.db")},
	} {
		if !filepath.IsAbs(p.got) {
			t.Errorf("%s = %q, want an absolute path", p.what, p.got)
			continue
		}
		got, err := filepath.EvalSymlinks(filepath.Dir(p.got))
		if err != nil {
			got = filepath.Dir(p.got)
		}
		if filepath.Join(got, filepath.Base(p.got)) != p.want {
			t.Errorf("%s = %q, want %q", p.what, p.got, p.want)
		}
	}
}

// lineOf returns the 1-based line of the first line of text containing mark.
func lineOf(t *testing.T, text, mark string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, mark) {
			return i + 1
		}
	}
	t.Fatalf("no line marked %q in\n%s", mark, text)
	return 0
}

// hasLine reports whether msg gives line n of path, either as path:n or as
// "line n".
func hasLine(msg, path string, n int) bool {
	return strings.Contains(msg, path+":"+strconv.Itoa(n)+":") ||
		regexp.MustCompile(`\bline `+strconv.Itoa(n)+`\b`).MatchString(msg)
}

func TestLoadErrors(t *testing.T) {
	// Each yaml marks the offending line with "#<" (when it has one).
	tests := []struct {
		name string
		yaml string
		key  string // the key the message must name
		fix  string // what the message tells the user to do
	}{
		{
			name: "typo in a top-level key",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targts:   #<
  - {name: a, arch: armv8, executor: qemu-user}
`,
			key: "targts",
			fix: "unknown key",
		},
		{
			name: "typo in a target key",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - name: a
    arch: armv8
    exector: qemu-user  #<
`,
			key: "exector",
			fix: "unknown key",
		},
		{
			name: "arch that tcbot does not build for",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - name: a
    arch: arm64   #<
    executor: qemu-user
`,
			key: "targets[0].arch",
			fix: "want armv7 or armv8",
		},
		{
			name: "two targets with one name",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - {name: board, arch: armv8, executor: qemu-user}
  - {name: board, arch: armv7, executor: qemu-user}   #<
`,
			key: "targets[1].name",
			fix: "must be unique",
		},
		{
			name: "two repositories with one name",
			yaml: `repos:
  - name: gcc
    url: https://example.org/gcc.git
  - name: gcc     #<
    url: https://example.org/gcc-mirror.git
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "repos[1].name",
			fix: "must be unique",
		},
		{
			name: "repository without url",
			yaml: `repos:
  - name: gcc    #<
    branches: [main]
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "repos[0].url",
			fix: "missing",
		},
		{
			name: "executor tcbot does not know",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - name: a
    arch: armv8
    executor: docker   #<
`,
			key: "targets[0].executor",
			fix: "want qemu-user",
		},
		{
			name: "ssh target without its ssh section",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - name: board
    arch: armv8
    executor: ssh   #<
`,
			key: "targets[0].ssh",
			fix: "needs ssh: {host, user, key_file, known_hosts}",
		},
		{
			name: "ssh target without known_hosts",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - name: board
    arch: armv8
    executor: ssh
    ssh:   #<
      {host: board1.lab, user: bench, key_file: id_ed25519}
`,
			key: "targets[0].ssh.known_hosts",
			fix: "known_hosts is required",
		},
		{
			name: "toolchain host without a compiler for a target's arch",
			yaml: `repos:
  - name: linux
    url: https://example.org/linux.git
    toolchain: host   #<
    host:
      armv8: {cc: aarch64-linux-gnu-gcc}
targets:
  - {name: a, arch: armv7, executor: qemu-user}
  - {name: b, arch: armv8, executor: qemu-user}
`,
			key: "repos[0].host",
			fix: "add host: {armv7: {cc:",
		},
		{
			name: "toolchain build names no recipe",
			yaml: `repos:
  - name: gcc
    url: https://example.org/gcc.git
    toolchain: build   #<
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "repos[0].build.recipe",
			fix: "build: {recipe: gcc}",
		},
		{
			name: "toolchain build with an unknown use",
			yaml: `repos:
  - name: gcc
    url: https://example.org/gcc.git
    toolchain: build
    build: {recipe: gcc, use: sideways}   #<
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "repos[0].build.use",
			fix: "want overlay or full",
		},
		{
			name: "unknown toolchain kind",
			yaml: `repos:
  - name: gcc
    url: https://example.org/gcc.git
    toolchain: prebuilt   #<
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "repos[0].toolchain",
			fix: "want manifest, build or host",
		},
		{
			name: "poll that is not a duration",
			yaml: `repos:
  - name: gcc
    url: https://example.org/gcc.git
    poll: 5 minutes   #<
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "repos[0].poll",
			fix: "want a duration such as 5m",
		},
		{
			name: "false discovery rate above 1",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: [{name: a, arch: armv8, executor: qemu-user}]
compare:
  fdr: 1.5   #<
`,
			key: "compare.fdr",
			fix: "between 0 and 1",
		},
		{
			name: "negative false discovery rate",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: [{name: a, arch: armv8, executor: qemu-user}]
compare: {fdr: -0.05}   #<
`,
			key: "compare.fdr",
			fix: "between 0 and 1",
		},
		{
			name: "threshold above 100 percent",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: [{name: a, arch: armv8, executor: qemu-user}]
compare:
  thresholds:
    code-size: 150   #<
`,
			key: "compare.thresholds.code-size",
			fix: "between 0 and 100",
		},
		{
			name: "a password in the PostgreSQL URL",
			yaml: `database: postgres://tcbot:hunter2@db/tcbot   #<
repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "database",
			fix: "export PGPASSWORD",
		},
		{
			name: "a PostgreSQL URL without a database",
			yaml: `database: postgres://tcbot@db   #<
repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "database",
			fix: "names no database",
		},
		{
			name: "github without token_env",
			yaml: `github:   #<
  api_url: https://ghe.example.org/api/v3/
repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "github.token_env",
			fix: "name the environment variable",
		},
		{
			name: "github repository not owner/name",
			yaml: `repos:
  - name: gcc
    url: https://example.org/gcc.git
    github: gcc-mirror   #<
targets: [{name: a, arch: armv8, executor: qemu-user}]
`,
			key: "repos[0].github",
			fix: "want owner/name",
		},
		{
			name: "no targets",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: []   #<
`,
			key: "targets",
			fix: "add e.g. {name: armv8-qemu",
		},
		{
			name: "target name with capitals",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - name: ARMv8   #<
    arch: armv8
    executor: qemu-user
`,
			key: "targets[0].name",
			fix: "lower-case",
		},
		{
			name: "key written twice",
			yaml: `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets: [{name: a, arch: armv8, executor: qemu-user}]
listen: 127.0.0.1:8080
listen: 127.0.0.1:9090   #<
`,
			key: "listen",
			fix: "already defined",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error does not name the file %s:\n%s", path, msg)
			}
			line := lineOf(t, tt.yaml, "#<")
			if !hasLine(msg, path, line) {
				t.Errorf("error does not give line %d:\n%s", line, msg)
			}
			if tt.key != "" && !strings.Contains(msg, tt.key) {
				t.Errorf("error does not name the key %q:\n%s", tt.key, msg)
			}
			if !strings.Contains(msg, tt.fix) {
				t.Errorf("error does not say %q:\n%s", tt.fix, msg)
			}
		})
	}
}

// A bad duration must be reported like every other config error: with the
// key it belongs to, not only its line.
func TestBadPollDurationErrorNamesKey(t *testing.T) {
	text := `repos:
  - name: gcc
    url: https://example.org/gcc.git
    poll: 5 minutes
targets: [{name: a, arch: armv8, executor: qemu-user}]
`
	path := writeConfig(t, text)
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "poll") {
		t.Errorf("error does not name the key repos[0].poll:\n%v", err)
	}
}

// A bad duration stops decoding, so the other problems of the same file
// are not reported with it.
func TestBadDurationHidesOtherErrors(t *testing.T) {
	text := `repos:
  - name: gcc
    url: https://example.org/gcc.git
    poll: soon
targets:
  - {name: a, arch: arm64, executor: qemu-user}
`
	path := writeConfig(t, text)
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	for _, want := range []string{"soon", "targets[0].arch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	text := `repos:
  - name: gcc
    toolchain: build
targets:
  - {name: a, arch: arm64, executor: qemu-user}
  - {name: b, arch: armv8, executor: docker}
compare: {fdr: 2}
`
	path := writeConfig(t, text)
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	msg := err.Error()
	want := []struct {
		line int
		key  string
	}{
		{2, "repos[0].url"},
		{3, "repos[0].build.recipe"},
		{5, "targets[0].arch"},
		{6, "targets[1].executor"},
		{7, "compare.fdr"},
	}
	for _, w := range want {
		if !strings.Contains(msg, path+":"+strconv.Itoa(w.line)+": "+w.key+":") {
			t.Errorf("missing %s:%d: %s in\n%s", path, w.line, w.key, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != len(want) {
		t.Errorf("got %d error lines, want %d:\n%s", n, len(want), msg)
	}
}

func TestLoadEmptyAndMissingFiles(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{
			name: "empty file",
			path: func(t *testing.T) string { return writeConfig(t, "") },
			want: "empty config",
		},
		{
			name: "only comments",
			path: func(t *testing.T) string { return writeConfig(t, "# nothing yet\n") },
			want: "empty config",
		},
		{
			name: "missing file",
			path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.yaml") },
			want: "pass --config",
		},
		{
			name: "not YAML",
			path: func(t *testing.T) string { return writeConfig(t, "repos: [unclosed\n") },
			want: "line",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name %s: %v", path, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not say %q: %v", tt.want, err)
			}
		})
	}
}

func TestRepoAndSelectTargets(t *testing.T) {
	path := writeConfig(t, `repos:
  - {name: toolchain, url: https://example.org/toolchain.git}
  - {name: kernel, url: https://example.org/linux.git}
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}

	r, err := c.Repo("kernel")
	if err != nil || r.URL != "https://example.org/linux.git" {
		t.Errorf("Repo(kernel) = %+v, %v", r, err)
	}
	// The returned repo is the config's own, not a copy.
	if r != nil && r != &c.Repos[1] {
		t.Errorf("Repo(kernel) returned a copy")
	}
	_, err = c.Repo("llvm")
	if err == nil {
		t.Fatal("Repo(llvm) succeeded, want an error")
	}
	for _, want := range []string{`"llvm"`, "toolchain, kernel", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Repo(llvm) error %q does not contain %q", err, want)
		}
	}

	tests := []struct {
		name    string
		names   []string
		want    []string
		wantErr []string
	}{
		{name: "no names: every target", names: nil, want: []string{"armv7-qemu", "armv8-qemu"}},
		{name: "one name", names: []string{"armv8-qemu"}, want: []string{"armv8-qemu"}},
		{name: "order of the request", names: []string{"armv8-qemu", "armv7-qemu"}, want: []string{"armv8-qemu", "armv7-qemu"}},
		{name: "unknown name lists the known ones", names: []string{"armv8-qemu", "rpi4"}, wantErr: []string{`"rpi4"`, "armv7-qemu, armv8-qemu", path}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := c.SelectTargets(tt.names)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("SelectTargets(%q) = %v, want an error", tt.names, ts)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range ts {
				got = append(got, x.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SelectTargets(%q) = %q, want %q", tt.names, got, tt.want)
			}
		})
	}
}

func TestDurationZeroMeansNoPolling(t *testing.T) {
	for _, v := range []string{"0", "0s", `""`} {
		t.Run("poll "+v, func(t *testing.T) {
			c, err := Parse("/etc/tcbot.yaml", []byte("repos: [{name: gcc, url: https://example.org/gcc.git, poll: "+v+"}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\n"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Repos[0].Poll != 0 {
				t.Errorf("Poll = %v, want 0", time.Duration(c.Repos[0].Poll))
			}
		})
	}
}

// A config file is written by hand: Parse must never panic, and every error
// names the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(designExample))
	f.Add([]byte("repos: [{name: a}]\ntargets: [{name: b, arch: armv9}]\n"))
	f.Add([]byte("repos:\n  - poll: 5 minutes\n"))
	f.Add([]byte("compare: {fdr: .nan, thresholds: {x: -1}}\n"))
	f.Add([]byte("- just\n- a list\n"))
	f.Add([]byte("jobs: two\nreconcile: 10\nrepos: [{name: a, url: u, poll: [1], branches: &b [main]}, {name: b, url: v, branches: *b}]\ntargets: [&t {name: b, arch: armv8, executor: qemu-user, samples: -3}, {<<: *t, name: c}]\nsandbox_limits: {memory: 8 lots}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/etc/tcbot/tcbot.yaml"
		c, err := Parse(path, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error does not start with the file: %v", err)
			}
			return
		}
		if len(c.Repos) == 0 || len(c.Targets) == 0 || c.Jobs <= 0 {
			t.Errorf("Parse accepted a config with %d repos, %d targets, %d jobs", len(c.Repos), len(c.Targets), c.Jobs)
		}
	})
}

// YAML's .nan is a float: "fdr <= 0 || fdr >= 1" is false for NaN, so a
// NaN rate passes validation, and Benjamini-Hochberg with a NaN rate never
// reports anything.
func TestNaNCompareSettingsRejected(t *testing.T) {
	for _, tt := range []struct{ name, compare, key string }{
		{"fdr", "{fdr: .nan}", "compare.fdr"},
		{"min_effect", "{min_effect: .nan}", "compare.min_effect"},
		{"threshold", "{thresholds: {instructions: .nan}}", "compare.thresholds.instructions"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/tcbot.yaml", []byte("repos: [{name: gcc, url: https://example.org/gcc.git}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\ncompare: "+tt.compare+"\n"))
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("compare: %s: error = %v, want one naming %s", tt.compare, err, tt.key)
			}
		})
	}
}

// TestWorkdirThroughSymlink: a workdir named through a symlink is the
// directory itself (build trees record their paths).
func TestWorkdirThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(path, []byte("workdir: link\nrepos: [{name: t, url: /srv/t.git}]\ntargets: [{name: a, arch: armv8, executor: qemu-user}]\n"), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(real)
	if c.Workdir != want {
		t.Errorf("workdir %s, want %s", c.Workdir, want)
	}
}

func TestPinnedBaselines(t *testing.T) {
	r := &Repo{Name: "gcc", Baselines: map[string]string{"gcc-12.2": "releases/gcc-12.2.0", "2026-11": "abc123"}}
	for base, want := range map[string]string{"@gcc-12.2": "releases/gcc-12.2.0", "@2026-11": "abc123", "main~3": "main~3", "": ""} {
		got, err := r.ResolveBase(base)
		if err != nil || got != want {
			t.Errorf("ResolveBase(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
	if _, err := r.ResolveBase("@gcc-14"); err == nil || !strings.Contains(err.Error(), "pins no baseline named gcc-14 (it pins @2026-11, @gcc-12.2)") {
		t.Errorf("unknown baseline: %v", err)
	}
	if _, err := (&Repo{Name: "linux"}).ResolveBase("@v6.1"); err == nil || !strings.Contains(err.Error(), "add baselines: {v6.1: REVISION}") {
		t.Errorf("no baselines: %v", err)
	}
}
