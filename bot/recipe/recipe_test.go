package recipe

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestShippedBenchRecipe(t *testing.T) {
	const path = "../../recipes/bench.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(path, data)
	if err != nil {
		t.Fatalf("shipped recipe does not parse: %v", err)
	}
	if r.Name != "bench" || r.Kind != "suite" || r.Suite != "bench" {
		t.Errorf("name %q kind %q suite %q, want bench, suite, bench", r.Name, r.Kind, r.Suite)
	}
	if r.Source != path || string(r.Raw) != string(data) {
		t.Errorf("Source %q, Raw %d bytes; want %q and the file's %d bytes", r.Source, len(r.Raw), path, len(data))
	}
	if r.Build.Executor != "local" || r.Run.Executor != "target" {
		t.Errorf("executors %q/%q, want local/target", r.Build.Executor, r.Run.Executor)
	}
	if got := r.Build.TimeoutOr(time.Hour); got != 5*time.Minute {
		t.Errorf("build timeout = %v, want 5m", got)
	}
	if got := r.Run.TimeoutOr(time.Hour); got != time.Hour {
		t.Errorf("run timeout = %v, want the default when unset", got)
	}
	for _, m := range []struct {
		stage Stage
		name  string
		want  bool
	}{
		{r.Build, "code-size", true},
		{r.Build, "instructions", false},
		{r.Run, "instructions", true},
		{r.Run, "status", true},
		{r.Run, "code-size", false},
	} {
		if got := m.stage.Has(m.name); got != m.want {
			t.Errorf("Has(%s) = %v, want %v", m.name, got, m.want)
		}
	}
	// The run environment must be exactly what the file says: a fixed
	// environment keeps instruction counts exact.
	if got := r.Run.EnvList(); !reflect.DeepEqual(got, []string{"LC_ALL=C"}) {
		t.Errorf("run env = %q, want [LC_ALL=C]", got)
	}
	if got := r.Build.EnvList(); !reflect.DeepEqual(got, []string{"LC_ALL=C", "PATH=/usr/local/bin:/usr/bin:/bin"}) {
		t.Errorf("build env = %q, want sorted LC_ALL, PATH", got)
	}
	if r.Run.Check != "checksum" {
		t.Errorf("run check = %q, want checksum", r.Run.Check)
	}

	// The shipped build command expands to a real compiler command line.
	argv := Expand(r.Build.Command, map[string][]string{
		"cc": {"aarch64-linux-gnu-gcc"}, "cflags": {"-O2", "-g0"}, "ldflags": nil,
		"output": {"bin/sha256"}, "sources": {"sha256.c", "common.c"},
	})
	want := []string{"aarch64-linux-gnu-gcc", "-O2", "-g0", "-static", "-o", "bin/sha256", "sha256.c", "common.c", "-lm"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("build argv = %q\nwant %q", argv, want)
	}
	argv = Expand(r.Run.Command, map[string][]string{"binary": {"sha256"}, "args": {"100"}})
	if !reflect.DeepEqual(argv, []string{"./sha256", "100"}) {
		t.Errorf("run argv = %q, want [./sha256 100]", argv)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string][]string{
		"cc":      {"gcc"},
		"cflags":  {"-O2", "-march=armv8-a"},
		"sources": {"a.c", "b.c"},
		"output":  {"bin/x"},
		"none":    nil,
	}
	tests := []struct {
		name string
		cmd  []string
		want []string
	}{
		{"list spliced into separate arguments", []string{"{cc}", "{cflags...}", "-c"}, []string{"gcc", "-O2", "-march=armv8-a", "-c"}},
		{"empty list splices to nothing", []string{"{cc}", "{none...}", "x.c"}, []string{"gcc", "x.c"}},
		{"placeholder inside an argument is joined", []string{"-DFLAGS={cflags}"}, []string{"-DFLAGS=-O2 -march=armv8-a"}},
		{"list placeholder inside an argument is joined, not spliced", []string{"--in={sources...}"}, []string{"--in=a.c b.c"}},
		{"two placeholders in one argument", []string{"{output}:{cc}"}, []string{"bin/x:gcc"}},
		{"plain arguments untouched", []string{"-static", "-o", "out"}, []string{"-static", "-o", "out"}},
		{"single value without dots", []string{"-o", "{output}"}, []string{"-o", "bin/x"}},
		{"braces that are not a placeholder", []string{"{Upper}", "{a-b}", "{}"}, []string{"{Upper}", "{a-b}", "{}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Expand(tt.cmd, vars)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Expand(%q) = %q, want %q", tt.cmd, got, tt.want)
			}
		})
	}
}

