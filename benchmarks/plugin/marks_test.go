package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/insncount"
)

// markProg runs a loop of argv[1] iterations between two mark
// instructions. The loop is written in assembly so that its body is known
// to be exactly loopBody instructions on every target: add, subtract and
// set flags, branch back while not zero.
const markProg = `#include <stdlib.h>
#include <unistd.h>
#if defined(__aarch64__)
#define MARK() __asm__ volatile(".inst 0xd5032fdf" ::: "memory") /* hint #126 */
#define LOOP "1: add %0, %0, #1\n\tsubs %1, %1, #1\n\tb.ne 1b"
#elif defined(__arm__) && defined(__thumb2__)
#define MARK() __asm__ volatile(".inst.w 0xf3af807e" ::: "memory") /* nop.w hint #126 */
#define LOOP "1: add %0, %0, #1\n\tsubs %1, %1, #1\n\tbne 1b"
#elif defined(__arm__) && !defined(__thumb__)
#define MARK() __asm__ volatile(".inst 0xe320f07e" ::: "memory") /* A32 hint #126 */
#define LOOP "1: add %0, %0, #1\n\tsubs %1, %1, #1\n\tbne 1b"
#else
#error "no mark instruction for this target"
#endif
#if defined(__arm__) && (defined(WANT_THUMB) != defined(__thumb__))
#error "compiled for the wrong instruction set state"
#endif
int main(int argc, char **argv) {
    unsigned long k = argc > 1 ? strtoul(argv[1], NULL, 10) : 1, n = k, acc = 0;
    if (k == 0)
        return 2;
    MARK();
    if (argc > 2) { /* "wait": block until stdin is closed */
        char c;
        while (read(0, &c, 1) > 0)
            ;
    }
    __asm__ volatile(LOOP : "+r"(acc), "+r"(n) : : "cc");
    MARK();
    return acc == k ? 0 : 1;
}
`

// loopBody is the number of instructions of one iteration of markProg's loop.
const loopBody = 3

type markArch struct {
	name  string
	arch  guestArch
	flags []string
}

var markArches = []markArch{
	{"aarch64", arches[0], nil},
	{"arm-thumb", arches[1], []string{"-mthumb", "-DWANT_THUMB"}},
	{"arm-a32", arches[1], []string{"-marm"}},
}

// buildMarkGuest compiles markProg statically for a into a fresh directory
// and returns it (the binary is ./prog).
func buildMarkGuest(t *testing.T, a markArch) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(markProg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-O1", "-static"}, a.flags...)
	mustRun(t, dir, a.arch.cc, append(args, "-o", "prog", "prog.c")...)
	return dir
}

// markRun is what one plugin run reported.
type markRun struct {
	marks []uint64 // from marks=
	total uint64   // from out=
}

// runMarked runs ./prog iters under qemu-user with marks= and out= (plus
// the given plugin options) and returns what the plugin wrote.
func runMarked(t *testing.T, a markArch, dir, plugin string, iters int, opts ...string) markRun {
	t.Helper()
	tag := fmt.Sprintf("%d-%d", iters, len(opts))
	marksFile := filepath.Join(dir, "marks-"+tag+".txt")
	outFile := filepath.Join(dir, "insns-"+tag+".txt")
	arg := strings.Join(append([]string{plugin, "marks=" + marksFile, "out=" + outFile}, opts...), ",")
	mustRun(t, dir, a.arch.qemu, qemuArgs(a.arch, arg, nil, strconv.Itoa(iters))...)
	marks, err := insncount.ReadMarks(marksFile)
	if err != nil {
		t.Fatal(err)
	}
	return markRun{marks, readCount(t, outFile)}
}

