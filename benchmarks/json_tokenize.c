//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * json_tokenize.c - a JSON tokenizer and structural validator (RFC 8259),
 * the front half of json_decode(), REST API gateways and MySQL's JSON type:
 * strings with every escape form including \u surrogate pairs (decoded to
 * UTF-8), numbers with fraction and exponent, literals, and
 * object/array nesting checked with a state machine.
 *
 * A pool of documents is generated together with the token counts, the
 * decoded string bytes and the integer sum they must produce; the
 * benchmark tokenizes N documents from the pool, cycling, and checks each.
 *
 * usage: json_tokenize N     (N = number of documents to tokenize)
 */
#include "bench.h"

#define POOL 48
#define MAX_DEPTH 64

enum { T_LBRACE, T_RBRACE, T_LBRACKET, T_RBRACKET, T_COLON, T_COMMA, T_STRING, T_NUMBER,
       T_TRUE, T_FALSE, T_NULL, T_NTYPES };

typedef struct {
    unsigned long count[T_NTYPES];
    uint64_t str_hash;      /* FNV over decoded strings, each followed by a 0 byte */
    uint64_t int_sum;       /* wrapping sum of integer-valued numbers */
    uint64_t num_hash;      /* FNV over the text of the non-integer numbers */
    int max_depth;
} doc_stats;

typedef struct {
    char *text;
    size_t len;
    doc_stats want;
} document;

/* ------------------------------------------------------------ generator */

typedef struct {
    char *buf;
    size_t len, cap;
    doc_stats st;
    bench_rng *r;
} gen;

static void g_reserve(gen *g, size_t more)
{
    if (g->len + more > g->cap) {
        g->cap = (g->cap + more) * 2;
        g->buf = realloc(g->buf, g->cap);
        if (!g->buf) {
            bench_fail("out of memory");
        }
    }
}

static void g_put(gen *g, const char *s, size_t n)
{
    if (n == 0) {
        return;
    }
    g_reserve(g, n);
    memcpy(g->buf + g->len, s, n);
    g->len += n;
}

static void g_puts(gen *g, const char *s)
{
    g_put(g, s, strlen(s));
}

static void g_ws(gen *g)
{
    static const char *const ws[] = { "", "", "", " ", "\n  ", "\t", "\r\n" };
    g_puts(g, ws[bench_rng_below(g->r, 7)]);
}

