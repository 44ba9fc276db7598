//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * http_parse.c - HTTP/1.1 request parsing, as done by an Apache/nginx front
 * end: request line, header fields (case-insensitive names, optional
 * whitespace), Content-Length bodies, keep-alive rules for HTTP/1.0 and 1.1,
 * several requests pipelined on one connection.
 *
 * A pool of generated requests is laid out back to back in one buffer; the
 * benchmark parses N requests from it, wrapping around at the end. Every
 * parsed request is checked against what the generator recorded.
 *
 * usage: http_parse N     (N = number of requests to parse)
 */
#include "bench.h"

#define POOL 512
#define BUF_CAP (POOL * 2048)
#define MAX_HEADERS 32

enum { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_OPTIONS, M_PATCH, M_COUNT };
static const char *const method_names[M_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"
};

typedef struct {
    int method;
    int minor;              /* HTTP/1.<minor> */
    int nheaders;
    int nparams;            /* query-string parameters */
    long content_length;    /* -1 when absent */
    int keep_alive;
    uint64_t target_hash;   /* FNV of the request target */
    size_t length;          /* bytes including body */
} req_info;

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} header;

typedef struct {
    req_info info;
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
    header headers[MAX_HEADERS];
} request;

/* ---------------------------------------------------------------- generator */

static char *buf;
static size_t buf_len;
static req_info expected[POOL];

static void put(const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + buf_len, s, n);
    buf_len += n;
}

static void put_uint(unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        buf[buf_len++] = tmp[--n];
    }
}

static void put_hex_byte(unsigned v)
{
    static const char hex[] = "0123456789ABCDEF";
    buf[buf_len++] = '%';
    buf[buf_len++] = hex[(v >> 4) & 15u];
    buf[buf_len++] = hex[v & 15u];
}

/* Writes a header name, randomly varying its letter case. */
static void put_name(bench_rng *r, const char *name)
{
    uint32_t style = bench_rng_below(r, 8);
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (style == 0 && c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        } else if (style == 1 && c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        buf[buf_len++] = c;
    }
    buf[buf_len++] = ':';
    /* optional whitespace before the value */
    uint32_t ows = bench_rng_below(r, 10);
    if (ows < 8) {
        buf[buf_len++] = ' ';
    } else if (ows == 8) {
        buf[buf_len++] = ' ';
        buf[buf_len++] = '\t';
    }
}

static void end_header(bench_rng *r)
{
    if (bench_rng_below(r, 16) == 0) {
        buf[buf_len++] = ' '; /* trailing OWS, must be trimmed */
    }
    put("\r\n");
}

static const char *const words[] = {
    "index", "wp-content", "uploads", "2024", "images", "api", "v1", "users",
    "login", "search", "static", "css", "js", "app", "product", "cart",
    "checkout", "blog", "post", "comments", "feed", "admin", "phpmyadmin",
    "media", "thumbnails", "category", "tag", "archive", "download", "assets"
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const exts[] = { ".php", ".html", ".css", ".js", ".png", "", "/", ".jpg" };

static const char *const agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "ApacheBench/2.3"
};