func TestMarks(t *testing.T) {
	requireGCC(t)
	requireTools(t, "qemu-aarch64", "qemu-arm", "aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc")
	plugin := buildPlugin(t, t.TempDir())

	for _, a := range markArches {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			dir := buildMarkGuest(t, a)

			// Same length of argv[1], so the runs differ only in the trip
			// count of the loop between the marks.
			const k1, k2 = 1000, 2000
			r1 := runMarked(t, a, dir, plugin, k1)
			r1again := runMarked(t, a, dir, plugin, k1)
			r2 := runMarked(t, a, dir, plugin, k2)
			for _, r := range []markRun{r1, r1again, r2} {
				if len(r.marks) != 2 {
					t.Fatalf("%d marks %v, want exactly 2", len(r.marks), r.marks)
				}
				if r.marks[0] == 0 || r.marks[1] > r.total {
					t.Errorf("marks %v outside (0, %d], the count at exit", r.marks, r.total)
				}
			}
			d1, d2 := r1.marks[1]-r1.marks[0], r2.marks[1]-r2.marks[0]
			t.Logf("%s: marks at %v for %d iterations (%d between), at %v for %d (%d between); %d insns in all",
				a.name, r1.marks, k1, d1, r2.marks, k2, d2, r1.total)

			if r1again.marks[0] != r1.marks[0] || r1again.marks[1] != r1.marks[1] {
				t.Errorf("not deterministic: two identical runs marked %v and %v", r1.marks, r1again.marks)
			}
			if r2.marks[0] != r1.marks[0] {
				t.Errorf("first mark at %d with %d iterations, %d with %d: the code before it is the same",
					r1.marks[0], k1, r2.marks[0], k2)
			}
			if want := uint64(loopBody * (k2 - k1)); d2-d1 != want {
				t.Errorf("%d more iterations added %d instructions between the marks, want exactly %d (%d per iteration)",
					k2-k1, d2-d1, want, loopBody)
			}
			// The first iteration is in the first mark's block, and the
			// second mark's count includes the rest of its block (a few
			// instructions up to the next branch).
			if lo, hi := uint64(loopBody*(k1-1)), uint64(loopBody*k1+32); d1 <= lo || d1 > hi {
				t.Errorf("%d instructions between the marks for %d iterations, want in (%d, %d]", d1, k1, lo, hi)
			}

			// marks= changes nothing else: out= gives the same total
			// without it, and tbs= (per-block counters) the same marks.
			outFile := filepath.Join(dir, "plain.txt")
			mustRun(t, dir, a.arch.qemu, qemuArgs(a.arch, plugin+",out="+outFile, nil, strconv.Itoa(k1))...)
			if plain := readCount(t, outFile); plain != r1.total {
				t.Errorf("out= says %d insns with marks=, %d without", r1.total, plain)
			}
			withTBs := runMarked(t, a, dir, plugin, k1, "tbs="+filepath.Join(dir, "tbs.txt"))
			if withTBs.total != r1.total || len(withTBs.marks) != 2 ||
				withTBs.marks[0] != r1.marks[0] || withTBs.marks[1] != r1.marks[1] {
				t.Errorf("with tbs=: marks %v, total %d; without: marks %v, total %d",
					withTBs.marks, withTBs.total, r1.marks, r1.total)
			}
		})
	}

	for _, tc := range []struct {
		name string
		qemu string
		opts func(dir string) string
		want func(dir string) string
	}{
		{"marks twice", "qemu-aarch64",
			func(dir string) string { return ",marks=" + dir + "/a,marks=" + dir + "/b" },
			func(string) string { return "insncount: marks= given more than once" }},
		{"marks without a file name", "qemu-aarch64",
			func(string) string { return ",marks=" },
			func(string) string { return "insncount: marks= needs a file name" }},
		{"marks file cannot be created", "qemu-aarch64",
			func(dir string) string { return ",marks=" + dir + "/no-such-dir/marks.txt" },
			func(dir string) string { return "insncount: cannot open " + dir + "/no-such-dir/marks.txt" }},
		{"target without a mark instruction", "qemu-aarch64_be",
			func(dir string) string { return ",marks=" + dir + "/marks.txt" },
			func(string) string { return "insncount: marks= knows no mark instruction for target 'aarch64_be'" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireTools(t, tc.qemu)
			a := markArches[0]
			dir := buildMarkGuest(t, a)
			ga := a.arch
			ga.qemu = tc.qemu
			out, err := run(t, dir, ga.qemu, qemuArgs(ga, plugin+tc.opts(dir), nil, "10")...)
			if err == nil {
				t.Fatalf("QEMU ran with %q; output:\n%s", tc.opts(dir), out)
			}
			if want := tc.want(dir); !strings.Contains(out, want) {
				t.Errorf("QEMU failed (%v) without %q; output:\n%s", err, want, out)
			}
		})
	}
}

