//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * interp.c - a PHP-like bytecode interpreter: a switch-dispatched stack VM
 * over dynamically typed values (integers and short strings, with PHP-style
 * conversions between them), running a generated program made of nested
 * loops, conditionals, integer arithmetic and string operations.
 *
 * The generated program is fixed (fixed seed); N is the trip count of its
 * outer loop. Before that a hand-written program with known results checks
 * the VM itself, and the generated program must leave the stack empty.
 *
 * usage: interp N     (N = outer-loop iterations of the generated program)
 */
#include "bench.h"

#define STR_MAX 22
#define NVARS 16
#define STACK_MAX 64
#define CODE_MAX 8192
#define CONST_MAX 1024

enum { T_INT, T_STR };

typedef struct {
    uint64_t i;
    uint8_t type;
    uint8_t len;
    char s[STR_MAX];
} value;

enum {
    OP_HALT, OP_PUSHI, OP_PUSHS, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_DIV,
    OP_MOD, OP_AND, OP_OR, OP_XOR, OP_SHL, OP_SHR, OP_LT, OP_EQ, OP_JMP, OP_JZ, OP_JNZ,
    OP_CONCAT, OP_STRLEN, OP_ORD, OP_HASH, OP_SUBSTR, OP_DUP, OP_POP, OP_SWAP, OP_INC,
    OP_DEC, OP_ECHO, OP_COUNT
};

typedef struct {
    uint8_t op;
    uint32_t a;
} insn;

typedef struct {
    insn code[CODE_MAX];
    int ncode;
    value consts[CONST_MAX];
    int nconsts;
} program;

/* ------------------------------------------------------------ conversions */

/* PHP-ish: a string converts to the integer its leading digits spell. */
static uint64_t to_int(const value *v)
{
    if (v->type == T_INT) {
        return v->i;
    }
    uint64_t x = 0;
    for (int k = 0; k < v->len && v->s[k] >= '0' && v->s[k] <= '9'; k++) {
        x = x * 10u + (uint64_t)(v->s[k] - '0');
    }
    return x;
}

/* Writes the string form of v into out (at most STR_MAX bytes), returns len. */
static int to_str(const value *v, char *out)
{
    if (v->type == T_STR) {
        memcpy(out, v->s, v->len);
        return v->len;
    }
    char tmp[24];
    int n = 0;
    uint64_t x = v->i;
    do {
        tmp[n++] = (char)('0' + (int)(x % 10u));
        x /= 10u;
    } while (x);
    int len = n < STR_MAX ? n : STR_MAX;
    for (int k = 0; k < len; k++) {
        out[k] = tmp[n - 1 - k];
    }
    return len;
}

static void set_int(value *v, uint64_t x)
{
    v->type = T_INT;
    v->len = 0;
    v->i = x;
}

/* ------------------------------------------------------------------- VM */

typedef struct {
    uint64_t echo_hash;
    uint64_t steps;
    int final_sp;
} run_result;

