package explain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/store"
)

func meas(target, sha string, p ...result.FunctionCount) map[string]*store.Measurement {
	return map[string]*store.Measurement{target: {
		Key:      store.Key{Target: target},
		Binaries: map[string]store.Binary{"b": {SHA256: sha, Profile: p}},
	}}
}

func fc(name string, n uint64) result.FunctionCount {
	return result.FunctionCount{Name: name, Count: n}
}

func TestMovedCostIsMovedNotARegression(t *testing.T) {
	// 100,000 instructions moved from parse to lex: the total is the same.
	base := meas("armv8", "aa", fc("parse", 600_000), fc("lex", 300_000), fc("main", 100_000))
	head := meas("armv8", "bb", fc("parse", 500_000), fc("lex", 400_000), fc("main", 100_000))
	v := 1_000_000.0
	cs := []compare.Comparison{{Target: "armv8", Benchmark: "b", Metric: result.Instructions, Base: &v, Head: &v, Verdict: compare.Unchanged}}
	ex, _ := Explain(context.Background(), cs, base, head, Options{})
	if len(ex) != 1 || !ex[0].Moved {
		t.Fatalf("explanations = %+v, want one marked moved", ex)
	}
	if cs[0].Verdict != compare.Unchanged {
		t.Errorf("verdict %s, want unchanged", cs[0].Verdict)
	}
	if want := "cost moved between functions (total unchanged): lex +100,000, parse −100,000"; cs[0].Note != want {
		t.Errorf("note %q, want %q", cs[0].Note, want)
	}
	// A tiny shuffle (within the 0.2% threshold) is not worth a word.
	head = meas("armv8", "bb", fc("parse", 599_000), fc("lex", 301_000), fc("main", 100_000))
	cs[0].Note = ""
	if ex, _ := Explain(context.Background(), cs, base, head, Options{}); len(ex) != 0 || cs[0].Note != "" {
		t.Errorf("0.1%% moved: %+v, note %q; want nothing", ex, cs[0].Note)
	}
}

func TestOneSlowerFunctionComesFirst(t *testing.T) {
	base := meas("armv7", "aa", fc("sha256_block", 900_000), fc("main", 50_000), fc("memcpy", 50_000))
	head := meas("armv7", "bb", fc("sha256_block", 1_170_000), fc("main", 50_000), fc("memcpy", 49_000))
	b, h := 1_000_000.0, 1_269_000.0
	cs := []compare.Comparison{{Target: "armv7", Benchmark: "b", Metric: result.Instructions, Base: &b, Head: &h, Verdict: compare.Regression}}
	ex, _ := Explain(context.Background(), cs, base, head, Options{})
	if len(ex) != 1 || ex[0].Moved {
		t.Fatalf("explanations = %+v", ex)
	}
	fs := ex[0].Functions
	if len(fs) != 2 || fs[0].Name != "sha256_block" || fs[0].Delta != 270_000 || *fs[0].DeltaPct != 30 || fs[0].ShareOfTotalPct != 27 {
		t.Errorf("functions = %+v", fs)
	}
	if fs[1].Name != "memcpy" || fs[1].Delta != -1000 {
		t.Errorf("second = %+v", fs[1])
	}
	// Identical binaries have nothing to explain.
	if ex, _ := Explain(context.Background(), cs, base, meas("armv7", "aa", fc("x", 1)), Options{}); len(ex) != 0 {
		t.Errorf("identical binaries explained: %+v", ex)
	}
}

func TestDeltasNewFunctionHasNoPercent(t *testing.T) {
	d := Deltas([]result.FunctionCount{fc("a", 10)}, []result.FunctionCount{fc("a", 10), fc("b", 5)})
	if len(d) != 1 || d[0].Name != "b" || d[0].DeltaPct != nil || d[0].Delta != 5 {
		t.Errorf("deltas = %+v", d)
	}
}

