//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * regex.c - regular-expression search over web-server log lines, the work
 * of grep, mod_rewrite, fail2ban and PHP's preg_match.
 *
 * Patterns (literals, '.', classes, escapes \d \w \s, * + ?, alternation,
 * groups, ^ and $) are parsed and compiled to a Pike-VM program, then run
 * by two independent executors: a recursive backtracker (leftmost-first,
 * like PCRE) and a Thompson NFA simulation (one pass, state sets). Both
 * must agree on every line; fixed cases with known answers check them too.
 *
 * usage: regex N     (N = number of generated log lines)
 */
#include "bench.h"

/* ------------------------------------------------------------ programs */

enum { I_CHAR, I_ANY, I_CLASS, I_BOL, I_EOL, I_SPLIT, I_JMP, I_MATCH };

typedef struct {
    uint8_t op;
    uint8_t c;
    int16_t x, y;       /* jump targets, or class index in x */
} inst;

#define MAX_INSTS 512
#define MAX_CLASSES 32
#define MAX_NODES 512

typedef struct {
    inst code[MAX_INSTS];
    int len;
    uint32_t classes[MAX_CLASSES][8];
    int nclasses;
} prog;

/* ---------------------------------------------------------------- parser */

enum { N_CHAR, N_ANY, N_CLASS, N_BOL, N_EOL, N_CAT, N_ALT, N_STAR, N_PLUS, N_QUEST, N_EMPTY };

typedef struct {
    int type;
    int a, b;           /* children, or char / class index in a */
} rnode;

typedef struct {
    const char *p;
    rnode nodes[MAX_NODES];
    int nnodes;
    prog *pg;
    const char *pattern;
} parser;

static int mknode(parser *ps, int type, int a, int b)
{
    if (ps->nnodes == MAX_NODES) {
        bench_fail("pattern too complex: %s", ps->pattern);
    }
    rnode *n = &ps->nodes[ps->nnodes];
    n->type = type;
    n->a = a;
    n->b = b;
    return ps->nnodes++;
}

static int new_class(parser *ps)
{
    if (ps->pg->nclasses == MAX_CLASSES) {
        bench_fail("too many classes in %s", ps->pattern);
    }
    int k = ps->pg->nclasses++;
    memset(ps->pg->classes[k], 0, sizeof ps->pg->classes[k]);
    return k;
}

static void class_set(uint32_t *cls, unsigned c)
{
    cls[c >> 5] |= 1u << (c & 31u);
}

static void class_add_escape(uint32_t *cls, char e)
{
    switch (e) {
    case 'd':
        for (unsigned c = '0'; c <= '9'; c++) class_set(cls, c);
        break;
    case 'w':
        for (unsigned c = '0'; c <= '9'; c++) class_set(cls, c);
        for (unsigned c = 'a'; c <= 'z'; c++) class_set(cls, c);
        for (unsigned c = 'A'; c <= 'Z'; c++) class_set(cls, c);
        class_set(cls, '_');
        break;
    case 's':
        class_set(cls, ' ');
        class_set(cls, '\t');
        class_set(cls, '\n');
        class_set(cls, '\r');
        break;
    default:
        class_set(cls, (unsigned char)e);
        break;
    }
}

static int parse_alt(parser *ps);

