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
 *   qemu-aarch64 -plugin build/insncount.so[,out=PATH] ./prog args...
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
 *   Any other argument makes installation fail, hence QEMU exits non-zero.
 *   Errors (bad argument, unusable QEMU, out= file not writable) are always
 *   written to stderr, prefixed "insncount: ".
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
 * Multiple vCPUs: counts of all vCPUs are summed. With API v2 every vCPU
 * has its own scoreboard slot so the sum is race free. The API v1 inline add
 * is a plain load/add/store on one shared counter and may lose updates when
 * several guest threads run concurrently; tcbot benchmarks are
 * single-threaded.
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
 *   declared version (this disables the constructor).
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
    return ch->count[i % TB_CHUNK];
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

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    char line[64];
    uint64_t total;
    int len, fd;

    (void)id;
    (void)userdata;
    if (use_v2) {
        /*
         * The scoreboard is deliberately not freed: in user mode other guest
         * threads may still run a few instrumented blocks until the host
         * kernel reaps them, and their inline adds would hit freed memory.
         */
        total = qemu_plugin_u64_sum(score_count);
    } else {
        total = insn_count;
    }
    if (tbs_path != NULL) {
        pthread_mutex_lock(&tb_lock);
        for (size_t i = 0; i < tb_n; i++) {
            total += tb_count(i);
        }
        pthread_mutex_unlock(&tb_lock);
    }

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
        } else {
            report("unknown argument '%s' (accepted: out=PATH, tbs=PATH)\n", arg);
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
    main_pid = getpid();
    if (tbs_path != NULL) {
        qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans_profile);
    } else {
        qemu_plugin_register_vcpu_tb_trans_cb(id, use_v2 ? tb_trans_v2
                                                         : tb_trans_v1);
    }
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
