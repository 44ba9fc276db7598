package profile_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/profile"
)

const prog = `#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) unsigned long hot(long n) {
	unsigned long s = 0;
	for (long i = 0; i < n; i++) s = s * 31 + (unsigned long)i;
	return s;
}
__attribute__((noinline)) unsigned long cold(long n) {
	unsigned long s = 0;
	for (long i = 0; i < n; i++) s ^= (unsigned long)i;
	return s;
}
int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000;
	printf("checksum: %016lx\n", hot(n * 10) + cold(n));
	return 0;
}
`

// TestProfileOfARealBinary runs a real static binary under qemu-user on
// both arches: its per-function counts add up to the total, the hot
// function comes first with about ten times the cold one's count, and a
// second run gives the same profile.
func TestProfileOfARealBinary(t *testing.T) {
	plugin := filepath.Join(t.TempDir(), "insncount.so")
	if msg, err := exec.Command("gcc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", plugin, "../../benchmarks/plugin/insncount.c").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, msg)
	}
	for _, tc := range []struct{ arch, qemu, cpu, cc string }{
		{"armv7", "qemu-arm", "cortex-a15", "arm-linux-gnueabihf-gcc"},
		{"armv8", "qemu-aarch64", "cortex-a57", "aarch64-linux-gnu-gcc"},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.c"), []byte(prog), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tc.cc, "-O2", "-static", "-o", "p", "p.c")
			cmd.Dir = dir
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tc.cc, err, msg)
			}
			q := &executor.QEMUUser{QEMU: tc.qemu, CPU: tc.cpu, Plugin: plugin}
			if err := q.Prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer q.Cleanup()
			run := func() *executor.Outcome {
				o, err := q.Run(context.Background(), executor.Spec{Name: "p", Dir: dir, Argv: []string{"./p", "20000"}, Timeout: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				if !o.OK() || len(o.Profile) == 0 {
					t.Fatalf("run: %s, profile %v\n%s", o.Describe(), o.Profile, o.Stderr)
				}
				return o
			}
			a, b := run(), run()
			if got := profile.Total(a.Profile); got != a.Instructions {
				t.Errorf("functions add up to %d, total %d", got, a.Instructions)
			}
			if a.Profile[0].Name != "hot" {
				t.Errorf("first function %s, want hot: %v", a.Profile[0].Name, a.Profile[:3])
			}
			var hot, cold uint64
			for _, f := range a.Profile {
				switch f.Name {
				case "hot":
					hot = f.Count
				case "cold":
					cold = f.Count
				case profile.Unknown:
					t.Errorf("%d instructions outside every function of a static binary", f.Count)
				}
			}
			if cold == 0 || hot < 5*cold || hot > 20*cold {
				t.Errorf("hot %d, cold %d: want hot about 10 times cold", hot, cold)
			}
			if !reflect.DeepEqual(a.Profile, b.Profile) {
				t.Errorf("two runs, two profiles:\n%v\n%v", a.Profile[:5], b.Profile[:5])
			}
		})
	}
}

func TestReadBlocksRejectsBrokenFiles(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"400000 10\n", "no end line"},
		{"400000 10\nend 2\n", "end line says 2"},
		{"incomplete\n400000 10\nend 1\n", "ran out of memory"},
		{"zz 10\nend 1\n", "want"},
	} {
		_, err := profile.ReadBlocks(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.want)
		}
	}
	b, err := profile.ReadBlocks(strings.NewReader("400000 10\n400000 5\n400010 1\nend 3\n"))
	if err != nil || b[0x400000] != 15 || b[0x400010] != 1 {
		t.Errorf("blocks = %v, %v: want a block translated twice added up", b, err)
	}
}
