//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * sort.c - sorting, as in ORDER BY, sort(1) and PHP's sort(): an
 * introsort-style quicksort of 32-bit integers, a stable merge sort of
 * (key, row) records, and glibc qsort() of signed integers and of strings
 * (via strcmp).
 *
 * Each result is checked for order, for being a permutation of the input
 * (order-independent sums) and, for the merge sort, for stability.
 *
 * usage: sort N     (N = number of integers; N/4 strings)
 */
#include "bench.h"

/* ---------------------------------------------------------- quicksort */

static void insertion_u32(uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void heapsort_u32(uint32_t *a, size_t n)
{
    if (n < 2) {
        return;
    }
    for (size_t start = n / 2; start-- > 0;) {
        size_t root = start;
        for (;;) {
            size_t child = 2 * root + 1;
            if (child >= n) break;
            if (child + 1 < n && a[child] < a[child + 1]) child++;
            if (a[root] >= a[child]) break;
            uint32_t t = a[root]; a[root] = a[child]; a[child] = t;
            root = child;
        }
    }
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = a[0]; a[0] = a[end]; a[end] = t;
        size_t root = 0;
        for (;;) {
            size_t child = 2 * root + 1;
            if (child >= end) break;
            if (child + 1 < end && a[child] < a[child + 1]) child++;
            if (a[root] >= a[child]) break;
            t = a[root]; a[root] = a[child]; a[child] = t;
            root = child;
        }
    }
}

static void quicksort_u32(uint32_t *a, size_t n, int depth_limit)
{
    while (n > 24) {
        if (depth_limit-- == 0) {
            heapsort_u32(a, n);
            return;
        }
        /* median of three */
        size_t mid = n / 2;
        if (a[mid] < a[0]) { uint32_t t = a[mid]; a[mid] = a[0]; a[0] = t; }
        if (a[n - 1] < a[0]) { uint32_t t = a[n - 1]; a[n - 1] = a[0]; a[0] = t; }
        if (a[n - 1] < a[mid]) { uint32_t t = a[n - 1]; a[n - 1] = a[mid]; a[mid] = t; }
        uint32_t pivot = a[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
            i++;
            j--;
        }
        /* recurse into the smaller part, loop on the larger */
        size_t left = j + 1;
        if (left < n - left) {
            quicksort_u32(a, left, depth_limit);
            a += left;
            n -= left;
        } else {
            quicksort_u32(a + left, n - left, depth_limit);
            n = left;
        }
    }
    insertion_u32(a, n);
}

/* ------------------------------------------------------ merge sort */

typedef struct {
    uint32_t key;
    uint32_t row;
} record;

static void merge_sort(record *a, record *tmp, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            record v = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1].key > v.key) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(a, tmp, h);
    merge_sort(a + h, tmp, n - h);
    if (a[h - 1].key <= a[h].key) {
        return; /* already in order */
    }
    memcpy(tmp, a, h * sizeof *a);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (a[j].key < tmp[i].key) {
            a[k++] = a[j++];
        } else {
            a[k++] = tmp[i++];
        }
    }
    while (i < h) {
        a[k++] = tmp[i++];
    }
}

/* ------------------------------------------------------------ qsort */