static void gen_request(bench_rng *r, req_info *e)
{
    size_t start = buf_len;
    uint32_t m = bench_rng_below(r, 100);
    int method = m < 62 ? M_GET : m < 80 ? M_POST : m < 86 ? M_HEAD : m < 91 ? M_PUT
               : m < 95 ? M_DELETE : m < 98 ? M_OPTIONS : M_PATCH;
    int has_body = method == M_POST || method == M_PUT || method == M_PATCH;
    e->method = method;
    put(method_names[method]);
    put(" ");

    /* request target */
    size_t tstart = buf_len;
    uint32_t segs = bench_rng_range(r, 1, 5);
    for (uint32_t i = 0; i < segs; i++) {
        put("/");
        put(words[bench_rng_below(r, NWORDS)]);
        if (bench_rng_below(r, 6) == 0) {
            put_uint(bench_rng_below(r, 100000));
        }
    }
    put(exts[bench_rng_below(r, 8)]);
    e->nparams = 0;
    if (bench_rng_below(r, 3) == 0) {
        uint32_t np = bench_rng_range(r, 1, 6);
        put("?");
        for (uint32_t i = 0; i < np; i++) {
            if (i) {
                put("&");
            }
            put(words[bench_rng_below(r, NWORDS)]);
            put("=");
            uint32_t vl = bench_rng_range(r, 0, 12);
            for (uint32_t k = 0; k < vl; k++) {
                uint32_t c = bench_rng_below(r, 40);
                if (c < 26) {
                    buf[buf_len++] = (char)('a' + c);
                } else if (c < 36) {
                    buf[buf_len++] = (char)('0' + c - 26);
                } else {
                    put_hex_byte(bench_rng_below(r, 256));
                }
            }
        }
        e->nparams = (int)np;
    }
    e->target_hash = bench_fnv(BENCH_FNV_INIT, buf + tstart, buf_len - tstart);

    e->minor = bench_rng_below(r, 10) == 0 ? 0 : 1;
    put(e->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");

    int nh = 0;
    int keep_alive = e->minor == 1;
    long clen = -1;

    put_name(r, "Host");
    put("www.site");
    put_uint(bench_rng_below(r, 50));
    put(".example.com");
    end_header(r);
    nh++;
    put_name(r, "User-Agent");
    put(agents[bench_rng_below(r, sizeof(agents) / sizeof(agents[0]))]);
    end_header(r);
    nh++;
    put_name(r, "Accept");
    put(bench_rng_below(r, 2) ? "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
                              : "*/*");
    end_header(r);
    nh++;
    if (bench_rng_below(r, 4) != 0) {
        put_name(r, "Accept-Encoding");
        put("gzip, deflate, br");
        end_header(r);
        nh++;
    }
    if (bench_rng_below(r, 2) != 0) {
        put_name(r, "Accept-Language");
        put("en-US,en;q=0.5");
        end_header(r);
        nh++;
    }
    if (bench_rng_below(r, 3) != 0) {
        put_name(r, "Cookie");
        put("PHPSESSID=");
        for (int i = 0; i < 26; i++) {
            buf[buf_len++] = "0123456789abcdefghijklmnopqrstuv"[bench_rng_below(r, 32)];
        }
        put("; theme=dark");
        end_header(r);
        nh++;
    }
    if (bench_rng_below(r, 4) == 0) {
        put_name(r, "X-Forwarded-For");
        put_uint(bench_rng_range(r, 1, 254));
        for (int i = 0; i < 3; i++) {
            put(".");
            put_uint(bench_rng_below(r, 256));
        }
        end_header(r);
        nh++;
    }
    uint32_t conn = bench_rng_below(r, 5);
    if (conn == 0) {
        put_name(r, "Connection");
        put(bench_rng_below(r, 2) ? "close" : "Close");
        end_header(r);
        nh++;
        keep_alive = 0;
    } else if (conn <= 2) {
        put_name(r, "Connection");
        put(bench_rng_below(r, 2) ? "keep-alive" : "Keep-Alive");
        end_header(r);
        nh++;
        keep_alive = 1;
    }
    if (has_body) {
        clen = (long)bench_rng_range(r, 0, 600);
        put_name(r, "Content-Type");
        put("application/x-www-form-urlencoded");
        end_header(r);
        nh++;
        put_name(r, "Content-Length");
        put_uint((unsigned long)clen);
        end_header(r);
        nh++;
    }
    put("\r\n");
    if (has_body) {
        for (long i = 0; i < clen; i++) {
            buf[buf_len++] = (char)('a' + bench_rng_below(r, 26));
        }
    }
    e->nheaders = nh;
    e->content_length = clen;
    e->keep_alive = keep_alive;
    e->length = buf_len - start;
}

/* ------------------------------------------------------------------- parser */

/* RFC 9110 tchar */
static unsigned char tchar_table[256];

static void init_tables(void)
{
    const char *extra = "!#$%&'*+-.^_`|~";
    for (int c = '0'; c <= '9'; c++) {
        tchar_table[c] = 1;
    }
    for (int c = 'a'; c <= 'z'; c++) {
        tchar_table[c] = 1;
        tchar_table[c - 'a' + 'A'] = 1;
    }
    for (const char *p = extra; *p; p++) {
        tchar_table[(unsigned char)*p] = 1;
    }
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Case-insensitive compare of a length-counted string with a lower-case
 * NUL-terminated literal. */
static int name_is(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (lit[i] == '\0' || lower((unsigned char)s[i]) != lit[i]) {
            return 0;
        }
    }
    return lit[i] == '\0';
}

static int parse_method(const char *s, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(s, "GET", 3) == 0) return M_GET;
        if (memcmp(s, "PUT", 3) == 0) return M_PUT;
        break;
    case 4:
        if (memcmp(s, "POST", 4) == 0) return M_POST;
        if (memcmp(s, "HEAD", 4) == 0) return M_HEAD;
        break;
    case 5:
        if (memcmp(s, "PATCH", 5) == 0) return M_PATCH;
        break;
    case 6:
        if (memcmp(s, "DELETE", 6) == 0) return M_DELETE;
        break;
    case 7:
        if (memcmp(s, "OPTIONS", 7) == 0) return M_OPTIONS;
        break;
    default:
        break;
    }
    return -1;
}

