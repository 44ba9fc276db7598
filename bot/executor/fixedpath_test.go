package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/sandbox"
)

// TestFixedPathCountsDoNotDependOnTheWorkdir runs one binary from two
// workdirs whose paths differ in length by 150 characters, with and
// without the sandbox, and from a second slot: every count is the same.
// (Before FixedDir, the longer path counted more instructions: QEMU puts
// the binary's real path on the guest's stack.)
func TestFixedPathCountsDoNotDependOnTheWorkdir(t *testing.T) {
	plugin := buildPlugin(t)
	short := t.TempDir()
	long := filepath.Join(t.TempDir(), strings.Repeat("a-much-longer-directory-name-", 5))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	crossCompile(t, "aarch64-linux-gnu-gcc", short, "loop", loopProg)
	data, err := os.ReadFile(filepath.Join(short, "loop"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(long, "loop"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	sb := &sandbox.Sandbox{Kind: sandbox.Bubblewrap, CacheDir: t.TempDir()}
	counts := map[string]uint64{}
	for _, sbx := range []*sandbox.Sandbox{nil, sb} {
		for _, dir := range []string{short, long} {
			q := &QEMUUser{QEMU: "qemu-aarch64", CPU: "cortex-a57", Plugin: plugin}
			if err := q.Prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			o, err := q.Run(context.Background(), Spec{Name: "loop", Dir: dir, Argv: []string{"./loop", "1000"}, Env: []string{"LC_ALL=C"}, Timeout: time.Minute, Sandbox: sbx})
			q.Cleanup()
			if err != nil {
				t.Fatal(err)
			}
			if !o.OK() || !o.HasCounts {
				t.Fatalf("run from %s (sandbox %v): %+v\n%s", dir, sbx.Enabled(), o, o.Stderr)
			}
			counts[map[bool]string{false: "plain", true: "sandboxed"}[sbx.Enabled()]+" "+map[bool]string{false: "short", true: "long"}[dir == long]] = o.Instructions
		}
	}
	// A second slot: hold slot 0 while running.
	exe, release, err := fixedCopy(filepath.Join(short, "loop"))
	if err != nil {
		t.Fatal(err)
	}
	q := &QEMUUser{QEMU: "qemu-aarch64", CPU: "cortex-a57", Plugin: plugin}
	if err := q.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	o, err := q.Run(context.Background(), Spec{Name: "loop", Dir: short, Argv: []string{"./loop", "1000"}, Env: []string{"LC_ALL=C"}, Timeout: time.Minute})
	q.Cleanup()
	release()
	if err != nil {
		t.Fatal(err)
	}
	counts["plain, another slot than "+filepath.Dir(exe)] = o.Instructions
	var first uint64
	for k, v := range counts {
		if first == 0 {
			first = v
		}
		if v != first {
			t.Errorf("counts differ with the workdir or slot: %v", counts)
			break
		}
		_ = k
	}
	if len(counts) != 5 {
		t.Errorf("counts = %v, want 5 runs", counts)
	}
	if _, err := os.Stat(filepath.Dir(exe)); !os.IsNotExist(err) {
		t.Errorf("slot %s not removed after the run: %v", filepath.Dir(exe), err)
	}
}

// TestFixedCopyTakesAFreeSlot checks that a held slot is skipped and
// freed on release.
func TestFixedCopyTakesAFreeSlot(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bench")
	if err := os.WriteFile(bin, []byte("not really a binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, relA, err := fixedCopy(bin)
	if err != nil {
		t.Fatal(err)
	}
	b, relB, err := fixedCopy(bin)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(a) == filepath.Dir(b) || len(a) != len(b) {
		t.Errorf("two held copies %s and %s: want different slots of the same length", a, b)
	}
	if got, _ := os.ReadFile(b); string(got) != "not really a binary" {
		t.Errorf("copy holds %q", got)
	}
	relA()
	c, relC, err := fixedCopy(bin)
	if err != nil {
		t.Fatal(err)
	}
	if c != a {
		t.Errorf("after release, got %s, want the freed slot %s back", c, a)
	}
	relB()
	relC()
	_ = syscall.Getpid
}

// TestQEMUUserPathsWithCommas: QEMU splits -plugin's value on commas; a
// plugin or workdir path with one must still count (it once made every
// benchmark "fail" at base and head).
func TestQEMUUserPathsWithCommas(t *testing.T) {
	plugin := buildPlugin(t)
	dir := filepath.Join(t.TempDir(), "a,b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	commaPlugin := filepath.Join(dir, "insn,count.so")
	data, err := os.ReadFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(commaPlugin, data, 0o755)
	crossCompile(t, "aarch64-linux-gnu-gcc", dir, "loop", loopProg)
	t.Setenv("TMPDIR", dir) // the count files' directory gets a comma too
	q := &QEMUUser{QEMU: "qemu-aarch64", CPU: "cortex-a57", Plugin: commaPlugin}
	if err := q.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer q.Cleanup()
	o, err := q.Run(context.Background(), Spec{Name: "loop", Dir: dir, Argv: []string{"./loop", "1000"}, Env: []string{"LC_ALL=C"}, Timeout: time.Minute})
	if err != nil || !o.OK() || !o.HasCounts || len(o.Profile) == 0 {
		t.Fatalf("run with commas in the paths: %v, %+v\n%s", err, o, o.Stderr)
	}
	// A plugin that does not load is an infrastructure error, never the
	// benchmark failing.
	q2 := &QEMUUser{QEMU: "qemu-aarch64", CPU: "cortex-a57", Plugin: filepath.Join(dir, "loop.c")}
	if err := q2.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer q2.Cleanup()
	_, err = q2.Run(context.Background(), Spec{Name: "loop", Dir: dir, Argv: []string{"./loop", "1000"}, Env: []string{"LC_ALL=C"}, Timeout: time.Minute})
	var infra *InfraError
	if !errors.As(err, &infra) || !strings.Contains(err.Error(), "did not load") {
		t.Errorf("a plugin that cannot load: %v, want an infrastructure error", err)
	}
}
