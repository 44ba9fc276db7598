// Package suite reads a benchmark suite manifest (benchmarks/suite.yaml)
// and the sources it names. A suite's Version is a content hash of the
// manifest and every file it builds from, so stored results are never
// reused across a change to the suite.
package suite

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Manifest is the file name of a suite manifest inside its directory.
const Manifest = "suite.yaml"

// Suite is a parsed benchmark suite.
type Suite struct {
	Name       string      `yaml:"suite"`
	Release    int         `yaml:"version"`
	Benchmarks []Benchmark `yaml:"benchmarks"`

	// Files holds every source file of the suite (name -> content), the
	// shared headers included.
	Files map[string][]byte `yaml:"-"`
	// Version is a content hash (16 hex digits) of manifest and files.
	Version string `yaml:"-"`
}

// Benchmark is one program of the suite.
type Benchmark struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Sources     []string `yaml:"sources"`
	Args        []string `yaml:"args"`
	Checksum    string   `yaml:"checksum"`
	LDFlags     []string `yaml:"ldflags"`
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	checksumRE = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// Load reads the manifest and sources from fsys (the embedded suite or a
// directory); where names the source in messages.
func Load(fsys fs.FS, where string) (*Suite, error) {
	data, err := fs.ReadFile(fsys, Manifest)
	if err != nil {
		return nil, fmt.Errorf("read benchmark suite %s/%s: %w", where, Manifest, err)
	}
	path := where + "/" + Manifest
	var s Suite
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if s.Name == "" {
		return nil, fmt.Errorf("%s: suite: missing name", path)
	}
	if len(s.Benchmarks) == 0 {
		return nil, fmt.Errorf("%s: benchmarks: none listed", path)
	}
	s.Files = map[string][]byte{}
	seen := map[string]bool{}
	for i, b := range s.Benchmarks {
		switch {
		case !nameRE.MatchString(b.Name):
			return nil, fmt.Errorf("%s: benchmarks[%d].name: %q: use lower-case letters, digits and '-'", path, i, b.Name)
		case seen[b.Name]:
			return nil, fmt.Errorf("%s: benchmarks[%d].name: %q is listed twice", path, i, b.Name)
		case len(b.Sources) == 0:
			return nil, fmt.Errorf("%s: benchmark %s: sources: none listed", path, b.Name)
		case !checksumRE.MatchString(b.Checksum):
			return nil, fmt.Errorf("%s: benchmark %s: checksum: %q is not 16 lower-case hex digits", path, b.Name, b.Checksum)
		}
		seen[b.Name] = true
		for _, src := range b.Sources {
			if strings.Contains(src, "/") || strings.HasPrefix(src, ".") {
				return nil, fmt.Errorf("%s: benchmark %s: source %q must be a file name in the suite directory", path, b.Name, src)
			}
			if _, err := fs.Stat(fsys, src); err != nil {
				return nil, fmt.Errorf("%s: benchmark %s: source %s: %w", path, b.Name, src, err)
			}
		}
	}
	// Every C source and header is part of the build inputs.
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", where, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "manifest %d\n", len(data))
	h.Write(data)
	// Build inputs: every C source and header of the directory, and every
	// listed source whatever its kind (an assembly file, say).
	inputs := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && (strings.HasSuffix(n, ".c") || strings.HasSuffix(n, ".h")) {
			inputs[n] = true
		}
	}
	for _, b := range s.Benchmarks {
		for _, src := range b.Sources {
			inputs[src] = true
		}
	}
	var names []string
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", where, n, err)
		}
		s.Files[n] = b
		fmt.Fprintf(h, "file %s %d\n", n, len(b))
		h.Write(b)
	}
	s.Version = hex.EncodeToString(h.Sum(nil))[:16]
	return &s, nil
}

// Benchmark returns the named benchmark.
func (s *Suite) Benchmark(name string) (Benchmark, bool) {
	for _, b := range s.Benchmarks {
		if b.Name == name {
			return b, true
		}
	}
	return Benchmark{}, false
}

// Checksum extracts the checksum a benchmark printed: the last line of
// stdout of the form "checksum: <16 hex digits>".
func Checksum(stdout []byte) (string, bool) {
	var last string
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	if sc.Err() != nil {
		return "", false
	}
	v, ok := strings.CutPrefix(last, "checksum: ")
	if !ok || !checksumRE.MatchString(v) {
		return "", false
	}
	return v, true
}
