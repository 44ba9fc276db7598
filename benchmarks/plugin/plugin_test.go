package plugin_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cmdTimeout bounds every compiler and QEMU invocation.
const cmdTimeout = 2 * time.Minute

// guestProg runs a loop of argv[1] iterations over a volatile counter, so
// every iteration executes the same fixed instruction sequence.
const guestProg = `#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    volatile long counter = 0;
    for (long i = 0; i < n; i++)
        counter++;
    return counter == n ? 0 : 1;
}
`

var insnsLine = regexp.MustCompile(`^insns ([0-9]+)\n$`)

// requireGCC skips the test when the host compiler is missing: without it
// the plugin cannot be built at all.
func requireGCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("host gcc not found; cannot build the plugin")
	}
}

// requireTools fails (not skips) when QEMU or a cross compiler is missing:
// CI installs them, so their absence is a broken environment.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found in PATH; run `make deps` to install QEMU and the cross compilers", tool)
		}
	}
}

// guestEnv is the whole environment of every QEMU run. qemu-user hands its
// environment to the guest, and the environment's size moves the guest
// stack, so it must be fixed for counts to be reproducible.
var guestEnv = []string{"LC_ALL=C"}

// run runs name with args in dir and returns stdout+stderr. QEMU gets
// exactly guestEnv; compilers keep the caller's environment (gcc needs PATH
// to find its helpers). It does not fail the test on a non-zero exit status.
func run(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if strings.HasPrefix(name, "qemu-") {
		cmd.Env = guestEnv
	} else {
		cmd.Env = append(os.Environ(), "LC_ALL=C")
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v", name, strings.Join(args, " "), cmdTimeout)
	}
	return string(out), err
}

// mustRun is run that fails the test on error.
func mustRun(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// buildPlugin compiles insncount.c exactly like the Makefile does (plus
// -Werror) into dir and returns the path of the shared object.
func buildPlugin(t *testing.T, dir string) string {
	t.Helper()
	src, err := filepath.Abs("insncount.c")
	if err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "insncount.so")
	mustRun(t, dir, "gcc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
		"-Wall", "-Wextra", "-Werror", "-o", so, src)
	return so
}

// readCount parses an out= file.
func readCount(t *testing.T, path string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading plugin output: %v", err)
	}
	m := insnsLine.FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("plugin output %q is not exactly \"insns <N>\\n\"", data)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type guestArch struct {
	name, cc, qemu, cpu string
}

var arches = []guestArch{
	{"armv8", "aarch64-linux-gnu-gcc", "qemu-aarch64", "cortex-a57"},
	{"armv7", "arm-linux-gnueabihf-gcc", "qemu-arm", "cortex-a15"},
}

// buildGuest writes guestProg into a fresh directory and compiles it
// statically for arch; it returns that directory (the binary is ./prog).
func buildGuest(t *testing.T, a guestArch) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(guestProg), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, a.cc, "-O1", "-static", "-o", "prog", "prog.c")
	return dir
}

// qemuArgs returns the QEMU command line running ./prog with pluginArg
// ("path.so[,opts]") and the given guest arguments.
func qemuArgs(a guestArch, pluginArg string, extra []string, guestArgs ...string) []string {
	args := []string{"-cpu", a.cpu}
	args = append(args, extra...)
	args = append(args, "-0", "prog", "-plugin", pluginArg, "./prog")
	return append(args, guestArgs...)
}

// countInsns runs ./prog iters under QEMU with the plugin and returns the
// executed instruction count reported through out=.
func countInsns(t *testing.T, a guestArch, dir, plugin string, iters int) uint64 {
	t.Helper()
	outFile := filepath.Join(dir, fmt.Sprintf("insns-%d.txt", iters))
	os.Remove(outFile)
	mustRun(t, dir, a.qemu, qemuArgs(a, plugin+",out="+outFile, nil, strconv.Itoa(iters))...)
	return readCount(t, outFile)
}

