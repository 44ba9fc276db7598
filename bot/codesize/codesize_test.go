package codesize

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/result"
)

// cross is one cross toolchain: its compiler and readelf.
type cross struct {
	arch, cc, readelf string
}

var crosses = []cross{
	{"armv8", "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-readelf"},
	{"armv7", "arm-linux-gnueabihf-gcc", "arm-linux-gnueabihf-readelf"},
}

func (c cross) need(t *testing.T) {
	t.Helper()
	for _, p := range []string{c.cc, c.readelf} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (make deps)", p)
		}
	}
}

// build compiles the C files (name -> source) into a static binary and
// returns its path.
func (c cross) build(t *testing.T, srcs map[string]string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"-O2", "-static", "-o", filepath.Join(dir, "prog")}, flags...)
	var names []string
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(srcs[n]), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(c.cc, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", c.cc, strings.Join(args, " "), err, out)
	}
	return filepath.Join(dir, "prog")
}

var sectionRE = regexp.MustCompile(`^\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+\s+\d+\s+\d+\s*$`)

// execSections reads readelf's section table: the indices of sections that
// are allocated (A) and executable (X) and take space in the file, and the
// sum of their sizes.
func (c cross) execSections(t *testing.T, path string) (map[string]bool, uint64) {
	t.Helper()
	out, err := exec.Command(c.readelf, "-SW", path).Output()
	if err != nil {
		t.Fatalf("%s -SW: %v", c.readelf, err)
	}
	idx := map[string]bool{}
	var sum uint64
	var n int
	for _, l := range strings.Split(string(out), "\n") {
		m := sectionRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n++
		if m[3] == "NOBITS" || !strings.Contains(m[5], "A") || !strings.Contains(m[5], "X") {
			continue
		}
		size, err := strconv.ParseUint(m[4], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		idx[m[1]] = true
		sum += size
	}
	if n < 5 || len(idx) == 0 {
		t.Fatalf("parsed only %d sections (%d executable) from readelf:\n%s", n, len(idx), out)
	}
	return idx, sum
}

// execBytes is the sum of the sizes of the executable sections.
func (c cross) execBytes(t *testing.T, path string) uint64 {
	t.Helper()
	_, sum := c.execSections(t, path)
	return sum
}

// symbolRE matches a FUNC line of readelf -sW: value, size, section index
// and name (the visibility may carry a bracketed note such as
// [VARIANT_PCS]).
var symbolRE = regexp.MustCompile(`^\s*\d+:\s+([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+FUNC\s+\S+\s+\S+(?:\s+\[[^\]]*\])?\s+(\d+|[A-Z]+)\s+(\S+)\s*$`)

type funcSym struct {
	addr, size uint64
	section    string
	name       string
}

func (c cross) funcSyms(t *testing.T, path string) []funcSym {
	t.Helper()
	out, err := exec.Command(c.readelf, "-sW", path).Output()
	if err != nil {
		t.Fatalf("%s -sW: %v", c.readelf, err)
	}
	var syms []funcSym
	for _, l := range strings.Split(string(out), "\n") {
		m := symbolRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		addr, err := strconv.ParseUint(m[1], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		size, err := strconv.ParseUint(m[2], 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		syms = append(syms, funcSym{addr: addr, size: size, section: m[3], name: m[4]})
	}
	return syms
}

// funcBytes computes code size the way the metric defines it, from
// readelf's output: the sizes of the function symbols in executable
// sections, each address (Thumb bit cleared) counted once.
func (c cross) funcBytes(t *testing.T, path string) uint64 {
	t.Helper()
	exe, _ := c.execSections(t, path)
	byAddr := map[uint64]uint64{}
	for _, s := range c.funcSyms(t, path) {
		if s.size == 0 || !exe[s.section] {
			continue
		}
		a := s.addr &^ 1
		byAddr[a] = max(byAddr[a], s.size)
	}
	var sum uint64
	for _, size := range byAddr {
		sum += size
	}
	return sum
}

// funcSizes lists, from readelf's symbol table, the sizes of every FUNC
// symbol with the given name (a static function can appear once per file).
func (c cross) funcSizes(t *testing.T, path, name string) []uint64 {
	t.Helper()
	var sizes []uint64
	for _, s := range c.funcSyms(t, path) {
		if s.name == name {
			sizes = append(sizes, s.size)
		}
	}
	return sizes
}

func lookup(fs []result.FunctionSize, name string) (uint64, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Size, true
		}
	}
	return 0, false
}

const smallProgram = `#include <stdio.h>
int main(int argc, char **argv) {
	unsigned h = 5381;
	for (int i = 0; argv[0][i]; i++) h = h * 33 + argv[0][i];
	printf("checksum: %016x\n", h + argc);
	return 0;
}
`

// bigFunction returns a C function whose body cannot be folded away: n
// statements on volatile memory.
func bigFunction(n int) string {
	var b strings.Builder
	b.WriteString("__attribute__((noinline)) void big_function(volatile unsigned *p) {\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\tp[%d] = p[%d] * %du + p[%d];\n", i%61, (i*7)%61, i+3, (i*13)%61)
	}
	b.WriteString("}\n")
	return b.String()
}

