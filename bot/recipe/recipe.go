// Package recipe reads recipe files: declarative descriptions of how a
// change becomes measurements (what to build with which command, what to
// run where, which metrics come out). The measuring code interprets them;
// a recipe never holds code.
package recipe

import (
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tcbot/tcbot/bot/result"
)

// Recipe is one parsed recipe file.
type Recipe struct {
	Name  string `yaml:"name"`
	Kind  string `yaml:"kind"`
	Suite string `yaml:"suite"`
	Build Stage  `yaml:"build"`
	Run   Stage  `yaml:"run"`
	// Kas drives an OpenEmbedded build (kind: kas).
	Kas *KasStage `yaml:"kas"`
	// Kernel builds the kernel under test (kind: kernel, and
	// distro-lamp on a kernel repository).
	Kernel *KernelStage `yaml:"kernel"`
	// Distro is the Debian system and its load (kind: distro-lamp).
	Distro *DistroStage `yaml:"distro"`

	// Source is where the recipe was read from, for messages.
	Source string `yaml:"-"`
	// Raw is the file content, part of the suite version.
	Raw []byte `yaml:"-"`
}

// Stage is one step of a recipe: a command template run by an executor.
type Stage struct {
	Executor string            `yaml:"executor"`
	Command  []string          `yaml:"command"`
	Env      map[string]string `yaml:"env"`
	Timeout  string            `yaml:"timeout"`
	Check    string            `yaml:"check"`
	Metrics  []string          `yaml:"metrics"`
}

// KasStage describes an OpenEmbedded build with kas: which project file
// builds each arch, which include template pins the component under test
// to the revision, and the command.
type KasStage struct {
	// Projects maps an arch to a kas project file under the recipes
	// directory ("oe/qemuarm64.yml").
	Projects map[string]string `yaml:"projects"`
	// Toolchain is the include template that pins the repository's
	// component ("oe/toolchain-{component}.yml.tmpl").
	Toolchain string `yaml:"toolchain"`
	// Command runs the build, without network; placeholders {project}
	// and {override}.
	Command []string `yaml:"command"`
	// FetchCommand fetches the sources first, with network, seeing only
	// the download and work directories (same placeholders; empty: no
	// fetch step, everything must be in the download directory).
	FetchCommand []string          `yaml:"fetch_command"`
	Env          map[string]string `yaml:"env"`
	Timeout      string            `yaml:"timeout"`
	Metrics      []string          `yaml:"metrics"`
	// Informational metrics are reported but never decide (one build per
	// side gives one sample of build CPU time).
	Informational []string `yaml:"informational"`
}

// Components a kas recipe can put under test.
var Components = []string{"gcc", "binutils", "glibc", "linux"}

// Kind is what a recipe file of one kind must hold.
type Kind struct {
	Desc  string
	check func(path string, r *Recipe) error
}

// Kinds of recipe the measuring code can drive (bot/measure/kinds.go
// registers how each is measured), with the checks of their files.
var Kinds = map[string]Kind{
	"suite":       {"build each benchmark of a suite with the toolchain under test and run it on every target", checkSuite},
	"kas":         {"OpenEmbedded build with kas, the repository's component pinned to the revision under test", checkKas},
	"kernel":      {"build the kernel under test, boot it under qemu-system and run the suite in it", checkKernelSuite},
	"distro-lamp": {"a Debian LAMP system with the kernel under test, booted under qemu-system, measured under a load", checkDistro},
}

var placeholderRE = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

var buildVars = map[string]bool{"cc": true, "cflags": true, "ldflags": true, "output": true, "sources": true}
var runVars = map[string]bool{"binary": true, "args": true}

// Load reads recipe name (file name.yaml) from fsys; where names fsys in
// messages.
func Load(fsys fs.FS, where, name string) (*Recipe, error) {
	file := name + ".yaml"
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		avail, _ := List(fsys)
		return nil, fmt.Errorf("recipe %q: no file %s in %s (available: %s)", name, file, where, strings.Join(avail, ", "))
	}
	return Parse(where+"/"+file, data)
}

// List names the recipes in fsys.
func List(fsys fs.FS) ([]string, error) {
	ms, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		out = append(out, strings.TrimSuffix(m, ".yaml"))
	}
	sort.Strings(out)
	return out, nil
}

// Parse parses and validates one recipe; path is used in messages.
func Parse(path string, data []byte) (*Recipe, error) {
	var r Recipe
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	r.Source, r.Raw = path, data
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", path, key, fmt.Sprintf(format, a...))
	}
	if r.Name == "" {
		return nil, bad("name", "missing")
	}
	k, ok := Kinds[r.Kind]
	if !ok {
		return nil, bad("kind", "%q: want one of suite, kas, kernel, distro-lamp", r.Kind)
	}
	return &r, k.check(path, &r)
}

// checkKernelSuite checks a kernel recipe: a suite recipe with a kernel
// section.
func checkKernelSuite(path string, r *Recipe) error {
	if err := checkSuite(path, r); err != nil {
		return err
	}
	return checkKernel(path, r)
}