func TestInsnCount(t *testing.T) {
	requireGCC(t)
	requireTools(t, "qemu-aarch64", "qemu-arm", "aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc")
	plugin := buildPlugin(t, t.TempDir())

	for _, a := range arches {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			dir := buildGuest(t, a)

			const n1, n2 = 1_000_000, 2_000_000
			c1 := countInsns(t, a, dir, plugin, n1)
			c1again := countInsns(t, a, dir, plugin, n1)
			c2 := countInsns(t, a, dir, plugin, n2)
			t.Logf("%s: %d iterations -> %d insns, %d iterations -> %d insns", a.name, n1, c1, n2, c2)

			if c1 != c1again {
				t.Errorf("not deterministic: two identical runs counted %d and %d", c1, c1again)
			}
			if c1 < n1 {
				t.Errorf("count %d for %d iterations is below the iteration count", c1, n1)
			}
			if c2 <= c1 {
				t.Fatalf("count for %d iterations (%d) is not above count for %d (%d)", n2, c2, n1, c1)
			}
			// Each iteration executes at least load, add, store, compare
			// and branch; allow up to 10 more per iteration.
			const k = 2
			const extraIters = n2 - n1
			diff := c2 - c1
			if diff < k*extraIters || diff > (k+10)*extraIters {
				t.Errorf("%d extra iterations added %d insns, want between %d and %d",
					extraIters, diff, k*extraIters, (k+10)*extraIters)
			}
			// "1000000" and "2000000" have the same length, so the runs
			// differ only in the loop trip count: an exact counter sees a
			// whole number of instructions per iteration.
			if diff%extraIters != 0 {
				t.Errorf("%d extra iterations added %d insns, not a whole number per iteration", extraIters, diff)
			}

			// Without out= the count goes through qemu_plugin_outs, which
			// QEMU prints with -d plugin.
			out := mustRun(t, dir, a.qemu, qemuArgs(a, plugin, []string{"-d", "plugin"}, strconv.Itoa(n1))...)
			if want := fmt.Sprintf("insns %d\n", c1); !strings.Contains(out, want) {
				t.Errorf("without out=, output %q does not contain %q", out, want)
			}
		})
	}

	t.Run("UnknownArgument", func(t *testing.T) {
		t.Parallel()
		a := arches[0]
		dir := buildGuest(t, a)
		out, err := run(t, dir, a.qemu, qemuArgs(a, plugin+",bogus=1", nil, "10")...)
		if err == nil {
			t.Fatalf("QEMU accepted unknown plugin argument; output:\n%s", out)
		}
		if !strings.Contains(out, "insncount: unknown argument 'bogus=1'") {
			t.Errorf("QEMU failed (%v) without the plugin's message; output:\n%s", err, out)
		}
	})

	t.Run("UnwritableOut", func(t *testing.T) {
		t.Parallel()
		a := arches[1]
		dir := buildGuest(t, a)
		bad := filepath.Join(dir, "no-such-dir", "insns.txt")
		out := mustRun(t, dir, a.qemu, qemuArgs(a, plugin+",out="+bad, nil, "10")...)
		if !strings.Contains(out, "insncount: cannot open "+bad) {
			t.Errorf("no error message for unwritable out= file; output:\n%s", out)
		}
	})
}

