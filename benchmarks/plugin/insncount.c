//go:build ignore

// (The constraint above only tells the Go tool that this C file is not part
// of package plugin_test's build; the file is compiled by gcc, see below.)

/*
 * insncount: QEMU TCG plugin counting executed guest instructions.
 *
 * tcbot runs each benchmark under qemu-user with this plugin and compares
 * the instruction counts between toolchain revisions, so the count must be
 * exact and deterministic, and the plugin must be cheap.
 *
 * Usage:
 *   qemu-aarch64 -plugin build/insncount.so[,out=PATH][,tbs=PATH][,marks=PATH] \
 *       ./prog args...
 *   qemu-system-aarch64 ... -plugin build/insncount.so,marks=PATH
 *
 *   out=PATH  at exit, write exactly "insns <N>\n" to PATH (a relative PATH
 *             is resolved against QEMU's working directory at start-up, so
 *             a guest chdir() does not move it). QEMU's option parser splits
 *             on ',', so a comma in PATH must be written as ",,".
 *   (none)    print "insns <N>\n" with qemu_plugin_outs. QEMU shows that text
 *             only with "-d plugin" (on stderr, or in the -D log file).
 *   tbs=PATH  also attribute the count to code: at exit, write one line per
 *             translation block that ran, "<vaddr in hex> <instructions>\n"
 *             (the TB's start address and the instructions executed in it
 *             over the whole run; a TB translated again, e.g. after its
 *             page was flushed, gives a second line with the same vaddr,
 *             which the reader adds up). Same path rules as out=. tcbot
 *             maps the addresses to the functions of the static binary
 *             (bot/profile), giving exact per-function instruction counts.
 *   marks=PATH  also record the count at "marks" (see Marks below): PATH
 *             is created (or truncated) at start-up, and each time the
 *             guest executes the magic mark instruction one line
 *             "mark <N> <count>\n" is appended (N = 1, 2, ...) with a
 *             single write(2), so PATH can be read while QEMU still runs.
 *             Same path rules as out=. Combines with out= and tbs=;
 *             without marks= the plugin behaves exactly as if the option
 *             did not exist.
 *   Any other argument makes installation fail, hence QEMU exits non-zero.
 *   Errors (bad argument, unusable QEMU, out= file not writable) are always
 *   written to stderr, prefixed "insncount: ". For marks=, a PATH that
 *   cannot be created, marks= given twice, or a guest architecture
 *   without a known mark instruction make installation fail.
 *
 * Build (no glib needed; see qemu-plugin-api.h):
 *   gcc -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra \
 *       -o build/insncount.so benchmarks/plugin/insncount.c
 *
 * Counting strategy: one inline add per translation block (TB), not one
 * per instruction.
 *   When a TB is translated we register an inline "counter += n" with n =
 *   qemu_plugin_tb_n_insns(tb). QEMU emits that add into the generated host
 *   code at the start of the TB, after the TB's exit-request check, so it
 *   runs exactly once each time the TB is actually entered. There is no C
 *   callback on the execution path, and one add per TB is several times
 *   cheaper than one add per instruction (the per-insn variant loads,
 *   adds and stores the counter before every guest instruction). This is
 *   what QEMU's own tests/plugin/bb.c does in its inline mode.
 *
 *   The per-TB count is exact when every entered TB runs to its end. A TB
 *   ends at every branch, exception-generating instruction (SVC, BRK, UDF)
 *   and page boundary, so that holds for the programs we measure:
 *   single-threaded user-mode (qemu-user) benchmarks that do not take
 *   synchronous faults. The only ways to leave a TB in the middle are:
 *     - a guest memory access that faults (SIGSEGV/SIGBUS delivered to a
 *       guest handler, or a write to a page QEMU write-protected because it
 *       holds translated code, i.e. self-modifying code/JITs): the rest of
 *       that TB is counted but not executed;
 *     - EXCP_ATOMIC retries, which only happen once the guest has created
 *       a second thread (CF_PARALLEL); single-threaded guests never do this.
 *   Instructions whose condition fails (A32 conditional execution, T32 IT
 *   blocks) are counted, as Arm's architectural "instructions executed"
 *   counters do; per-insn counting would count them too. Neither strategy
 *   is exact for a faulting instruction (the per-insn add also runs before
 *   the faulting instruction, which is then re-executed), so per-insn buys
 *   nothing for us but costs speed.
 *
 *   Determinism: the count depends only on the guest's execution path,
 *   never on host timing (no sampling, no clock, no callbacks that can be
 *   skipped), so the same binary with the same arguments, environment and
 *   guest memory layout gives the same count on every run.
 *
 * Per-TB counting (tbs=): each TB gets a counter of its own, and the
 *   one inline add per TB execution goes to that counter ("counter += n")
 *   instead of the global one; the total is the sum over TBs at exit, so
 *   it is exactly the count without tbs=, at the same one add per TB (the
 *   adds only hit more cache lines). No callback runs on the execution
 *   path. With API v1 the counters are plain uint64_t in chunks of
 *   TB_CHUNK, allocated at translation time; with API v2 a scoreboard
 *   holds TB_CHUNK counters per vCPU (one uint64_t each, at offset 8*i of
 *   the element), so one scoreboard serves thousands of TBs.
 *
 * Marks (marks=): "instructions per request" of a whole system (kernel,
 *   servers and the load generator under qemu-system) is the count between
 *   two points of the load generator's execution, which it flags by
 *   executing a magic no-op (benchmarks/loadgen -M):
 *     aarch64  hint #126:           the 32-bit word 0xD5032FDF
 *              (bytes DF 2F 03 D5);
 *     arm      A32 hint #126:       0xE320F07E (bytes 7E F0 20 E3), or
 *              T32 nop.w hint #126: halfwords 0xF3AF 0x807E
 *              (bytes AF F3 7E 80).
 *   (Unallocated hints execute as NOPs on every Armv7/Armv8 CPU.) When a TB
 *   is translated, its instructions' bytes are compared with these (only
 *   at translation, so code without marks runs no slower), and a matching
 *   instruction gets a C callback that appends the line. The target comes
 *   from info->target_name; any other target with marks= is an error. On
 *   arm the instruction set state is not known at translation, so both
 *   forms match in either state: the A32 word read as T32 is a BLX to one
 *   exact far offset, the T32 pair read as A32 is
 *   "rsbshi pc, lr, pc, lsr #7"; compilers emit neither in practice, and
 *   a stray mark would show as an extra line, which a reader expecting
 *   exactly two (bot/insncount.ReadMarks callers) detects.
 *
 *   <count> is the total of all counters when the mark executes, i.e.
 *   what out= would report if the guest stopped there, except that the
 *   inline add of a TB runs at TB entry: <count> includes the whole TB
 *   holding the mark, also the instructions after the mark up to the end
 *   of that TB. That is deterministic (the same code gives the same TBs),
 *   so the difference of two marks is exactly the instructions executed
 *   from the end of the first mark's TB to the end of the second's; over
 *   thousands of requests that offset (a few instructions at each end)
 *   is noise-free and negligible. With several vCPUs <count> is the sum
 *   over all of them (everything the system executed), read while the
 *   others run. Only the process the plugin was installed in records
 *   marks: after a guest fork() in user mode, a child's marks are ignored,
 *   like its counts. PATH is opened, appended to and closed for every
 *   mark, so neither a guest chdir() nor a user-mode guest closing all its
 *   descriptors can lose or misdirect a mark, and nothing waits in a
 *   buffer (no fsync either: the host reads the page cache).
 *
 * Multiple vCPUs: counts of all vCPUs are summed. With API v2 every vCPU
 * has its own scoreboard slot so the sum is race free. The API v1 inline add
 * is a plain load/add/store on one shared counter and may lose updates when
 * several guest threads run concurrently; tcbot benchmarks are
 * single-threaded. (Under qemu-system with -smp > 1, which runs vCPUs in
 * parallel threads (MTTCG), that makes API v1 counts, and marks, inexact:
 * measure with -smp 1 there, or with QEMU >= 9.0.)
 *
 * QEMU API version handling (see qemu-plugin-api.h for the history):
 *   QEMU's loader reads the exported int qemu_plugin_version right after
 *   dlopen() and refuses the plugin unless min <= version <= cur:
 *     QEMU <= 8.2 (Debian 12 has 7.2): min 0, cur 1 -> must declare <= 1;
 *     QEMU 9.0: min 2, cur 2 -> must declare 2;
 *     later (9.1 .. 10.2 at least): min 2, cur 3..5 -> 2 is accepted.
 *   No constant satisfies both ranges, but the value is only read after
 *   dlopen() has run our ELF constructors, and by then the dynamic linker
 *   has bound our weak references to the QEMU functions. The constructor
 *   below therefore sets qemu_plugin_version to 2 when the running QEMU
 *   exports the scoreboard API, and leaves it at 1 otherwise. One binary
 *   thus loads in both old and new QEMUs. qemu_plugin_install() then picks
 *   the matching inline-counter API, cross-checking info->version, and fails
 *   with a clear message if neither is usable. If a future QEMU raises its
 *   minimum above 2, build with -DTCBOT_QEMU_PLUGIN_VERSION=N to force the
 *   declared version (this disables the constructor). qemu_plugin_insn_data
 *   (used for marks= only) changed signature in API v3 (QEMU 9.1); the
 *   variant is chosen from info->version.cur, see qemu-plugin-api.h.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qemu-plugin-api.h"

#ifdef TCBOT_QEMU_PLUGIN_VERSION
QEMU_PLUGIN_EXPORT int qemu_plugin_version = TCBOT_QEMU_PLUGIN_VERSION;
#else
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
#endif

static bool have_api_v2(void)
{
    return qemu_plugin_scoreboard_new != NULL &&
           qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu != NULL &&
           qemu_plugin_u64_sum != NULL;
}

static bool have_api_v1(void)
{
    return qemu_plugin_register_vcpu_tb_exec_inline != NULL;
}

#ifndef TCBOT_QEMU_PLUGIN_VERSION
/* Runs inside dlopen(), before QEMU reads qemu_plugin_version. */
__attribute__((constructor)) static void insncount_pick_version(void)
{
    if (have_api_v2()) {
        qemu_plugin_version = 2;
    }
}
#endif