static size_t utf8(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

static void g_u_escape(gen *g, unsigned v)
{
    char tmp[7];
    const char *hex = bench_rng_below(g->r, 2) ? "0123456789abcdef" : "0123456789ABCDEF";
    tmp[0] = '\\';
    tmp[1] = 'u';
    for (int k = 0; k < 4; k++) {
        tmp[2 + k] = hex[(v >> (12 - 4 * k)) & 15u];
    }
    g_put(g, tmp, 6);
}

static const char *const words[] = {
    "id", "name", "email", "created_at", "price", "items", "user", "status", "tags",
    "description", "title", "url", "count", "active", "meta", "data", "value", "type"
};

static void g_string(gen *g, int is_key)
{
    bench_rng *r = g->r;
    unsigned char dec[512];
    size_t dl = 0;
    g_puts(g, "\"");
    if (is_key || bench_rng_below(r, 3) == 0) {
        const char *w = words[bench_rng_below(r, sizeof words / sizeof words[0])];
        g_puts(g, w);
        memcpy(dec, w, strlen(w));
        dl = strlen(w);
    } else {
        uint32_t len = bench_rng_below(r, bench_rng_below(r, 4) ? 24 : 100);
        for (uint32_t i = 0; i < len; i++) {
            uint32_t k = bench_rng_below(r, 100);
            if (k < 70) {
                char c = (char)(k < 10 ? ' ' : 'a' + (int)bench_rng_below(r, 26));
                g_put(g, &c, 1);
                dec[dl++] = (unsigned char)c;
            } else if (k < 80) {
                static const char esc_in[] = "\"\\/\b\f\n\r\t";
                static const char esc_out[] = "\"\\/bfnrt";
                uint32_t e = bench_rng_below(r, 8);
                char two[2] = { '\\', esc_out[e] };
                g_put(g, two, 2);
                dec[dl++] = (unsigned char)esc_in[e];
            } else if (k < 84) {
                uint32_t c = bench_rng_below(r, 32); /* control char: must be \u-escaped */
                g_u_escape(g, c);
                dec[dl++] = (unsigned char)c;
            } else if (k < 94) {
                /* BMP code point outside the surrogate range, raw or escaped */
                uint32_t cp = bench_rng_range(r, 0x80, 0xfffd);
                if (cp >= 0xd800 && cp <= 0xdfff) {
                    cp -= 0x1000;
                }
                unsigned char u[4];
                size_t ul = utf8(cp, u);
                if (bench_rng_below(r, 2)) {
                    g_put(g, (const char *)u, ul);
                } else {
                    g_u_escape(g, cp);
                }
                memcpy(dec + dl, u, ul);
                dl += ul;
            } else {
                /* astral code point: raw UTF-8 or a surrogate pair */
                uint32_t cp = bench_rng_range(r, 0x10000, 0x10ffff);
                unsigned char u[4];
                size_t ul = utf8(cp, u);
                if (bench_rng_below(r, 2)) {
                    g_put(g, (const char *)u, ul);
                } else {
                    g_u_escape(g, 0xd800 + ((cp - 0x10000) >> 10));
                    g_u_escape(g, 0xdc00 + ((cp - 0x10000) & 0x3ff));
                }
                memcpy(dec + dl, u, ul);
                dl += ul;
            }
        }
    }
    g_puts(g, "\"");
    dec[dl++] = 0;
    g->st.str_hash = bench_fnv(g->st.str_hash, dec, dl);
    g->st.count[T_STRING]++;
}

static void g_number(gen *g)
{
    bench_rng *r = g->r;
    char tmp[64];
    int o = 0;
    int neg = bench_rng_below(r, 4) == 0;
    uint64_t mag;
    if (bench_rng_below(r, 3)) {
        mag = bench_rng_below(r, 1000);
    } else {
        mag = bench_rng_u64(r);
        mag >>= bench_rng_below(r, 64);
    }
    if (mag > UINT64_C(999999999999999999)) {
        mag %= UINT64_C(1000000000000000000);
    }
    if (neg) {
        tmp[o++] = '-';
    }
    char dig[24];
    int d = 0;
    do {
        dig[d++] = (char)('0' + (int)(mag % 10u));
        mag /= 10u;
    } while (mag);
    while (d) {
        tmp[o++] = dig[--d];
    }
    int is_int = 1;
    if (bench_rng_below(r, 3) == 0) {
        tmp[o++] = '.';
        uint32_t nf = bench_rng_range(r, 1, 6);
        for (uint32_t i = 0; i < nf; i++) {
            tmp[o++] = (char)('0' + bench_rng_below(r, 10));
        }
        is_int = 0;
    }
    if (bench_rng_below(r, 6) == 0) {
        tmp[o++] = bench_rng_below(r, 2) ? 'e' : 'E';
        uint32_t s = bench_rng_below(r, 3);
        if (s) {
            tmp[o++] = s == 1 ? '+' : '-';
        }
        o += sprintf(tmp + o, "%u", (unsigned)bench_rng_below(r, 300));
        is_int = 0;
    }
    g_put(g, tmp, (size_t)o);
    if (is_int) {
        /* recompute the value from the text, as the tokenizer must */
        uint64_t v = 0;
        for (int i = neg; i < o; i++) {
            v = v * 10u + (uint64_t)(tmp[i] - '0');
        }
        g->st.int_sum += neg ? 0u - v : v;
    } else {
        g->st.num_hash = bench_fnv(g->st.num_hash, tmp, (size_t)o);
    }
    g->st.count[T_NUMBER]++;
}

static void g_value(gen *g, int depth)
{
    bench_rng *r = g->r;
    /* depth = number of containers around this value */
    uint32_t k = depth < 2 ? 0 : bench_rng_below(r, depth < 3 ? 12 : depth < 5 ? 24 : 60);
    if (k < 4 && depth + 1 > g->st.max_depth) {
        g->st.max_depth = depth + 1;
    }
    if (k == 0 || k == 2) {
        uint32_t n = bench_rng_below(r, 9);
        g_puts(g, "{");
        g->st.count[T_LBRACE]++;
        for (uint32_t i = 0; i < n; i++) {
            if (i) {
                g_puts(g, ",");
                g->st.count[T_COMMA]++;
            }
            g_ws(g);
            g_string(g, 1);
            g_ws(g);
            g_puts(g, ":");
            g->st.count[T_COLON]++;
            g_ws(g);
            g_value(g, depth + 1);
            g_ws(g);
        }
        g_puts(g, "}");
        g->st.count[T_RBRACE]++;
    } else if (k == 1 || k == 3) {
        uint32_t n = bench_rng_below(r, 11);
        g_puts(g, "[");
        g->st.count[T_LBRACKET]++;
        for (uint32_t i = 0; i < n; i++) {
            if (i) {
                g_puts(g, ",");
                g->st.count[T_COMMA]++;
            }
            g_ws(g);
            g_value(g, depth + 1);
            g_ws(g);
        }
        g_puts(g, "]");
        g->st.count[T_RBRACKET]++;
    } else if (k < 9 || (k >= 20 && k < 40)) {
        g_string(g, 0);
    } else if (k < 15 || k >= 40) {
        g_number(g);
    } else if (k < 17) {
        g_puts(g, "true");
        g->st.count[T_TRUE]++;
    } else if (k < 19) {
        g_puts(g, "false");
        g->st.count[T_FALSE]++;
    } else {
        g_puts(g, "null");
        g->st.count[T_NULL]++;
    }
}

static void gen_document(document *d, bench_rng *r)
{
    gen g;
    memset(&g, 0, sizeof g);
    g.r = r;
    g.st.str_hash = BENCH_FNV_INIT;
    g.st.num_hash = BENCH_FNV_INIT;
    /* top level: an array of records, like an API response */
    uint32_t n = bench_rng_range(r, 8, 24);
    g_ws(&g);
    g_puts(&g, "[");
    g.st.count[T_LBRACKET]++;
    g.st.max_depth = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (i) {
            g_puts(&g, ",");
            g.st.count[T_COMMA]++;
        }
        g_ws(&g);
        g_value(&g, 1);
    }
    g_puts(&g, "]");
    g.st.count[T_RBRACKET]++;
    g_ws(&g);
    g_reserve(&g, 1);
    g.buf[g.len] = '\0';
    d->text = g.buf;
    d->len = g.len;
    d->want = g.st;
}

