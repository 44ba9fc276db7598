package suite

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

const manifest = `suite: bench
version: 1
benchmarks:
  - name: sha256
    description: SHA-256 of a generated buffer
    sources: [sha256.c]
    args: ["1000"]
    checksum: 0123456789abcdef
  - name: crc32
    sources: [crc32.c]
    checksum: fedcba9876543210
    ldflags: [-lm]
`

func goodFS() fstest.MapFS {
	return fstest.MapFS{
		"suite.yaml": {Data: []byte(manifest)},
		"sha256.c":   {Data: []byte("#include \"bench.h\"\nint main(void) { return 0; }\n")},
		"crc32.c":    {Data: []byte("#include \"bench.h\"\nint main(void) { return 1; }\n")},
		"bench.h":    {Data: []byte("#pragma once\n")},
		"README.md":  {Data: []byte("not a build input\n")},
	}
}

func load(t *testing.T, fsys fs.FS) *Suite {
	t.Helper()
	s, err := Load(fsys, "benchmarks")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func TestLoad(t *testing.T) {
	s := load(t, goodFS())
	if s.Name != "bench" || s.Release != 1 || len(s.Benchmarks) != 2 {
		t.Fatalf("suite %q release %d with %d benchmarks, want bench 1 with 2", s.Name, s.Release, len(s.Benchmarks))
	}
	b, ok := s.Benchmark("sha256")
	if !ok || b.Checksum != "0123456789abcdef" || len(b.Args) != 1 || b.Args[0] != "1000" || b.Description == "" {
		t.Errorf("Benchmark(sha256) = %+v, %v", b, ok)
	}
	if b, _ := s.Benchmark("crc32"); len(b.LDFlags) != 1 || b.LDFlags[0] != "-lm" {
		t.Errorf("crc32 ldflags = %q, want [-lm]", b.LDFlags)
	}
	if _, ok := s.Benchmark("nbody"); ok {
		t.Error("Benchmark(nbody) found, want not found")
	}
	var names []string
	for n := range s.Files {
		names = append(names, n)
	}
	if want := []string{"bench.h", "crc32.c", "sha256.c"}; !equalSet(names, want) {
		t.Errorf("Files = %q, want %q (sources and headers, nothing else)", names, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(s.Version) {
		t.Errorf("Version = %q, want 16 hex digits", s.Version)
	}
	if again := load(t, goodFS()); again.Version != s.Version {
		t.Errorf("Version not stable: %s then %s", s.Version, again.Version)
	}
}

func equalSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

func TestVersionChanges(t *testing.T) {
	base := load(t, goodFS()).Version
	tests := []struct {
		name    string
		change  func(fstest.MapFS)
		changes bool
	}{
		{"one byte of a source", func(f fstest.MapFS) {
			d := []byte(string(f["sha256.c"].Data))
			d[len(d)-3] = '1'
			f["sha256.c"] = &fstest.MapFile{Data: d}
		}, true},
		{"a shared header", func(f fstest.MapFS) { f["bench.h"] = &fstest.MapFile{Data: []byte("#pragma once \n")} }, true},
		{"a new header nobody lists", func(f fstest.MapFS) { f["extra.h"] = &fstest.MapFile{Data: []byte("")} }, true},
		{"the manifest", func(f fstest.MapFS) {
			f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, `args: ["1000"]`, `args: ["2000"]`, 1))}
		}, true},
		{"only a comment in the manifest", func(f fstest.MapFS) {
			f["suite.yaml"] = &fstest.MapFile{Data: []byte("# comment\n" + manifest)}
		}, true},
		{"a file that is not a build input", func(f fstest.MapFS) { f["README.md"] = &fstest.MapFile{Data: []byte("changed")} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := maps.Clone(goodFS())
			tt.change(fsys)
			v := load(t, fsys).Version
			if changed := v != base; changed != tt.changes {
				t.Errorf("version %s -> %s: changed = %v, want %v", base, v, changed, tt.changes)
			}
		})
	}
}

