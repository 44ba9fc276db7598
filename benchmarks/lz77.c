//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * lz77.c - LZ77 compression with hash chains and lazy matching (the core of
 * deflate/gzip, zstd and LZ4 used for HTTP compression and by MySQL's
 * compressed tables), with an LZ4-like byte format, followed by
 * decompression and a byte-for-byte comparison with the original.
 *
 * The input is generated: log- and HTML-like text from a skewed vocabulary,
 * numbers, and occasional runs of incompressible bytes.
 *
 * usage: lz77 N     (N = input size in KiB)
 */
#include "bench.h"

#define WINDOW_BITS 16
#define WINDOW (1u << WINDOW_BITS)
#define WMASK (WINDOW - 1u)
#define HASH_BITS 15
#define MIN_MATCH 4
#define MAX_MATCH 1024
#define MAX_CHAIN 24
#define GOOD_ENOUGH 128

/* ------------------------------------------------------------- input */

static const char *const vocab[] = {
    "the", "GET", "POST", "HTTP/1.1", "200", "404", "301", "index.php", "<div class=\"",
    "</div>", "<a href=\"", "</a>", "<span>", "</span>", "user", "session", "Mozilla/5.0",
    "SELECT", "FROM", "WHERE", "id", "=", "AND", "ORDER BY", "LIMIT", "INSERT INTO",
    "VALUES", "error", "warning", "notice", "[client", "]", "/var/www/html/", "wp-content",
    "plugins", "function", "return", "$this->", "array(", ");", "{", "}", "if", "else",
    "foreach", "as", "=>", "null", "true", "false", "127.0.0.1", "Connection:", "keep-alive",
    "Content-Type:", "text/html;", "charset=UTF-8", "Accept-Encoding:", "gzip", "deflate",
    "Apache/2.4.57", "(Debian)", "PHP/8.2", "mysqld", "InnoDB:", "buffer", "pool", "page",
    "cache", "hit", "miss", "query", "took", "ms", "rows", "examined", "sent", "bytes"
};
#define NVOCAB (sizeof vocab / sizeof vocab[0])

static size_t gen_input(unsigned char *buf, size_t n, bench_rng *r)
{
    size_t o = 0;
    while (o < n) {
        uint32_t k = bench_rng_below(r, 1000);
        if (k < 3) {
            /* a run of incompressible bytes (e.g. an embedded image) */
            uint32_t len = bench_rng_range(r, 16, 600);
            for (uint32_t i = 0; i < len && o < n; i++) {
                buf[o++] = (unsigned char)bench_rng_u32(r);
            }
        } else if (k < 120) {
            /* a number */
            uint32_t v = bench_rng_below(r, bench_rng_below(r, 3) ? 1000u : 100000000u);
            char tmp[12];
            int d = 0;
            do {
                tmp[d++] = (char)('0' + v % 10u);
                v /= 10u;
            } while (v);
            while (d && o < n) {
                buf[o++] = (unsigned char)tmp[--d];
            }
        } else if (k < 160) {
            buf[o++] = '\n';
        } else {
            /* skewed word choice: low indices much more frequent */
            uint32_t w = bench_rng_below(r, bench_rng_below(r, NVOCAB) + 1u);
            const char *s = vocab[w];
            while (*s && o < n) {
                buf[o++] = (unsigned char)*s++;
            }
            if (o < n) {
                buf[o++] = bench_rng_below(r, 8) ? ' ' : '\t';
            }
        }
    }
    return o;
}

/* -------------------------------------------------------- compressor */