static int cmp_i32(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

static int cmp_str(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

int main(int argc, char **argv)
{
    unsigned long n = bench_arg(argc, argv, "number of integers", 16, 100000000);
    size_t ns = n / 4;
    bench_rng rng;
    bench_rng_seed(&rng, 0x534f5254ULL);

    uint32_t *u = malloc(n * sizeof *u);
    record *rec = malloc(n * sizeof *rec);
    record *tmp = malloc((n / 2 + 1) * sizeof *tmp);
    int32_t *s = malloc(n * sizeof *s);
    char **strs = malloc(ns * sizeof *strs);
    char *arena = malloc(ns * 24);
    if (!u || !rec || !tmp || !s || !strs || !arena) {
        bench_fail("out of memory");
    }

    uint64_t sum = 0;

    /* 1. quicksort: random values, with a sorted run and many duplicates mixed in */
    uint64_t in_sum = 0, in_xor = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = bench_rng_below(&rng, 10);
        u[i] = k < 6 ? bench_rng_u32(&rng) : k < 8 ? bench_rng_below(&rng, 100) : (uint32_t)i * 3u;
        in_sum += u[i];
        in_xor ^= bench_mix64(u[i]);
    }
    quicksort_u32(u, n, 64);
    uint64_t out_sum = 0, out_xor = 0, h = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && u[i - 1] > u[i]) {
            bench_fail("quicksort: out of order at %lu", (unsigned long)i);
        }
        out_sum += u[i];
        out_xor ^= bench_mix64(u[i]);
        h = h * 0x100000001b3u + u[i];
    }
    if (in_sum != out_sum || in_xor != out_xor) {
        bench_fail("quicksort: output is not a permutation of the input");
    }
    sum = bench_hash(sum, h);

    /* 2. stable merge sort of records with few distinct keys */
    for (size_t i = 0; i < n; i++) {
        rec[i].key = bench_rng_below(&rng, (uint32_t)(n / 8 + 1));
        rec[i].row = (uint32_t)i;
    }
    merge_sort(rec, tmp, n);
    h = 0;
    uint64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && (rec[i - 1].key > rec[i].key ||
                  (rec[i - 1].key == rec[i].key && rec[i - 1].row >= rec[i].row))) {
            bench_fail("merge sort: out of order or unstable at %lu", (unsigned long)i);
        }
        rows += rec[i].row;
        h = h * 0x100000001b3u + ((uint64_t)rec[i].key << 32 | rec[i].row);
    }
    if (rows != (uint64_t)n * (n - 1) / 2) {
        bench_fail("merge sort: rows lost");
    }
    sum = bench_hash(sum, h);

    /* 3. qsort of signed integers */
    in_sum = 0;
    for (size_t i = 0; i < n; i++) {
        s[i] = (int32_t)(bench_rng_u32(&rng) >> 1) - (int32_t)0x40000000;
        in_sum += (uint64_t)(int64_t)s[i];
    }
    qsort(s, n, sizeof *s, cmp_i32);
    out_sum = 0;
    h = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && s[i - 1] > s[i]) {
            bench_fail("qsort(int): out of order at %lu", (unsigned long)i);
        }
        out_sum += (uint64_t)(int64_t)s[i];
        h = h * 0x100000001b3u + (uint32_t)s[i];
    }
    if (in_sum != out_sum) {
        bench_fail("qsort(int): output is not a permutation of the input");
    }
    sum = bench_hash(sum, h);

    /* 4. qsort of strings: shared prefixes and duplicates, like URLs or names */
    static const char *const pre[] = { "", "user_", "user_admin", "/var/www/", "wp_", "z" };
    in_xor = 0;
    for (size_t i = 0; i < ns; i++) {
        char *p = arena + i * 24;
        const char *pf = pre[bench_rng_below(&rng, 6)];
        size_t pl = strlen(pf);
        memcpy(p, pf, pl);
        uint32_t len = bench_rng_range(&rng, 1, 12);
        for (uint32_t k = 0; k < len; k++) {
            p[pl + k] = (char)('a' + bench_rng_below(&rng, k < 2 ? 4 : 26));
        }
        p[pl + len] = '\0';
        strs[i] = p;
        in_xor += bench_fnv(BENCH_FNV_INIT, p, pl + len);
    }
    qsort(strs, ns, sizeof *strs, cmp_str);
    out_xor = 0;
    h = BENCH_FNV_INIT;
    for (size_t i = 0; i < ns; i++) {
        if (i && strcmp(strs[i - 1], strs[i]) > 0) {
            bench_fail("qsort(strings): out of order at %lu", (unsigned long)i);
        }
        size_t l = strlen(strs[i]);
        out_xor += bench_fnv(BENCH_FNV_INIT, strs[i], l);
        h = bench_fnv(h, strs[i], l + 1);
    }
    if (in_xor != out_xor) {
        bench_fail("qsort(strings): output is not a permutation of the input");
    }
    sum = bench_hash(sum, h);

    printf("sorted %lu integers x3 and %lu strings; min %u max %u, first \"%s\", last \"%s\"\n",
           n, (unsigned long)ns, (unsigned)u[0], (unsigned)u[n - 1], strs[0], strs[ns - 1]);
    free(u);
    free(rec);
    free(tmp);
    free(s);
    free(strs);
    free(arena);
    return bench_finish(sum);
}