static int parse_atom(parser *ps)
{
    char c = *ps->p;
    if (c == '(') {
        ps->p++;
        int n = parse_alt(ps);
        if (*ps->p != ')') {
            bench_fail("missing ) in %s", ps->pattern);
        }
        ps->p++;
        return n;
    }
    if (c == '[') {
        ps->p++;
        int k = new_class(ps);
        uint32_t *cls = ps->pg->classes[k];
        int negate = 0;
        if (*ps->p == '^') {
            negate = 1;
            ps->p++;
        }
        int first = 1;
        while (*ps->p && (*ps->p != ']' || first)) {
            unsigned lo = (unsigned char)*ps->p++;
            if (lo == '\\' && *ps->p) {
                class_add_escape(cls, *ps->p++);
            } else if (*ps->p == '-' && ps->p[1] && ps->p[1] != ']') {
                unsigned hi = (unsigned char)ps->p[1];
                ps->p += 2;
                for (unsigned x = lo; x <= hi; x++) {
                    class_set(cls, x);
                }
            } else {
                class_set(cls, lo);
            }
            first = 0;
        }
        if (*ps->p != ']') {
            bench_fail("missing ] in %s", ps->pattern);
        }
        ps->p++;
        if (negate) {
            for (int w = 0; w < 8; w++) {
                cls[w] = ~cls[w];
            }
        }
        return mknode(ps, N_CLASS, k, 0);
    }
    if (c == '.') {
        ps->p++;
        return mknode(ps, N_ANY, 0, 0);
    }
    if (c == '^') {
        ps->p++;
        return mknode(ps, N_BOL, 0, 0);
    }
    if (c == '$') {
        ps->p++;
        return mknode(ps, N_EOL, 0, 0);
    }
    if (c == '\\') {
        char e = ps->p[1];
        if (!e) {
            bench_fail("trailing \\ in %s", ps->pattern);
        }
        ps->p += 2;
        if (e == 'd' || e == 'w' || e == 's') {
            int k = new_class(ps);
            class_add_escape(ps->pg->classes[k], e);
            return mknode(ps, N_CLASS, k, 0);
        }
        return mknode(ps, N_CHAR, (unsigned char)e, 0);
    }
    if (c == '\0' || c == ')' || c == '|' || c == '*' || c == '+' || c == '?') {
        bench_fail("unexpected '%c' in %s", c ? c : '$', ps->pattern);
    }
    ps->p++;
    return mknode(ps, N_CHAR, (unsigned char)c, 0);
}

static int parse_repeat(parser *ps)
{
    int n = parse_atom(ps);
    for (;;) {
        char c = *ps->p;
        if (c == '*') {
            n = mknode(ps, N_STAR, n, 0);
        } else if (c == '+') {
            n = mknode(ps, N_PLUS, n, 0);
        } else if (c == '?') {
            n = mknode(ps, N_QUEST, n, 0);
        } else {
            return n;
        }
        ps->p++;
    }
}

static int parse_concat(parser *ps)
{
    int n = -1;
    while (*ps->p && *ps->p != '|' && *ps->p != ')') {
        int m = parse_repeat(ps);
        n = n < 0 ? m : mknode(ps, N_CAT, n, m);
    }
    return n < 0 ? mknode(ps, N_EMPTY, 0, 0) : n;
}

static int parse_alt(parser *ps)
{
    int n = parse_concat(ps);
    while (*ps->p == '|') {
        ps->p++;
        int m = parse_concat(ps);
        n = mknode(ps, N_ALT, n, m);
    }
    return n;
}

/* -------------------------------------------------------------- compiler */

static int emit(prog *pg, int op, int c, int x, int y)
{
    if (pg->len == MAX_INSTS) {
        bench_fail("program too long");
    }
    inst *in = &pg->code[pg->len];
    in->op = (uint8_t)op;
    in->c = (uint8_t)c;
    in->x = (int16_t)x;
    in->y = (int16_t)y;
    return pg->len++;
}

