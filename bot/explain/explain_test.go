package explain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/result"
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
	ex := Explain(context.Background(), cs, base, head, Options{})
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
	if ex := Explain(context.Background(), cs, base, head, Options{}); len(ex) != 0 || cs[0].Note != "" {
		t.Errorf("0.1%% moved: %+v, note %q; want nothing", ex, cs[0].Note)
	}
}

func TestOneSlowerFunctionComesFirst(t *testing.T) {
	base := meas("armv7", "aa", fc("sha256_block", 900_000), fc("main", 50_000), fc("memcpy", 50_000))
	head := meas("armv7", "bb", fc("sha256_block", 1_170_000), fc("main", 50_000), fc("memcpy", 49_000))
	b, h := 1_000_000.0, 1_269_000.0
	cs := []compare.Comparison{{Target: "armv7", Benchmark: "b", Metric: result.Instructions, Base: &b, Head: &h, Verdict: compare.Regression}}
	ex := Explain(context.Background(), cs, base, head, Options{})
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
	if ex := Explain(context.Background(), cs, base, meas("armv7", "aa", fc("x", 1)), Options{}); len(ex) != 0 {
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
