// Package config loads and validates tcbot's YAML configuration file.
//
// Validation is strict: unknown keys are errors, and every error names the
// file, the line and the key, and says how to fix it. Relative paths in the
// file are relative to the directory holding the file, so a config works
// the same from any working directory.
package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Config is the whole configuration file.
type Config struct {
	// Path is the file the config was read from ("" when built in code).
	Path string `yaml:"-"`

	Database string        `yaml:"database"`
	Workdir  string        `yaml:"workdir"`
	Listen   string        `yaml:"listen"`
	GitHub   *GitHub       `yaml:"github" want:"keys such as {token_env: NAME, webhook_secret_env: NAME}"`
	Repos    []Repo        `yaml:"repos" want:"a list of repositories such as [{name: gcc, url: https://example.org/gcc.git}]"`
	Targets  []Target      `yaml:"targets" want:"a list of targets such as [{name: armv8-qemu, arch: armv8, executor: qemu-user}]"`
	Compare  CompareConfig `yaml:"compare" want:"keys such as {fdr: 0.05, min_effect: 2}"`
	// Jobs is how many builds or emulator runs go at once; default: cores.
	Jobs int `yaml:"jobs" want:"a positive whole number such as 4" min:"1"`
	// Plugin is the QEMU instruction-counting plugin; default: built from
	// the embedded source into workdir on first use.
	Plugin string `yaml:"plugin"`
	// Workers is how many jobs `tcbot serve` works at once (default: cores).
	Workers int `yaml:"workers" want:"a positive whole number such as 4" min:"1"`
	// Sweeps are scheduled measurements of branch heads.
	Sweeps []Sweep `yaml:"sweeps" want:"a list such as [{name: nightly, schedule: \"0 2 * * *\", repos: [gcc]}]"`
	// Reconcile is how often serve checks for work that should exist and
	// does not (default 5m).
	Reconcile Duration `yaml:"reconcile" want:"a duration such as 5m or 90s"`
	// PublicURL is where people reach this tcbot's dashboard; commit
	// statuses link there.
	PublicURL string `yaml:"public_url"`
	// RecipesDir and BenchmarksDir replace the recipes and benchmark suite
	// built into the binary (for adding a recipe or a benchmark without
	// rebuilding tcbot).
	RecipesDir    string `yaml:"recipes_dir"`
	BenchmarksDir string `yaml:"benchmarks_dir"`
	// Sandbox is what the code of a revision under test (compilers, build
	// steps, benchmarks) runs in: bubblewrap (default) or none.
	Sandbox string `yaml:"sandbox"`
	// Trust: all says every author of a pull request is trusted, which
	// lets serve and worker run with sandbox: none.
	Trust string `yaml:"trust"`
	// SandboxLimits bound what runs in the sandbox.
	SandboxLimits SandboxLimits `yaml:"sandbox_limits" want:"keys such as {memory: 8GiB, processes: 1024}"`
	// Bisect configures automatic bisection of regressions.
	Bisect BisectConfig `yaml:"bisect" want:"keys such as {sweeps: true, pushes: false, parallel: 3}"`

	root    *yaml.Node
	secrets *Secrets // filled by LoadSecrets
}

// Sweep is a cron-scheduled measurement of the branch heads of repos.
type Sweep struct {
	Name     string   `yaml:"name"`
	Schedule string   `yaml:"schedule"` // robfig/cron syntax: "0 2 * * *", "@daily"
	Repos    []string `yaml:"repos" want:"a list of repository names such as [gcc]"`
}

// BisectConfig says when tcbot bisects a regression on its own. A range
// of one commit needs no bisection; /tcbot bisect and tcbot bisect work
// whatever this says.
type BisectConfig struct {
	// Sweeps: a sweep's regression over several commits is bisected
	// (default true).
	Sweeps *bool `yaml:"sweeps"`
	// Pushes: a push's (or a polled branch's) regression over several
	// commits is bisected (default false).
	Pushes bool `yaml:"pushes"`
	// Parallel is how many commits a round measures at once (default: one
	// less than the live workers serving the target, at least 1).
	Parallel int `yaml:"parallel" want:"a positive whole number such as 3" min:"1"`
}