static void compile_node(const parser *ps, prog *pg, int id)
{
    const rnode *n = &ps->nodes[id];
    switch (n->type) {
    case N_CHAR:
        emit(pg, I_CHAR, n->a, 0, 0);
        break;
    case N_ANY:
        emit(pg, I_ANY, 0, 0, 0);
        break;
    case N_CLASS:
        emit(pg, I_CLASS, 0, n->a, 0);
        break;
    case N_BOL:
        emit(pg, I_BOL, 0, 0, 0);
        break;
    case N_EOL:
        emit(pg, I_EOL, 0, 0, 0);
        break;
    case N_EMPTY:
        break;
    case N_CAT:
        compile_node(ps, pg, n->a);
        compile_node(ps, pg, n->b);
        break;
    case N_ALT: {
        int split = emit(pg, I_SPLIT, 0, 0, 0);
        pg->code[split].x = (int16_t)pg->len;
        compile_node(ps, pg, n->a);
        int jmp = emit(pg, I_JMP, 0, 0, 0);
        pg->code[split].y = (int16_t)pg->len;
        compile_node(ps, pg, n->b);
        pg->code[jmp].x = (int16_t)pg->len;
        break;
    }
    case N_STAR: {
        int split = emit(pg, I_SPLIT, 0, 0, 0);
        pg->code[split].x = (int16_t)pg->len;
        compile_node(ps, pg, n->a);
        emit(pg, I_JMP, 0, split, 0);
        pg->code[split].y = (int16_t)pg->len;
        break;
    }
    case N_PLUS: {
        int start = pg->len;
        compile_node(ps, pg, n->a);
        int split = emit(pg, I_SPLIT, 0, start, 0);
        pg->code[split].y = (int16_t)pg->len;
        break;
    }
    case N_QUEST: {
        int split = emit(pg, I_SPLIT, 0, 0, 0);
        pg->code[split].x = (int16_t)pg->len;
        compile_node(ps, pg, n->a);
        pg->code[split].y = (int16_t)pg->len;
        break;
    }
    default:
        bench_fail("bad node");
    }
}

static void compile(const char *pattern, prog *pg)
{
    static parser ps;
    ps.p = pattern;
    ps.nnodes = 0;
    ps.pg = pg;
    ps.pattern = pattern;
    pg->len = 0;
    pg->nclasses = 0;
    int root = parse_alt(&ps);
    if (*ps.p != '\0') {
        bench_fail("unbalanced ) in %s", pattern);
    }
    compile_node(&ps, pg, root);
    emit(pg, I_MATCH, 0, 0, 0);
}

/* ---------------------------------------------------------- backtracker */

typedef struct {
    const prog *pg;
    const unsigned char *s;
    int n;
    unsigned long steps;
} bt_state;

static int class_has(const prog *pg, int k, unsigned c)
{
    return (pg->classes[k][c >> 5] >> (c & 31u)) & 1u;
}

/* Returns the end of a match of the program from pc at i, or -1. */
static int backtrack(bt_state *st, int pc, int i)
{
    const inst *code = st->pg->code;
    for (;;) {
        if (++st->steps > 50000000ul) {
            bench_fail("backtracker ran away");
        }
        const inst *in = &code[pc];
        switch (in->op) {
        case I_CHAR:
            if (i < st->n && st->s[i] == in->c) {
                pc++;
                i++;
                break;
            }
            return -1;
        case I_ANY:
            if (i < st->n && st->s[i] != '\n') {
                pc++;
                i++;
                break;
            }
            return -1;
        case I_CLASS:
            if (i < st->n && class_has(st->pg, in->x, st->s[i])) {
                pc++;
                i++;
                break;
            }
            return -1;
        case I_BOL:
            if (i != 0) {
                return -1;
            }
            pc++;
            break;
        case I_EOL:
            if (i != st->n) {
                return -1;
            }
            pc++;
            break;
        case I_JMP:
            pc = in->x;
            break;
        case I_SPLIT: {
            int e = backtrack(st, in->x, i);
            if (e >= 0) {
                return e;
            }
            pc = in->y;
            break;
        }
        case I_MATCH:
            return i;
        default:
            bench_fail("bad instruction");
        }
    }
}

/* Leftmost-first search; returns 1 and the span on a match. */
static int bt_search(const prog *pg, const unsigned char *s, int n, int *ms, int *me,
                     uint64_t *steps)
{
    bt_state st = { pg, s, n, 0 };
    for (int start = 0; start <= n; start++) {
        int e = backtrack(&st, 0, start);
        if (e >= 0) {
            *ms = start;
            *me = e;
            *steps += st.steps;
            return 1;
        }
    }
    *steps += st.steps;
    return 0;
}

