//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * hashtable.c - a string-keyed hash table (open addressing, linear probing,
 * tombstones, growth by rehashing), the data structure behind PHP arrays,
 * memcached and the MySQL query cache.
 *
 * N distinct keys are generated; the benchmark inserts them all (the table
 * starts tiny and grows), looks every one up, looks up N keys known to be
 * absent, deletes a third, checks that exactly those are gone, re-inserts
 * them with new values, updates another third in place and checks every
 * value once more.
 *
 * usage: hashtable N     (N = number of keys)
 */
#include "bench.h"

typedef struct {
    uint64_t hash;      /* 0 = empty, 1 = tombstone, otherwise hash | 2 */
    uint32_t key_off;
    uint32_t key_len;
    uint64_t value;
} slot;

typedef struct {
    slot *slots;
    size_t cap;         /* power of two */
    size_t used;        /* live entries */
    size_t tomb;        /* tombstones */
    const char *arena;  /* key bytes */
    unsigned long probes;
} table;

#define EMPTY 0u
#define TOMB 1u

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = bench_fnv(BENCH_FNV_INIT, k, n);
    h ^= h >> 29;
    return h | 2u; /* never EMPTY or TOMB */
}

static void table_init(table *t, const char *arena)
{
    t->cap = 8;
    t->slots = calloc(t->cap, sizeof(slot));
    if (!t->slots) {
        bench_fail("out of memory");
    }
    t->used = 0;
    t->tomb = 0;
    t->arena = arena;
    t->probes = 0;
}

static void table_resize(table *t, size_t cap)
{
    slot *old = t->slots;
    size_t oldcap = t->cap;
    t->slots = calloc(cap, sizeof(slot));
    if (!t->slots) {
        bench_fail("out of memory");
    }
    t->cap = cap;
    t->tomb = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].hash > TOMB) {
            size_t j = (size_t)old[i].hash & (cap - 1);
            while (t->slots[j].hash != EMPTY) {
                j = (j + 1) & (cap - 1);
            }
            t->slots[j] = old[i];
        }
    }
    free(old);
}

/* Returns the slot holding key, or NULL. */
static slot *table_find(table *t, const char *k, uint32_t n, uint64_t h)
{
    size_t mask = t->cap - 1;
    size_t j = (size_t)h & mask;
    for (;;) {
        slot *s = &t->slots[j];
        t->probes++;
        if (s->hash == EMPTY) {
            return NULL;
        }
        if (s->hash == h && s->key_len == n && memcmp(t->arena + s->key_off, k, n) == 0) {
            return s;
        }
        j = (j + 1) & mask;
    }
}

/* Inserts or updates; returns 1 if the key was new. */
static int table_put(table *t, uint32_t off, uint32_t n, uint64_t value)
{
    const char *k = t->arena + off;
    uint64_t h = hash_key(k, n);
    if ((t->used + t->tomb + 1) * 4 > t->cap * 3) {
        table_resize(t, t->used * 2 + 2 > t->cap ? t->cap * 2 : t->cap);
    }
    size_t mask = t->cap - 1;
    size_t j = (size_t)h & mask;
    slot *first_tomb = NULL;
    for (;;) {
        slot *s = &t->slots[j];
        t->probes++;
        if (s->hash == EMPTY) {
            break;
        }
        if (s->hash == TOMB) {
            if (!first_tomb) {
                first_tomb = s;
            }
        } else if (s->hash == h && s->key_len == n &&
                   memcmp(t->arena + s->key_off, k, n) == 0) {
            s->value = value;
            return 0;
        }
        j = (j + 1) & mask;
    }
    slot *s = first_tomb ? first_tomb : &t->slots[j];
    if (first_tomb) {
        t->tomb--;
    }
    s->hash = h;
    s->key_off = off;
    s->key_len = n;
    s->value = value;
    t->used++;
    return 1;
}

static int table_del(table *t, const char *k, uint32_t n)
{
    slot *s = table_find(t, k, n, hash_key(k, n));
    if (!s) {
        return 0;
    }
    s->hash = TOMB;
    s->value = 0;
    t->used--;
    t->tomb++;
    return 1;
}

/* ------------------------------------------------------------- key data */

static char *arena;
static size_t arena_len, arena_cap;

static uint32_t add_key(const char *prefix, unsigned long id, int sep, bench_rng *r, int suffix)
{
    if (arena_len + 64 > arena_cap) {
        arena_cap = arena_cap * 2 + 4096;
        arena = realloc(arena, arena_cap);
        if (!arena) {
            bench_fail("out of memory");
        }
    }
    char *p = arena + arena_len;
    size_t n = strlen(prefix);
    memcpy(p, prefix, n);
    p[n++] = (char)sep;
    char tmp[24];
    int d = 0;
    do {
        tmp[d++] = "0123456789abcdefghijklmnopqrstuvwxyz"[id % 36u];
        id /= 36u;
    } while (id);
    while (d) {
        p[n++] = tmp[--d];
    }
    if (suffix) {
        p[n++] = ':';
        uint32_t extra = bench_rng_below(r, 12);
        for (uint32_t i = 0; i < extra; i++) {
            p[n++] = (char)('a' + bench_rng_below(r, 26));
        }
    }
    uint32_t off = (uint32_t)arena_len;
    arena_len += n;
    return off;
}