/* API v1: one shared counter, kept on its own cache line. */
static uint64_t insn_count __attribute__((aligned(64)));
/* API v2: one uint64_t per vCPU. */
static struct qemu_plugin_scoreboard *score;
static qemu_plugin_u64 score_count;

static bool use_v2;
static char *out_path;  /* absolute path, or NULL to use qemu_plugin_outs */
static char *tbs_path;  /* absolute path of the per-TB file, or NULL */
static char *marks_path;  /* absolute path of the marks file, or NULL */

/* The translation callback that counts a TB; tb_trans_marks calls it. */
static qemu_plugin_vcpu_tb_trans_cb_t count_tb;

/*
 * Mark instructions (marks=) per guest target, as bytes in guest memory
 * order; each is 4 bytes long.
 */
#define MARK_SIZE 4
static const struct mark_target {
    const char *name;   /* info->target_name */
    size_t n;
    unsigned char insn[2][MARK_SIZE];
} mark_targets[] = {
    /* hint #126 = 0xD5032FDF */
    { "aarch64", 1, { { 0xdf, 0x2f, 0x03, 0xd5 } } },
    /* A32 hint #126 = 0xE320F07E; T32 nop.w hint #126 = 0xF3AF 0x807E */
    { "arm", 2, { { 0x7e, 0xf0, 0x20, 0xe3 }, { 0xaf, 0xf3, 0x7e, 0x80 } } },
};
static const struct mark_target *mark_target;
/* Exactly one of these is set, per info->version.cur. */
static qemu_plugin_insn_data_v1_fn insn_data_v1;
static qemu_plugin_insn_data_v3_fn insn_data_v3;
/* Serialises marks, so lines are numbered in the order they are written. */
static pthread_mutex_t mark_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mark_n;

