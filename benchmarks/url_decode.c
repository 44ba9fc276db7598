//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * url_decode.c - URL percent-decoding and query-string splitting, as done by
 * PHP for $_GET/$_POST (application/x-www-form-urlencoded): split on '&',
 * split each pair on the first '=', turn '+' into a space and %XX into a
 * byte, keep malformed escapes literally.
 *
 * A pool of query strings is generated from known (key, value) pairs,
 * encoded with mixed upper/lower-case hex and some malformed escapes and
 * empty segments. The benchmark decodes N query strings from the pool,
 * cycling, and checks every decoded pair against the original.
 *
 * usage: url_decode N     (N = number of query strings to decode)
 */
#include "bench.h"

#define POOL 256
#define MAX_PARAMS 16
#define MAX_FIELD 96

typedef struct {
    unsigned char key[MAX_FIELD];
    size_t key_len;
    unsigned char val[MAX_FIELD * 2];
    size_t val_len;
} pair;

typedef struct {
    char *enc;          /* encoded query string, NUL-terminated */
    size_t enc_len;
    int npairs;
    pair pairs[MAX_PARAMS];
} query;

static query pool[POOL];

/* ----------------------------------------------------------------- encoder */

static int unreserved(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static size_t encode(char *out, const unsigned char *in, size_t n, bench_rng *r)
{
    static const char HEX[] = "0123456789ABCDEF";
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = in[i];
        if (unreserved(c)) {
            out[o++] = (char)c;
        } else if (c == ' ') {
            out[o++] = '+';
        } else {
            const char *h = bench_rng_below(r, 4) == 0 ? hex : HEX;
            out[o++] = '%';
            out[o++] = h[c >> 4];
            out[o++] = h[c & 15u];
        }
    }
    return o;
}

static size_t gen_text(unsigned char *out, size_t max, bench_rng *r, int is_key)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    static const char punct[] = "!\"#$&'()*+,/:;<=>?@[\\]^`{|}%-._~";
    size_t len = bench_rng_range(r, is_key ? 1 : 0, is_key ? 12 : 40);
    size_t o = 0;
    while (o < len && o + 4 < max) {
        uint32_t k = bench_rng_below(r, 100);
        if (k < 62 || (is_key && k < 90)) {
            out[o++] = (unsigned char)alnum[bench_rng_below(r, 36)];
        } else if (k < 72) {
            out[o++] = ' ';
        } else if (k < 86) {
            out[o++] = (unsigned char)punct[bench_rng_below(r, (uint32_t)(sizeof(punct) - 1))];
        } else if (k < 96) {
            /* a UTF-8 encoded code point in U+0080..U+07FF or U+0800..U+FFFF */
            uint32_t cp = bench_rng_range(r, 0x80, 0x7ff);
            if (bench_rng_below(r, 3) == 0) {
                cp = bench_rng_range(r, 0x800, 0xd7ff);
                out[o++] = (unsigned char)(0xe0 | (cp >> 12));
                out[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            } else {
                out[o++] = (unsigned char)(0xc0 | (cp >> 6));
            }
            out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
        } else {
            out[o++] = (unsigned char)bench_rng_below(r, 256);
        }
    }
    if (is_key == 2 && o + 2 < max) {
        out[o++] = '[';
        out[o++] = ']';
    }
    return o;
}

static void gen_query(query *q, bench_rng *r)
{
    char tmp[MAX_PARAMS * (MAX_FIELD * 9 + 8)];
    size_t o = 0;
    q->npairs = (int)bench_rng_range(r, 1, MAX_PARAMS);
    for (int i = 0; i < q->npairs; i++) {
        pair *p = &q->pairs[i];
        if (i) {
            tmp[o++] = '&';
            if (bench_rng_below(r, 12) == 0) {
                tmp[o++] = '&'; /* empty segment, skipped by the decoder */
            }
        }
        p->key_len = gen_text(p->key, MAX_FIELD, r, bench_rng_below(r, 8) == 0 ? 2 : 1);
        o += encode(tmp + o, p->key, p->key_len, r);
        uint32_t shape = bench_rng_below(r, 20);
        if (shape == 0) {
            /* "key" without '=' decodes to an empty value */
            p->val_len = 0;
            continue;
        }
        tmp[o++] = '=';
        p->val_len = 0;
        size_t seg = gen_text(p->val, MAX_FIELD, r, 0);
        o += encode(tmp + o, p->val, seg, r);
        p->val_len = seg;
        if (shape == 1) {
            /* a malformed escape is kept literally */
            /* none of these can be completed by the characters after it */
            static const char *const bad[] = { "%zz", "%g1", "%-", "%5x", "%.9" };
            const char *b = bad[bench_rng_below(r, 5)];
            size_t bl = strlen(b);
            memcpy(tmp + o, b, bl);
            o += bl;
            memcpy(p->val + p->val_len, b, bl);
            p->val_len += bl;
            /* something decodable after it */
            unsigned char more[MAX_FIELD];
            size_t ml = gen_text(more, MAX_FIELD / 2, r, 1);
            o += encode(tmp + o, more, ml, r);
            memcpy(p->val + p->val_len, more, ml);
            p->val_len += ml;
        }
    }
    q->enc = malloc(o + 1);
    if (!q->enc) {
        bench_fail("out of memory");
    }
    memcpy(q->enc, tmp, o);
    q->enc[o] = '\0';
    q->enc_len = o;
}