func TestDiffAlignsInstructions(t *testing.T) {
	a := []string{"mov x0, #0", "add x0, x0, x1", "cmp x1, x2", "b.ne <f+0x4>", "ret"}
	b := []string{"mov x0, #0", "mul x3, x1, x1", "add x0, x0, x3", "cmp x1, x2", "b.ne <f+0x4>", "ret"}
	d, changed := Diff(a, b, 100)
	if !changed {
		t.Fatal("no change found")
	}
	var got []string
	for _, l := range d.Lines {
		got = append(got, l.Op+l.Text)
	}
	want := []string{" mov x0, #0", "-add x0, x0, x1", "+mul x3, x1, x1", "+add x0, x0, x3", " cmp x1, x2", " b.ne <f+0x4>", " ret"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, changed := Diff(a, a, 100); changed {
		t.Error("equal code reported as changed")
	}
	long := make([]string, 500)
	for i := range long {
		long[i] = "nop"
	}
	other := append([]string(nil), long...)
	for i := 0; i < 500; i += 10 {
		other[i] = "yield"
	}
	if d, _ := Diff(long, other, 50); len(d.Lines) != 50 || !d.Truncated {
		t.Errorf("capped diff: %d lines, truncated %v", len(d.Lines), d.Truncated)
	}
}

// TestDisassembleRealBinaries compiles two versions of a function with the
// aarch64 cross compiler and diffs their objdump: the added multiply shows
// as "+", the unchanged return as " ", and code that only moved (main,
// at another address) does not differ.
func TestDisassembleRealBinaries(t *testing.T) {
	if _, err := exec.LookPath("aarch64-linux-gnu-gcc"); err != nil {
		t.Fatal("aarch64-linux-gnu-gcc not installed: make deps")
	}
	dir := t.TempDir()
	build := func(name, body string) string {
		src := `__attribute__((noinline)) long f(long n) { long s = 0; for (long i = 0; i < n; i++) ` + body + ` return s; }
int main(int argc, char **argv) { (void)argv; return (int)f(argc * 1000); }
`
		if err := os.WriteFile(filepath.Join(dir, name+".c"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("aarch64-linux-gnu-gcc", "-O1", "-static", "-o", name, name+".c")
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, msg)
		}
		return filepath.Join(dir, name)
	}
	a := build("a", "s += i;")
	b := build("b", "s += i * i * 3;")
	d := &Disassembler{Arch: map[string]string{"armv8-qemu": "armv8"}}
	ctx := context.Background()
	al, err := d.Function(ctx, "armv8-qemu", a, "f")
	if err != nil {
		t.Fatal(err)
	}
	bl, err := d.Function(ctx, "armv8-qemu", b, "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(al) < 3 || strings.Contains(strings.Join(al, "\n"), ":") {
		t.Fatalf("normalized f = %q", al)
	}
	diff, changed := Diff(al, bl, 100)
	if !changed {
		t.Fatalf("f differs in source but not in assembly:\n%s", strings.Join(al, "\n"))
	}
	var added, kept bool
	for _, l := range diff.Lines {
		added = added || l.Op == "+" && strings.HasPrefix(l.Text, "mul")
		kept = kept || l.Op == " " && l.Text == "ret"
	}
	if !added || !kept {
		t.Errorf("diff lacks +mul or an unchanged ret: %+v", diff.Lines)
	}
	// In the sandbox (bubblewrap), where objdump runs on a server, the
	// same lines come out.
	sd := &Disassembler{Arch: d.Arch, Sandbox: &sandbox.Sandbox{Kind: sandbox.Bubblewrap, CacheDir: t.TempDir()}}
	if err := sd.Sandbox.Check(); err != nil {
		t.Logf("no sandboxed disassembly: %v", err)
	} else if sl, err := sd.Function(ctx, "armv8-qemu", b, "f"); err != nil || !reflect.DeepEqual(sl, bl) {
		t.Errorf("sandboxed: %q, %v; want %q", sl, err, bl)
	}
	am, err := d.Function(ctx, "armv8-qemu", a, "main")
	if err != nil {
		t.Fatal(err)
	}
	bm, err := d.Function(ctx, "armv8-qemu", b, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, changed := Diff(am, bm, 100); changed {
		t.Errorf("main only moved, yet differs:\n%s\n--\n%s", strings.Join(am, "\n"), strings.Join(bm, "\n"))
	}
}

// TestExplainOrderIsDeterministic gives comparisons of several targets and
// benchmarks in shuffled orders: the explanations come out the same,
// by target then benchmark, and functions with equal moves by name.
func TestExplainOrderIsDeterministic(t *testing.T) {
	base, head := map[string]*store.Measurement{}, map[string]*store.Measurement{}
	var cs []compare.Comparison
	for _, target := range []string{"armv8-qemu", "armv7-qemu"} {
		base[target] = &store.Measurement{Key: store.Key{Target: target}, Binaries: map[string]store.Binary{}}
		head[target] = &store.Measurement{Key: store.Key{Target: target}, Binaries: map[string]store.Binary{}}
		for _, bench := range []string{"sha256", "crc32", "qsort"} {
			base[target].Binaries[bench] = store.Binary{SHA256: "a", Profile: []result.FunctionCount{fc("x", 1000), fc("y", 1000), fc("z", 1000)}}
			head[target].Binaries[bench] = store.Binary{SHA256: "b", Profile: []result.FunctionCount{fc("z", 1000), fc("y", 1100), fc("x", 1100)}}
			b, h := 3000.0, 3200.0
			cs = append(cs, compare.Comparison{Target: target, Benchmark: bench, Metric: result.Instructions, Base: &b, Head: &h, Verdict: compare.Regression})
			cs = append(cs, compare.Comparison{Target: target, Benchmark: bench, Metric: result.CodeSize, Base: &b, Head: &h, Verdict: compare.Regression})
		}
	}
	render := func(cs []compare.Comparison) string {
		ex, _ := Explain(context.Background(), cs, base, head, Options{})
		var b strings.Builder
		for _, e := range ex {
			fmt.Fprintf(&b, "%s/%s:", e.Target, e.Benchmark)
			for _, f := range e.Functions {
				fmt.Fprintf(&b, " %s%+d", f.Name, f.Delta)
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	want := `armv7-qemu/crc32: x+100 y+100
armv7-qemu/qsort: x+100 y+100
armv7-qemu/sha256: x+100 y+100
armv8-qemu/crc32: x+100 y+100
armv8-qemu/qsort: x+100 y+100
armv8-qemu/sha256: x+100 y+100
`
	if got := render(cs); got != want {
		t.Errorf("explanations:\n%s\nwant:\n%s", got, want)
	}
	for i := 0; i < 5; i++ {
		rev := make([]compare.Comparison, len(cs))
		for j := range cs {
			rev[(j*7+i)%len(cs)] = cs[j]
		}
		if got := render(rev); got != want {
			t.Fatalf("comparisons reordered (%d): explanations:\n%s\nwant:\n%s", i, got, want)
		}
	}
}

// TestAsmNotes: an arch with no objdump is said once in a note, a binary
// that makes objdump fail is said and not tried again, and a binary that
// is not on this host is skipped without a word.
func TestAsmNotes(t *testing.T) {
	base := meas("riscv-qemu", "aa", fc("f", 1000), fc("g", 900), fc("h", 100))
	head := meas("riscv-qemu", "bb", fc("f", 1500), fc("g", 500), fc("h", 200))
	b, h := 2000.0, 2200.0
	cs := []compare.Comparison{{Target: "riscv-qemu", Benchmark: "b", Metric: result.Instructions, Base: &b, Head: &h, Verdict: compare.Regression}}
	here := func(*store.Measurement, string) string { return "/bin/true" }
	d := &Disassembler{Arch: map[string]string{"riscv-qemu": "riscv"}}

	ex, notes := Explain(context.Background(), cs, base, head, Options{Binary: here, Disassemble: d.Function})
	if len(ex) != 1 || len(ex[0].Functions) != 3 || ex[0].Asm != nil {
		t.Fatalf("explanations = %+v, want the function table without assembly", ex)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "riscv-qemu: explanations without assembly: no objdump") {
		t.Errorf("notes = %q, want one saying there is no objdump", notes)
	}

	calls := 0
	failing := func(ctx context.Context, target, binary, function string) ([]string, error) {
		calls++
		return nil, errors.New("objdump: signal: killed")
	}
	_, notes = Explain(context.Background(), cs, base, head, Options{Binary: here, Disassemble: failing})
	if calls != 1 || len(notes) != 1 || !strings.Contains(notes[0], "no assembly of b: objdump: signal: killed") {
		t.Errorf("%d disassemblies, notes %q; want one, and a note naming the benchmark", calls, notes)
	}

	calls = 0
	gone := func(*store.Measurement, string) string { return "" }
	ex, notes = Explain(context.Background(), cs, base, head, Options{Binary: gone, Disassemble: failing})
	if calls != 0 || len(notes) != 0 || len(ex) != 1 || len(ex[0].Functions) != 3 {
		t.Errorf("binary not here: %d disassemblies, notes %q, explanations %+v; want the table only, quietly", calls, notes, ex)
	}
}

// TestDiffOfLargeFunctions: a small change in a long function is found
// without a quadratic table, and two long unrelated bodies still diff
// (unaligned) within the line cap.
func TestDiffOfLargeFunctions(t *testing.T) {
	a := make([]string, 100_000)
	for i := range a {
		a[i] = fmt.Sprintf("add x%d, x%d, #%d", i%30, (i+1)%30, i)
	}
	b := append([]string(nil), a...)
	b[50_000] = "mul x1, x2, x3"
	d, changed := Diff(a, b, MaxAsmLines)
	if !changed || len(d.Lines) != 2*contextLines+2 || d.Lines[contextLines].Op != "-" || d.Lines[contextLines+1] != (report.AsmLine{Op: "+", Text: "mul x1, x2, x3"}) {
		t.Errorf("one changed line of 100,000: %+v", d.Lines)
	}
	c := make([]string, len(a))
	for i := range c {
		c[i] = "nop"
	}
	d, changed = Diff(a, c, MaxAsmLines)
	if !changed || len(d.Lines) != MaxAsmLines || !d.Truncated {
		t.Errorf("unrelated bodies: changed %v, %d lines, truncated %v", changed, len(d.Lines), d.Truncated)
	}
}

// TestBinaryPath finds a measured binary in the build cache by its
// SHA-256, and not when it was rebuilt differently or deleted.
func TestBinaryPath(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "build", "v1", "armv8-tc123")
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "sha256")
	data := []byte("\x7fELF pretend")
	os.WriteFile(bin, data, 0o755)
	manifest := fmt.Sprintf(`[{"benchmark": "sha256", "ok": true, "sha256": %q}]`, sha(data))
	os.WriteFile(filepath.Join(dir, "build.json"), []byte(manifest), 0o644)
	arch := map[string]string{"armv8-qemu": "armv8", "armv7-qemu": "armv7"}
	m := &store.Measurement{
		Key:      store.Key{Target: "armv8-qemu", SuiteVersion: "v1"},
		Binaries: map[string]store.Binary{"sha256": {SHA256: sha(data)}},
	}
	if got := BinaryPath(work, arch, m, "sha256"); got != bin {
		t.Errorf("BinaryPath = %q, want %q", got, bin)
	}
	for name, m := range map[string]*store.Measurement{
		"other arch":    {Key: store.Key{Target: "armv7-qemu", SuiteVersion: "v1"}, Binaries: m.Binaries},
		"other version": {Key: store.Key{Target: "armv8-qemu", SuiteVersion: "v2"}, Binaries: m.Binaries},
		"other binary":  {Key: m.Key, Binaries: map[string]store.Binary{"sha256": {SHA256: sha([]byte("x"))}}},
	} {
		if got := BinaryPath(work, arch, m, "sha256"); got != "" {
			t.Errorf("%s: BinaryPath = %q, want none", name, got)
		}
	}
	os.WriteFile(bin, []byte("replaced"), 0o755)
	if got := BinaryPath(work, arch, m, "sha256"); got != "" {
		t.Errorf("binary replaced: BinaryPath = %q, want none", got)
	}
	os.Remove(bin)
	if got := BinaryPath(work, arch, m, "sha256"); got != "" {
		t.Errorf("binary deleted: BinaryPath = %q, want none", got)
	}
}

// FuzzNormalize: objdump's output of a hostile binary is read like any
// other: no panic, and every line kept is one trimmed, single-spaced
// instruction without its address.
func FuzzNormalize(f *testing.F) {
	f.Add([]byte("\n0000000000400590 <f>:\n  400590:\tmul\tx3, x1, x1\n  400594:\tb.ne\t400590 <f>  // b.any\n  400598:\tret\n"), "f")
	f.Add([]byte("00010450 <main>:\n   10450:\tldr\tr0, [pc, #16]\t@ (10464 <main+0x14>)\n   10454:\tbl\t10500 <main+0xb0>\n   10464:\t.word\t0x0003f440\n"), "main")
	f.Add([]byte("<f+0x>:\n 0: <f+0xffffffffffffffffffff>"), "f")
	f.Fuzz(func(t *testing.T, out []byte, function string) {
		for _, l := range Normalize(out, function) {
			if l == "" || l != strings.Join(strings.Fields(l), " ") {
				t.Fatalf("line %q", l)
			}
		}
	})
}

// TestNormalize reads objdump's output as binutils 2.40 prints it: the
// addresses, comments and absolute targets go, branches inside the
// function become ranked labels, other functions' code is left out.
func TestNormalize(t *testing.T) {
	out := `
a.out:     file format elf64-littleaarch64


Disassembly of section .text:

0000000000400590 <f>:
  400590:	mov	x3, x0
  400594:	cmp	x3, x1
  400598:	b.cs	4005b0 <f+0x20>  // b.hs, b.nlast
  40059c:	add	x3, x3, #0x1
  4005a0:	bl	400700 <memcpy>
  4005a4:	b.ne	40059c <f+0xc>  // b.any
  4005a8:	ldr	x0, 4005c0 <f+0x30>
  4005b0:	ret

00000000004005c8 <g>:
  4005c8:	ret
`
	got := Normalize([]byte(out), "f")
	want := []string{"mov x3, x0", "cmp x3, x1", "b.cs <.L2>", "add x3, x3, #0x1", "bl <memcpy>", "b.ne <.L1>", "ldr x0, <.L3>", "ret"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize:\n%q\nwant:\n%q", got, want)
	}
	arm := "00010450 <\xff>:\n   10450:\tldr\tr0, [pc, #16]\t@ (10464 <\xff+0x14>)\n   10454:\tbne.n\t10450 <\xff+0x4>\n"
	got = Normalize([]byte(arm), "\xff")
	want = []string{"ldr r0, [pc, #16]", "bne.n <.L1>"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize of a symbol that is not UTF-8:\n%q\nwant:\n%q", got, want)
	}
}