/*
 * Per-TB counters (tbs=). TB i's counter is chunk i / TB_CHUNK, slot
 * i % TB_CHUNK; its start address is tb_vaddr[i]. Translation may run on
 * several threads (guest threads in user mode), hence the lock; it is
 * never taken on the execution path.
 */
#define TB_CHUNK 4096
struct tb_chunk {
    uint64_t count[TB_CHUNK];                  /* API v1 */
    struct qemu_plugin_scoreboard *score;       /* API v2: TB_CHUNK u64 per vCPU */
};
static pthread_mutex_t tb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tb_chunk **tb_chunks;
static uint64_t *tb_vaddr;
static size_t tb_n, tb_cap;
static bool tb_oom;
static pid_t main_pid;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void write_tbs(void);

static void report(const char *fmt, ...)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "insncount: ");
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    /*
     * Diagnostics go straight to stderr, not through qemu_plugin_outs():
     * QEMU only shows qemu_plugin_outs() text when run with "-d plugin"
     * (it is qemu_log_mask(CPU_LOG_PLUGIN, ...)), and an error nobody sees
     * is worse than none.
     */
    fputs(buf, stderr);
    fflush(stderr);
}

static void tb_trans_v1(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);

    (void)id;
    if (n > 0) {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                                 &insn_count, n);
    }
}