static uint32_t hash4(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                 ((uint32_t)p[3] << 24);
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

static int32_t head[1u << HASH_BITS];
static int32_t prev[WINDOW];

static unsigned char *put_len(unsigned char *op, size_t len)
{
    while (len >= 255) {
        *op++ = 255;
        len -= 255;
    }
    *op++ = (unsigned char)len;
    return op;
}

static unsigned char *emit_seq(unsigned char *op, const unsigned char *lit, size_t nlit,
                               size_t offset, size_t mlen)
{
    unsigned char *token = op++;
    unsigned t = nlit < 15 ? (unsigned)nlit : 15u;
    if (nlit >= 15) {
        op = put_len(op, nlit - 15);
    }
    memcpy(op, lit, nlit);
    op += nlit;
    if (mlen == 0) {
        *token = (unsigned char)(t << 4);
        return op;
    }
    size_t ml = mlen - MIN_MATCH;
    *token = (unsigned char)((t << 4) | (ml < 15 ? ml : 15u));
    *op++ = (unsigned char)(offset & 0xffu);
    *op++ = (unsigned char)(offset >> 8);
    if (ml >= 15) {
        op = put_len(op, ml - 15);
    }
    return op;
}

static void insert_pos(const unsigned char *in, size_t pos)
{
    uint32_t h = hash4(in + pos);
    prev[pos & WMASK] = head[h];
    head[h] = (int32_t)pos;
}

/* Longest match for position pos among the hash chain; returns its length
 * (0 if shorter than MIN_MATCH) and sets *off. */
static size_t find_match(const unsigned char *in, size_t n, size_t pos, size_t *off,
                         uint64_t *steps)
{
    size_t best = 0;
    size_t limit = n - pos < MAX_MATCH ? n - pos : MAX_MATCH;
    int32_t cand = head[hash4(in + pos)];
    for (int depth = 0; cand >= 0 && depth < MAX_CHAIN; depth++) {
        size_t c = (size_t)cand;
        if (pos - c >= WINDOW) {
            break;
        }
        (*steps)++;
        if (in[c + best] == in[pos + best] && in[c] == in[pos]) {
            size_t len = 0;
            while (len < limit && in[c + len] == in[pos + len]) {
                len++;
            }
            if (len > best) {
                best = len;
                *off = pos - c;
                if (len >= GOOD_ENOUGH || len == limit) {
                    break;
                }
            }
        }
        int32_t nx = prev[c & WMASK];
        if (nx >= cand) {
            break;
        }
        cand = nx;
    }
    return best >= MIN_MATCH ? best : 0;
}

static size_t compress(const unsigned char *in, size_t n, unsigned char *out,
                       uint64_t *steps)
{
    for (size_t i = 0; i < (1u << HASH_BITS); i++) {
        head[i] = -1;
    }
    for (size_t i = 0; i < WINDOW; i++) {
        prev[i] = -1;
    }
    unsigned char *op = out;
    size_t anchor = 0;
    size_t pos = 0;
    while (n >= MIN_MATCH && pos + MIN_MATCH <= n) {
        size_t off = 0;
        size_t len = find_match(in, n, pos, &off, steps);
        if (len && len < GOOD_ENOUGH && pos + 1 + MIN_MATCH <= n) {
            /* lazy evaluation: prefer a longer match starting one byte later */
            insert_pos(in, pos);
            size_t off2 = 0;
            size_t len2 = find_match(in, n, pos + 1, &off2, steps);
            if (len2 > len + 1) {
                pos++;
                len = len2;
                off = off2;
            } else {
                /* pos is already in the chain */
                op = emit_seq(op, in + anchor, pos - anchor, off, len);
                for (size_t k = 1; k < len && pos + k + MIN_MATCH <= n; k++) {
                    insert_pos(in, pos + k);
                }
                pos += len;
                anchor = pos;
                continue;
            }
        }
        if (len) {
            op = emit_seq(op, in + anchor, pos - anchor, off, len);
            for (size_t k = 0; k < len && pos + k + MIN_MATCH <= n; k++) {
                insert_pos(in, pos + k);
            }
            pos += len;
            anchor = pos;
        } else {
            insert_pos(in, pos);
            pos++;
        }
    }
    op = emit_seq(op, in + anchor, n - anchor, 0, 0);
    return (size_t)(op - out);
}

/* ------------------------------------------------------ decompressor */

/* Returns the decompressed size, or (size_t)-1 on a malformed stream. */
static size_t decompress(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    const unsigned char *ip = in, *iend = in + n;
    unsigned char *op = out, *oend = out + cap;
    while (ip < iend) {
        unsigned token = *ip++;
        size_t nlit = token >> 4;
        if (nlit == 15) {
            unsigned b;
            do {
                if (ip >= iend) {
                    return (size_t)-1;
                }
                b = *ip++;
                nlit += b;
            } while (b == 255);
        }
        if ((size_t)(iend - ip) < nlit || (size_t)(oend - op) < nlit) {
            return (size_t)-1;
        }
        memcpy(op, ip, nlit);
        ip += nlit;
        op += nlit;
        if (ip == iend) {
            break;
        }
        if (iend - ip < 2) {
            return (size_t)-1;
        }
        size_t off = (size_t)ip[0] | ((size_t)ip[1] << 8);
        ip += 2;
        size_t mlen = (token & 15u);
        if (mlen == 15) {
            unsigned b;
            do {
                if (ip >= iend) {
                    return (size_t)-1;
                }
                b = *ip++;
                mlen += b;
            } while (b == 255);
        }
        mlen += MIN_MATCH;
        if (off == 0 || off > (size_t)(op - out) || (size_t)(oend - op) < mlen) {
            return (size_t)-1;
        }
        const unsigned char *src = op - off;
        if (off >= mlen) {
            memcpy(op, src, mlen);
            op += mlen;
        } else {
            for (size_t k = 0; k < mlen; k++) {
                *op++ = src[k]; /* overlapping copy repeats the pattern */
            }
        }
    }
    return (size_t)(op - out);
}

int main(int argc, char **argv)
{
    unsigned long kib = bench_arg(argc, argv, "input size in KiB", 1, 1u << 20);
    size_t n = (size_t)kib * 1024u;
    bench_rng rng;
    bench_rng_seed(&rng, 0x4c5a3737ULL);

    unsigned char *in = malloc(n);
    unsigned char *comp = malloc(n + n / 255 + 64);
    unsigned char *back = malloc(n);
    if (!in || !comp || !back) {
        bench_fail("out of memory");
    }
    gen_input(in, n, &rng);

    uint64_t steps = 0;
    size_t clen = compress(in, n, comp, &steps);
    if (clen > n + n / 255 + 64) {
        bench_fail("compressed stream overflowed its buffer");
    }
    uint64_t sum = bench_hash(0, clen);
    sum = bench_hash(sum, bench_fnv(BENCH_FNV_INIT, comp, clen));
    sum = bench_hash(sum, steps);

    /* decompress a few times: decoding is much cheaper than encoding */
    for (int round = 0; round < 4; round++) {
        memset(back, 0, n);
        size_t dlen = decompress(comp, clen, back, n);
        if (dlen != n) {
            bench_fail("decompressed %ld bytes, expected %lu", (long)dlen, (unsigned long)n);
        }
        if (memcmp(back, in, n) != 0) {
            size_t k = 0;
            while (back[k] == in[k]) {
                k++;
            }
            bench_fail("decompressed data differs at byte %lu", (unsigned long)k);
        }
        sum = bench_hash(sum, (uint64_t)back[(size_t)round * 7919u % n]);
    }
    sum = bench_hash(sum, bench_fnv(BENCH_FNV_INIT, back, n));
    printf("input: %lu bytes, compressed: %lu bytes (%.1f%%)\n", (unsigned long)n,
           (unsigned long)clen, 100.0 * (double)clen / (double)n);
    free(in);
    free(comp);
    free(back);
    return bench_finish(sum);
}
