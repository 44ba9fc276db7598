//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * btree.c - a B+ tree index as used by InnoDB/MySQL: page-sized nodes with
 * binary search inside a node, node splits on insert, leaves chained for
 * range scans.
 *
 * N random 32-bit keys are inserted (duplicates update in place), every
 * inserted key is looked up, N random keys are probed, and N/8 range scans
 * are run. A sorted, de-duplicated copy of the keys checks the leaf chain,
 * the presence of every probed key and the row count of every range scan.
 *
 * usage: btree N     (N = number of inserts)
 */
#include "bench.h"

#define ORDER 64 /* max keys in a node */

typedef struct node {
    int n;
    int leaf;
    uint32_t keys[ORDER];
    uint64_t vals[ORDER];              /* leaves */
    struct node *child[ORDER + 1];     /* internal nodes */
    struct node *next;                 /* leaf chain */
} node;

static unsigned long nodes_allocated;

static node *new_node(int leaf)
{
    node *nd = calloc(1, sizeof *nd);
    if (!nd) {
        bench_fail("out of memory");
    }
    nd->leaf = leaf;
    nodes_allocated++;
    return nd;
}

static void free_tree(node *nd)
{
    if (!nd->leaf) {
        for (int i = 0; i <= nd->n; i++) {
            free_tree(nd->child[i]);
        }
    }
    free(nd);
}

static uint64_t value_of(uint32_t key)
{
    return bench_mix64(key) | 1u;
}

