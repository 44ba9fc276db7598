/*
 * Minimal declarations of the QEMU TCG plugin C ABI used by insncount.c.
 *
 * Debian does not ship <qemu-plugin.h>, so this header declares only the
 * handful of types and functions tcbot needs, written from the documented
 * plugin API (docs/devel/tcg-plugins.rst and include/qemu/qemu-plugin.h).
 *
 * API history that matters here:
 *   - API version 1 (QEMU up to 8.2, e.g. Debian 12's 7.2): QEMU accepts
 *     plugins declaring versions in [0, 1]. Inline counters use
 *     qemu_plugin_register_vcpu_tb_exec_inline(tb, op, void *ptr, imm).
 *   - API version 2 (QEMU 9.0): per-vCPU "scoreboards" were added
 *     (qemu_plugin_scoreboard_new, qemu_plugin_u64,
 *     qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu, qemu_plugin_u64_sum)
 *     and the pointer-based *_exec_inline functions were removed. The
 *     loader's minimum accepted version became 2.
 *   - API version 3 (QEMU 9.1) changed qemu_plugin_insn_data from
 *     returning a pointer to the instruction's bytes to copying them into
 *     a caller's buffer (same symbol, new signature; see below).
 *   - API versions 4..5 (QEMU 9.2 onwards; 10.2 has 5) changed or added
 *     functions we do not use; the minimum accepted version is still 2.
 *
 * Every QEMU function is declared weak: the plugin is dlopen()ed with
 * RTLD_NOW, so a strong reference to a function that the running QEMU does
 * not export would make loading fail with an obscure "undefined symbol"
 * error. Weak references resolve to NULL instead and insncount.c picks the
 * API that is actually present.
 */
#ifndef TCBOT_QEMU_PLUGIN_API_H
#define TCBOT_QEMU_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
/* A QEMU-provided function that may be absent from the running QEMU. */
#define QEMU_PLUGIN_WEAK_API __attribute__((weak, visibility("default")))

typedef uint64_t qemu_plugin_id_t;

/* Layout identical in API versions 1 through 5. */
typedef struct qemu_info_t {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

struct qemu_plugin_tb;          /* opaque translation block handle */
struct qemu_plugin_insn;        /* opaque instruction handle (of a TB) */
struct qemu_plugin_scoreboard;  /* opaque, API >= 2 */

/* A uint64_t inside each per-vCPU entry of a scoreboard (API >= 2). */
typedef struct {
    struct qemu_plugin_scoreboard *score;
    size_t offset;
} qemu_plugin_u64;

enum qemu_plugin_op {
    QEMU_PLUGIN_INLINE_ADD_U64 = 0,
};

/* What a C callback may do with the vCPU's registers; same in all versions. */
enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS = 0,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index,
                                            void *userdata);

/* Implemented by the plugin, looked up by QEMU's loader. */
extern QEMU_PLUGIN_EXPORT int qemu_plugin_version;
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv);

/* Present in every API version we support. */
QEMU_PLUGIN_WEAK_API
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb);
QEMU_PLUGIN_WEAK_API
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    qemu_plugin_udata_cb_t cb, void *userdata);
QEMU_PLUGIN_WEAK_API
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
QEMU_PLUGIN_WEAK_API
void qemu_plugin_outs(const char *string);
/* The guest virtual address of a TB's first instruction (QEMU >= 4.2). */
QEMU_PLUGIN_WEAK_API
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

/*
 * Instructions of a TB, valid only inside the translation callback
 * (all API versions; insncount uses them only for marks=).
 */
QEMU_PLUGIN_WEAK_API
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                 size_t idx);
QEMU_PLUGIN_WEAK_API
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
/* Calls cb(vcpu_index, userdata) each time insn is about to execute. */
QEMU_PLUGIN_WEAK_API
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags,
                                            void *userdata);

/*
 * qemu_plugin_insn_data, the instruction's bytes in guest memory order,
 * has two incompatible signatures under one symbol name:
 *   API v1, v2 (QEMU <= 9.0):
 *     const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
 *   API >= 3 (QEMU >= 9.1): copies at most len bytes, returns how many:
 *     size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn,
 *                                  void *dest, size_t len);
 * So the symbol is declared under another C name with the neutral type
 * void (void), which cannot be called by mistake, and the caller casts it
 * to one of the two types below, chosen by info->version.cur at install
 * time. (void (*)(void) converts to any function pointer type without a
 * -Wcast-function-type warning.)
 */
QEMU_PLUGIN_WEAK_API
void qemu_plugin_insn_data_symbol(void) __asm__("qemu_plugin_insn_data");
typedef const void *(*qemu_plugin_insn_data_v1_fn)(
    const struct qemu_plugin_insn *insn);
typedef size_t (*qemu_plugin_insn_data_v3_fn)(
    const struct qemu_plugin_insn *insn, void *dest, size_t len);

/* API version 1 only (removed in QEMU 9.0). */
QEMU_PLUGIN_WEAK_API
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
                                              enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);

/* API version >= 2 (QEMU 9.0 and later). */
QEMU_PLUGIN_WEAK_API
struct qemu_plugin_scoreboard *qemu_plugin_scoreboard_new(size_t element_size);
QEMU_PLUGIN_WEAK_API
void qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
    struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
    qemu_plugin_u64 entry, uint64_t imm);
QEMU_PLUGIN_WEAK_API
uint64_t qemu_plugin_u64_sum(qemu_plugin_u64 entry);

/* Upstream provides this as a macro; same meaning. */
#define qemu_plugin_scoreboard_u64(score) ((qemu_plugin_u64){ (score), 0 })

#endif /* TCBOT_QEMU_PLUGIN_API_H */