static const char *const prefixes[] = {
    "user", "session", "post", "cache:page", "wp_options", "product_sku", "cart",
    "i18n.en_US", "config.db.host", "opcache", "tpl", "route:/api/v1"
};

int main(int argc, char **argv)
{
    unsigned long n = bench_arg(argc, argv, "number of keys", 1, 10000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x48415348ULL);

    uint32_t *off = malloc(n * sizeof *off);
    uint32_t *len = malloc(n * sizeof *len);
    uint32_t *moff = malloc(n * sizeof *moff);
    uint32_t *mlen = malloc(n * sizeof *mlen);
    if (!off || !len || !moff || !mlen) {
        bench_fail("out of memory");
    }
    /* every key embeds its index after '.', so keys are distinct; the
     * absent keys use '#' instead, which no present key contains */
    for (unsigned long i = 0; i < n; i++) {
        const char *pre = prefixes[bench_rng_below(&rng, 12)];
        size_t before = arena_len;
        off[i] = add_key(pre, i, '.', &rng, 1);
        len[i] = (uint32_t)(arena_len - before);
    }
    for (unsigned long i = 0; i < n; i++) {
        const char *pre = prefixes[bench_rng_below(&rng, 12)];
        size_t before = arena_len;
        moff[i] = add_key(pre, i, '#', &rng, 0);
        mlen[i] = (uint32_t)(arena_len - before);
    }

    table t;
    table_init(&t, arena);
    uint64_t sum = 0;

    for (unsigned long i = 0; i < n; i++) {
        if (!table_put(&t, off[i], len[i], i * 7u + 1u)) {
            bench_fail("key %lu reported as already present", i);
        }
    }
    if (t.used != n) {
        bench_fail("table holds %lu entries, expected %lu", (unsigned long)t.used, n);
    }
    for (unsigned long i = 0; i < n; i++) {
        const char *k = arena + off[i];
        slot *s = table_find(&t, k, len[i], hash_key(k, len[i]));
        if (!s || s->value != i * 7u + 1u) {
            bench_fail("key %lu not found after insert", i);
        }
        sum += s->value;
    }
    for (unsigned long i = 0; i < n; i++) {
        const char *k = arena + moff[i];
        if (table_find(&t, k, mlen[i], hash_key(k, mlen[i]))) {
            bench_fail("absent key %lu found", i);
        }
    }
    for (unsigned long i = 0; i < n; i += 3) {
        if (!table_del(&t, arena + off[i], len[i])) {
            bench_fail("key %lu could not be deleted", i);
        }
    }
    for (unsigned long i = 0; i < n; i++) {
        const char *k = arena + off[i];
        slot *s = table_find(&t, k, len[i], hash_key(k, len[i]));
        if ((i % 3 == 0) != (s == NULL)) {
            bench_fail("key %lu: wrong presence after deletes", i);
        }
        sum = bench_hash(sum, s ? s->value : 0);
    }
    for (unsigned long i = 0; i < n; i += 3) {
        if (!table_put(&t, off[i], len[i], i * 11u + 5u)) {
            bench_fail("deleted key %lu still present", i);
        }
    }
    for (unsigned long i = 1; i < n; i += 3) {
        if (table_put(&t, off[i], len[i], i * 13u + 3u)) {
            bench_fail("key %lu missing at update", i);
        }
    }
    for (unsigned long i = 0; i < n; i++) {
        const char *k = arena + off[i];
        slot *s = table_find(&t, k, len[i], hash_key(k, len[i]));
        uint64_t want = i % 3 == 0 ? i * 11u + 5u : i % 3 == 1 ? i * 13u + 3u : i * 7u + 1u;
        if (!s || s->value != want) {
            bench_fail("key %lu has the wrong value at the end", i);
        }
        sum = bench_hash(sum, s->value ^ s->hash);
    }
    if (t.used != n) {
        bench_fail("table holds %lu entries at the end, expected %lu", (unsigned long)t.used, n);
    }
    /* table layout depends only on the hash function and the operation order */
    uint64_t layout = 0;
    for (size_t j = 0; j < t.cap; j++) {
        layout = layout * 31u + t.slots[j].hash + t.slots[j].value;
    }
    sum = bench_hash(sum, layout);
    sum = bench_hash(sum, t.probes);
    sum = bench_hash(sum, t.cap);
    printf("keys: %lu, capacity: %lu, probes: %lu\n", n, (unsigned long)t.cap, t.probes);
    free(t.slots);
    free(off);
    free(len);
    free(moff);
    free(mlen);
    free(arena);
    return bench_finish(sum);
}