/* first index i with keys[i] >= key */
static int lower_bound(const uint32_t *keys, int n, uint32_t key)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (keys[mid] < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* first index i with keys[i] > key */
static int upper_bound(const uint32_t *keys, int n, uint32_t key)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (keys[mid] <= key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

typedef struct {
    uint32_t key;
    node *right;
} split_info;

/* Returns 1 when key was new. On a split of nd, fills *sp and sets sp->right. */
static int insert_rec(node *nd, uint32_t key, uint64_t val, split_info *sp)
{
    sp->right = NULL;
    if (nd->leaf) {
        int pos = lower_bound(nd->keys, nd->n, key);
        if (pos < nd->n && nd->keys[pos] == key) {
            nd->vals[pos] = val;
            return 0;
        }
        memmove(&nd->keys[pos + 1], &nd->keys[pos], (size_t)(nd->n - pos) * sizeof nd->keys[0]);
        memmove(&nd->vals[pos + 1], &nd->vals[pos], (size_t)(nd->n - pos) * sizeof nd->vals[0]);
        nd->keys[pos] = key;
        nd->vals[pos] = val;
        nd->n++;
        if (nd->n == ORDER) {
            node *r = new_node(1);
            int half = ORDER / 2;
            r->n = ORDER - half;
            memcpy(r->keys, &nd->keys[half], (size_t)r->n * sizeof r->keys[0]);
            memcpy(r->vals, &nd->vals[half], (size_t)r->n * sizeof r->vals[0]);
            nd->n = half;
            r->next = nd->next;
            nd->next = r;
            sp->key = r->keys[0];
            sp->right = r;
        }
        return 1;
    }
    int pos = upper_bound(nd->keys, nd->n, key);
    split_info child_sp;
    int added = insert_rec(nd->child[pos], key, val, &child_sp);
    if (child_sp.right) {
        memmove(&nd->keys[pos + 1], &nd->keys[pos], (size_t)(nd->n - pos) * sizeof nd->keys[0]);
        memmove(&nd->child[pos + 2], &nd->child[pos + 1],
                (size_t)(nd->n - pos) * sizeof nd->child[0]);
        nd->keys[pos] = child_sp.key;
        nd->child[pos + 1] = child_sp.right;
        nd->n++;
        if (nd->n == ORDER) {
            node *r = new_node(0);
            int mid = ORDER / 2;
            r->n = ORDER - mid - 1;
            memcpy(r->keys, &nd->keys[mid + 1], (size_t)r->n * sizeof r->keys[0]);
            memcpy(r->child, &nd->child[mid + 1], (size_t)(r->n + 1) * sizeof r->child[0]);
            sp->key = nd->keys[mid];
            sp->right = r;
            nd->n = mid;
        }
    }
    return added;
}

typedef struct {
    node *root;
    int height;
    unsigned long size;
} btree;

static void bt_insert(btree *t, uint32_t key, uint64_t val)
{
    split_info sp;
    t->size += (unsigned long)insert_rec(t->root, key, val, &sp);
    if (sp.right) {
        node *root = new_node(0);
        root->n = 1;
        root->keys[0] = sp.key;
        root->child[0] = t->root;
        root->child[1] = sp.right;
        t->root = root;
        t->height++;
    }
}

static node *find_leaf(const btree *t, uint32_t key)
{
    node *nd = t->root;
    while (!nd->leaf) {
        nd = nd->child[upper_bound(nd->keys, nd->n, key)];
    }
    return nd;
}

static const uint64_t *bt_lookup(const btree *t, uint32_t key)
{
    node *leaf = find_leaf(t, key);
    int pos = lower_bound(leaf->keys, leaf->n, key);
    if (pos < leaf->n && leaf->keys[pos] == key) {
        return &leaf->vals[pos];
    }
    return NULL;
}

/* SELECT COUNT(*), checksum(val) WHERE key BETWEEN lo AND hi */
static unsigned long bt_range(const btree *t, uint32_t lo, uint32_t hi, uint64_t *acc)
{
    node *leaf = find_leaf(t, lo);
    int pos = lower_bound(leaf->keys, leaf->n, lo);
    unsigned long count = 0;
    uint64_t a = *acc;
    while (leaf) {
        for (; pos < leaf->n; pos++) {
            if (leaf->keys[pos] > hi) {
                *acc = a;
                return count;
            }
            a = a * 0x9e3779b1u + leaf->vals[pos];
            count++;
        }
        leaf = leaf->next;
        pos = 0;
    }
    *acc = a;
    return count;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* index of the first element >= key in a sorted array */
static size_t arr_lower(const uint32_t *a, size_t n, uint32_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int main(int argc, char **argv)
{
    unsigned long n = bench_arg(argc, argv, "number of inserts", 1, 10000000);
    bench_rng rng;
    bench_rng_seed(&rng, 0x42545245ULL);

    uint32_t *keys = malloc(n * sizeof *keys);
    if (!keys) {
        bench_fail("out of memory");
    }
    /* keys in a range of about 4N values, so about an eighth are repeats */
    uint32_t span = n < 0x3fffffffu ? (uint32_t)(n * 4u) : 0xffffffffu;
    for (unsigned long i = 0; i < n; i++) {
        keys[i] = bench_rng_below(&rng, span) * 997u + 13u;
    }

    btree t = { new_node(1), 1, 0 };
    for (unsigned long i = 0; i < n; i++) {
        bt_insert(&t, keys[i], value_of(keys[i]));
    }

    /* reference: sorted distinct keys */
    uint32_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        bench_fail("out of memory");
    }
    memcpy(sorted, keys, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_u32);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (nd == 0 || sorted[nd - 1] != sorted[i]) {
            sorted[nd++] = sorted[i];
        }
    }
    if (nd != t.size) {
        bench_fail("tree holds %lu keys, expected %lu", t.size, (unsigned long)nd);
    }
    /* walk the leaf chain */
    node *leaf = find_leaf(&t, 0);
    size_t k = 0;
    for (; leaf; leaf = leaf->next) {
        for (int i = 0; i < leaf->n; i++, k++) {
            if (k >= nd || leaf->keys[i] != sorted[k] || leaf->vals[i] != value_of(sorted[k])) {
                bench_fail("leaf chain differs from sorted keys at position %lu", (unsigned long)k);
            }
        }
    }
    if (k != nd) {
        bench_fail("leaf chain has %lu keys, expected %lu", (unsigned long)k, (unsigned long)nd);
    }

    uint64_t sum = bench_hash(0, t.size);
    sum = bench_hash(sum, (uint64_t)t.height);
    sum = bench_hash(sum, nodes_allocated);

    /* point lookups of inserted keys */
    uint64_t acc = 0;
    for (unsigned long i = 0; i < n; i++) {
        const uint64_t *v = bt_lookup(&t, keys[i]);
        if (!v || *v != value_of(keys[i])) {
            bench_fail("inserted key %lu (%u) not found", i, (unsigned)keys[i]);
        }
        acc += *v;
    }
    sum = bench_hash(sum, acc);

    /* random probes, half of them hit-prone */
    unsigned long hits = 0;
    for (unsigned long i = 0; i < n; i++) {
        uint32_t key = bench_rng_below(&rng, span) * 997u;
        key += bench_rng_below(&rng, 2) ? 13u : 14u;
        const uint64_t *v = bt_lookup(&t, key);
        size_t p = arr_lower(sorted, nd, key);
        int present = p < nd && sorted[p] == key;
        if (present != (v != NULL)) {
            bench_fail("probe of key %u: tree says %d, reference says %d", (unsigned)key,
                       v != NULL, present);
        }
        hits += (unsigned long)present;
    }
    sum = bench_hash(sum, hits);

    /* range scans */
    unsigned long rows = 0;
    for (unsigned long i = 0; i < n / 8 + 1; i++) {
        uint32_t lo = bench_rng_below(&rng, span) * 997u;
        uint32_t width = bench_rng_below(&rng, 200u * 997u * 4u);
        uint32_t hi = lo + width < lo ? 0xffffffffu : lo + width;
        uint64_t racc = 0;
        unsigned long c = bt_range(&t, lo, hi, &racc);
        size_t end = arr_lower(sorted, nd, hi);
        if (end < nd && sorted[end] == hi) {
            end++;
        }
        size_t want = end - arr_lower(sorted, nd, lo);
        if (c != want) {
            bench_fail("range [%u, %u] returned %lu rows, expected %lu", (unsigned)lo,
                       (unsigned)hi, c, (unsigned long)want);
        }
        rows += c;
        sum = bench_hash(sum, racc ^ c);
    }
    sum = bench_hash(sum, rows);
    printf("keys: %lu, height: %d, nodes: %lu, hits: %lu, range rows: %lu\n", t.size, t.height,
           nodes_allocated, hits, rows);
    free_tree(t.root);
    free(keys);
    free(sorted);
    return bench_finish(sum);
}
