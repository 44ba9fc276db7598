package recipe

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ToolchainDir is where toolchain recipes live among the recipes.
const ToolchainDir = "toolchain"

// Toolchain is a toolchain recipe (recipes/toolchain/NAME.yaml): how a
// repository of gcc, binutils, glibc or LLVM becomes the compiler the
// benchmarks are built with. It is data: configure and build steps per
// arch, with placeholders that tcbot fills for the arch:
//
//	{src} {build} {install}   the tree's source, build and install directories
//	{triplet}                 aarch64-linux-gnu, arm-linux-gnueabihf
//	{jobs}                    the config's jobs
//	{host_cc}                 the host's cross compiler for the arch
//	{host_configure...}       the host cross compiler's own configure options
//	                          (paths and the arch's defaults, from its -v)
//	{host_arch_options...}    only the arch's defaults (--with-arch, --with-fpu, ...)
type Toolchain struct {
	Name      string `yaml:"name"`
	Component string `yaml:"component"`
	// Use says how the benchmarks use the result: overlay (the host's
	// cross gcc driver with -B<outputs>/), full (a compiler of its own,
	// the Full section) or sysroot (a C library installed in {install},
	// linked statically with the host compiler).
	Use       string     `yaml:"use"`
	Configure [][]string `yaml:"configure"`
	Build     [][]string `yaml:"build"`
	// Outputs name, for overlay, the files the driver finds through -B
	// (as, ld, cc1) and where the build leaves them.
	Outputs map[string]string `yaml:"outputs"`
	// CFlags are added to the benchmarks' compiler flags with this
	// toolchain (not part of its identity): for an overlay cc1, the host
	// compiler's own header directory ({host_include}), which an
	// upstream cc1 does not look for where Debian keeps it.
	CFlags []string `yaml:"cflags"`
	// VersionFile holds the component's version in the source tree
	// (gcc/BASE-VER): overlay is refused when it differs from the host
	// compiler's.
	VersionFile string `yaml:"version_file"`
	// Full is how to build and use a whole compiler (use: full, or when
	// overlay is refused for the version).
	Full        *FullBuild        `yaml:"full"`
	Reconfigure []string          `yaml:"reconfigure_on"`
	Env         map[string]string `yaml:"env"`
	Timeout     string            `yaml:"timeout"`

	Source string `yaml:"-"`
	Raw    []byte `yaml:"-"`
}

// FullBuild builds a compiler of its own and says how to call it.
type FullBuild struct {
	Configure [][]string `yaml:"configure"`
	Build     [][]string `yaml:"build"`
	// CC is the compiler to call; CFlags are added before the
	// repository's flags.
	CC     string   `yaml:"cc"`
	CFlags []string `yaml:"cflags"`
}

// Uses of a toolchain recipe.
var Uses = map[string]string{
	"overlay": "the host's cross gcc driver with the built programs through -B",
	"full":    "a compiler of its own",
	"sysroot": "a C library linked statically with the host compiler",
}

var toolchainVars = map[string]bool{"src": true, "build": true, "install": true, "triplet": true, "jobs": true,
	"host_cc": true, "host_configure": true, "host_arch_options": true, "host_include": true}

// LoadToolchain reads toolchain recipe name from fsys (toolchain/NAME.yaml)
// or, when name ends in .yaml, the file of that name.
func LoadToolchain(fsys fs.FS, where, name string) (*Toolchain, error) {
	file := path.Join(ToolchainDir, name+".yaml")
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		avail, _ := fs.Glob(fsys, ToolchainDir+"/*.yaml")
		for i := range avail {
			avail[i] = strings.TrimSuffix(path.Base(avail[i]), ".yaml")
		}
		sort.Strings(avail)
		return nil, fmt.Errorf("toolchain recipe %q: no file %s in %s (available: %s)", name, file, where, strings.Join(avail, ", "))
	}
	return ParseToolchain(where+"/"+file, data)
}

// ParseToolchain parses and validates a toolchain recipe.
func ParseToolchain(where string, data []byte) (*Toolchain, error) {
	var t Toolchain
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	t.Source, t.Raw = where, data
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", where, key, fmt.Sprintf(format, a...))
	}
	if t.Name == "" {
		return nil, bad("name", "missing")
	}
	if t.Component == "" {
		return nil, bad("component", "missing: gcc, binutils, glibc, llvm, ...")
	}
	if _, ok := Uses[t.Use]; !ok {
		return nil, bad("use", "%q: want overlay, full or sysroot", t.Use)
	}
	if len(t.Build) == 0 {
		return nil, bad("build", "missing: the commands that build the component")
	}
	if t.Use == "overlay" && len(t.Outputs) == 0 {
		return nil, bad("outputs", "missing: use overlay needs the files the driver finds through -B (as: gas/as-new)")
	}
	for name, p := range t.Outputs {
		if strings.Contains(name, "/") || path.IsAbs(p) || strings.HasPrefix(path.Clean(p), "..") {
			return nil, bad("outputs."+name, "%q: want a program name and a path inside the build directory", p)
		}
	}
	if t.Use == "full" && (t.Full == nil || t.Full.CC == "") {
		return nil, bad("full.cc", "missing: use full needs the compiler to call")
	}
	check := func(key string, steps [][]string) error {
		for i, argv := range steps {
			if len(argv) == 0 {
				return bad(fmt.Sprintf("%s[%d]", key, i), "empty command")
			}
			for _, a := range argv {
				for _, m := range placeholderRE.FindAllStringSubmatch(a, -1) {
					if !toolchainVars[m[1]] {
						return bad(fmt.Sprintf("%s[%d]", key, i), "unknown placeholder {%s} (known: src, build, install, triplet, jobs, host_cc, host_configure..., host_arch_options...)", m[1])
					}
				}
			}
		}
		return nil
	}
	if err := check("configure", t.Configure); err != nil {
		return nil, err
	}
	if err := check("build", t.Build); err != nil {
		return nil, err
	}
	if err := check("cflags", [][]string{append([]string{"cc"}, t.CFlags...)}); err != nil {
		return nil, err
	}
	if t.Full != nil {
		if err := check("full.configure", t.Full.Configure); err != nil {
			return nil, err
		}
		if err := check("full.build", t.Full.Build); err != nil {
			return nil, err
		}
	}
	if t.Timeout != "" {
		if d, err := time.ParseDuration(t.Timeout); err != nil || d <= 0 {
			return nil, bad("timeout", "%q: want a duration such as 2h", t.Timeout)
		}
	}
	return &t, nil
}

// TimeoutOr is the recipe's timeout, or def.
func (t *Toolchain) TimeoutOr(def time.Duration) time.Duration {
	if d, err := time.ParseDuration(t.Timeout); err == nil && d > 0 {
		return d
	}
	return def
}

// EnvList is the recipe's environment as NAME=value, sorted, with the
// PATH and locale every build needs unless the recipe sets them.
func (t *Toolchain) EnvList() []string {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
	for k, v := range t.Env {
		env[k] = v
	}
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ExpandSteps fills the placeholders of steps; a word that is a list
// placeholder alone ("{host_configure...}") becomes that many words.
func ExpandSteps(steps [][]string, vars map[string][]string) [][]string {
	var out [][]string
	for _, argv := range steps {
		out = append(out, Expand(argv, vars))
	}
	return out
}