/* ------------------------------------------------------------ tokenizer */

typedef struct {
    const unsigned char *p, *end;
    unsigned char strbuf[4096];
    size_t strlen_;
    int is_int;
    int neg;
    uint64_t int_val;
    const unsigned char *tok_start;
} lexer;

static int hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return 0;
        }
        v = (v << 4) | d;
    }
    *out = v;
    return 1;
}

/* Returns the token type, -1 at end of input, -2 on a lexical error. */
static int next_token(lexer *lx)
{
    const unsigned char *p = lx->p, *end = lx->end;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    lx->tok_start = p;
    if (p == end) {
        lx->p = p;
        return -1;
    }
    int t;
    switch (*p) {
    case '{': t = T_LBRACE; p++; break;
    case '}': t = T_RBRACE; p++; break;
    case '[': t = T_LBRACKET; p++; break;
    case ']': t = T_RBRACKET; p++; break;
    case ':': t = T_COLON; p++; break;
    case ',': t = T_COMMA; p++; break;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0) return -2;
        t = T_TRUE; p += 4; break;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0) return -2;
        t = T_FALSE; p += 5; break;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0) return -2;
        t = T_NULL; p += 4; break;
    case '"': {
        p++;
        size_t o = 0;
        for (;;) {
            if (p == end) {
                return -2;
            }
            unsigned c = *p++;
            if (c == '"') {
                break;
            }
            if (c < 0x20) {
                return -2;
            }
            if (o + 4 > sizeof lx->strbuf) {
                return -2;
            }
            if (c != '\\') {
                lx->strbuf[o++] = (unsigned char)c;
                continue;
            }
            if (p == end) {
                return -2;
            }
            c = *p++;
            switch (c) {
            case '"': lx->strbuf[o++] = '"'; break;
            case '\\': lx->strbuf[o++] = '\\'; break;
            case '/': lx->strbuf[o++] = '/'; break;
            case 'b': lx->strbuf[o++] = '\b'; break;
            case 'f': lx->strbuf[o++] = '\f'; break;
            case 'n': lx->strbuf[o++] = '\n'; break;
            case 'r': lx->strbuf[o++] = '\r'; break;
            case 't': lx->strbuf[o++] = '\t'; break;
            case 'u': {
                uint32_t cp;
                if (end - p < 4 || !hex4(p, &cp)) {
                    return -2;
                }
                p += 4;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) ||
                        lo < 0xdc00 || lo > 0xdfff) {
                        return -2;
                    }
                    p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return -2;
                }
                o += utf8(cp, lx->strbuf + o);
                break;
            }
            default:
                return -2;
            }
        }
        lx->strlen_ = o;
        t = T_STRING;
        break;
    }
    default: {
        /* number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
        lx->neg = 0;
        lx->is_int = 1;
        lx->int_val = 0;
        if (*p == '-') {
            lx->neg = 1;
            p++;
        }
        if (p == end || *p < '0' || *p > '9') {
            return -2;
        }
        if (*p == '0') {
            p++;
        } else {
            while (p < end && *p >= '0' && *p <= '9') {
                lx->int_val = lx->int_val * 10u + (uint64_t)(*p - '0');
                p++;
            }
        }
        if (p < end && *p == '.') {
            p++;
            lx->is_int = 0;
            if (p == end || *p < '0' || *p > '9') {
                return -2;
            }
            while (p < end && *p >= '0' && *p <= '9') {
                p++;
            }
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
            p++;
            lx->is_int = 0;
            if (p < end && (*p == '+' || *p == '-')) {
                p++;
            }
            if (p == end || *p < '0' || *p > '9') {
                return -2;
            }
            while (p < end && *p >= '0' && *p <= '9') {
                p++;
            }
        }
        t = T_NUMBER;
        break;
    }
    }
    lx->p = p;
    return t;
}

/* Parser states for the structural check */
enum { S_VALUE, S_AFTER_VALUE, S_KEY_OR_END, S_KEY, S_COLON, S_VALUE_OR_END, S_DONE };

/* Tokenizes and validates a document; returns 0 and fills *st, or the
 * byte offset + 1 of the first error. */
static size_t tokenize(const char *text, size_t len, doc_stats *st)
{
    lexer lx;
    lx.p = (const unsigned char *)text;
    lx.end = lx.p + len;
    memset(st, 0, sizeof *st);
    st->str_hash = BENCH_FNV_INIT;
    st->num_hash = BENCH_FNV_INIT;
    char stack[MAX_DEPTH];
    int depth = 0;
    int state = S_VALUE;
    for (;;) {
        int t = next_token(&lx);
        size_t at = (size_t)(lx.tok_start - (const unsigned char *)text) + 1;
        if (t == -1) {
            return state == S_DONE ? 0 : at;
        }
        if (t == -2) {
            return at;
        }
        st->count[t]++;
        switch (state) {
        case S_VALUE:
        case S_VALUE_OR_END:
            if (t == T_RBRACKET && state == S_VALUE_OR_END) {
                depth--;
                state = depth ? S_AFTER_VALUE : S_DONE;
                break;
            }
            if (t == T_LBRACE || t == T_LBRACKET) {
                if (depth == MAX_DEPTH) {
                    return at;
                }
                stack[depth++] = (char)t;
                if (depth > st->max_depth) {
                    st->max_depth = depth;
                }
                state = t == T_LBRACE ? S_KEY_OR_END : S_VALUE_OR_END;
                break;
            }
            if (t == T_STRING || t == T_NUMBER || t == T_TRUE || t == T_FALSE || t == T_NULL) {
                state = depth ? S_AFTER_VALUE : S_DONE;
                break;
            }
            return at;
        case S_AFTER_VALUE:
            if (t == T_COMMA) {
                state = stack[depth - 1] == T_LBRACE ? S_KEY : S_VALUE;
            } else if ((t == T_RBRACE && stack[depth - 1] == T_LBRACE) ||
                       (t == T_RBRACKET && stack[depth - 1] == T_LBRACKET)) {
                depth--;
                state = depth ? S_AFTER_VALUE : S_DONE;
            } else {
                return at;
            }
            break;
        case S_KEY_OR_END:
            if (t == T_RBRACE) {
                depth--;
                state = depth ? S_AFTER_VALUE : S_DONE;
                break;
            }
            /* fall through */
        case S_KEY:
            if (t != T_STRING) {
                return at;
            }
            state = S_COLON;
            break;
        case S_COLON:
            if (t != T_COLON) {
                return at;
            }
            state = S_VALUE;
            break;
        default:
            return at; /* trailing garbage */
        }
        if (t == T_STRING) {
            lx.strbuf[lx.strlen_] = 0;
            st->str_hash = bench_fnv(st->str_hash, lx.strbuf, lx.strlen_ + 1);
        } else if (t == T_NUMBER) {
            if (lx.is_int) {
                st->int_sum += lx.neg ? 0u - lx.int_val : lx.int_val;
            } else {
                st->num_hash = bench_fnv(st->num_hash, lx.tok_start,
                                         (size_t)(lx.p - lx.tok_start));
            }
        }
    }
}

static const char *const bad_docs[] = {
    "[1,]", "{\"a\" 1}", "[\"\\x\"]", "[01x]", "[\"a\nb\"]", "{\"a\":1,}", "[1 2]",
    "[\"\\ud800\"]", "[tru]", "[1.]", "[-]", "{1:2}", "[1]]", "[[1]", "[1e+]", ""
};

int main(int argc, char **argv)
{
    unsigned long n = bench_arg(argc, argv, "number of documents to tokenize", 1, 100000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x4a534f4eULL);

    doc_stats st;
    for (size_t k = 0; k < sizeof bad_docs / sizeof bad_docs[0]; k++) {
        if (tokenize(bad_docs[k], strlen(bad_docs[k]), &st) == 0) {
            bench_fail("invalid JSON accepted: %s", bad_docs[k]);
        }
    }

    static document pool[POOL];
    size_t total = 0;
    for (int i = 0; i < POOL; i++) {
        gen_document(&pool[i], &rng);
        total += pool[i].len;
    }

    uint64_t sum = 0;
    uint64_t tokens = 0;
    for (unsigned long it = 0; it < n; it++) {
        const document *d = &pool[it % POOL];
        size_t err = tokenize(d->text, d->len, &st);
        if (err) {
            bench_fail("document %lu rejected at byte %lu", it % POOL, (unsigned long)err - 1);
        }
        for (int t = 0; t < T_NTYPES; t++) {
            if (st.count[t] != d->want.count[t]) {
                bench_fail("document %lu: %lu tokens of type %d, expected %lu", it % POOL,
                           st.count[t], t, d->want.count[t]);
            }
            tokens += st.count[t];
        }
        if (st.str_hash != d->want.str_hash || st.int_sum != d->want.int_sum ||
            st.num_hash != d->want.num_hash || st.max_depth != d->want.max_depth) {
            bench_fail("document %lu: decoded content differs (strings %d, ints %d, "
                       "numbers %d, depth %d/%d)", it % POOL, st.str_hash == d->want.str_hash,
                       st.int_sum == d->want.int_sum, st.num_hash == d->want.num_hash,
                       st.max_depth, d->want.max_depth);
        }
        sum = bench_hash(sum, st.str_hash ^ st.int_sum ^ (st.num_hash << 1) ^ (uint64_t)st.max_depth);
    }
    sum = bench_hash(sum, tokens);
    sum = bench_hash(sum, total);
    printf("documents: %lu (pool %lu bytes), tokens: %llu\n", n, (unsigned long)total,
           (unsigned long long)tokens);
    for (int i = 0; i < POOL; i++) {
        free(pool[i].text);
    }
    return bench_finish(sum);
}