static void tb_trans_v2(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);

    (void)id;
    if (n > 0) {
        qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
            tb, QEMU_PLUGIN_INLINE_ADD_U64, score_count, n);
    }
}

/*
 * tb_slot returns the index of a new per-TB counter for a TB starting at
 * vaddr, or -1 when memory ran out (then the TB counts in the global
 * counter only and the per-TB file says so).
 */
static long tb_slot(uint64_t vaddr)
{
    long i = -1;

    pthread_mutex_lock(&tb_lock);
    if (tb_n == tb_cap) {
        size_t cap = tb_cap ? tb_cap * 2 : TB_CHUNK;
        uint64_t *v = realloc(tb_vaddr, cap * sizeof(*v));
        struct tb_chunk **c = realloc(tb_chunks, cap / TB_CHUNK * sizeof(*c));

        if (v != NULL) {
            tb_vaddr = v;
        }
        if (c != NULL) {
            tb_chunks = c;
        }
        if (v == NULL || c == NULL) {
            goto out;
        }
        for (size_t k = tb_cap / TB_CHUNK; k < cap / TB_CHUNK; k++) {
            tb_chunks[k] = NULL;
        }
        tb_cap = cap;
    }
    if (tb_chunks[tb_n / TB_CHUNK] == NULL) {
        struct tb_chunk *ch = calloc(1, sizeof(*ch));

        if (ch == NULL) {
            goto out;
        }
        if (use_v2) {
            ch->score = qemu_plugin_scoreboard_new(TB_CHUNK * sizeof(uint64_t));
            if (ch->score == NULL) {
                free(ch);
                goto out;
            }
        }
        tb_chunks[tb_n / TB_CHUNK] = ch;
    }
    tb_vaddr[tb_n] = vaddr;
    i = (long)tb_n++;
out:
    if (i < 0) {
        tb_oom = true;
    }
    pthread_mutex_unlock(&tb_lock);
    return i;
}