static run_result run(const program *p, value *vars)
{
    value stack[STACK_MAX];
    memset(stack, 0, sizeof stack);
    int sp = 0;
    const insn *code = p->code;
    int pc = 0;
    run_result res = { BENCH_FNV_INIT, 0, 0 };
    char tmp[STR_MAX * 2];

    for (;;) {
        const insn in = code[pc++];
        res.steps++;
        switch (in.op) {
        case OP_HALT:
            res.final_sp = sp;
            return res;
        case OP_PUSHI:
        case OP_PUSHS:
            stack[sp++] = p->consts[in.a];
            break;
        case OP_LOAD:
            stack[sp++] = vars[in.a];
            break;
        case OP_STORE:
            vars[in.a] = stack[--sp];
            break;
        case OP_ADD:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) + to_int(&stack[sp]));
            break;
        case OP_SUB:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) - to_int(&stack[sp]));
            break;
        case OP_MUL:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) * to_int(&stack[sp]));
            break;
        case OP_DIV: {
            sp--;
            uint64_t d = to_int(&stack[sp]);
            set_int(&stack[sp - 1], d ? to_int(&stack[sp - 1]) / d : 0);
            break;
        }
        case OP_MOD: {
            sp--;
            uint64_t d = to_int(&stack[sp]);
            set_int(&stack[sp - 1], d ? to_int(&stack[sp - 1]) % d : 0);
            break;
        }
        case OP_AND:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) & to_int(&stack[sp]));
            break;
        case OP_OR:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) | to_int(&stack[sp]));
            break;
        case OP_XOR:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) ^ to_int(&stack[sp]));
            break;
        case OP_SHL:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) << (to_int(&stack[sp]) & 63u));
            break;
        case OP_SHR:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) >> (to_int(&stack[sp]) & 63u));
            break;
        case OP_LT:
            sp--;
            set_int(&stack[sp - 1], to_int(&stack[sp - 1]) < to_int(&stack[sp]));
            break;
        case OP_EQ: {
            sp--;
            value *a = &stack[sp - 1], *b = &stack[sp];
            uint64_t eq;
            if (a->type == T_STR && b->type == T_STR) {
                eq = a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
            } else {
                eq = to_int(a) == to_int(b);
            }
            set_int(a, eq);
            break;
        }
        case OP_JMP:
            pc = (int)in.a;
            break;
        case OP_JZ:
            sp--;
            if (to_int(&stack[sp]) == 0) {
                pc = (int)in.a;
            }
            break;
        case OP_JNZ:
            sp--;
            if (to_int(&stack[sp]) != 0) {
                pc = (int)in.a;
            }
            break;
        case OP_CONCAT: {
            sp--;
            int la = to_str(&stack[sp - 1], tmp);
            int lb = to_str(&stack[sp], tmp + la);
            int len = la + lb > STR_MAX ? STR_MAX : la + lb;
            value *d = &stack[sp - 1];
            memcpy(d->s, tmp, (size_t)len);
            d->len = (uint8_t)len;
            d->type = T_STR;
            d->i = 0;
            break;
        }
        case OP_STRLEN: {
            value *v = &stack[sp - 1];
            set_int(v, (uint64_t)to_str(v, tmp));
            break;
        }
        case OP_ORD: {
            value *v = &stack[sp - 1];
            int len = to_str(v, tmp);
            set_int(v, len ? (unsigned char)tmp[0] : 0u);
            break;
        }
        case OP_HASH: {
            value *v = &stack[sp - 1];
            int len = to_str(v, tmp);
            set_int(v, bench_fnv(BENCH_FNV_INIT, tmp, (size_t)len));
            break;
        }
        case OP_SUBSTR: {
            /* keep the last a characters */
            value *v = &stack[sp - 1];
            int len = to_str(v, tmp);
            int keep = len < (int)in.a ? len : (int)in.a;
            memcpy(v->s, tmp + len - keep, (size_t)keep);
            v->len = (uint8_t)keep;
            v->type = T_STR;
            v->i = 0;
            break;
        }
        case OP_DUP:
            stack[sp] = stack[sp - 1];
            sp++;
            break;
        case OP_POP:
            sp--;
            break;
        case OP_SWAP: {
            value t = stack[sp - 1];
            stack[sp - 1] = stack[sp - 2];
            stack[sp - 2] = t;
            break;
        }
        case OP_INC:
            set_int(&vars[in.a], to_int(&vars[in.a]) + 1u);
            break;
        case OP_DEC:
            set_int(&vars[in.a], to_int(&vars[in.a]) - 1u);
            break;
        case OP_ECHO: {
            sp--;
            int len = to_str(&stack[sp], tmp);
            res.echo_hash = bench_fnv(res.echo_hash, tmp, (size_t)len);
            res.echo_hash = bench_fnv(res.echo_hash, "\n", 1);
            break;
        }
        default:
            bench_fail("bad opcode %u at %d", in.op, pc - 1);
        }
        if (sp < 0 || sp >= STACK_MAX - 1) {
            bench_fail("stack out of range (%d) at pc %d", sp, pc - 1);
        }
    }
}

/* -------------------------------------------------------------- assembler */

static void emit(program *p, int op, uint32_t a)
{
    if (p->ncode == CODE_MAX) {
        bench_fail("program too long");
    }
    p->code[p->ncode].op = (uint8_t)op;
    p->code[p->ncode].a = a;
    p->ncode++;
}