// AutoSweeps reports whether sweeps bisect on their own.
func (b BisectConfig) AutoSweeps() bool { return b.Sweeps == nil || *b.Sweeps }

// GitHub configures reporting to GitHub (used by `tcbot serve`).
//
// Secrets are never written in the config: each is named by a file
// (token_file, mode 0600) or an environment variable (token_env), and read
// by LoadSecrets.
type GitHub struct {
	APIURL            string `yaml:"api_url"`
	TokenEnv          string `yaml:"token_env"`
	TokenFile         string `yaml:"token_file"`
	WebhookSecretEnv  string `yaml:"webhook_secret_env"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
}

// Repo is one watched repository.
type Repo struct {
	Name      string   `yaml:"name"`
	URL       string   `yaml:"url"`
	Branches  []string `yaml:"branches" want:"a list of branch names such as [main]"`
	Poll      Duration `yaml:"poll" want:"a duration such as 5m or 90s, or 0 for no polling" zero:"ok"`
	GitHub    string   `yaml:"github"`
	Recipe    string   `yaml:"recipe"`
	Toolchain string   `yaml:"toolchain"`
	// Host names the compilers per arch for toolchain: host.
	Host map[string]Compiler `yaml:"host" want:"compilers by arch such as {armv8: {cc: aarch64-linux-gnu-gcc}}"`
	// Component is what this repository is to an OpenEmbedded build
	// (recipe oe-lamp): gcc, binutils, glibc or linux.
	Component string `yaml:"component"`
	// Kernel overrides how a kernel repository is built (recipe kernel).
	Kernel *KernelBuild `yaml:"kernel"`
	// Build names the toolchain recipe of a repository with toolchain:
	// build (build.go).
	Build *BuildToolchain `yaml:"build"`
	// Distro says what the distribution scenario (recipe distro-lamp)
	// boots when this repository is not the kernel (distro.go).
	Distro *RepoDistro `yaml:"distro"`
	// Baselines are pinned revisions by name (a release tag, a monthly
	// snapshot): `tcbot run --base @NAME`, `/tcbot rerun --base @NAME`,
	// and each sweep reports its heads' drift against every one.
	Baselines map[string]string `yaml:"baselines" want:"names and revisions such as {gcc-12.2: releases/gcc-12.2.0}"`
}

// ResolveBase turns a base given as @NAME into the pinned revision the
// repository's baselines name; any other base is returned as it is.
func (r *Repo) ResolveBase(base string) (string, error) {
	name, ok := strings.CutPrefix(base, "@")
	if !ok {
		return base, nil
	}
	if rev, ok := r.Baselines[name]; ok && rev != "" {
		return rev, nil
	}
	var names []string
	for n := range r.Baselines {
		names = append(names, "@"+n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "", fmt.Errorf("base %q: repo %s pins no baselines (add baselines: {%s: REVISION} to it in the config)", base, r.Name, name)
	}
	return "", fmt.Errorf("base %q: repo %s pins no baseline named %s (it pins %s)", base, r.Name, name, strings.Join(names, ", "))
}

// BaselineNames lists the pinned baselines' names, sorted.
func (r *Repo) BaselineNames() []string {
	var names []string
	for n := range r.Baselines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Compiler is a compiler and its flags for one arch.
type Compiler struct {
	CC      string `yaml:"cc"`
	CFlags  string `yaml:"cflags"`
	LDFlags string `yaml:"ldflags"`
}

// Target is where benchmarks run.
type Target struct {
	Name     string `yaml:"name"`
	Arch     string `yaml:"arch"`
	Executor string `yaml:"executor"`
	// CPU is the emulated CPU model (qemu-user): cortex-a15 for armv7 and
	// cortex-a57 for armv8 by default.
	CPU string `yaml:"cpu"`
	// QEMU overrides the emulator binary (qemu-arm / qemu-aarch64).
	QEMU string `yaml:"qemu"`
	// Samples is how many times each benchmark runs per revision.
	Samples int      `yaml:"samples" want:"a whole number from 1 to 1000, such as 10" min:"1" max:"1000"`
	Timeout Duration `yaml:"timeout" want:"a duration such as 5m or 90s"`
	// Informational lists metrics recorded but never used for a verdict on
	// this target; default under qemu-user: time and compile-time; on
	// boards: compile-time.
	Informational []string `yaml:"informational" want:"a list of metrics such as [time, compile-time]"`
	// SSH says how to reach a board (executor: ssh).
	SSH *SSHTarget `yaml:"ssh" want:"keys such as {host: board1, user: bench, key_file: FILE, known_hosts: FILE}"`
	// RunWrapper runs each benchmark through a command on the board, e.g.
	// [qemu-aarch64, -cpu, cortex-a57], so an x86 host can stand in for a
	// board in tests.
	RunWrapper []string `yaml:"run_wrapper" want:"a command as a list such as [qemu-aarch64, -cpu, cortex-a57]"`
	// LAVA says how to run in a LAVA lab (executor: lava).
	LAVA *LAVATarget `yaml:"lava" want:"keys such as {url: https://lava.example.org/, token_env: NAME, device_type: qemu}"`
	// The keys of executor: qemu-system (kernel, memory, ...).
	QEMUSystemTarget `yaml:",inline"`
}

// LAVATarget is a LAVA lab: tcbot submits jobs over its REST API (v0.2)
// that boot a kernel with tcbot's initramfs on a device of DeviceType and
// run the benchmarks there.
type LAVATarget struct {
	// URL is the lab's root, e.g. https://lava.example.org/.
	URL string `yaml:"url"`
	// TokenEnv names the environment variable holding a REST API token;
	// TokenFile, instead, a file holding it (mode 0600). Read them with
	// Token.
	TokenEnv   string   `yaml:"token_env"`
	TokenFile  string   `yaml:"token_file"`
	DeviceType string   `yaml:"device_type"`
	Tags       []string `yaml:"tags" want:"a list of device tags such as [fast]"`
	// JobTemplate is a job definition template (Go text/template) to use
	// instead of deploy/lava/qemu-job.yaml.tmpl, e.g. for board device
	// types.
	JobTemplate string `yaml:"job_template"`
	// Kernel is the kernel image the jobs boot; default: Debian's kernel
	// for the arch (arm64 Image, armmp zImage).
	Kernel     string `yaml:"kernel"`
	KernelArgs string `yaml:"kernel_args"`
	// ArtifactListen is where tcbot serves kernel and initramfs to the
	// lab (default 127.0.0.1:0, a free port on loopback); ArtifactURL is
	// how the lab's workers reach that address (default
	// http://<artifact_listen>/).
	ArtifactListen string `yaml:"artifact_listen"`
	ArtifactURL    string `yaml:"artifact_url"`
	// Retries is how many times a job LAVA ends Incomplete or Canceled is
	// submitted again (default 2).
	Retries  *int   `yaml:"retries" want:"a whole number from 0 to 10" min:"0" max:"10"`
	Priority string `yaml:"priority"` // high, medium (default), low or 0-100
	// Visibility of the jobs: public (default) or personal.
	Visibility  string   `yaml:"visibility"`
	Memory      int      `yaml:"memory" want:"the guest's RAM in MiB, such as 1024" min:"1" max:"1048576"` // default 1024
	BootTimeout Duration `yaml:"boot_timeout" want:"a duration such as 3m"`

	// token is the token LoadSecrets read; loaded says it did.
	token  string
	loaded bool
}

// SSHTarget is a board reached over SSH. Host keys are always checked
// against KnownHosts.
type SSHTarget struct {
	Host       string  `yaml:"host"`
	Port       int     `yaml:"port" want:"a TCP port from 1 to 65535, such as 22" min:"1" max:"65535"`
	User       string  `yaml:"user"`
	KeyFile    string  `yaml:"key_file"`
	KnownHosts string  `yaml:"known_hosts"`
	MaxLoad    float64 `yaml:"max_load" want:"a load average such as 2" min:"0.01"` // health check: 1-minute load average below this (default 2)
}

// CompareConfig tunes the comparison.
type CompareConfig struct {
	// Thresholds in percent for exact metrics (instructions 0.2, code-size 0.1).
	Thresholds map[string]float64 `yaml:"thresholds" want:"a percentage from 0 to 100 per metric, such as {instructions: 0.2}"`
	// MinEffect in percent for noisy metrics (default 2).
	MinEffect float64 `yaml:"min_effect" want:"a percentage such as 2"`
	// FDR is the Benjamini-Hochberg false discovery rate (default 0.05).
	FDR float64 `yaml:"fdr" want:"a rate between 0 and 1, such as 0.05"`
}

// Arches tcbot builds for, with their default tools.
var Arches = map[string]struct{ QEMU, CPU, CC string }{
	"armv7": {QEMU: "qemu-arm", CPU: "cortex-a15", CC: "arm-linux-gnueabihf-gcc"},
	"armv8": {QEMU: "qemu-aarch64", CPU: "cortex-a57", CC: "aarch64-linux-gnu-gcc"},
}

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w (pass --config with the path of your tcbot.yaml)", err)
	}
	return Parse(path, data)
}

// Parse parses and validates config data; path is used in messages and to
// resolve relative paths.
func Parse(path string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", path, cleanYAMLError(err))
	}
	c := &Config{Path: path}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty config: it needs at least repos and targets (see README, Configuration)", path)
	}
	c.root = &root
	// Every value of the wrong shape is reported with its key and turned
	// into null, so decoding cannot stop at the first one and the rest of
	// the file is checked too.
	probs := c.checkShape()
	if err := root.Decode(c); err != nil {
		// checkShape missed something yaml.v3 refuses: still say where.
		probs = append(probs, problem{0, fmt.Errorf("%s: %s", path, cleanYAMLError(err))})
	}
	c.applyDefaults()
	probs = append(probs, c.validate()...)
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	return c, nil
}

func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = strings.TrimPrefix(s, "yaml: ")
	s = strings.ReplaceAll(s, "\n  ", "; ")
	s = strings.TrimSpace(s)
	if strings.Contains(s, "not found in type") {
		s += " (unknown key: check its spelling against the README's Configuration section)"
	}
	return s
}

func (c *Config) dir() string {
	if c.Path == "" {
		return "."
	}
	return filepath.Dir(c.Path)
}

// Abs resolves a path from the config relative to the config's directory.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	a, err := filepath.Abs(filepath.Join(c.dir(), p))
	if err != nil {
		return p
	}
	return a
}

func (c *Config) applyDefaults() {
	if c.Workdir == "" {
		c.Workdir = "./work"
	}
	c.Workdir = c.Abs(c.Workdir)
	// Build trees record their paths (configure writes them into every
	// Makefile, compilers embed them): the same workdir reached through
	// a symlink must be the same path, or every tree builds again cold.
	if real, err := filepath.EvalSymlinks(c.Workdir); err == nil {
		c.Workdir = real
	}
	if c.Database == "" {
		c.Database = "sqlite://" + filepath.Join(c.Workdir, "tcbot.db")
	} else if p, ok := strings.CutPrefix(c.Database, "sqlite://"); ok {
		c.Database = "sqlite://" + c.Abs(p)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	// Only absent values get defaults: a negative one stays for Validate
	// to report.
	if c.Jobs == 0 {
		c.Jobs = runtime.NumCPU()
	}
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Reconcile == 0 {
		c.Reconcile = Duration(5 * time.Minute)
	}
	c.sandboxDefaults()
	if c.GitHub != nil {
		if c.GitHub.APIURL == "" {
			c.GitHub.APIURL = "https://api.github.com/"
		}
		c.GitHub.TokenFile = c.Abs(c.GitHub.TokenFile)
		c.GitHub.WebhookSecretFile = c.Abs(c.GitHub.WebhookSecretFile)
	}
	c.Plugin = c.Abs(c.Plugin)
	c.RecipesDir = c.Abs(c.RecipesDir)
	c.BenchmarksDir = c.Abs(c.BenchmarksDir)
	for i := range c.Repos {
		r := &c.Repos[i]
		if r.Recipe == "" {
			r.Recipe = "bench"
		}
		if r.Toolchain == "" {
			r.Toolchain = "manifest"
		}
		// A local path URL is relative to the config file too.
		if r.URL != "" && !strings.Contains(r.URL, "://") && !strings.Contains(r.URL, "@") {
			r.URL = c.Abs(r.URL)
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		a, ok := Arches[t.Arch]
		if !ok {
			continue
		}
		if k := executorKindOf(t.Executor); k != nil && k.defaults != nil {
			k.defaults(c, t)
		}
		if t.CPU == "" {
			t.CPU = a.CPU
		}
		if t.QEMU == "" {
			t.QEMU = a.QEMU
		}
		if t.Samples == 0 {
			// Exact counts need one run; board timings need ~10 a side
			// for the false-discovery control to find anything.
			t.Samples = 1
		}
		if t.SSH != nil {
			t.SSH.KeyFile = c.Abs(t.SSH.KeyFile)
			t.SSH.KnownHosts = c.Abs(t.SSH.KnownHosts)
			if t.SSH.Port == 0 {
				t.SSH.Port = 22
			}
		}
		if t.Timeout == 0 {
			t.Timeout = Duration(5 * time.Minute)
		}
		if t.LAVA != nil {
			t.LAVA.JobTemplate = c.Abs(t.LAVA.JobTemplate)
			t.LAVA.Kernel = c.Abs(t.LAVA.Kernel)
			t.LAVA.TokenFile = c.Abs(t.LAVA.TokenFile)
		}
	}
	if c.Compare.MinEffect == 0 {
		c.Compare.MinEffect = 2
	}
	if c.Compare.FDR == 0 {
		c.Compare.FDR = 0.05
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Validate checks the config and returns every problem found, each naming
// file, line and key.
func (c *Config) Validate() error {
	return joinProblems(c.validate())
}

func (c *Config) validate() []problem {
	var probs []problem
	bad := func(line int, key, format string, args ...any) {
		loc := c.Path
		if line > 0 {
			loc = fmt.Sprintf("%s:%d", c.Path, line)
		}
		probs = append(probs, problem{line, fmt.Errorf("%s: %s: %s", loc, key, fmt.Sprintf(format, args...))})
	}
	switch {
	case strings.HasPrefix(c.Database, "postgres://"), strings.HasPrefix(c.Database, "postgresql://"):
		u, err := url.Parse(c.Database)
		switch {
		case err != nil:
			bad(c.line("database"), "database", "not a PostgreSQL URL: %v; want postgres://USER@HOST[:PORT]/DB", err)
		case u.User != nil && func() bool { _, ok := u.User.Password(); return ok }():
			bad(c.line("database"), "database", "holds a password: keep secrets out of the config; remove it from the URL and export PGPASSWORD (or use ~/.pgpass)")
		case u.Host == "" && u.Query().Get("host") == "":
			bad(c.line("database"), "database", "%q names no host: want postgres://USER@HOST[:PORT]/DB", c.Database)
		case strings.Trim(u.Path, "/") == "":
			bad(c.line("database"), "database", "%q names no database: want postgres://USER@HOST[:PORT]/DB", c.Database)
		}
	case !strings.HasPrefix(c.Database, "sqlite://"):
		bad(c.line("database"), "database", "%q: want sqlite://PATH or postgres://USER@HOST[:PORT]/DB", c.Database)
	}
	if c.GitHub != nil {
		g := c.GitHub
		c.validateSecret(bad, "github", []any{"github"}, "token", g.TokenEnv, g.TokenFile, "the GitHub token", true)
		c.validateSecret(bad, "github", []any{"github"}, "webhook_secret", g.WebhookSecretEnv, g.WebhookSecretFile, "the webhook secret", false)
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"jobs", c.Jobs}, {"workers", c.Workers}} {
		if n.v < 0 {
			bad(c.line(n.key), n.key, "%d is negative: want a positive whole number such as 4", n.v)
		}
	}
	if c.Reconcile < 0 {
		bad(c.line("reconcile"), "reconcile", "%v is negative: want a duration such as 5m or 90s", time.Duration(c.Reconcile))
	}
	c.validateSandbox(bad)
	if len(c.Repos) == 0 {
		bad(c.line("repos"), "repos", "no repositories: add at least one {name, url}")
	}
	seen := map[string]bool{}
	for i, r := range c.Repos {
		key := func(k string) string { return fmt.Sprintf("repos[%d].%s", i, k) }
		ln := func(k string) int { return c.line("repos", i, k) }
		switch {
		case r.Name == "":
			bad(c.line("repos", i), key("name"), "missing")
		case !nameRE.MatchString(r.Name):
			bad(ln("name"), key("name"), "%q: use lower-case letters, digits, '.', '_' and '-'", r.Name)
		case seen[r.Name]:
			bad(ln("name"), key("name"), "%q is used twice; repository names must be unique", r.Name)
		}
		seen[r.Name] = true
		if r.URL == "" {
			bad(c.line("repos", i), key("url"), "missing: any URL go-git reads (https, git, ssh, file) or a local path")
		}
		if k := toolchainKindOf(r.Toolchain); k == nil {
			bad(ln("toolchain"), key("toolchain"), "%q: want %s", r.Toolchain, toolchainNames())
		} else if k.check != nil {
			k.check(c, i, r, bad)
		}
		for arch, cc := range r.Host {
			if _, ok := Arches[arch]; !ok {
				bad(c.line("repos", i, "host", arch), key("host."+arch), "unknown arch: want armv7 or armv8")
			}
			if cc.CC == "" {
				bad(c.line("repos", i, "host", arch), key("host."+arch+".cc"), "missing compiler")
			}
		}
		if r.Poll < 0 {
			bad(ln("poll"), key("poll"), "%v is negative: want a duration such as 5m or 90s, or 0 for no polling", time.Duration(r.Poll))
		}
		switch r.Component {
		case "", "gcc", "binutils", "glibc", "linux":
		default:
			bad(ln("component"), key("component"), "%q: want gcc, binutils, glibc or linux", r.Component)
		}
		if r.GitHub != "" && strings.Count(r.GitHub, "/") != 1 {
			bad(ln("github"), key("github"), "%q: want owner/name", r.GitHub)
		}
		c.validateKernel(i, r, bad)
		c.validateDistro(i, r, bad)
	}
	if len(c.Targets) == 0 {
		bad(c.line("targets"), "targets", "no targets: add e.g. {name: armv8-qemu, arch: armv8, executor: qemu-user}")
	}
	seen = map[string]bool{}
	for i, t := range c.Targets {
		key := func(k string) string { return fmt.Sprintf("targets[%d].%s", i, k) }
		ln := func(k string) int { return c.line("targets", i, k) }
		switch {
		case t.Name == "":
			bad(c.line("targets", i), key("name"), "missing")
		case !nameRE.MatchString(t.Name):
			bad(ln("name"), key("name"), "%q: use lower-case letters, digits, '.', '_' and '-'", t.Name)
		case seen[t.Name]:
			bad(ln("name"), key("name"), "%q is used twice; target names must be unique", t.Name)
		}
		seen[t.Name] = true
		if _, ok := Arches[t.Arch]; !ok {
			bad(ln("arch"), key("arch"), "%q: want armv7 or armv8", t.Arch)
		}
		if executorKindOf(t.Executor) == nil {
			bad(ln("executor"), key("executor"), "%q: want %s", t.Executor, executorNames())
		}
		if t.Timeout < 0 {
			bad(ln("timeout"), key("timeout"), "%v is negative: want a duration such as 5m or 90s", time.Duration(t.Timeout))
		}
		c.validateExecutorKeys(i, t, bad)
		if t.Samples > 1000 || t.Samples < 0 {
			bad(ln("samples"), key("samples"), "%d: want a whole number from 1 to 1000, such as 10", t.Samples)
		}
	}
	seenSweep := map[string]bool{}
	for i, sw := range c.Sweeps {
		key := func(k string) string { return fmt.Sprintf("sweeps[%d].%s", i, k) }
		ln := func(k string) int { return c.line("sweeps", i, k) }
		if sw.Name == "" || !nameRE.MatchString(sw.Name) || seenSweep[sw.Name] {
			bad(ln("name"), key("name"), "%q: want a unique name of lower-case letters, digits, '.', '_' and '-'", sw.Name)
		}
		seenSweep[sw.Name] = true
		if _, err := cron.ParseStandard(sw.Schedule); err != nil {
			bad(ln("schedule"), key("schedule"), "%q: %v (robfig/cron syntax, e.g. \"0 2 * * *\" or @daily)", sw.Schedule, err)
		}
		if len(sw.Repos) == 0 {
			bad(ln("repos"), key("repos"), "none: name the repos whose branch heads this sweep measures")
		}
		for _, r := range sw.Repos {
			if _, err := c.Repo(r); err != nil {
				bad(ln("repos"), key("repos"), "%v", err)
			}
		}
	}
	for m, v := range c.Compare.Thresholds {
		if !(v >= 0 && v <= 100) {
			bad(c.line("compare", "thresholds", m), "compare.thresholds."+m, "%v: want a percentage between 0 and 100", v)
		}
	}
	if !(c.Compare.FDR > 0 && c.Compare.FDR < 1) {
		bad(c.line("compare", "fdr"), "compare.fdr", "%v: want a rate between 0 and 1, e.g. 0.05", c.Compare.FDR)
	}
	if !(c.Compare.MinEffect >= 0 && c.Compare.MinEffect <= 100) {
		bad(c.line("compare", "min_effect"), "compare.min_effect", "%v: want a non-negative percentage", c.Compare.MinEffect)
	}
	return probs
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// walk follows a key path such as ("repos", 1, "url") in the YAML
// document. It returns the node there (nil when the path does not exist)
// and the line of the deepest key found, so errors can point near a key
// that is missing.
func (c *Config) walk(path ...any) (*yaml.Node, int) {
	if c.root == nil || len(c.root.Content) == 0 {
		return nil, 0
	}
	n := c.root.Content[0]
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value == k {
						next, line = n.Content[j+1], n.Content[j].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return nil, line
		}
		n = next
	}
	return n, line
}

// line finds the line of a key path; 0 when unknown. It falls back to the
// nearest parent.
func (c *Config) line(path ...any) int {
	_, line := c.walk(path...)
	return line
}

// Repo returns the repository with the given name.
func (c *Config) Repo(name string) (*Repo, error) {
	var names []string
	for i := range c.Repos {
		if c.Repos[i].Name == name {
			return &c.Repos[i], nil
		}
		names = append(names, c.Repos[i].Name)
	}
	return nil, fmt.Errorf("unknown repo %q: %s configures %s", name, c.Path, strings.Join(names, ", "))
}

// SelectTargets returns the named targets, or all when names is empty.
func (c *Config) SelectTargets(names []string) ([]Target, error) {
	if len(names) == 0 {
		return c.Targets, nil
	}
	var out []Target
	for _, n := range names {
		found := false
		for _, t := range c.Targets {
			if t.Name == n {
				out = append(out, t)
				found = true
			}
		}
		if !found {
			var all []string
			for _, t := range c.Targets {
				all = append(all, t.Name)
			}
			return nil, fmt.Errorf("unknown target %q: %s configures %s", n, c.Path, strings.Join(all, ", "))
		}
	}
	return out, nil
}

// IsPostgres reports whether the database is PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// SQLitePath returns the database file path of a sqlite:// database.
func (c *Config) SQLitePath() string {
	return strings.TrimPrefix(c.Database, "sqlite://")
}