static void tb_trans_profile(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    long i;
    struct tb_chunk *ch;

    if (n == 0) {
        return;
    }
    i = tb_slot(qemu_plugin_tb_vaddr(tb));
    if (i < 0) {
        /* Out of memory: keep the total right, lose the attribution. */
        if (use_v2) {
            tb_trans_v2(id, tb);
        } else {
            tb_trans_v1(id, tb);
        }
        return;
    }
    ch = tb_chunks[i / TB_CHUNK];
    if (use_v2) {
        qemu_plugin_u64 e = { ch->score, (size_t)(i % TB_CHUNK) * sizeof(uint64_t) };

        qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
            tb, QEMU_PLUGIN_INLINE_ADD_U64, e, n);
    } else {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                                 &ch->count[i % TB_CHUNK], n);
    }
}

/* tb_count is the instructions executed in TB i. */
static uint64_t tb_count(size_t i)
{
    struct tb_chunk *ch = tb_chunks[i / TB_CHUNK];

    if (use_v2) {
        qemu_plugin_u64 e = { ch->score, (i % TB_CHUNK) * sizeof(uint64_t) };

        return qemu_plugin_u64_sum(e);
    }
    return __atomic_load_n(&ch->count[i % TB_CHUNK], __ATOMIC_RELAXED);
}

static bool write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

/* total_count is the instructions counted so far, over all counters. */
static uint64_t total_count(void)
{
    uint64_t total;

    if (use_v2) {
        total = qemu_plugin_u64_sum(score_count);
    } else {
        /* Written by generated code behind the compiler's back. */
        total = __atomic_load_n(&insn_count, __ATOMIC_RELAXED);
    }
    if (tbs_path != NULL) {
        pthread_mutex_lock(&tb_lock);
        for (size_t i = 0; i < tb_n; i++) {
            total += tb_count(i);
        }
        pthread_mutex_unlock(&tb_lock);
    }
    return total;
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    char line[64];
    uint64_t total;
    int len, fd;

    (void)id;
    (void)userdata;
    /*
     * Scoreboards are deliberately never freed: in user mode other guest
     * threads may still run a few instrumented blocks until the host
     * kernel reaps them, and their inline adds would hit freed memory.
     */
    total = total_count();

    /*
     * A guest fork() forks QEMU too, and the child runs this callback when
     * it exits. Only the process we were installed in reports, so a child
     * can neither overwrite the result file nor add lines to stderr.
     */
    if (getpid() != main_pid) {
        return;
    }

    if (tbs_path != NULL) {
        write_tbs();
    }
    len = snprintf(line, sizeof(line), "insns %" PRIu64 "\n", total);
    if (out_path == NULL) {
        qemu_plugin_outs(line);
        return;
    }

    fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        report("cannot open %s: %s\n", out_path, strerror(errno));
        return;
    }
    if (!write_all(fd, line, (size_t)len)) {
        report("cannot write %s: %s\n", out_path, strerror(errno));
        close(fd);
        return;
    }
    if (close(fd) != 0) {
        report("cannot close %s: %s\n", out_path, strerror(errno));
    }
}

/*
 * write_tbs writes the per-TB file: "<vaddr hex> <insns>" per TB that ran,
 * then "end <n>" (n: lines before it), so a truncated file is detected.
 * When memory ran out at translation, the first line is "incomplete".
 */
static void write_tbs(void)
{
    FILE *f = fopen(tbs_path, "we");
    size_t lines = 0;

    if (f == NULL) {
        report("cannot open %s: %s\n", tbs_path, strerror(errno));
        return;
    }
    pthread_mutex_lock(&tb_lock);
    if (tb_oom) {
        fputs("incomplete\n", f);
    }
    for (size_t i = 0; i < tb_n; i++) {
        uint64_t c = tb_count(i);

        if (c > 0) {
            fprintf(f, "%" PRIx64 " %" PRIu64 "\n", tb_vaddr[i], c);
            lines++;
        }
    }
    pthread_mutex_unlock(&tb_lock);
    fprintf(f, "end %zu\n", lines);
    if (fclose(f) != 0) {
        report("cannot write %s: %s\n", tbs_path, strerror(errno));
    }
}