static uint32_t const_int(program *p, uint64_t x)
{
    if (p->nconsts == CONST_MAX) {
        bench_fail("too many constants");
    }
    set_int(&p->consts[p->nconsts], x);
    return (uint32_t)p->nconsts++;
}

static uint32_t const_str(program *p, const char *s)
{
    if (p->nconsts == CONST_MAX) {
        bench_fail("too many constants");
    }
    value *v = &p->consts[p->nconsts];
    size_t len = strlen(s);
    v->type = T_STR;
    v->i = 0;
    v->len = (uint8_t)(len > STR_MAX ? STR_MAX : len);
    memset(v->s, 0, sizeof v->s);
    memcpy(v->s, s, v->len);
    return (uint32_t)p->nconsts++;
}

static void reset(program *p)
{
    p->ncode = 0;
    p->nconsts = 0;
}

/* ------------------------------------------------- hand-written self-test */

static void self_test(void)
{
    static program p;
    value vars[NVARS];
    memset(vars, 0, sizeof vars);
    reset(&p);
    /* $s = 0; $i = 1000; do { $s += $i; } while (--$i); echo $s; */
    emit(&p, OP_PUSHI, const_int(&p, 0));
    emit(&p, OP_STORE, 0);
    emit(&p, OP_PUSHI, const_int(&p, 1000));
    emit(&p, OP_STORE, 1);
    int top = p.ncode;
    emit(&p, OP_LOAD, 0);
    emit(&p, OP_LOAD, 1);
    emit(&p, OP_ADD, 0);
    emit(&p, OP_STORE, 0);
    emit(&p, OP_DEC, 1);
    emit(&p, OP_LOAD, 1);
    emit(&p, OP_JNZ, (uint32_t)top);
    /* $t = "ab" . 12 . "7x"; $u = strlen($t) * 10 + ("12x" + 30); */
    emit(&p, OP_PUSHS, const_str(&p, "ab"));
    emit(&p, OP_PUSHI, const_int(&p, 12));
    emit(&p, OP_CONCAT, 0);
    emit(&p, OP_PUSHS, const_str(&p, "7x"));
    emit(&p, OP_CONCAT, 0);
    emit(&p, OP_DUP, 0);
    emit(&p, OP_STORE, 2);
    emit(&p, OP_STRLEN, 0);
    emit(&p, OP_PUSHI, const_int(&p, 10));
    emit(&p, OP_MUL, 0);
    emit(&p, OP_PUSHS, const_str(&p, "12x"));
    emit(&p, OP_PUSHI, const_int(&p, 30));
    emit(&p, OP_ADD, 0);
    emit(&p, OP_ADD, 0);
    emit(&p, OP_STORE, 3);
    /* $v = (7 - 9) >> 60; $w = 17 % 5 == 2; */
    emit(&p, OP_PUSHI, const_int(&p, 7));
    emit(&p, OP_PUSHI, const_int(&p, 9));
    emit(&p, OP_SUB, 0);
    emit(&p, OP_PUSHI, const_int(&p, 60));
    emit(&p, OP_SHR, 0);
    emit(&p, OP_STORE, 4);
    emit(&p, OP_PUSHI, const_int(&p, 17));
    emit(&p, OP_PUSHI, const_int(&p, 5));
    emit(&p, OP_MOD, 0);
    emit(&p, OP_PUSHS, const_str(&p, "2"));
    emit(&p, OP_EQ, 0);
    emit(&p, OP_STORE, 5);
    emit(&p, OP_HALT, 0);
    run_result r = run(&p, vars);
    if (r.final_sp != 0 || vars[0].type != T_INT || vars[0].i != 500500u) {
        bench_fail("VM self-test: loop sum is %llu, expected 500500",
                   (unsigned long long)vars[0].i);
    }
    if (vars[2].type != T_STR || vars[2].len != 6 || memcmp(vars[2].s, "ab127x", 6) != 0) {
        bench_fail("VM self-test: concatenation gave \"%.*s\"", vars[2].len, vars[2].s);
    }
    if (vars[3].i != 102u || vars[4].i != 15u || vars[5].i != 1u) {
        bench_fail("VM self-test: arithmetic gave %llu %llu %llu",
                   (unsigned long long)vars[3].i, (unsigned long long)vars[4].i,
                   (unsigned long long)vars[5].i);
    }
}

