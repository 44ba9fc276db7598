//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * fft.c - an iterative radix-2 complex FFT (double precision), used here the
 * way GMP-style big-number libraries and signal-processing code use it:
 * multiplying two large integers by convolving their digit vectors.
 *
 * Each multiplication transforms both operands, multiplies pointwise,
 * transforms back and rounds to integers. Rounding errors stay far below
 * 0.5 (checked: every coefficient must be within 0.05 of an integer), so
 * the exact integer product is identical on every target even though the
 * twiddle factors and fused multiply-adds differ in the last bits. Sample
 * coefficients are checked against a direct convolution, and a forward +
 * inverse transform must give back its input.
 *
 * usage: fft N     (N = number of 24576-digit multiplications)
 */
#include "bench.h"

#include <math.h>

#define LOG2N 14
#define NFFT (1u << LOG2N)     /* transform size */
#define DIGITS (NFFT / 2)      /* base-1000 digits per operand */
#define BASE 1000u

static double wre[NFFT / 2], wim[NFFT / 2];
static unsigned rev[NFFT];

static void init_fft(void)
{
    const double pi = 3.14159265358979323846;
    for (unsigned k = 0; k < NFFT / 2; k++) {
        double t = 2.0 * pi * (double)k / (double)NFFT;
        wre[k] = cos(t);
        wim[k] = sin(t);
    }
    for (unsigned i = 0; i < NFFT; i++) {
        unsigned r = 0;
        for (unsigned b = 0; b < LOG2N; b++) {
            r |= ((i >> b) & 1u) << (LOG2N - 1 - b);
        }
        rev[i] = r;
    }
}

/* In-place transform; inverse uses conjugate twiddles (no 1/N scaling). */
static void fft(double *re, double *im, int inverse)
{
    for (unsigned i = 0; i < NFFT; i++) {
        unsigned j = rev[i];
        if (i < j) {
            double t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    double sgn = inverse ? 1.0 : -1.0;
    for (unsigned len = 2; len <= NFFT; len <<= 1) {
        unsigned half = len >> 1;
        unsigned step = NFFT / len;
        for (unsigned start = 0; start < NFFT; start += len) {
            for (unsigned k = 0; k < half; k++) {
                double cr = wre[k * step], ci = sgn * wim[k * step];
                unsigned a = start + k, b = a + half;
                double xr = re[b] * cr - im[b] * ci;
                double xi = re[b] * ci + im[b] * cr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
}

static double are[NFFT], aim[NFFT], bre[NFFT], bim[NFFT], orig[NFFT];
static uint32_t x[DIGITS], y[DIGITS];
static uint64_t conv[NFFT];
static uint32_t prod[NFFT + 1];

int main(int argc, char **argv)
{
    unsigned long mults = bench_arg(argc, argv, "number of multiplications", 1, 1000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x46465421ULL);
    init_fft();

    /* round trip: inverse(forward(v)) / N == v */
    for (unsigned i = 0; i < NFFT; i++) {
        are[i] = orig[i] = (double)((int)bench_rng_below(&rng, 2001) - 1000);
        aim[i] = 0.0;
    }
    fft(are, aim, 0);
    fft(are, aim, 1);
    for (unsigned i = 0; i < NFFT; i++) {
        double e = fabs(are[i] / NFFT - orig[i]) + fabs(aim[i] / NFFT);
        if (!(e < 1e-6)) {
            bench_fail("FFT round trip: element %u off by %g", i, e);
        }
    }

    uint64_t sum = 0;
    double worst = 0.0;
    for (unsigned long m = 0; m < mults; m++) {
        for (unsigned i = 0; i < DIGITS; i++) {
            x[i] = bench_rng_below(&rng, BASE);
            y[i] = bench_rng_below(&rng, BASE);
        }
        for (unsigned i = 0; i < NFFT; i++) {
            are[i] = i < DIGITS ? (double)x[i] : 0.0;
            bre[i] = i < DIGITS ? (double)y[i] : 0.0;
            aim[i] = bim[i] = 0.0;
        }
        fft(are, aim, 0);
        fft(bre, bim, 0);
        for (unsigned i = 0; i < NFFT; i++) {
            double r = are[i] * bre[i] - aim[i] * bim[i];
            double t = are[i] * bim[i] + aim[i] * bre[i];
            are[i] = r;
            aim[i] = t;
        }
        fft(are, aim, 1);
        for (unsigned i = 0; i < NFFT; i++) {
            double v = are[i] / NFFT;
            double rv = floor(v + 0.5);
            double err = fabs(v - rv);
            if (!(err < 0.05) || rv < 0.0) {
                bench_fail("multiplication %lu: coefficient %u = %.6f is not near an integer",
                           m, i, v);
            }
            if (err > worst) {
                worst = err;
            }
            conv[i] = (uint64_t)rv;
        }
        /* spot-check coefficients against the direct convolution */
        for (int s = 0; s < 8; s++) {
            unsigned i = bench_rng_below(&rng, NFFT - 1);
            uint64_t direct = 0;
            unsigned lo = i >= DIGITS ? i - DIGITS + 1 : 0;
            for (unsigned k = lo; k <= i && k < DIGITS; k++) {
                direct += (uint64_t)x[k] * y[i - k];
            }
            if (direct != conv[i]) {
                bench_fail("multiplication %lu: coefficient %u is %llu, direct sum %llu", m, i,
                           (unsigned long long)conv[i], (unsigned long long)direct);
            }
        }
        /* carry propagation gives the base-1000 digits of x*y */
        uint64_t carry = 0;
        uint64_t h = 0;
        for (unsigned i = 0; i < NFFT; i++) {
            uint64_t v = conv[i] + carry;
            prod[i] = (uint32_t)(v % BASE);
            carry = v / BASE;
            h = h * 1000003u + prod[i];
        }
        prod[NFFT] = (uint32_t)carry;
        if (carry != 0) {
            bench_fail("multiplication %lu: product overflows %u digits", m, NFFT);
        }
        sum = bench_hash(sum, h);
    }
    printf("multiplications: %lu of %u-digit numbers, worst rounding distance < 0.05: %s\n",
           mults, DIGITS * 3, worst < 0.05 ? "yes" : "no");
    return bench_finish(sum);
}