// File boundaries are part of the version: moving bytes from one file to
// the next changes it.
func TestVersionSeesFileBoundaries(t *testing.T) {
	a := goodFS()
	a["bench.h"] = &fstest.MapFile{Data: []byte("#pragma once\n#define X 1\n")}
	a["crc32.c"] = &fstest.MapFile{Data: []byte("int main(void) { return 1; }\n")}
	b := goodFS()
	b["bench.h"] = &fstest.MapFile{Data: []byte("#pragma once\n")}
	b["crc32.c"] = &fstest.MapFile{Data: []byte("#define X 1\nint main(void) { return 1; }\n")}
	if va, vb := load(t, a).Version, load(t, b).Version; va == vb {
		t.Errorf("same version %s for different files", va)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(fstest.MapFS)
		want   []string
	}{
		{
			name: "two benchmarks with one name",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "name: crc32", "name: sha256", 1))}
			},
			want: []string{"benchmarks/suite.yaml", "benchmarks[1].name", `"sha256" is listed twice`},
		},
		{
			name: "checksum that is not 16 hex digits",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "fedcba9876543210", "FEDCBA9876543210", 1))}
			},
			want: []string{"benchmarks/suite.yaml", "benchmark crc32", "checksum", "16 lower-case hex digits"},
		},
		{
			name: "checksum too short",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "fedcba9876543210", "fedcba98", 1))}
			},
			want: []string{"benchmark crc32", "checksum", `"fedcba98"`},
		},
		{
			name:   "source file missing",
			change: func(f fstest.MapFS) { delete(f, "crc32.c") },
			want:   []string{"benchmarks/suite.yaml", "benchmark crc32", "source crc32.c"},
		},
		{
			name: "source in a subdirectory",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "[crc32.c]", "[lib/crc32.c]", 1))}
				f["lib/crc32.c"] = &fstest.MapFile{Data: []byte("int main(void) { return 0; }\n")}
			},
			want: []string{"benchmarks/suite.yaml", "benchmark crc32", `"lib/crc32.c"`, "must be a file name in the suite directory"},
		},
		{
			name: "source outside the suite",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "[crc32.c]", "[..]", 1))}
			},
			want: []string{"benchmark crc32", `".."`, "must be a file name"},
		},
		{
			name: "benchmark without sources",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "sources: [crc32.c]", "sources: []", 1))}
			},
			want: []string{"benchmark crc32", "sources: none listed"},
		},
		{
			name: "benchmark name with capitals",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "name: crc32", "name: CRC32", 1))}
			},
			want: []string{"benchmarks[1].name", `"CRC32"`},
		},
		{
			name: "unknown key",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "ldflags:", "libs:", 1))}
			},
			want: []string{"benchmarks/suite.yaml", "libs"},
		},
		{
			name: "no benchmarks",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte("suite: bench\nversion: 1\n")}
			},
			want: []string{"benchmarks/suite.yaml", "none listed"},
		},
		{
			name: "no suite name",
			change: func(f fstest.MapFS) {
				f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "suite: bench\n", "", 1))}
			},
			want: []string{"benchmarks/suite.yaml", "missing name"},
		},
		{
			name:   "no manifest",
			change: func(f fstest.MapFS) { delete(f, "suite.yaml") },
			want:   []string{"benchmarks/suite.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := maps.Clone(goodFS())
			tt.change(fsys)
			s, err := Load(fsys, "benchmarks")
			if err == nil {
				t.Fatalf("Load succeeded (%d benchmarks), want an error", len(s.Benchmarks))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadMissingManifestWrapsNotExist(t *testing.T) {
	_, err := Load(fstest.MapFS{}, "benchmarks")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of an empty directory: %v, want fs.ErrNotExist", err)
	}
}

// A source that is neither .c nor .h (assembly, a data file) passes Load,
// but is not in Files, so the build directory lacks it, and a change to it
// does not change the suite version: stale results would be reused.
func TestSourceThatIsNotCOrHIsABuildInput(t *testing.T) {
	withAsm := func(body string) fstest.MapFS {
		f := goodFS()
		f["suite.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(manifest, "[crc32.c]", "[crc32.c, crc32_neon.S]", 1))}
		f["crc32_neon.S"] = &fstest.MapFile{Data: []byte(body)}
		return f
	}
	s := load(t, withAsm("\tret\n"))
	if _, ok := s.Files["crc32_neon.S"]; !ok {
		t.Errorf("Files lacks the listed source crc32_neon.S: the build directory would not have it")
	}
	if v2 := load(t, withAsm("\tnop\n\tret\n")).Version; v2 == s.Version {
		t.Errorf("Version %s did not change when the listed source crc32_neon.S changed", v2)
	}
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		name   string
		stdout string
		want   string
		ok     bool
	}{
		{"only line", "checksum: 0123456789abcdef\n", "0123456789abcdef", true},
		{"after other output", "hashing 1000 blocks\nchecksum: 0123456789abcdef\n", "0123456789abcdef", true},
		{"last of several", "checksum: 1111111111111111\nchecksum: 2222222222222222\n", "2222222222222222", true},
		{"trailing blank lines", "checksum: 0123456789abcdef\n\n  \n\n", "0123456789abcdef", true},
		{"no final newline", "checksum: 0123456789abcdef", "0123456789abcdef", true},
		{"CRLF line ends", "x\r\nchecksum: 0123456789abcdef\r\n", "0123456789abcdef", true},
		{"output after the checksum", "checksum: 0123456789abcdef\ndone\n", "", false},
		{"upper-case hex", "checksum: 0123456789ABCDEF\n", "", false},
		{"too short", "checksum: 0123456789abcde\n", "", false},
		{"too long", "checksum: 0123456789abcdef0\n", "", false},
		{"not hex", "checksum: 0123456789abcdeg\n", "", false},
		{"no space after colon", "checksum:0123456789abcdef\n", "", false},
		{"other label", "crc: 0123456789abcdef\n", "", false},
		{"trailing text on the line", "checksum: 0123456789abcdef ok\n", "", false},
		{"empty output", "", "", false},
		{"only blank lines", "\n\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Checksum([]byte(tt.stdout))
			if got != tt.want || ok != tt.ok {
				t.Errorf("Checksum(%q) = %q, %v; want %q, %v", tt.stdout, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestChecksumAfterLongOutput(t *testing.T) {
	long := strings.Repeat("x", 200*1024) + "\nchecksum: 0123456789abcdef\n"
	if got, ok := Checksum([]byte(long)); !ok || got != "0123456789abcdef" {
		t.Errorf("Checksum after a 200 KiB line = %q, %v", got, ok)
	}
}

// The shipped suite (benchmarks/suite.yaml) loads and is big enough to be
// worth running.
func TestShippedSuite(t *testing.T) {
	if _, err := os.Stat("../../benchmarks/suite.yaml"); errors.Is(err, fs.ErrNotExist) {
		t.Skip("benchmarks/suite.yaml is not written yet")
	}
	s, err := Load(os.DirFS("../../benchmarks"), "benchmarks")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Benchmarks) < 12 {
		t.Errorf("shipped suite has %d benchmarks, want at least 12", len(s.Benchmarks))
	}
	for _, b := range s.Benchmarks {
		for _, src := range b.Sources {
			if _, ok := s.Files[src]; !ok {
				t.Errorf("benchmark %s: source %s is not among the suite's files", b.Name, src)
			}
		}
	}
}

// Benchmark output comes from programs under test: Checksum must never
// panic, and what it returns must be a well-formed checksum line that the
// output really ends with.
func FuzzChecksum(f *testing.F) {
	for _, s := range []string{
		"checksum: 0123456789abcdef\n",
		"a\nchecksum: 0123456789abcdef\n\n",
		"checksum: 0123456789abcdeg\n",
		"\x00\xff checksum: 0123456789abcdef",
		"",
	} {
		f.Add([]byte(s))
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	f.Fuzz(func(t *testing.T, out []byte) {
		v, ok := Checksum(out)
		if !ok {
			if v != "" {
				t.Errorf("Checksum = %q, false; want an empty value when not ok", v)
			}
			return
		}
		if !hex16.MatchString(v) {
			t.Errorf("Checksum = %q: not 16 lower-case hex digits", v)
		}
		if !strings.HasSuffix(strings.TrimSpace(string(out)), "checksum: "+v) {
			t.Errorf("Checksum = %q, but the output does not end with that line: %q", v, out)
		}
	})
}
