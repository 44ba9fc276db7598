//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * matmul.c - double-precision dense matrix multiply (naive i-j-k, cache
 * blocked i-k-j, and dot products against a transposed operand), the inner
 * kernel of analytics and image processing.
 *
 * The inputs are dyadic fractions k/256 with |k| <= 1024, so with n <= 256
 * every product and every partial sum of C = A*B and of D = C*A is exactly
 * representable: all three algorithms, with or without fused multiply-add,
 * in any summation order, give bit-identical results, which is checked.
 * A final row-normalisation (divisions and additions only, rounded to a
 * coarse grid) adds non-exact arithmetic to the checksum.
 *
 * usage: matmul N     (N = matrix dimension, 8..256)
 */
#include "bench.h"

#include <math.h>

#define BLOCK 32

static double *alloc_matrix(size_t n)
{
    double *m = calloc(n * n, sizeof *m);
    if (!m) {
        bench_fail("out of memory");
    }
    return m;
}

static void mul_naive(const double *a, const double *b, double *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t k = 0; k < n; k++) {
                s += a[i * n + k] * b[k * n + j];
            }
            c[i * n + j] = s;
        }
    }
}

static void mul_blocked(const double *a, const double *b, double *c, size_t n)
{
    memset(c, 0, n * n * sizeof *c);
    for (size_t ii = 0; ii < n; ii += BLOCK) {
        size_t ie = ii + BLOCK < n ? ii + BLOCK : n;
        for (size_t kk = 0; kk < n; kk += BLOCK) {
            size_t ke = kk + BLOCK < n ? kk + BLOCK : n;
            for (size_t jj = 0; jj < n; jj += BLOCK) {
                size_t je = jj + BLOCK < n ? jj + BLOCK : n;
                for (size_t i = ii; i < ie; i++) {
                    for (size_t k = kk; k < ke; k++) {
                        double aik = a[i * n + k];
                        double *ci = &c[i * n];
                        const double *bk = &b[k * n];
                        for (size_t j = jj; j < je; j++) {
                            ci[j] += aik * bk[j];
                        }
                    }
                }
            }
        }
    }
}

static void mul_transposed(const double *a, const double *b, double *c, double *bt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            bt[j * n + i] = b[i * n + j];
        }
    }
    for (size_t i = 0; i < n; i++) {
        const double *ai = &a[i * n];
        for (size_t j = 0; j < n; j++) {
            const double *bj = &bt[j * n];
            /* two accumulators: a different summation order */
            double s0 = 0.0, s1 = 0.0;
            size_t k = 0;
            for (; k + 1 < n; k += 2) {
                s0 += ai[k] * bj[k];
                s1 += ai[k + 1] * bj[k + 1];
            }
            if (k < n) {
                s0 += ai[k] * bj[k];
            }
            c[i * n + j] = s0 + s1;
        }
    }
}

static void compare(const double *x, const double *y, size_t n, const char *what)
{
    for (size_t i = 0; i < n * n; i++) {
        if (x[i] != y[i]) {
            bench_fail("%s: element (%lu,%lu) is %.17g, expected %.17g", what,
                       (unsigned long)(i / n), (unsigned long)(i % n), y[i], x[i]);
        }
    }
}

/* exact value of an element as an integer in units of 2^-scale */
static uint64_t exact_units(double v, int scale)
{
    double u = ldexp(v, scale);
    if (u != floor(u) || fabs(u) >= 9007199254740992.0) {
        bench_fail("value %.17g is not a multiple of 2^-%d", v, scale);
    }
    return (uint64_t)(int64_t)u;
}

int main(int argc, char **argv)
{
    size_t n = bench_arg(argc, argv, "matrix dimension", 8, 256);
    bench_rng rng;
    bench_rng_seed(&rng, 0x4d41544dULL);
    double *a = alloc_matrix(n), *b = alloc_matrix(n);
    double *c1 = alloc_matrix(n), *c2 = alloc_matrix(n), *c3 = alloc_matrix(n);
    double *d1 = alloc_matrix(n), *d2 = alloc_matrix(n), *d3 = alloc_matrix(n);
    double *tmp = alloc_matrix(n);
    for (size_t i = 0; i < n * n; i++) {
        a[i] = ldexp((double)((int)bench_rng_below(&rng, 2049) - 1024), -8);
        b[i] = ldexp((double)((int)bench_rng_below(&rng, 2049) - 1024), -8);
    }

    mul_naive(a, b, c1, n);
    mul_blocked(a, b, c2, n);
    mul_transposed(a, b, c3, tmp, n);
    compare(c1, c2, n, "C blocked vs naive");
    compare(c1, c3, n, "C transposed vs naive");

    mul_naive(c1, a, d1, n);
    mul_blocked(c2, a, d2, n);
    mul_transposed(c3, a, d3, tmp, n);
    compare(d1, d2, n, "D blocked vs naive");
    compare(d1, d3, n, "D transposed vs naive");

    uint64_t sum = 0;
    for (size_t i = 0; i < n * n; i++) {
        sum = bench_hash(sum, exact_units(c1[i], 16) * 3u + exact_units(d1[i], 24));
    }
    /* trace, exactly */
    uint64_t trace = 0;
    for (size_t i = 0; i < n; i++) {
        trace += exact_units(d1[i * n + i], 24);
    }
    sum = bench_hash(sum, trace);
    /* row normalisation: divisions and additions (no multiply, so nothing to
     * fuse), rounded to a grid far coarser than any rounding difference */
    int64_t qsum = 0;
    for (size_t i = 0; i < n; i++) {
        double maxabs = 1.0;
        for (size_t j = 0; j < n; j++) {
            double v = fabs(d1[i * n + j]);
            if (v > maxabs) {
                maxabs = v;
            }
        }
        double s = 0.0;
        for (size_t j = 0; j < n; j++) {
            s += d1[i * n + j] / maxabs;
        }
        qsum += (int64_t)llround(ldexp(s, 10));
    }
    sum = bench_hash(sum, (uint64_t)qsum);
    printf("n: %lu, trace(D): %.17g, normalised row sums: %lld/1024\n", (unsigned long)n,
           ldexp((double)(int64_t)trace, -24), (long long)qsum);
    free(a);
    free(b);
    free(c1);
    free(c2);
    free(c3);
    free(d1);
    free(d2);
    free(d3);
    free(tmp);
    return bench_finish(sum);
}