// fakeHost is a stand-in for QEMU's plugin loader. It exports the plugin API
// of one generation (API=1: QEMU <= 8.2, API=2: QEMU >= 9.0, API=0: neither
// inline-counter API), dlopen()s the plugin like plugins/loader.c does,
// enforces [MIN_VER, CUR_VER] on qemu_plugin_version, installs it, translates
// two blocks and "executes" them, then runs the atexit callbacks. It lets the
// QEMU 9+ code path be checked where only QEMU 7.2 is installed.
const fakeHost = `#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;

struct qemu_plugin_scoreboard { size_t elem; char *data; };
typedef struct { struct qemu_plugin_scoreboard *score; size_t offset; } qemu_plugin_u64;

#define NVCPU 2
struct qemu_plugin_tb {
    size_t n;
    int ops;
    uint64_t *ptr;          /* API 1 */
    qemu_plugin_u64 entry;  /* API 2 */
    uint64_t imm;
};

typedef void (*trans_cb_t)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*udata_cb_t)(qemu_plugin_id_t, void *);
static trans_cb_t trans_cb;
static udata_cb_t exit_cb;
static void *exit_udata;

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, trans_cb_t cb) { (void)id; trans_cb = cb; }
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb, void *u) { (void)id; exit_cb = cb; exit_udata = u; }
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb) { return tb->n; }
void qemu_plugin_outs(const char *s) { fputs(s, stdout); }

#if API == 1
#define MIN_VER 0
#define CUR_VER 1
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, int op, void *ptr, uint64_t imm)
{
    if (op != 0) abort();
    tb->ops++; tb->ptr = ptr; tb->imm = imm;
}
#elif API == 2
#define MIN_VER 2
#define CUR_VER 5
struct qemu_plugin_scoreboard *qemu_plugin_scoreboard_new(size_t elem)
{
    struct qemu_plugin_scoreboard *s = malloc(sizeof(*s));
    s->elem = elem;
    s->data = calloc(NVCPU, elem);
    return s;
}
void qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(struct qemu_plugin_tb *tb, int op, qemu_plugin_u64 e, uint64_t imm)
{
    if (op != 0) abort();
    tb->ops++; tb->entry = e; tb->imm = imm;
}
static uint64_t *slot(qemu_plugin_u64 e, int vcpu)
{
    return (uint64_t *)(e.score->data + vcpu * e.score->elem + e.offset);
}
uint64_t qemu_plugin_u64_sum(qemu_plugin_u64 e)
{
    uint64_t s = 0;
    for (int i = 0; i < NVCPU; i++) s += *slot(e, i);
    return s;
}
#else
#define MIN_VER 0
#define CUR_VER 5
#endif

static void exec_tb(struct qemu_plugin_tb *tb, int vcpu)
{
    if (tb->ops != 1) { fprintf(stderr, "tb has %d inline ops\n", tb->ops); exit(5); }
#if API == 1
    (void)vcpu;
    *tb->ptr += tb->imm;
#elif API == 2
    *slot(tb->entry, vcpu) += tb->imm;
#endif
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
    int *ver = dlsym(h, "qemu_plugin_version");
    int (*install)(qemu_plugin_id_t, const qemu_info_t *, int, char **) = dlsym(h, "qemu_plugin_install");
    if (!ver || !install) { fprintf(stderr, "missing symbols\n"); return 2; }
    printf("version %d\n", *ver);
    if (*ver < MIN_VER || *ver > CUR_VER) { fprintf(stderr, "version %d rejected\n", *ver); return 3; }
    qemu_info_t info = { .target_name = "aarch64", .version = { MIN_VER, CUR_VER } };
    if (install(42, &info, argc - 2, argv + 2) != 0) { fprintf(stderr, "install failed\n"); return 4; }
    struct qemu_plugin_tb a = { .n = 5 }, b = { .n = 7 };
    trans_cb(42, &a);
    trans_cb(42, &b);
    exec_tb(&a, 0); exec_tb(&a, 0); exec_tb(&a, 1); /* 15 */
    exec_tb(&b, 1); exec_tb(&b, 0);                  /* 14 */
    exit_cb(42, exit_udata);
    return 0;
}
`

func TestFakeHostAPIs(t *testing.T) {
	requireGCC(t)
	dir := t.TempDir()
	plugin := buildPlugin(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "host.c"), []byte(fakeHost), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name        string
		api         int
		wantVersion string
		wantOK      bool
		wantOut     string
	}{
		{"QEMU<=8.2", 1, "version 1\n", true, "insns 29\n"},
		{"QEMU>=9.0", 2, "version 2\n", true, "insns 29\n"},
		{"NoInlineAPI", 0, "version 1\n", false, "insncount: no usable inline counter API"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host := filepath.Join(dir, fmt.Sprintf("host%d", tc.api))
			mustRun(t, dir, "gcc", "-O1", "-Wall", "-Werror", "-rdynamic",
				fmt.Sprintf("-DAPI=%d", tc.api), "-o", host, "host.c", "-ldl")
			out, err := run(t, dir, host, plugin)
			if !strings.HasPrefix(out, tc.wantVersion) {
				t.Errorf("plugin declared the wrong API version; output:\n%s", out)
			}
			if (err == nil) != tc.wantOK {
				t.Errorf("host exit error %v, want success %v; output:\n%s", err, tc.wantOK, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output does not contain %q:\n%s", tc.wantOut, out)
			}
		})
	}
}