const callsBig = `#include <stdio.h>
void big_function(volatile unsigned *p);
static volatile unsigned buf[64];
int main(int argc, char **argv) {
	unsigned h = 5381;
	for (int i = 0; argv[0][i]; i++) h = h * 33 + argv[0][i];
	buf[0] = h;
	big_function(buf);
	printf("checksum: %016x\n", buf[1] + argc);
	return 0;
}
`

func TestMeasure(t *testing.T) {
	for _, c := range crosses {
		t.Run(c.arch, func(t *testing.T) {
			c.need(t)
			bin := c.build(t, map[string]string{"main.c": smallProgram})
			s, err := Measure(bin)
			if err != nil {
				t.Fatal(err)
			}
			if s.Text == 0 {
				t.Fatal("Text = 0")
			}
			sections := c.execBytes(t, bin)
			if s.Sections != sections {
				t.Errorf("Sections = %d, readelf's allocated executable sections sum to %d", s.Sections, sections)
			}
			if want := c.funcBytes(t, bin); s.Text != want {
				t.Errorf("Text = %d, readelf's functions in executable sections sum to %d", s.Text, want)
			}
			// Functions fill the executable sections but for padding and
			// code without a symbol size.
			if s.Text > s.Sections || s.Text < s.Sections*9/10 {
				t.Errorf("Text = %d is not within 90%%..100%% of the executable sections (%d)", s.Text, s.Sections)
			}
			var sum uint64
			for _, f := range s.Functions {
				sum += f.Size
			}
			if sum != s.Text {
				t.Errorf("function table sums to %d, Text is %d", sum, s.Text)
			}
			st, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			if s.Text >= uint64(st.Size()) {
				t.Errorf("Text = %d is not less than the file size %d", s.Text, st.Size())
			}

			size, ok := lookup(s.Functions, "main")
			if !ok || size == 0 {
				t.Fatalf("function table has no main with a size (%d entries)", len(s.Functions))
			}
			if want := c.funcSizes(t, bin, "main"); len(want) != 1 || size != want[0] {
				t.Errorf("main: size %d, readelf says %v", size, want)
			}
			if len(s.Functions) < 100 {
				t.Errorf("function table has %d entries: a static binary's libc functions belong there too", len(s.Functions))
			}
			for i, f := range s.Functions {
				if f.Name == "" || f.Size == 0 {
					t.Errorf("entry %d = %+v: want a name and a size", i, f)
				}
				if i > 0 {
					p := s.Functions[i-1]
					if p.Size < f.Size || (p.Size == f.Size && p.Name >= f.Name) {
						t.Errorf("entries %d and %d out of order: %+v, %+v", i-1, i, p, f)
					}
				}
			}
		})
	}
}