/* ----------------------------------------------------- program generator */

/* Variables: 0 outer counter, 1..9 integers, 10..12 strings, 13..15 inner
 * loop counters. */
#define V_OUTER 0
#define V_INT0 1
#define V_NINT 9
#define V_STR0 10
#define V_NSTR 3
#define V_LOOP0 13

static const int binops[] = { OP_ADD, OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_AND, OP_OR,
                              OP_SHL, OP_SHR, OP_DIV, OP_MOD, OP_LT, OP_EQ, OP_ADD };

static void gen_expr(program *p, bench_rng *r, int depth)
{
    if (depth == 0 || bench_rng_below(r, 10) < 3) {
        uint32_t k = bench_rng_below(r, 10);
        if (k < 6) {
            emit(p, OP_LOAD, V_INT0 + bench_rng_below(r, V_NINT));
        } else if (k < 9) {
            emit(p, OP_PUSHI, const_int(p, bench_rng_range(r, 1, 1000)));
        } else {
            /* a string operand: numeric-prefix conversion */
            emit(p, OP_LOAD, V_STR0 + bench_rng_below(r, V_NSTR));
            emit(p, bench_rng_below(r, 2) ? OP_STRLEN : OP_ORD, 0);
        }
        return;
    }
    gen_expr(p, r, depth - 1);
    gen_expr(p, r, depth - 1);
    uint32_t op = (uint32_t)binops[bench_rng_below(r, sizeof binops / sizeof binops[0])];
    if (op == OP_SHL || op == OP_SHR) {
        emit(p, OP_PUSHI, const_int(p, 7));
        emit(p, OP_AND, 0);
    }
    emit(p, (int)op, 0);
}

static void gen_assign(program *p, bench_rng *r)
{
    gen_expr(p, r, (int)bench_rng_range(r, 1, 3));
    emit(p, OP_STORE, V_INT0 + bench_rng_below(r, V_NINT));
}

static void gen_string_stmt(program *p, bench_rng *r)
{
    static const char *const lits[] = { "id=", "&page=", "<td>", "</td>", "user_", "-", "SELECT ", "x" };
    uint32_t dst = V_STR0 + bench_rng_below(r, V_NSTR);
    uint32_t kind = bench_rng_below(r, 4);
    emit(p, OP_LOAD, dst);
    if (kind == 0) {
        emit(p, OP_PUSHS, const_str(p, lits[bench_rng_below(r, 8)]));
    } else if (kind == 1) {
        emit(p, OP_LOAD, V_STR0 + bench_rng_below(r, V_NSTR));
    } else {
        emit(p, OP_LOAD, V_INT0 + bench_rng_below(r, V_NINT));
        emit(p, OP_PUSHI, const_int(p, 1000));
        emit(p, OP_MOD, 0);
    }
    emit(p, OP_CONCAT, 0);
    emit(p, OP_SUBSTR, bench_rng_range(r, 6, 16));
    emit(p, OP_STORE, dst);
    if (bench_rng_below(r, 3) == 0) {
        /* $i = $i ^ hash($s) */
        uint32_t v = V_INT0 + bench_rng_below(r, V_NINT);
        emit(p, OP_LOAD, dst);
        emit(p, OP_HASH, 0);
        emit(p, OP_LOAD, v);
        emit(p, OP_XOR, 0);
        emit(p, OP_STORE, v);
    }
}

static void gen_block(program *p, bench_rng *r, int nstmts, int depth);