// TestMarksReadableWhileRunning checks that a mark reaches the file when
// it executes, not when QEMU exits: the guest marks, then blocks reading
// stdin until the test has seen the mark.
func TestMarksReadableWhileRunning(t *testing.T) {
	requireGCC(t)
	requireTools(t, "qemu-aarch64", "aarch64-linux-gnu-gcc")
	plugin := buildPlugin(t, t.TempDir())
	a := markArches[0]
	dir := buildMarkGuest(t, a)
	marksFile := filepath.Join(dir, "marks.txt")

	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.arch.qemu, qemuArgs(a.arch, plugin+",marks="+marksFile, nil, "10", "wait")...)
	cmd.Dir, cmd.Env = dir, guestEnv
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Poll for the first mark while the guest waits; QEMU must still run.
	var marks []uint64
	for tick := time.NewTicker(10 * time.Millisecond); len(marks) == 0; {
		select {
		case err := <-done:
			t.Fatalf("QEMU exited (%v) before the test closed its stdin; output:\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("no mark in %s within %v", marksFile, cmdTimeout)
		case <-tick.C:
		}
		// QEMU creates the file when it installs the plugin.
		if marks, err = insncount.ReadMarks(marksFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if len(marks) != 1 {
		t.Fatalf("while the guest waits: marks %v, want exactly the first", marks)
	}
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("QEMU: %v; output:\n%s", err, out.String())
	}
	final, err := insncount.ReadMarks(marksFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(final) != 2 || final[0] != marks[0] {
		t.Errorf("after exit: marks %v, want 2 starting with %d", final, marks[0])
	}
}

// bareMetal is a whole-system aarch64 guest for qemu-system-aarch64 -M
// virt: it runs ITERS iterations of the same loop between two marks, then
// powers the machine off through PSCI (HVC conduit, the virt machine's
// default without EL2/EL3).
const bareMetal = `    .globl _start
_start:
    ldr x0, =ITERS
    mov x1, #0
    .inst 0xd5032fdf
1:  add x1, x1, #1
    subs x0, x0, #1
    b.ne 1b
    .inst 0xd5032fdf
    ldr x0, =0x84000008    /* PSCI SYSTEM_OFF */
    hvc #0
2:  b 2b
`

// TestMarksSystemMode checks marks= where it is meant to be used: under
// qemu-system, where the plugin sees the whole machine.
func TestMarksSystemMode(t *testing.T) {
	requireGCC(t)
	requireTools(t, "qemu-system-aarch64", "aarch64-linux-gnu-gcc")
	dir := t.TempDir()
	plugin := buildPlugin(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "bare.S"), []byte(bareMetal), 0o644); err != nil {
		t.Fatal(err)
	}
	marksAt := func(iters int, run int) []uint64 {
		t.Helper()
		img := fmt.Sprintf("bare-%d", iters)
		if run == 0 {
			mustRun(t, dir, "aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-DITERS="+strconv.Itoa(iters),
				"-Wl,-Ttext=0x40080000", "-o", img, "bare.S")
		}
		marksFile := filepath.Join(dir, fmt.Sprintf("marks-%d-%d.txt", iters, run))
		mustRun(t, dir, "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-smp", "1", "-m", "64",
			"-nodefaults", "-display", "none", "-monitor", "none", "-serial", "none",
			"-kernel", img, "-plugin", plugin+",marks="+marksFile)
		marks, err := insncount.ReadMarks(marksFile)
		if err != nil {
			t.Fatal(err)
		}
		if len(marks) != 2 {
			t.Fatalf("%d marks %v, want exactly 2", len(marks), marks)
		}
		return marks
	}
	const k1, k2 = 1000, 2000
	m1, m1again, m2 := marksAt(k1, 0), marksAt(k1, 1), marksAt(k2, 0)
	t.Logf("qemu-system-aarch64: marks at %v for %d iterations, at %v for %d", m1, k1, m2, k2)
	if m1[0] != m1again[0] || m1[1] != m1again[1] {
		t.Errorf("not deterministic: two identical runs marked %v and %v", m1, m1again)
	}
	if d1, d2 := m1[1]-m1[0], m2[1]-m2[0]; d2-d1 != loopBody*(k2-k1) {
		t.Errorf("%d more iterations added %d instructions between the marks, want exactly %d",
			k2-k1, d2-d1, loopBody*(k2-k1))
	}
}

// fakeMarksHost stands in for QEMU's plugin loader like fakeHost, for the
// API generations that differ for marks=: API=1 (QEMU <= 8.2: pointer
// inline adds, qemu_plugin_insn_data returns a pointer), API=2 (QEMU 9.0:
// scoreboards, same insn_data), API=3 (QEMU >= 9.1: scoreboards,
// qemu_plugin_insn_data copies into a buffer). Called as
// "host plugin.so TARGET ARGS...", it translates two blocks (A: an aarch64
// NOP, the aarch64 mark, a NOP; B: the A32 and the T32 arm marks) and runs
// A, B, A, calling each instruction's callbacks after the block's inline
// add, as QEMU does.
const fakeMarksHost = `#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;

struct qemu_plugin_scoreboard { size_t elem; char *data; };
typedef struct { struct qemu_plugin_scoreboard *score; size_t offset; } qemu_plugin_u64;

typedef void (*insn_cb_t)(unsigned int, void *);
struct qemu_plugin_insn {
    unsigned char bytes[4];
    size_t size;
    insn_cb_t cb;
    void *udata;
};
struct qemu_plugin_tb {
    size_t n;
    struct qemu_plugin_insn insn[3];
    int ops;
    uint64_t *ptr;
    qemu_plugin_u64 entry;
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
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t i)
{
    return i < tb->n ? (struct qemu_plugin_insn *)&tb->insn[i] : NULL;
}
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn) { return insn->size; }
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, insn_cb_t cb, int flags, void *udata)
{
    if (flags != 0 || insn->cb != NULL) abort();
    insn->cb = cb; insn->udata = udata;
}

#if API == 1
#define MIN_VER 0
#define CUR_VER 1
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, int op, void *ptr, uint64_t imm)
{
    if (op != 0) abort();
    tb->ops++; tb->ptr = ptr; tb->imm = imm;
}
#else
#define MIN_VER 2
#define CUR_VER API
struct qemu_plugin_scoreboard *qemu_plugin_scoreboard_new(size_t elem)
{
    struct qemu_plugin_scoreboard *s = malloc(sizeof(*s));
    s->elem = elem;
    s->data = calloc(1, elem);
    return s;
}
void qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(struct qemu_plugin_tb *tb, int op, qemu_plugin_u64 e, uint64_t imm)
{
    if (op != 0) abort();
    tb->ops++; tb->entry = e; tb->imm = imm;
}
uint64_t qemu_plugin_u64_sum(qemu_plugin_u64 e) { return *(uint64_t *)(e.score->data + e.offset); }
#endif

#if API <= 2
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn) { return insn->bytes; }
#else
size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest, size_t len)
{
    if (len > insn->size) len = insn->size;
    memcpy(dest, insn->bytes, len);
    return len;
}
#endif

static void exec_tb(struct qemu_plugin_tb *tb)
{
    if (tb->ops != 1) { fprintf(stderr, "tb has %d inline ops\n", tb->ops); exit(5); }
#if API == 1
    *tb->ptr += tb->imm;
#else
    *(uint64_t *)(tb->entry.score->data + tb->entry.offset) += tb->imm;
#endif
    for (size_t i = 0; i < tb->n; i++)
        if (tb->insn[i].cb != NULL)
            tb->insn[i].cb(0, tb->insn[i].udata);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
    int *ver = dlsym(h, "qemu_plugin_version");
    int (*install)(qemu_plugin_id_t, const qemu_info_t *, int, char **) = dlsym(h, "qemu_plugin_install");
    if (!ver || !install) { fprintf(stderr, "missing symbols\n"); return 2; }
    if (*ver < MIN_VER || *ver > CUR_VER) { fprintf(stderr, "version %d rejected\n", *ver); return 3; }
    qemu_info_t info = { .target_name = argv[2], .version = { MIN_VER, CUR_VER } };
    if (install(42, &info, argc - 3, argv + 3) != 0) { fprintf(stderr, "install failed\n"); return 4; }
    struct qemu_plugin_tb a = { .n = 3, .insn = {
        { { 0x1f, 0x20, 0x03, 0xd5 }, 4, NULL, NULL },   /* aarch64 nop */
        { { 0xdf, 0x2f, 0x03, 0xd5 }, 4, NULL, NULL },   /* aarch64 hint #126 */
        { { 0x1f, 0x20, 0x03, 0xd5 }, 4, NULL, NULL } } };
    struct qemu_plugin_tb b = { .n = 2, .insn = {
        { { 0x7e, 0xf0, 0x20, 0xe3 }, 4, NULL, NULL },   /* A32 hint #126 */
        { { 0xaf, 0xf3, 0x7e, 0x80 }, 4, NULL, NULL } } }; /* T32 nop.w hint #126 */
    trans_cb(42, &a);
    trans_cb(42, &b);
    exec_tb(&a); exec_tb(&b); exec_tb(&a);
    exit_cb(42, exit_udata);
    return 0;
}
`

// TestMarksFakeHostAPIs checks marks= against each QEMU plugin API
// generation, in particular qemu_plugin_insn_data's two signatures (only
// QEMU 7.2 is installed here, so the QEMU >= 9.1 one is checked only here).
func TestMarksFakeHostAPIs(t *testing.T) {
	requireGCC(t)
	dir := t.TempDir()
	plugin := buildPlugin(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "host.c"), []byte(fakeMarksHost), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, api := range []int{1, 2, 3} {
		host := filepath.Join(dir, fmt.Sprintf("host%d", api))
		mustRun(t, dir, "gcc", "-O1", "-Wall", "-Werror", "-rdynamic",
			fmt.Sprintf("-DAPI=%d", api), "-o", host, "host.c", "-ldl")
		for _, tc := range []struct {
			target, want string
		}{
			// A (3 insns) runs, its mark fires with 3 counted; B (2) runs;
			// A again: 8.
			{"aarch64", "mark 1 3\nmark 2 8\n"},
			// Only B has arm marks, both fire after B's add: 5, 5.
			{"arm", "mark 1 5\nmark 2 5\n"},
		} {
			t.Run(fmt.Sprintf("API%d/%s", api, tc.target), func(t *testing.T) {
				marksFile := filepath.Join(dir, fmt.Sprintf("marks-%d-%s.txt", api, tc.target))
				outFile := marksFile + ".out"
				out := mustRun(t, dir, host, plugin, tc.target, "marks="+marksFile, "out="+outFile)
				got, err := os.ReadFile(marksFile)
				if err != nil {
					t.Fatalf("%v; host output:\n%s", err, out)
				}
				if string(got) != tc.want {
					t.Errorf("marks file %q, want %q", got, tc.want)
				}
				if total := readCount(t, outFile); total != 8 {
					t.Errorf("out= says %d insns, want 8", total)
				}
			})
		}
	}
}
