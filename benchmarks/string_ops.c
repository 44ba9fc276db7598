//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * string_ops.c - the glibc string and memory routines that dominate
 * web-server and interpreter profiles: memcpy, memmove (overlapping both
 * ways), memset, memcmp, memchr, strlen, strcmp, strchr, on sizes from 0 to
 * 8 KiB (mostly small) and every source/destination alignment.
 *
 * Every call's result is checked against what the set-up guarantees
 * (known lengths and positions, known first difference) and copies are
 * compared against a byte-by-byte reference.
 *
 * usage: string_ops N     (N = number of rounds, each calling every routine once)
 */
#include "bench.h"

#define AREA 32768
#define MAXLEN 8192

static unsigned char src_mem[AREA + 128];
static unsigned char dst_mem[AREA + 128];
static unsigned char ref_mem[MAXLEN + 128];

static size_t pick_len(bench_rng *r)
{
    uint32_t k = bench_rng_below(r, 100);
    if (k < 60) {
        return bench_rng_below(r, 65);
    }
    if (k < 88) {
        return bench_rng_range(r, 65, 512);
    }
    return bench_rng_range(r, 513, MAXLEN);
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* a byte that is never 0 and never the marker 0x01 */
static unsigned char fill_byte(bench_rng *r)
{
    return (unsigned char)bench_rng_range(r, 2, 255);
}

int main(int argc, char **argv)
{
    unsigned long rounds = bench_arg(argc, argv, "number of rounds", 1, 100000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x5354524fULL);
    for (size_t i = 0; i < sizeof src_mem; i++) {
        src_mem[i] = fill_byte(&rng);
    }
    memset(dst_mem, 0x55, sizeof dst_mem);

    uint64_t sum = 0;
    uint64_t bytes = 0;
    for (unsigned long r = 0; r < rounds; r++) {
        /* --- memcpy */
        size_t len = pick_len(&rng);
        size_t so = bench_rng_below(&rng, 64), d0 = bench_rng_below(&rng, 64);
        size_t sbase = so + bench_rng_below(&rng, (uint32_t)(AREA - MAXLEN)) / 64u * 64u;
        size_t dbase = d0 + bench_rng_below(&rng, (uint32_t)(AREA - MAXLEN)) / 64u * 64u;
        memcpy(dst_mem + dbase, src_mem + sbase, len);
        if (memcmp(dst_mem + dbase, src_mem + sbase, len) != 0) {
            bench_fail("round %lu: memcpy of %lu bytes differs", r, (unsigned long)len);
        }
        bytes += len;

        /* --- memmove within dst, overlapping by a random amount */
        len = pick_len(&rng);
        size_t from = bench_rng_below(&rng, (uint32_t)(AREA - 3 * MAXLEN)) + MAXLEN;
        size_t delta = bench_rng_range(&rng, 1, (uint32_t)(len < 64 ? 64 : len));
        size_t to = bench_rng_below(&rng, 2) ? from + delta : from - delta;
        if (len <= 256 || bench_rng_below(&rng, 8) == 0) {
            for (size_t i = 0; i < len; i++) {
                ref_mem[i] = dst_mem[from + i];
            }
            memmove(dst_mem + to, dst_mem + from, len);
            for (size_t i = 0; i < len; i++) {
                if (dst_mem[to + i] != ref_mem[i]) {
                    bench_fail("round %lu: memmove(%lu <- %lu, %lu) wrong at byte %lu", r,
                               (unsigned long)to, (unsigned long)from, (unsigned long)len,
                               (unsigned long)i);
                }
            }
        } else {
            memmove(dst_mem + to, dst_mem + from, len);
        }
        bytes += len;

        /* --- memset, then memchr must find the byte planted after it */
        len = pick_len(&rng);
        size_t at = bench_rng_below(&rng, 64);
        at += bench_rng_below(&rng, (uint32_t)(AREA - MAXLEN - 64));
        unsigned char c = fill_byte(&rng);
        memset(dst_mem + at, c, len);
        dst_mem[at + len] = 0x01;
        const unsigned char *hit = memchr(dst_mem + at, 0x01, len + 1);
        if (hit != dst_mem + at + len) {
            bench_fail("round %lu: memchr after memset(%lu) found the marker at %ld", r,
                       (unsigned long)len, hit ? (long)(hit - (dst_mem + at)) : -1L);
        }
        dst_mem[at + len] = c;
        bytes += len;

        /* --- strlen / strchr on a string of known length in src */
        len = pick_len(&rng);
        size_t sp = bench_rng_below(&rng, (uint32_t)(AREA - MAXLEN - 64));
        unsigned char saved = src_mem[sp + len];
        src_mem[sp + len] = 0;
        size_t sl = strlen((const char *)src_mem + sp);
        if (sl != len) {
            bench_fail("round %lu: strlen gave %lu, expected %lu", r, (unsigned long)sl,
                       (unsigned long)len);
        }
        /* plant a marker; strchr must find it (or the terminator for '\0') */
        size_t mpos = len ? bench_rng_below(&rng, (uint32_t)len) : 0;
        unsigned char old = src_mem[sp + mpos];
        if (len) {
            src_mem[sp + mpos] = 0x01;
        }
        const char *found = strchr((const char *)src_mem + sp, 0x01);
        const char *want = len ? (const char *)src_mem + sp + mpos : NULL;
        if (found != want) {
            bench_fail("round %lu: strchr found the marker at the wrong place", r);
        }
        const char *term = strchr((const char *)src_mem + sp, '\0');
        if (term != (const char *)src_mem + sp + len) {
            bench_fail("round %lu: strchr('\\0') is not at the end", r);
        }
        src_mem[sp + mpos] = old;
        sum = bench_hash(sum, sl * 131u + mpos);

        /* --- strcmp / memcmp with a known first difference */
        size_t dp = bench_rng_below(&rng, (uint32_t)(AREA - MAXLEN - 64));
        memcpy(dst_mem + dp, src_mem + sp, len + 1);
        int expect = 0;
        if (len && bench_rng_below(&rng, 4)) {
            size_t diff = bench_rng_below(&rng, (uint32_t)len);
            unsigned char a = src_mem[sp + diff];
            unsigned char b = fill_byte(&rng);
            if (b == a) {
                b = (unsigned char)(a == 255 ? 2 : a + 1);
            }
            dst_mem[dp + diff] = b;
            expect = a < b ? -1 : 1;
        }
        int s1 = sign(strcmp((const char *)src_mem + sp, (const char *)dst_mem + dp));
        int s2 = sign(memcmp(src_mem + sp, dst_mem + dp, len));
        if (s1 != expect || s2 != expect) {
            bench_fail("round %lu: strcmp/memcmp of %lu bytes gave %d/%d, expected %d", r,
                       (unsigned long)len, s1, s2, expect);
        }
        src_mem[sp + len] = saved;
        sum = bench_hash(sum, (uint64_t)(expect + 1) + len * 4u);
        bytes += 3 * len;

        /* keep the source area changing slowly */
        size_t change = bench_rng_below(&rng, AREA);
        src_mem[change] = fill_byte(&rng);
    }
    sum = bench_hash(sum, bench_fnv(BENCH_FNV_INIT, dst_mem, sizeof dst_mem));
    sum = bench_hash(sum, bench_fnv(BENCH_FNV_INIT, src_mem, sizeof src_mem));
    sum = bench_hash(sum, bytes);
    printf("rounds: %lu, bytes touched: %llu\n", rounds, (unsigned long long)bytes);
    return bench_finish(sum);
}