/*
 * mark_exec runs each time the guest executes a mark instruction: it
 * appends "mark <N> <count>\n" to the marks file with one write(2). A mark
 * that cannot be written still uses up its number, so the reader sees the
 * gap instead of silently pairing the wrong marks.
 */
static void mark_exec(unsigned int vcpu_index, void *userdata)
{
    char line[80];
    int len, fd;

    (void)vcpu_index;
    (void)userdata;
    if (getpid() != main_pid) {
        return;  /* a fork()ed user-mode child; see Marks above */
    }
    pthread_mutex_lock(&mark_lock);
    mark_n++;
    len = snprintf(line, sizeof(line), "mark %" PRIu64 " %" PRIu64 "\n",
                   mark_n, total_count());
    fd = open(marks_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        report("mark %" PRIu64 ": cannot open %s: %s\n", mark_n, marks_path,
               strerror(errno));
    } else {
        if (!write_all(fd, line, (size_t)len)) {
            report("mark %" PRIu64 ": cannot write %s: %s\n", mark_n,
                   marks_path, strerror(errno));
        }
        close(fd);
    }
    pthread_mutex_unlock(&mark_lock);
}

/* insn_is_mark reports whether insn is a mark instruction of the target. */
static bool insn_is_mark(const struct qemu_plugin_insn *insn)
{
    unsigned char buf[MARK_SIZE];

    if (qemu_plugin_insn_size(insn) != MARK_SIZE) {
        return false;
    }
    if (insn_data_v3 != NULL) {
        if (insn_data_v3(insn, buf, sizeof(buf)) != sizeof(buf)) {
            return false;
        }
    } else {
        const void *p = insn_data_v1(insn);

        if (p == NULL) {
            return false;
        }
        memcpy(buf, p, sizeof(buf));
    }
    for (size_t k = 0; k < mark_target->n; k++) {
        if (memcmp(buf, mark_target->insn[k], MARK_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

/* tb_trans_marks counts the TB like count_tb, then hooks its marks. */
static void tb_trans_marks(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);

    count_tb(id, tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

        if (insn != NULL && insn_is_mark(insn)) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, mark_exec,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
    }
}

/*
 * setup_marks prepares marks= for the guest target: picks its mark
 * instructions and the qemu_plugin_insn_data variant, and creates (or
 * empties) the marks file. Returns 0, or -1 after reporting why not.
 */
static int setup_marks(const qemu_info_t *info)
{
    const char *target = info->target_name != NULL ? info->target_name : "";
    int fd;

    for (size_t k = 0; k < sizeof(mark_targets) / sizeof(mark_targets[0]); k++) {
        if (strcmp(target, mark_targets[k].name) == 0) {
            mark_target = &mark_targets[k];
        }
    }
    if (mark_target == NULL) {
        report("marks= knows no mark instruction for target '%s' "
               "(known: aarch64, arm)\n", target);
        return -1;
    }
    if (qemu_plugin_tb_get_insn == NULL || qemu_plugin_insn_size == NULL ||
        qemu_plugin_register_vcpu_insn_exec_cb == NULL ||
        qemu_plugin_insn_data_symbol == NULL) {
        report("marks= needs qemu_plugin_tb_get_insn, qemu_plugin_insn_data, "
               "qemu_plugin_insn_size and "
               "qemu_plugin_register_vcpu_insn_exec_cb, which this QEMU "
               "lacks\n");
        return -1;
    }
    if (info->version.cur >= 3) {
        insn_data_v3 = (qemu_plugin_insn_data_v3_fn)qemu_plugin_insn_data_symbol;
    } else {
        insn_data_v1 = (qemu_plugin_insn_data_v1_fn)qemu_plugin_insn_data_symbol;
    }
    fd = open(marks_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        report("cannot open %s: %s\n", marks_path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Returns a malloc'd absolute version of path, or NULL on error. */
static char *absolute_path(const char *path)
{
    char *cwd, *abs;
    size_t len;

    if (path[0] == '/') {
        return strdup(path);
    }
    cwd = getcwd(NULL, 0);
    if (cwd == NULL) {
        return NULL;
    }
    len = strlen(cwd) + 1 + strlen(path) + 1;
    abs = malloc(len);
    if (abs != NULL) {
        snprintf(abs, len, "%s/%s", cwd, path);
    }
    free(cwd);
    return abs;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];

        if (strncmp(arg, "out=", 4) == 0) {
            if (out_path != NULL) {
                report("out= given more than once\n");
                return -1;
            }
            if (arg[4] == '\0') {
                report("out= needs a file name\n");
                return -1;
            }
            out_path = absolute_path(arg + 4);
            if (out_path == NULL) {
                report("cannot resolve out=%s: %s\n", arg + 4,
                       strerror(errno));
                return -1;
            }
        } else if (strncmp(arg, "tbs=", 4) == 0) {
            if (tbs_path != NULL) {
                report("tbs= given more than once\n");
                return -1;
            }
            if (arg[4] == '\0') {
                report("tbs= needs a file name\n");
                return -1;
            }
            tbs_path = absolute_path(arg + 4);
            if (tbs_path == NULL) {
                report("cannot resolve tbs=%s: %s\n", arg + 4,
                       strerror(errno));
                return -1;
            }
        } else if (strncmp(arg, "marks=", 6) == 0) {
            if (marks_path != NULL) {
                report("marks= given more than once\n");
                return -1;
            }
            if (arg[6] == '\0') {
                report("marks= needs a file name\n");
                return -1;
            }
            marks_path = absolute_path(arg + 6);
            if (marks_path == NULL) {
                report("cannot resolve marks=%s: %s\n", arg + 6,
                       strerror(errno));
                return -1;
            }
        } else {
            report("unknown argument '%s' "
                   "(accepted: out=PATH, tbs=PATH, marks=PATH)\n", arg);
            return -1;
        }
    }
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    bool v1 = have_api_v1(), v2 = have_api_v2();

    if (qemu_plugin_register_vcpu_tb_trans_cb == NULL ||
        qemu_plugin_register_atexit_cb == NULL ||
        qemu_plugin_tb_n_insns == NULL || qemu_plugin_outs == NULL) {
        report("this QEMU lacks the basic plugin API "
               "(tb_trans_cb, atexit_cb, tb_n_insns, outs)\n");
        return -1;
    }

    if (v2 && info->version.cur >= 2 && qemu_plugin_version >= 2) {
        use_v2 = true;
    } else if (v1 && info->version.min <= 1 && info->version.cur >= 1 &&
               qemu_plugin_version <= 1) {
        use_v2 = false;
    } else {
        report("no usable inline counter API: QEMU plugin API versions "
               "%d..%d, plugin declared %d, scoreboard API (v2) %s, "
               "qemu_plugin_register_vcpu_tb_exec_inline (v1) %s\n",
               info->version.min, info->version.cur, qemu_plugin_version,
               v2 ? "present" : "absent", v1 ? "present" : "absent");
        return -1;
    }

    if (parse_args(argc, argv) != 0) {
        return -1;
    }

    if (use_v2) {
        score = qemu_plugin_scoreboard_new(sizeof(uint64_t));
        if (score == NULL) {
            report("qemu_plugin_scoreboard_new failed\n");
            return -1;
        }
        score_count = qemu_plugin_scoreboard_u64(score);
    }

    if (tbs_path != NULL && qemu_plugin_tb_vaddr == NULL) {
        report("tbs= needs qemu_plugin_tb_vaddr, which this QEMU lacks\n");
        return -1;
    }
    if (marks_path != NULL && setup_marks(info) != 0) {
        return -1;
    }
    main_pid = getpid();
    if (tbs_path != NULL) {
        count_tb = tb_trans_profile;
    } else {
        count_tb = use_v2 ? tb_trans_v2 : tb_trans_v1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(
        id, marks_path != NULL ? tb_trans_marks : count_tb);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