/* ----------------------------------------------------------- Thompson NFA */

typedef struct {
    int pcs[MAX_INSTS];
    int n;
} tlist;

static unsigned marks[MAX_INSTS];
static unsigned gen_mark;

static void addthread(const prog *pg, tlist *l, int pc, int i, int n)
{
    if (marks[pc] == gen_mark) {
        return;
    }
    marks[pc] = gen_mark;
    const inst *in = &pg->code[pc];
    switch (in->op) {
    case I_JMP:
        addthread(pg, l, in->x, i, n);
        break;
    case I_SPLIT:
        addthread(pg, l, in->x, i, n);
        addthread(pg, l, in->y, i, n);
        break;
    case I_BOL:
        if (i == 0) {
            addthread(pg, l, pc + 1, i, n);
        }
        break;
    case I_EOL:
        if (i == n) {
            addthread(pg, l, pc + 1, i, n);
        }
        break;
    default:
        l->pcs[l->n++] = pc;
        break;
    }
}

static int nfa_search(const prog *pg, const unsigned char *s, int n, uint64_t *steps)
{
    static tlist a, b;
    tlist *cl = &a, *nl = &b;
    gen_mark++;
    cl->n = 0;
    addthread(pg, cl, 0, 0, n);
    for (int i = 0;; i++) {
        for (int k = 0; k < cl->n; k++) {
            if (pg->code[cl->pcs[k]].op == I_MATCH) {
                return 1;
            }
        }
        if (i == n) {
            return 0;
        }
        gen_mark++;
        nl->n = 0;
        unsigned c = s[i];
        for (int k = 0; k < cl->n; k++) {
            int pc = cl->pcs[k];
            const inst *in = &pg->code[pc];
            int ok = 0;
            switch (in->op) {
            case I_CHAR:
                ok = c == in->c;
                break;
            case I_ANY:
                ok = c != '\n';
                break;
            case I_CLASS:
                ok = class_has(pg, in->x, c);
                break;
            default:
                break;
            }
            if (ok) {
                addthread(pg, nl, pc + 1, i + 1, n);
            }
        }
        *steps += (uint64_t)cl->n;
        addthread(pg, nl, 0, i + 1, n); /* unanchored: a new attempt at every position */
        tlist *t = cl;
        cl = nl;
        nl = t;
    }
}

/* ------------------------------------------------------------ log lines */

static const char *const paths[] = {
    "/", "/index.php", "/wp-login.php", "/wp-admin/admin-ajax.php", "/xmlrpc.php",
    "/images/logo.png", "/css/style.css", "/js/app.js", "/api/v1/users", "/product.php",
    "/search.php", "/phpmyadmin/index.php", "/.env", "/robots.txt", "/feed/", "/cart.php"
};
static const char *const agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/121.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0)",
    "curl/8.4.0", "python-requests/2.31", "AhrefsBot crawler", "Baiduspider"
};
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const methods[] = { "GET", "GET", "GET", "POST", "HEAD", "PUT" };
static const int statuses[] = { 200, 200, 200, 200, 304, 301, 302, 404, 404, 403, 500, 503 };
static const char *const params[] = { "id", "page", "user_id", "q", "sort", "action", "lang" };

static int append(char *buf, int o, const char *s)
{
    while (*s) {
        buf[o++] = *s++;
    }
    return o;
}