/* Parses one request starting at p. Returns the number of bytes consumed,
 * or 0 on a malformed/incomplete request. */
static size_t parse_request(const char *p, const char *end, request *rq)
{
    const char *start = p;
    const char *q = p;
    while (q < end && tchar_table[(unsigned char)*q]) {
        q++;
    }
    if (q == end || *q != ' ') {
        return 0;
    }
    rq->info.method = parse_method(p, (size_t)(q - p));
    if (rq->info.method < 0) {
        return 0;
    }
    p = q + 1;

    /* request target: visible ASCII up to SP */
    const char *t = p;
    const char *qmark = NULL;
    while (p < end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f) {
        if (*p == '?' && !qmark) {
            qmark = p;
        }
        p++;
    }
    if (p == end || *p != ' ' || p == t || *t != '/') {
        return 0;
    }
    rq->info.target_hash = bench_fnv(BENCH_FNV_INIT, t, (size_t)(p - t));
    rq->path = t;
    rq->path_len = (size_t)((qmark ? qmark : p) - t);
    rq->query = qmark ? qmark + 1 : p;
    rq->query_len = qmark ? (size_t)(p - qmark - 1) : 0;
    rq->info.nparams = 0;
    if (rq->query_len) {
        rq->info.nparams = 1;
        for (size_t i = 0; i < rq->query_len; i++) {
            rq->info.nparams += rq->query[i] == '&';
        }
    }
    p++;

    if (end - p < 10 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' ||
        p[8] != '\r' || p[9] != '\n') {
        return 0;
    }
    rq->info.minor = p[7] - '0';
    p += 10;

    int nh = 0;
    long clen = -1;
    int conn_close = 0, conn_keep = 0;
    for (;;) {
        if (end - p < 2) {
            return 0;
        }
        if (p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }
        const char *name = p;
        while (p < end && tchar_table[(unsigned char)*p]) {
            p++;
        }
        if (p == end || *p != ':' || p == name || nh == MAX_HEADERS) {
            return 0;
        }
        size_t name_len = (size_t)(p - name);
        p++;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        const char *value = p;
        while (p < end && *p != '\r') {
            if ((unsigned char)*p < ' ' && *p != '\t') {
                return 0;
            }
            p++;
        }
        if (end - p < 2 || p[1] != '\n') {
            return 0;
        }
        const char *vend = p;
        while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t')) {
            vend--;
        }
        p += 2;
        header *h = &rq->headers[nh++];
        h->name = name;
        h->name_len = name_len;
        h->value = value;
        h->value_len = (size_t)(vend - value);

        switch (lower((unsigned char)name[0])) {
        case 'c':
            if (name_is(name, name_len, "content-length")) {
                if (h->value_len == 0 || h->value_len > 9) {
                    return 0;
                }
                long v = 0;
                for (size_t i = 0; i < h->value_len; i++) {
                    if (value[i] < '0' || value[i] > '9') {
                        return 0;
                    }
                    v = v * 10 + (value[i] - '0');
                }
                clen = v;
            } else if (name_is(name, name_len, "connection")) {
                if (name_is(value, h->value_len, "close")) {
                    conn_close = 1;
                } else if (name_is(value, h->value_len, "keep-alive")) {
                    conn_keep = 1;
                }
            }
            break;
        default:
            break;
        }
    }
    rq->info.nheaders = nh;
    rq->info.content_length = clen;
    if (rq->info.minor >= 1) {
        rq->info.keep_alive = !conn_close;
    } else {
        rq->info.keep_alive = conn_keep && !conn_close;
    }
    if (clen > 0) {
        if (end - p < clen) {
            return 0;
        }
        p += clen;
    }
    rq->info.length = (size_t)(p - start);
    return rq->info.length;
}

