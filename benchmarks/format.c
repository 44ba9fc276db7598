//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * format.c - number formatting and parsing through glibc: snprintf of
 * integers (%d %u %x %lld, widths, flags) and doubles (%.17g %f %e %g %a),
 * and strtol/strtoul/strtoll/strtoull/strtod parsing back — what PHP's
 * echo, number_format and (float) casts, MySQL's result-set encoding and
 * every logger spend their time in.
 *
 * Doubles are either built from random bit patterns (finite only) or are
 * exact dyadic fractions k / 2^m, so their values are identical on every
 * target; glibc formats and parses them exactly. Every %.17g result must
 * parse back to the same bits, and every integer must parse back to itself.
 *
 * usage: format N     (N = number of rounds, each formatting ~12 values)
 */
#include "bench.h"

#include <errno.h>
#include <math.h>

static uint64_t text_hash = BENCH_FNV_INIT;
static uint64_t text_bytes;

static int fmt_check(int n, size_t cap, const char *what)
{
    if (n < 0 || (size_t)n >= cap) {
        bench_fail("snprintf(%s) returned %d", what, n);
    }
    return n;
}

static void absorb(const char *s, int n)
{
    text_hash = bench_fnv(text_hash, s, (size_t)n + 1);
    text_bytes += (uint64_t)n;
}

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void round_trip_double(double d, char *buf, size_t cap)
{
    int n = fmt_check(snprintf(buf, cap, "%.17g", d), cap, "%.17g");
    absorb(buf, n);
    char *end;
    errno = 0;
    double back = strtod(buf, &end);
    if (*end != '\0' || double_to_bits(back) != double_to_bits(d)) {
        bench_fail("strtod(\"%s\") does not give back %016llx", buf,
                   (unsigned long long)double_to_bits(d));
    }
}

int main(int argc, char **argv)
{
    unsigned long rounds = bench_arg(argc, argv, "number of rounds", 1, 100000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x464d5421ULL);
    char buf[512];
    char *end;

    for (unsigned long r = 0; r < rounds; r++) {
        /* 32-bit signed and unsigned integers */
        uint32_t mag = bench_rng_u32(&rng);
        mag >>= 1u + bench_rng_below(&rng, 31);
        int32_t i32 = bench_rng_below(&rng, 2) ? -(int32_t)mag : (int32_t)mag;
        int n = fmt_check(snprintf(buf, sizeof buf, "%d", i32), sizeof buf, "%d");
        absorb(buf, n);
        errno = 0;
        long lv = strtol(buf, &end, 10);
        if (*end || errno || lv != i32) {
            bench_fail("strtol(\"%s\") gave %ld", buf, lv);
        }
        uint32_t u32 = bench_rng_u32(&rng);
        u32 >>= bench_rng_below(&rng, 32);
        n = fmt_check(snprintf(buf, sizeof buf, "%x", (unsigned)u32), sizeof buf, "%x");
        absorb(buf, n);
        unsigned long ulv = strtoul(buf, &end, 16);
        if (*end || ulv != u32) {
            bench_fail("strtoul(\"%s\", 16) gave %lx", buf, ulv);
        }
        n = fmt_check(snprintf(buf, sizeof buf, "[%+8d|%-10u|%08X|%o]", i32, (unsigned)u32,
                               (unsigned)u32, (unsigned)(u32 & 0xfffu)),
                      sizeof buf, "widths");
        absorb(buf, n);

        /* 64-bit integers */
        uint64_t u64 = bench_rng_u64(&rng);
        u64 >>= bench_rng_below(&rng, 64);
        long long i64 = (long long)(u64 >> 1);
        if (bench_rng_below(&rng, 2)) {
            i64 = -i64;
        }
        n = fmt_check(snprintf(buf, sizeof buf, "%lld", i64), sizeof buf, "%lld");
        absorb(buf, n);
        errno = 0;
        long long llv = strtoll(buf, &end, 10);
        if (*end || errno || llv != i64) {
            bench_fail("strtoll(\"%s\") gave %lld", buf, llv);
        }
        n = fmt_check(snprintf(buf, sizeof buf, "%llu", (unsigned long long)u64), sizeof buf,
                      "%llu");
        absorb(buf, n);
        errno = 0;
        unsigned long long ullv = strtoull(buf, &end, 10);
        if (*end || errno || ullv != u64) {
            bench_fail("strtoull(\"%s\") gave %llu", buf, ullv);
        }
        n = fmt_check(snprintf(buf, sizeof buf, "%#llx", (unsigned long long)u64), sizeof buf,
                      "%#llx");
        absorb(buf, n);
        ullv = strtoull(buf, &end, 0);
        if (*end || ullv != u64) {
            bench_fail("strtoull(\"%s\", 0) gave %llx", buf, ullv);
        }

        /* a double from random bits: mostly moderate exponents, sometimes any */
        uint64_t bits = bench_rng_u64(&rng);
        if (bench_rng_below(&rng, 8)) {
            uint64_t e = 1023u - 40u + bench_rng_below(&rng, 80);
            bits = (bits & UINT64_C(0x800fffffffffffff)) | (e << 52);
        } else if (((bits >> 52) & 0x7ffu) == 0x7ffu) {
            bits ^= UINT64_C(1) << 62; /* no Inf or NaN */
        }
        double d = bits_to_double(bits);
        round_trip_double(d, buf, sizeof buf);
        n = fmt_check(snprintf(buf, sizeof buf, "%.6e", d), sizeof buf, "%e");
        absorb(buf, n);
        n = fmt_check(snprintf(buf, sizeof buf, "%a", d), sizeof buf, "%a");
        absorb(buf, n);
        errno = 0;
        double back = strtod(buf, &end);
        if (*end || double_to_bits(back) != bits) {
            bench_fail("strtod(\"%s\") (hex) does not give back %016llx", buf,
                       (unsigned long long)bits);
        }

        /* an exact dyadic fraction, like a price or a percentage */
        int64_t k = (int64_t)bench_rng_below(&rng, 1u << 24) - (1 << 23);
        int m = (int)bench_rng_below(&rng, 31);
        double q = ldexp((double)k, -m);
        n = fmt_check(snprintf(buf, sizeof buf, "%.2f|%10.4f|%g|%.3e", q, q, q, q), sizeof buf,
                      "%f");
        absorb(buf, n);
        round_trip_double(q, buf, sizeof buf);
        n = fmt_check(snprintf(buf, sizeof buf, "%.*f", m, q), sizeof buf, "%.*f");
        absorb(buf, n);
        /* with m fraction digits the rendering is exact, so it parses back */
        back = strtod(buf, &end);
        if (*end || back != q) {
            bench_fail("strtod(\"%s\") != %.17g", buf, q);
        }
        /* a log line mixing everything */
        n = fmt_check(snprintf(buf, sizeof buf,
                               "%s [pid %5u] %-8s took %.3f ms, %llu rows, ratio %5.1f%%",
                               (r & 1) ? "NOTICE" : "INFO", (unsigned)(u32 % 100000u),
                               (r & 2) ? "SELECT" : "UPDATE", ldexp((double)(u32 & 0xfffffu), -10),
                               (unsigned long long)(u64 % 1000000u),
                               ldexp((double)(u32 % 1024u), -3)),
                      sizeof buf, "log line");
        absorb(buf, n);
    }

    uint64_t sum = bench_hash(text_hash, text_bytes);
    printf("rounds: %lu, bytes formatted: %llu\n", rounds, (unsigned long long)text_bytes);
    return bench_finish(sum);
}