static int append_uint(char *buf, int o, unsigned v, int width)
{
    char tmp[12];
    int d = 0;
    do {
        tmp[d++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (d < width) {
        tmp[d++] = '0';
    }
    while (d) {
        buf[o++] = tmp[--d];
    }
    return o;
}

static int gen_line(char *buf, bench_rng *r)
{
    int o = 0;
    if (bench_rng_below(r, 10) == 0) {
        /* an error-log line */
        o = append(buf, o, "[");
        o = append(buf, o, months[bench_rng_below(r, 12)]);
        o = append(buf, o, " ");
        o = append_uint(buf, o, bench_rng_range(r, 1, 28), 2);
        o = append(buf, o, "] [php:");
        o = append(buf, o, bench_rng_below(r, 2) ? "error" : "warn");
        o = append(buf, o, "] PHP ");
        o = append(buf, o, bench_rng_below(r, 2) ? "Warning: Undefined variable $x in "
                                                  : "Fatal error: mysqli_sql_exception in ");
        o = append(buf, o, "/var/www/html");
        o = append(buf, o, paths[bench_rng_below(r, 16)]);
        o = append(buf, o, " on line ");
        o = append_uint(buf, o, bench_rng_range(r, 1, 2000), 0);
        return o;
    }
    for (int k = 0; k < 4; k++) {
        if (k) {
            buf[o++] = '.';
        }
        o = append_uint(buf, o, bench_rng_below(r, 256), 0);
    }
    o = append(buf, o, " - - [");
    o = append_uint(buf, o, bench_rng_range(r, 1, 28), 2);
    buf[o++] = '/';
    o = append(buf, o, months[bench_rng_below(r, 12)]);
    buf[o++] = '/';
    o = append_uint(buf, o, bench_rng_range(r, 2019, 2025), 4);
    buf[o++] = ':';
    o = append_uint(buf, o, bench_rng_below(r, 24), 2);
    buf[o++] = ':';
    o = append_uint(buf, o, bench_rng_below(r, 60), 2);
    buf[o++] = ':';
    o = append_uint(buf, o, bench_rng_below(r, 60), 2);
    o = append(buf, o, " +0000] \"");
    o = append(buf, o, methods[bench_rng_below(r, 6)]);
    buf[o++] = ' ';
    o = append(buf, o, paths[bench_rng_below(r, 16)]);
    if (bench_rng_below(r, 3) == 0) {
        int np = (int)bench_rng_range(r, 1, 3);
        for (int k = 0; k < np; k++) {
            buf[o++] = k ? '&' : '?';
            o = append(buf, o, params[bench_rng_below(r, 7)]);
            buf[o++] = '=';
            o = append_uint(buf, o, bench_rng_below(r, 100000), 0);
        }
    }
    o = append(buf, o, bench_rng_below(r, 8) ? " HTTP/1.1\" " : " HTTP/1.0\" ");
    o = append_uint(buf, o, (unsigned)statuses[bench_rng_below(r, 12)], 0);
    buf[o++] = ' ';
    o = append_uint(buf, o, bench_rng_below(r, bench_rng_below(r, 2) ? 1000u : 200000u), 0);
    o = append(buf, o, " \"-\" \"");
    o = append(buf, o, agents[bench_rng_below(r, 8)]);
    buf[o++] = '"';
    return o;
}

/* -------------------------------------------------------------- patterns */

static const char *const patterns[] = {
    "\"(GET|POST) /wp-(admin|login)[^ ]*",
    "\" (404|5[0-9][0-9]) ",
    "^\\d+\\.\\d+\\.\\d+\\.1\\d* ",
    "(bot|crawler|spider)",
    "\\[\\d\\d/(Jan|Feb|Mar)/20[0-9][0-9]:",
    "\\.php\\?[a-z_]+=[^&\" ]*&",
    "HTTP/1\\.[01]\" 200 \\d\\d\\d\\d+ ",
    "Mozilla/5\\.0 \\([^)]*Linux",
    "\\[php:(error|warn)\\].*line \\d+$",
    "^.*(phpmyadmin|\\.env|xmlrpc).*\"$",
    "(a|e|i|o|u)(b|c|d|f|g)+(e|o)",
    "(Warning|Fatal)[^:]*: [A-Za-z_ ]+\\$?\\w* in ",
    "\"(POST|PUT) [^ ?]*\\?(\\w+=\\w+&?)+ HTTP",
    "(\\d+\\.)+\\d+ - - \\[\\d+/\\w+/\\d+(:\\d\\d)+ \\+0000\\] \"HEAD",
};
#define NPATTERNS (int)(sizeof patterns / sizeof patterns[0])

typedef struct {
    const char *pattern;
    const char *text;
    int match, start, end;
} known_case;

static const known_case known[] = {
    { "abc", "xxabcxx", 1, 2, 5 },
    { "a(b|c)*d", "zabcbcd!", 1, 1, 7 },
    { "^a+$", "aaaa", 1, 0, 4 },
    { "^a+$", "aaab", 0, 0, 0 },
    { "x?y+", "zzyyy", 1, 2, 5 },
    { "[0-9]+\\.[0-9]+", "v 10.25 r", 1, 2, 7 },
    { "[^a-z]+", "abcDEF1g", 1, 3, 7 },
    { "(cat|dog)s?$", "hotdogs", 1, 3, 7 },
    { "\\d\\d:\\d\\d", "at 9:05 or 10:30", 1, 11, 16 },
    { "a.*b", "xaxxbxxb", 1, 1, 8 },
    { "colou?r", "the color", 1, 4, 9 },
    { "colou?r", "the colr", 0, 0, 0 },
};

int main(int argc, char **argv)
{
    unsigned long nlines = bench_arg(argc, argv, "number of log lines", 1, 100000000);
    static prog progs[NPATTERNS];
    static prog kp;
    uint64_t bt_steps = 0, nfa_steps = 0;

    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        const known_case *kc = &known[k];
        compile(kc->pattern, &kp);
        int n = (int)strlen(kc->text);
        int ms = -1, me = -1;
        int m1 = bt_search(&kp, (const unsigned char *)kc->text, n, &ms, &me, &bt_steps);
        int m2 = nfa_search(&kp, (const unsigned char *)kc->text, n, &nfa_steps);
        if (m1 != kc->match || m2 != kc->match ||
            (m1 && (ms != kc->start || me != kc->end))) {
            bench_fail("/%s/ on \"%s\": backtracker %d [%d,%d), NFA %d; expected %d [%d,%d)",
                       kc->pattern, kc->text, m1, ms, me, m2, kc->match, kc->start, kc->end);
        }
    }
    for (int k = 0; k < NPATTERNS; k++) {
        compile(patterns[k], &progs[k]);
    }

    bench_rng rng;
    bench_rng_seed(&rng, 0x52454758ULL);
    char line[512];
    unsigned long counts[NPATTERNS];
    memset(counts, 0, sizeof counts);
    uint64_t sum = 0;
    for (unsigned long ln = 0; ln < nlines; ln++) {
        int n = gen_line(line, &rng);
        const unsigned char *s = (const unsigned char *)line;
        uint64_t h = 0;
        for (int k = 0; k < NPATTERNS; k++) {
            int ms = 0, me = 0;
            int m1 = bt_search(&progs[k], s, n, &ms, &me, &bt_steps);
            int m2 = nfa_search(&progs[k], s, n, &nfa_steps);
            if (m1 != m2) {
                bench_fail("line %lu, /%s/: backtracker says %d, NFA says %d\n  %.*s", ln,
                           patterns[k], m1, m2, n, line);
            }
            if (m1) {
                counts[k]++;
                h = h * 1000003u + (uint64_t)(k + 1) * 65536u + (uint64_t)ms * 256u +
                    (uint64_t)me;
            }
        }
        sum = bench_hash(sum, h);
    }
    for (int k = 0; k < NPATTERNS; k++) {
        sum = bench_hash(sum, counts[k]);
    }
    sum = bench_hash(sum, bt_steps);
    sum = bench_hash(sum, nfa_steps);
    printf("lines: %lu, matches:", nlines);
    for (int k = 0; k < NPATTERNS; k++) {
        printf(" %lu", counts[k]);
    }
    printf("\n");
    return bench_finish(sum);
}