static void gen_stmt(program *p, bench_rng *r, int depth)
{
    uint32_t k = bench_rng_below(r, 20);
    if (k < 9) {
        gen_assign(p, r);
    } else if (k < 13) {
        gen_string_stmt(p, r);
    } else if (k < 16) {
        /* if (expr) { ... } else { ... } */
        gen_expr(p, r, 1);
        emit(p, OP_PUSHI, const_int(p, 1));
        emit(p, OP_AND, 0);
        int jz = p->ncode;
        emit(p, OP_JZ, 0);
        gen_block(p, r, (int)bench_rng_range(r, 1, 3), depth + 1);
        int jmp = p->ncode;
        emit(p, OP_JMP, 0);
        p->code[jz].a = (uint32_t)p->ncode;
        gen_block(p, r, (int)bench_rng_range(r, 1, 2), depth + 1);
        p->code[jmp].a = (uint32_t)p->ncode;
    } else if (k < 18 && depth < 2) {
        /* for ($j = m; $j; $j--) { ... } */
        uint32_t lv = V_LOOP0 + (uint32_t)depth;
        emit(p, OP_PUSHI, const_int(p, bench_rng_range(r, 2, 6)));
        emit(p, OP_STORE, lv);
        int top = p->ncode;
        gen_block(p, r, (int)bench_rng_range(r, 1, 3), depth + 1);
        emit(p, OP_DEC, lv);
        emit(p, OP_LOAD, lv);
        emit(p, OP_JNZ, (uint32_t)top);
    } else if (k < 19) {
        emit(p, OP_LOAD, bench_rng_below(r, 2) ? V_INT0 + bench_rng_below(r, V_NINT)
                                               : V_STR0 + bench_rng_below(r, V_NSTR));
        emit(p, OP_ECHO, 0);
    } else {
        /* stack shuffling: $a = $b - $a via SWAP */
        uint32_t a = V_INT0 + bench_rng_below(r, V_NINT);
        emit(p, OP_LOAD, a);
        emit(p, OP_LOAD, V_INT0 + bench_rng_below(r, V_NINT));
        emit(p, OP_SWAP, 0);
        emit(p, OP_SUB, 0);
        emit(p, OP_DUP, 0);
        emit(p, OP_STORE, a);
        emit(p, OP_POP, 0);
    }
}

static void gen_block(program *p, bench_rng *r, int nstmts, int depth)
{
    for (int i = 0; i < nstmts; i++) {
        gen_stmt(p, r, depth);
    }
}

static void gen_program(program *p, bench_rng *r, unsigned long iters)
{
    reset(p);
    emit(p, OP_PUSHI, const_int(p, iters));
    emit(p, OP_STORE, V_OUTER);
    for (uint32_t v = 0; v < V_NINT; v++) {
        uint64_t init = bench_rng_u64(r);
        init >>= bench_rng_below(r, 64);
        emit(p, OP_PUSHI, const_int(p, init));
        emit(p, OP_STORE, V_INT0 + v);
    }
    static const char *const init[V_NSTR] = { "index.php", "42", "" };
    for (uint32_t v = 0; v < V_NSTR; v++) {
        emit(p, OP_PUSHS, const_str(p, init[v]));
        emit(p, OP_STORE, V_STR0 + v);
    }
    int top = p->ncode;
    gen_block(p, r, 24, 0);
    emit(p, OP_DEC, V_OUTER);
    emit(p, OP_LOAD, V_OUTER);
    emit(p, OP_JNZ, (uint32_t)top);
    for (uint32_t v = 0; v < NVARS; v++) {
        emit(p, OP_LOAD, v);
        emit(p, OP_ECHO, 0);
    }
    emit(p, OP_HALT, 0);
}

int main(int argc, char **argv)
{
    unsigned long n = bench_arg(argc, argv, "outer-loop iterations", 1, 100000000);
    self_test();

    static program prog;
    bench_rng rng;
    bench_rng_seed(&rng, 0x5048505ULL);
    gen_program(&prog, &rng, n);

    value vars[NVARS];
    memset(vars, 0, sizeof vars);
    run_result r = run(&prog, vars);
    if (r.final_sp != 0) {
        bench_fail("generated program left %d values on the stack", r.final_sp);
    }
    if (vars[V_OUTER].type != T_INT || vars[V_OUTER].i != 0) {
        bench_fail("outer loop counter ended at %llu", (unsigned long long)vars[V_OUTER].i);
    }
    uint64_t sum = bench_hash(r.echo_hash, r.steps);
    for (int v = 0; v < NVARS; v++) {
        char tmp[STR_MAX];
        int len = to_str(&vars[v], tmp);
        sum = bench_hash(sum, bench_fnv(vars[v].type, tmp, (size_t)len));
    }
    printf("program: %d insns, executed: %llu\n", prog.ncode, (unsigned long long)r.steps);
    return bench_finish(sum);
}