const goodRecipe = `name: test
kind: suite
suite: bench
build:
  executor: local
  command: ["{cc}", "{cflags...}", "-o", "{output}", "{sources...}"]
  timeout: 2m
  metrics: [code-size]
run:
  executor: target
  command: ["./{binary}", "{args...}"]
  check: checksum
  metrics: [instructions, status]
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replaced in goodRecipe
		key      string
		want     string
	}{
		{"unknown placeholder in build", `"{output}"`, `"{out}"`, "build.command", "unknown placeholder {out}"},
		{"run placeholder in build", `"{sources...}"`, `"{binary}"`, "build.command", "unknown placeholder {binary}"},
		{"build placeholder in run", `"{args...}"`, `"{cflags...}"`, "run.command", "unknown placeholder {cflags}"},
		{"unknown metric", "[instructions, status]", "[instructions, cycles]", "run.metrics", `unknown metric "cycles"`},
		{"unknown build metric", "[code-size]", "[binary-size]", "build.metrics", `unknown metric "binary-size"`},
		{"bad kind", "kind: suite", "kind: make", "kind", "want one of suite, kas, kernel"},
		{"kernel recipe without its kernel section", "kind: suite", "kind: kernel", "kernel", "kernel.config"},
		{"kas recipe without its kas section", "kind: suite", "kind: kas", "kas", "kas.projects"},
		{"bad build timeout", "timeout: 2m", "timeout: two minutes", "build.timeout", "is not a duration"},
		{"bad run timeout", "  check: checksum", "  check: checksum\n  timeout: 10", "run.timeout", "is not a duration"},
		{"build on the target", "executor: local", "executor: target", "build.executor", "want local"},
		{"run with a named executor", "executor: target", "executor: qemu-user", "run.executor", "want target"},
		{"unknown check", "check: checksum", "check: exit-code", "run.check", "want checksum or nothing"},
		{"missing name", "name: test\n", "", "name", "missing"},
		{"missing suite", "suite: bench\n", "", "suite", "missing"},
		{"missing build command", `  command: ["{cc}", "{cflags...}", "-o", "{output}", "{sources...}"]` + "\n", "", "build.command", "missing"},
		{"unknown key", "suite: bench", "suite: bench\nsteps: []", "steps", "not found"},
	}
	const path = "recipes/test.yaml"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(goodRecipe, tt.old, tt.new, 1)
			if text == goodRecipe {
				t.Fatalf("%q not in the recipe", tt.old)
			}
			_, err := Parse(path, []byte(text))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error does not start with the file: %s", msg)
			}
			if !strings.Contains(msg, tt.key) {
				t.Errorf("error does not name key %q: %s", tt.key, msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error does not say %q: %s", tt.want, msg)
			}
		})
	}
}

func TestParseGood(t *testing.T) {
	r, err := Parse("recipes/test.yaml", []byte(goodRecipe))
	if err != nil {
		t.Fatal(err)
	}
	if r.Build.TimeoutOr(time.Hour) != 2*time.Minute {
		t.Errorf("build timeout = %v, want 2m", r.Build.TimeoutOr(time.Hour))
	}
	if len(r.Build.EnvList()) != 0 {
		t.Errorf("EnvList() = %q, want none", r.Build.EnvList())
	}
}

func TestLoadAndList(t *testing.T) {
	fsys := fstest.MapFS{
		"bench.yaml":  {Data: []byte(goodRecipe)},
		"kernel.yaml": {Data: []byte("name: kernel\n")},
		"README.md":   {Data: []byte("not a recipe")},
		"embed.go":    {Data: []byte("package recipes")},
	}
	names, err := List(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bench", "kernel"}; !reflect.DeepEqual(names, want) {
		t.Errorf("List = %q, want %q", names, want)
	}

	r, err := Load(fsys, "/etc/tcbot/recipes", "bench")
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != "/etc/tcbot/recipes/bench.yaml" {
		t.Errorf("Source = %q, want /etc/tcbot/recipes/bench.yaml", r.Source)
	}

	_, err = Load(fsys, "/etc/tcbot/recipes", "kernel")
	if err == nil || !strings.Contains(err.Error(), "/etc/tcbot/recipes/kernel.yaml") {
		t.Errorf("Load(kernel) error = %v, want one naming /etc/tcbot/recipes/kernel.yaml", err)
	}

	_, err = Load(fsys, "/etc/tcbot/recipes", "oe")
	if err == nil {
		t.Fatal("Load(oe) succeeded, want an error")
	}
	for _, want := range []string{`"oe"`, "oe.yaml", "/etc/tcbot/recipes", "available: bench, kernel"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load(oe) error %q does not contain %q", err, want)
		}
	}
}

func TestShippedRecipesAllParse(t *testing.T) {
	fsys := os.DirFS("../../recipes")
	names, err := List(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no recipes in ../../recipes")
	}
	for _, n := range names {
		if _, err := Load(fsys, "recipes", n); err != nil {
			t.Errorf("shipped recipe %s: %v", n, err)
		}
	}
}
