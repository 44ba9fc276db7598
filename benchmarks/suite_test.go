package benchmarks_test

// Tests for the benchmark suite: the manifest is well formed, and every
// benchmark builds with the host gcc without warnings and prints the
// manifest's checksum at -O0 and -O2.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// manifestFile is read from the package directory, which `go test` makes
// the working directory.
const manifestFile = "suite.yaml"

// cmdTimeout bounds every compile and every benchmark run.
const cmdTimeout = 3 * time.Minute

// optLevels are the host builds every benchmark is checked at.
var optLevels = []string{"-O0", "-O2"}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9-]+$`)
	checksumRE = regexp.MustCompile(`^[0-9a-f]{16}$`)
	resultRE   = regexp.MustCompile(`^checksum: ([0-9a-f]{16})$`)
)

type benchmark struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Sources     []string `yaml:"sources"`
	Args        []string `yaml:"args"`
	Checksum    string   `yaml:"checksum"`
	LDFlags     []string `yaml:"ldflags"`
}

type suite struct {
	Suite      string      `yaml:"suite"`
	Version    int         `yaml:"version"`
	Benchmarks []benchmark `yaml:"benchmarks"`
}

func loadSuite(t *testing.T) suite {
	t.Helper()
	data, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatalf("reading manifest: %v", err)
	}
	var s suite
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("parsing %s: %v", manifestFile, err)
	}
	return s
}

func TestManifest(t *testing.T) {
	s := loadSuite(t)
	if s.Suite == "" {
		t.Errorf("%s: missing suite name", manifestFile)
	}
	if s.Version != 1 {
		t.Errorf("%s: version is %d, want 1", manifestFile, s.Version)
	}
	if len(s.Benchmarks) == 0 {
		t.Fatalf("%s lists no benchmarks", manifestFile)
	}
	seen := map[string]bool{}
	listed := map[string]string{}
	for i, b := range s.Benchmarks {
		id := b.Name
		if id == "" {
			id = fmt.Sprintf("benchmark #%d", i+1)
		}
		if !nameRE.MatchString(b.Name) {
			t.Errorf("%s: name %q does not match %s", id, b.Name, nameRE)
		}
		if seen[b.Name] {
			t.Errorf("%s: name is used by more than one benchmark", id)
		}
		seen[b.Name] = true
		if strings.TrimSpace(b.Description) == "" {
			t.Errorf("%s: description is empty", id)
		}
		if !checksumRE.MatchString(b.Checksum) {
			t.Errorf("%s: checksum %q is not 16 lower-case hex digits", id, b.Checksum)
		}
		if len(b.Args) == 0 {
			t.Errorf("%s: no args; every benchmark takes its size from argv[1]", id)
		}
		if len(b.Sources) == 0 {
			t.Errorf("%s: no sources", id)
		}
		for _, src := range b.Sources {
			if filepath.Base(src) != src || !strings.HasSuffix(src, ".c") {
				t.Errorf("%s: source %q must be a .c file directly in benchmarks/", id, src)
				continue
			}
			if st, err := os.Stat(src); err != nil || !st.Mode().IsRegular() {
				t.Errorf("%s: source %s does not exist", id, src)
			}
			if other, ok := listed[src]; ok && other != b.Name {
				t.Errorf("%s: source %s is also listed by %s", id, src, other)
			}
			listed[src] = b.Name
		}
	}
	files, err := filepath.Glob("*.c")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		if _, ok := listed[f]; !ok {
			t.Errorf("%s is in benchmarks/ but no benchmark in %s lists it", f, manifestFile)
		}
	}
}

// run executes name with args in dir and returns stdout, stderr and the
// exit code (-1 if it did not exit normally).
func run(ctx context.Context, dir, name string, args ...string) (string, string, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0, nil
	case errors.As(err, &exitErr):
		return stdout.String(), stderr.String(), exitErr.ExitCode(), nil
	default:
		return stdout.String(), stderr.String(), -1, err
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestBenchmarks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every benchmark; skipped in -short mode")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("host gcc not found in PATH: the benchmark checks need it")
	}
	srcDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	s := loadSuite(t)
	for _, b := range s.Benchmarks {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for _, opt := range optLevels {
				t.Run(strings.TrimPrefix(opt, "-"), func(t *testing.T) {
					t.Parallel()
					checkBenchmark(t, gcc, srcDir, b, opt)
				})
			}
		})
	}
}

func checkBenchmark(t *testing.T, gcc, srcDir string, b benchmark, opt string) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	exe := filepath.Join(t.TempDir(), b.Name)

	// Same shape as tcbot's build (<cc> <cflags> -o <name> <sources> -lm),
	// plus warnings, without -static.
	args := []string{opt, "-Wall", "-Wextra", "-o", exe}
	args = append(args, b.Sources...)
	args = append(args, "-lm")
	args = append(args, b.LDFlags...)
	_, stderr, code, err := run(ctx, srcDir, gcc, args...)
	if err != nil || code != 0 {
		t.Fatalf("%s %s: gcc failed (exit %d, %v):\n%s", b.Name, opt, code, err, stderr)
	}
	if strings.TrimSpace(stderr) != "" {
		t.Errorf("%s %s: gcc printed warnings:\n%s", b.Name, opt, stderr)
	}

	stdout, stderr, code, err := run(ctx, srcDir, exe, b.Args...)
	if err != nil {
		t.Fatalf("%s %s: running %v: %v", b.Name, opt, b.Args, err)
	}
	if code != 0 {
		t.Fatalf("%s %s: exit code %d with args %v, want 0; stderr:\n%s",
			b.Name, opt, code, b.Args, stderr)
	}
	last := lastLine(stdout)
	m := resultRE.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("%s %s: last stdout line is %q, want \"checksum: <16 hex digits>\"",
			b.Name, opt, last)
	}
	if m[1] != b.Checksum {
		t.Errorf("%s %s: checksum %s differs from the manifest's %s (args %v)",
			b.Name, opt, m[1], b.Checksum, b.Args)
	}

	// Without an argument a benchmark must refuse with usage and exit 2.
	if opt == optLevels[len(optLevels)-1] {
		stdout, stderr, code, err = run(ctx, srcDir, exe)
		if err != nil {
			t.Fatalf("%s %s: running without args: %v", b.Name, opt, err)
		}
		if code != 2 || !strings.Contains(stderr, "usage") || stdout != "" {
			t.Errorf("%s %s: without args: exit %d, stdout %q, stderr %q; want exit 2, "+
				"usage on stderr, nothing on stdout", b.Name, opt, code, stdout, stderr)
		}
	}
}
