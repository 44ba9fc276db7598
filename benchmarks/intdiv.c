//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * intdiv.c - integer division and modulo by run-time divisors: 32- and
 * 64-bit, signed and unsigned, as in hash-bucket selection, pagination,
 * date arithmetic and decimal conversion. On ARMv7 without a hardware
 * divider these become __aeabi_idivmod/__aeabi_uidivmod calls, and the
 * 64-bit ones __aeabi_ldivmod/__aeabi_uldivmod everywhere on 32-bit ARM.
 *
 * Operands span all magnitudes (tiny, powers of two, near the type limits,
 * negative); every quotient/remainder pair is checked by multiplying back.
 *
 * usage: intdiv N     (N = number of passes over 4096 operand pairs)
 */
#include "bench.h"

#define M 4096

static uint32_t a32[M], b32[M];
static uint64_t a64[M], b64[M];

/* a value of random magnitude: 1 to `bits` significant bits */
static uint64_t magnitude(bench_rng *r, unsigned bits)
{
    unsigned k = 1u + bench_rng_below(r, bits);
    uint64_t v = bench_rng_u64(r) >> (64u - k);
    uint32_t shape = bench_rng_below(r, 16);
    if (shape == 0) {
        v = UINT64_C(1) << (k - 1); /* power of two */
    } else if (shape == 1) {
        v = bits == 64 ? ~UINT64_C(0) - bench_rng_below(r, 3) /* near the limit */
                       : (uint64_t)(0xffffffffu - bench_rng_below(r, 3));
    }
    return v;
}

static void check(int cond, const char *what, unsigned long pass, int i)
{
    if (!cond) {
        bench_fail("%s: wrong quotient/remainder in pass %lu, pair %d", what, pass, i);
    }
}

int main(int argc, char **argv)
{
    unsigned long passes = bench_arg(argc, argv, "number of passes", 1, 100000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x44495621ULL);
    for (int i = 0; i < M; i++) {
        a32[i] = (uint32_t)magnitude(&rng, 32);
        b32[i] = (uint32_t)magnitude(&rng, bench_rng_below(&rng, 4) ? 12 : 32);
        if (b32[i] == 0) {
            b32[i] = 7;
        }
        a64[i] = magnitude(&rng, 64);
        uint32_t kind = bench_rng_below(&rng, 3);
        b64[i] = magnitude(&rng, kind == 0 ? 20 : kind == 1 ? 32 : 64);
        if (b64[i] == 0) {
            b64[i] = 1000003;
        }
    }

    uint64_t sum = 0;
    for (unsigned long pass = 0; pass < passes; pass++) {
        uint64_t acc = 0;
        /* rotate the pairing each pass so divisors meet different dividends */
        int shift = (int)(pass % M);
        for (int i = 0; i < M; i++) {
            int j = (i + shift) & (M - 1);

            /* unsigned 32 */
            uint32_t ua = a32[i], ub = b32[j];
            uint32_t uq = ua / ub, ur = ua % ub;
            check(ur < ub && uq * ub + ur == ua, "u32", pass, i);

            /* signed 32 */
            int32_t sa = (int32_t)(a32[i] >> 1) - (int32_t)((a32[j] & 1u) ? 0x40000000 : 0);
            int32_t sb = (int32_t)(b32[i] >> 1) * ((b32[j] & 2u) ? -1 : 1);
            if (sb == 0) {
                sb = -3;
            }
            int32_t sq = sa / sb, sr = sa % sb;
            check((int64_t)sq * sb + sr == sa && (sr == 0 || (sr < 0) == (sa < 0)) &&
                      (sr < 0 ? -(int64_t)sr : sr) < (sb < 0 ? -(int64_t)sb : sb),
                  "s32", pass, i);

            /* unsigned 64 */
            uint64_t la = a64[i], lb = b64[j];
            uint64_t lq = la / lb, lr = la % lb;
            check(lr < lb && lq * lb + lr == la, "u64", pass, i);

            /* signed 64 (never INT64_MIN, so no overflow) */
            int64_t ta = (int64_t)(a64[j] >> 1) * ((a64[i] & 4u) ? -1 : 1);
            int64_t tb = (int64_t)(b64[i] >> 1) * ((b64[j] & 8u) ? -1 : 1);
            if (tb == 0) {
                tb = 97;
            }
            int64_t tq = ta / tb, tr = ta % tb;
            check((uint64_t)tq * (uint64_t)tb + (uint64_t)tr == (uint64_t)ta &&
                      (tr == 0 || (tr < 0) == (ta < 0)) &&
                      (tr < 0 ? 0u - (uint64_t)tr : (uint64_t)tr) <
                          (tb < 0 ? 0u - (uint64_t)tb : (uint64_t)tb),
                  "s64", pass, i);

            /* 64-bit by 32-bit, e.g. bytes / block size */
            uint64_t mq = la / ub;
            uint32_t mr = (uint32_t)(la % ub);

            acc += uq ^ ((uint64_t)ur << 32);
            acc = acc * 31u + (uint32_t)sq + ((uint64_t)(uint32_t)sr << 20);
            acc += lq ^ (lr * 3u);
            acc ^= (uint64_t)tq + (uint64_t)tr * 5u;
            acc += mq + mr;

            /* print the 32-bit results, as pagination code would
             * (division by the constant 10: a multiply, not a divide) */
            char dig[24];
            int nd = 0;
            uint32_t v = uq;
            do {
                dig[nd++] = (char)('0' + v % 10u);
                v /= 10u;
            } while (v);
            dig[nd++] = '/';
            v = sr < 0 ? 0u - (uint32_t)sr : (uint32_t)sr;
            do {
                dig[nd++] = (char)('0' + v % 10u);
                v /= 10u;
            } while (v);
            acc = bench_fnv(acc, dig, (size_t)nd);
        }
        /* decimal conversion (division by the constant 10) of a few values */
        char digits[24];
        for (int i = 0; i < 64; i++) {
            uint64_t v = a64[(i * 61 + (int)pass) & (M - 1)] + acc;
            int n = 0;
            do {
                digits[n++] = (char)('0' + (int)(v % 10u));
                v /= 10u;
            } while (v);
            acc = bench_fnv(acc, digits, (size_t)n);
        }
        sum = bench_hash(sum, acc);
    }
    printf("passes: %lu x %d pairs x 5 divisions\n", passes, M);
    return bench_finish(sum);
}