func TestMeasureGrowsWithABigFunction(t *testing.T) {
	for _, c := range crosses {
		t.Run(c.arch, func(t *testing.T) {
			c.need(t)
			small, err := Measure(c.build(t, map[string]string{"main.c": callsBig, "big.c": bigFunction(10)}))
			if err != nil {
				t.Fatal(err)
			}
			bigBin := c.build(t, map[string]string{"main.c": callsBig, "big.c": bigFunction(400)})
			big, err := Measure(bigBin)
			if err != nil {
				t.Fatal(err)
			}
			smallFn, ok1 := lookup(small.Functions, "big_function")
			bigFn, ok2 := lookup(big.Functions, "big_function")
			if !ok1 || !ok2 {
				t.Fatalf("big_function missing from a table: small %v, big %v", ok1, ok2)
			}
			if bigFn < 1000 || bigFn <= smallFn {
				t.Errorf("big_function: %d bytes with 400 statements, %d with 10", bigFn, smallFn)
			}
			if big.Text <= small.Text {
				t.Fatalf("Text %d with the big function, %d without: want it to grow", big.Text, small.Text)
			}
			// Only big_function changed, so the code size grows by exactly
			// its growth: linker padding (glibc has a page-aligned object
			// in .text, which moves the section total by up to a page) is
			// not code.
			if grew, fnGrew := big.Text-small.Text, bigFn-smallFn; grew != fnGrew {
				t.Errorf("Text grew by %d, big_function by %d", grew, fnGrew)
			}
			if big.Sections <= small.Sections {
				t.Errorf("Sections %d with the big function, %d without", big.Sections, small.Sections)
			}
			if big.Functions[0].Size < bigFn {
				t.Errorf("largest entry %+v is smaller than big_function (%d)", big.Functions[0], bigFn)
			}
			if want := c.funcBytes(t, bigBin); big.Text != want {
				t.Errorf("Text = %d, readelf says %d", big.Text, want)
			}
		})
	}
}

// Static functions of the same name in two files are one entry with the
// sizes added.
func TestMeasureSameNameInTwoFiles(t *testing.T) {
	c := crosses[0]
	c.need(t)
	helper := func(n int) string {
		var b strings.Builder
		b.WriteString("static __attribute__((noinline)) unsigned helper(volatile unsigned *p) {\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "\tp[%d] += p[%d] * %du;\n", i%7, (i+3)%7, i+1)
		}
		b.WriteString("\treturn p[0];\n}\n")
		return b.String()
	}
	bin := c.build(t, map[string]string{
		"a.c": helper(5) + "unsigned a(volatile unsigned *p) { return helper(p) + 1; }\n",
		"b.c": helper(40) + "unsigned b(volatile unsigned *p) { return helper(p) + 2; }\n",
		"main.c": "unsigned a(volatile unsigned *); unsigned b(volatile unsigned *);\n" +
			"static volatile unsigned buf[8];\nint main(void) { return (int)(a(buf) + b(buf)) & 1; }\n",
	})
	want := c.funcSizes(t, bin, "helper")
	if len(want) != 2 {
		t.Fatalf("readelf lists %d helper symbols, want 2 (one per file)", len(want))
	}
	s, err := Measure(bin)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, f := range s.Functions {
		if f.Name == "helper" {
			n++
		}
	}
	size, _ := lookup(s.Functions, "helper")
	if n != 1 || size != want[0]+want[1] {
		t.Errorf("helper: %d entries, size %d; want 1 entry of %d+%d", n, size, want[0], want[1])
	}
}