static const header *find_header(const request *rq, const char *lname)
{
    for (int i = 0; i < rq->info.nheaders; i++) {
        if (name_is(rq->headers[i].name, rq->headers[i].name_len, lname)) {
            return &rq->headers[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned long n = bench_arg(argc, argv, "number of requests to parse", 1, 100000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x4854545031ULL);
    init_tables();

    buf = malloc(BUF_CAP);
    if (!buf) {
        bench_fail("out of memory");
    }
    buf_len = 0;
    for (int i = 0; i < POOL; i++) {
        gen_request(&rng, &expected[i]);
        if (buf_len > BUF_CAP - 4096) {
            bench_fail("generator overflow");
        }
    }

    uint64_t sum = 0;
    size_t off = 0;
    int idx = 0;
    request rq;
    uint64_t keep = 0, bytes = 0;
    for (unsigned long i = 0; i < n; i++) {
        size_t used = parse_request(buf + off, buf + buf_len, &rq);
        const req_info *e = &expected[idx];
        if (used == 0) {
            bench_fail("request %d did not parse", idx);
        }
        if (used != e->length || rq.info.method != e->method || rq.info.minor != e->minor ||
            rq.info.nheaders != e->nheaders || rq.info.content_length != e->content_length ||
            rq.info.keep_alive != e->keep_alive || rq.info.target_hash != e->target_hash ||
            rq.info.nparams != e->nparams) {
            bench_fail("request %d parsed wrongly (len %lu/%lu, method %d/%d, headers %d/%d, "
                       "clen %ld/%ld, keep-alive %d/%d)",
                       idx, (unsigned long)used, (unsigned long)e->length, rq.info.method,
                       e->method, rq.info.nheaders, e->nheaders, rq.info.content_length,
                       e->content_length, rq.info.keep_alive, e->keep_alive);
        }
        const header *host = find_header(&rq, "host");
        if (!host) {
            bench_fail("request %d has no Host header", idx);
        }
        uint64_t h = bench_fnv(rq.info.target_hash, host->value, host->value_len);
        h = bench_fnv(h, rq.path, rq.path_len);
        sum = bench_hash(sum, h ^ ((uint64_t)rq.info.method << 56) ^
                                  ((uint64_t)rq.info.nheaders << 48) ^
                                  ((uint64_t)(rq.info.content_length + 1) << 20) ^
                                  ((uint64_t)rq.info.keep_alive << 8) ^ (uint64_t)rq.info.nparams);
        keep += (uint64_t)rq.info.keep_alive;
        bytes += used;
        off += used;
        if (++idx == POOL) {
            idx = 0;
            off = 0;
        }
    }
    if (off != 0 && idx == 0) {
        bench_fail("cursor out of sync");
    }
    sum = bench_hash(sum, keep);
    sum = bench_hash(sum, bytes);
    printf("requests: %lu, keep-alive: %llu, bytes: %llu\n", n, (unsigned long long)keep,
           (unsigned long long)bytes);
    free(buf);
    return bench_finish(sum);
}