// checkSuite checks a recipe that builds and runs a benchmark suite.
func checkSuite(path string, r *Recipe) error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", path, key, fmt.Sprintf(format, a...))
	}
	if r.Suite == "" {
		return bad("suite", "missing: name the benchmark suite to build")
	}
	if r.Build.Executor != "local" {
		return bad("build.executor", "%q: builds run on the tcbot host: want local", r.Build.Executor)
	}
	if r.Run.Executor != "target" {
		return bad("run.executor", "%q: want target (each target's own executor)", r.Run.Executor)
	}
	if err := checkCommand(r.Build.Command, buildVars); err != nil {
		return bad("build.command", "%v", err)
	}
	if err := checkCommand(r.Run.Command, runVars); err != nil {
		return bad("run.command", "%v", err)
	}
	for _, st := range []struct {
		key string
		s   Stage
	}{{"build", r.Build}, {"run", r.Run}} {
		if st.s.Timeout != "" {
			if _, err := time.ParseDuration(st.s.Timeout); err != nil {
				return bad(st.key+".timeout", "%q is not a duration (e.g. 5m)", st.s.Timeout)
			}
		}
		for _, m := range st.s.Metrics {
			if _, ok := result.LookupMetric(m); !ok {
				return bad(st.key+".metrics", "unknown metric %q", m)
			}
		}
	}
	if r.Run.Check != "" && r.Run.Check != "checksum" {
		return bad("run.check", "%q: want checksum or nothing", r.Run.Check)
	}
	return nil
}

func checkKas(path string, r *Recipe) error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", path, key, fmt.Sprintf(format, a...))
	}
	k := r.Kas
	switch {
	case r.Suite == "":
		return bad("suite", "missing: name the suite its results belong to (e.g. oe-lamp)")
	case k == nil:
		return bad("kas", "missing: a kas recipe needs kas.projects, kas.toolchain and kas.command")
	case len(k.Projects) == 0:
		return bad("kas.projects", "missing: map each arch to a kas project file, e.g. {armv8: oe/qemuarm64.yml}")
	case k.Toolchain == "" || !strings.Contains(k.Toolchain, "{component}"):
		return bad("kas.toolchain", "%q: want an include template path containing {component}", k.Toolchain)
	}
	for arch := range k.Projects {
		if arch != "armv7" && arch != "armv8" {
			return bad("kas.projects."+arch, "unknown arch: want armv7 or armv8")
		}
	}
	if err := checkCommand(k.Command, map[string]bool{"project": true, "override": true}); err != nil {
		return bad("kas.command", "%v", err)
	}
	if k.Timeout != "" {
		if _, err := time.ParseDuration(k.Timeout); err != nil {
			return bad("kas.timeout", "%q is not a duration (e.g. 12h)", k.Timeout)
		}
	}
	for _, m := range append(append([]string{}, k.Metrics...), k.Informational...) {
		if _, ok := result.LookupMetric(m); !ok {
			return bad("kas.metrics", "unknown metric %q", m)
		}
	}
	return nil
}

func checkCommand(cmd []string, vars map[string]bool) error {
	if len(cmd) == 0 {
		return fmt.Errorf("missing")
	}
	for _, arg := range cmd {
		for _, m := range placeholderRE.FindAllStringSubmatch(arg, -1) {
			if !vars[m[1]] {
				var names []string
				for v := range vars {
					names = append(names, "{"+v+"}")
				}
				sort.Strings(names)
				return fmt.Errorf("unknown placeholder {%s} in %q (known here: %s)", m[1], arg, strings.Join(names, " "))
			}
		}
	}
	return nil
}

// Expand fills a command template. A placeholder "{x...}" standing alone
// splices the list vars[x]; "{x}" inside an argument is replaced by the
// list joined with spaces.
func Expand(cmd []string, vars map[string][]string) []string {
	var out []string
	for _, arg := range cmd {
		if m := placeholderRE.FindStringSubmatch(arg); m != nil && m[0] == arg && m[2] == "..." {
			out = append(out, vars[m[1]]...)
			continue
		}
		out = append(out, placeholderRE.ReplaceAllStringFunc(arg, func(p string) string {
			m := placeholderRE.FindStringSubmatch(p)
			return strings.Join(vars[m[1]], " ")
		}))
	}
	return out
}

// Timeout returns the stage's timeout, or def when unset.
func (s Stage) TimeoutOr(def time.Duration) time.Duration {
	d, err := time.ParseDuration(s.Timeout)
	if err != nil || d <= 0 {
		return def
	}
	return d
}

// EnvList returns the stage environment as sorted KEY=VALUE strings.
func (s Stage) EnvList() []string {
	var out []string
	for k, v := range s.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Has reports whether the stage collects metric m.
func (s Stage) Has(m string) bool {
	for _, x := range s.Metrics {
		if x == m {
			return true
		}
	}
	return false
}