// An alias (memcpy and __memcpy, printf and _IO_printf) is the same code:
// counted once, under one name.
func TestMeasureAliasCountedOnce(t *testing.T) {
	for _, c := range crosses {
		t.Run(c.arch, func(t *testing.T) {
			c.need(t)
			const work = "__attribute__((noinline)) unsigned work(volatile unsigned *p) {\n" +
				"\tp[1] = p[0] * 3u + p[2];\n\tp[2] = p[1] * 5u + p[3];\n\treturn p[2] ^ p[1];\n}\n"
			const main = "static volatile unsigned buf[4];\nint main(void) { return (int)CALL(buf) & 1; }\n"
			plain := c.build(t, map[string]string{"work.c": work, "main.c": "unsigned work(volatile unsigned *);\n#define CALL work\n" + main})
			aliased := c.build(t, map[string]string{
				"work.c": work + "unsigned zz_work_alias(volatile unsigned *) __attribute__((alias(\"work\")));\n",
				"main.c": "unsigned zz_work_alias(volatile unsigned *);\n#define CALL zz_work_alias\n" + main,
			})
			if n := len(c.funcSizes(t, aliased, "zz_work_alias")); n != 1 {
				t.Fatalf("readelf lists %d zz_work_alias symbols, want 1", n)
			}
			p, err := Measure(plain)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Measure(aliased)
			if err != nil {
				t.Fatal(err)
			}
			if a.Text != p.Text {
				t.Errorf("Text = %d with an alias, %d without: an alias is not code", a.Text, p.Text)
			}
			want := c.funcSizes(t, aliased, "work")
			if size, ok := lookup(a.Functions, "work"); !ok || len(want) != 1 || size != want[0] {
				t.Errorf("work: %d, %v; readelf says %v", size, ok, want)
			}
			if _, ok := lookup(a.Functions, "zz_work_alias"); ok {
				t.Errorf("the alias has its own entry: its bytes would count twice in the table")
			}
		})
	}
}

func TestMeasureStrippedBinary(t *testing.T) {
	c := crosses[0]
	c.need(t)
	bin := c.build(t, map[string]string{"main.c": smallProgram}, "-s")
	s, err := Measure(bin)
	if err != nil {
		t.Fatalf("Measure of a stripped binary: %v", err)
	}
	// Without symbols the code size falls back to the executable sections.
	if want := c.execBytes(t, bin); s.Text == 0 || s.Text != want || s.Sections != want {
		t.Errorf("Text = %d, Sections = %d, want readelf's %d", s.Text, s.Sections, want)
	}
	if len(s.Functions) != 0 {
		t.Errorf("a stripped binary has %d functions, want none", len(s.Functions))
	}
}

func TestMeasureNotELF(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		content []byte
	}{
		{"shell script", filepath.Join(dir, "build.sh"), []byte("#!/bin/sh\necho not a binary\n")},
		{"empty file", filepath.Join(dir, "empty"), []byte{}},
		{"truncated ELF header", filepath.Join(dir, "truncated"), []byte("\x7fELF\x02\x01\x01")},
		{"missing file", filepath.Join(dir, "does-not-exist"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.content != nil {
				if err := os.WriteFile(tt.path, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Measure(tt.path)
			if err == nil {
				t.Fatalf("Measure = %+v, want an error", s)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name %s", err, tt.path)
			}
		})
	}
}

func TestAttribute(t *testing.T) {
	base := []result.FunctionSize{{Name: "main", Size: 1000}, {Name: "hash_key", Size: 84}, {Name: "memcpy", Size: 500}, {Name: "gone", Size: 10}}
	head := []result.FunctionSize{{Name: "main", Size: 1352}, {Name: "memcpy", Size: 500}, {Name: "new_helper", Size: 40}}
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"largest change first, removed and added functions included", 5, "main +352 B, hash_key -84 B, new_helper +40 B, gone -10 B"},
		{"capped with a count of the rest", 2, "main +352 B, hash_key -84 B, 2 more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Attribute(base, head, tc.n); got != tc.want {
				t.Errorf("Attribute = %q, want %q", got, tc.want)
			}
		})
	}
	if got := Attribute(base, base, 3); got != "" {
		t.Errorf("identical tables: %q, want nothing", got)
	}
}