/* ----------------------------------------------------------------- decoder */

static signed char hexval[256];

static void init_hex(void)
{
    for (int i = 0; i < 256; i++) {
        hexval[i] = -1;
    }
    for (int i = 0; i < 10; i++) {
        hexval['0' + i] = (signed char)i;
    }
    for (int i = 0; i < 6; i++) {
        hexval['a' + i] = (signed char)(10 + i);
        hexval['A' + i] = (signed char)(10 + i);
    }
}

/* Decodes s[0..n) into out (at most n bytes), returns the decoded length. */
static size_t url_decode(unsigned char *out, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%' && i + 2 < n && hexval[(unsigned char)s[i + 1]] >= 0 &&
                   hexval[(unsigned char)s[i + 2]] >= 0) {
            out[o++] = (unsigned char)((hexval[(unsigned char)s[i + 1]] << 4) |
                                       hexval[(unsigned char)s[i + 2]]);
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    return o;
}

typedef struct {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
    int has_eq;
} segment;

/* Splits a query string into key/value segments; returns their number. */
static int split_query(const char *s, size_t n, segment *segs, int max)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            if (count == max) {
                return -1;
            }
            segment *g = &segs[count++];
            const char *eq = memchr(s + i, '=', end - i);
            g->key = s + i;
            if (eq) {
                g->key_len = (size_t)(eq - (s + i));
                g->val = eq + 1;
                g->val_len = end - (size_t)(eq + 1 - s);
                g->has_eq = 1;
            } else {
                g->key_len = end - i;
                g->val = s + end;
                g->val_len = 0;
                g->has_eq = 0;
            }
        }
        i = end + 1;
    }
    return count;
}

int main(int argc, char **argv)
{
    unsigned long n = bench_arg(argc, argv, "number of query strings to decode", 1, 100000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x55524c44ULL);
    init_hex();
    for (int i = 0; i < POOL; i++) {
        gen_query(&pool[i], &rng);
    }

    segment segs[MAX_PARAMS];
    unsigned char key[MAX_FIELD * 4], val[MAX_FIELD * 8];
    uint64_t sum = 0;
    uint64_t total_pairs = 0, total_bytes = 0;
    for (unsigned long it = 0; it < n; it++) {
        const query *q = &pool[it % POOL];
        int ns = split_query(q->enc, q->enc_len, segs, MAX_PARAMS);
        if (ns != q->npairs) {
            bench_fail("query %lu: %d segments, expected %d", it % POOL, ns, q->npairs);
        }
        uint64_t h = BENCH_FNV_INIT;
        for (int i = 0; i < ns; i++) {
            const pair *p = &q->pairs[i];
            size_t kl = url_decode(key, segs[i].key, segs[i].key_len);
            size_t vl = url_decode(val, segs[i].val, segs[i].val_len);
            if (kl != p->key_len || memcmp(key, p->key, kl) != 0) {
                bench_fail("query %lu pair %d: key decodes wrongly", it % POOL, i);
            }
            if (vl != p->val_len || memcmp(val, p->val, vl) != 0) {
                bench_fail("query %lu pair %d: value decodes wrongly (%lu vs %lu bytes)",
                           it % POOL, i, (unsigned long)vl, (unsigned long)p->val_len);
            }
            h = bench_fnv(h, key, kl);
            h = bench_fnv(h, "=", (size_t)segs[i].has_eq);
            h = bench_fnv(h, val, vl);
            total_bytes += kl + vl;
        }
        total_pairs += (uint64_t)ns;
        sum = bench_hash(sum, h);
    }
    sum = bench_hash(sum, total_pairs);
    sum = bench_hash(sum, total_bytes);
    printf("queries: %lu, pairs: %llu, decoded bytes: %llu\n", n,
           (unsigned long long)total_pairs, (unsigned long long)total_bytes);
    for (int i = 0; i < POOL; i++) {
        free(pool[i].enc);
    }
    return bench_finish(sum);
}
