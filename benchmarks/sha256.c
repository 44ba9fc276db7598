//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * sha256.c - SHA-256 (FIPS 180-4) in portable C, as used for TLS, package
 * signatures, password hashing and content addressing.
 *
 * Checks the FIPS test vectors, then hashes a generated buffer twice: once
 * as many messages of varied lengths (every padding case), and once as a
 * single stream fed in irregular chunks, which must equal the one-shot
 * digest of the same bytes.
 *
 * usage: sha256 N     (N = size of the generated buffer in KiB)
 */
#include "bench.h"

typedef struct {
    uint32_t h[8];
    uint64_t len;       /* bytes */
    unsigned char buf[64];
    size_t nbuf;
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u
};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
               ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[i] + w[i];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

static void sha256_init(sha256_ctx *c)
{
    static const uint32_t iv[8] = { 0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u };
    memcpy(c->h, iv, sizeof iv);
    c->len = 0;
    c->nbuf = 0;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    c->len += n;
    if (c->nbuf) {
        size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take;
        p += take;
        n -= take;
        if (c->nbuf == 64) {
            sha256_block(c->h, c->buf);
            c->nbuf = 0;
        }
    }
    while (n >= 64) {
        sha256_block(c->h, p);
        p += 64;
        n -= 64;
    }
    if (n) {
        memcpy(c->buf, p, n);
        c->nbuf = n;
    }
}

static void sha256_final(sha256_ctx *c, unsigned char out[32])
{
    uint64_t bits = c->len * 8u;
    unsigned char pad[72];
    size_t padlen = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++) {
        pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    }
    sha256_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

static void sha256(const void *data, size_t n, unsigned char out[32])
{
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, out);
}

static void hex(const unsigned char *d, char *out)
{
    for (int i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[d[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
    }
    out[64] = '\0';
}

static void check_vector(const char *msg, size_t reps, const char *want)
{
    sha256_ctx c;
    unsigned char d[32];
    char got[65];
    sha256_init(&c);
    for (size_t i = 0; i < reps; i++) {
        sha256_update(&c, msg, strlen(msg));
    }
    sha256_final(&c, d);
    hex(d, got);
    if (strcmp(got, want) != 0) {
        bench_fail("sha256 of \"%s\" x%lu is %s, expected %s", msg, (unsigned long)reps, got, want);
    }
}

static uint64_t digest_word(const unsigned char d[32])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | d[i];
    }
    return v;
}

int main(int argc, char **argv)
{
    unsigned long kib = bench_arg(argc, argv, "buffer size in KiB", 1, 1u << 20);
    size_t n = (size_t)kib * 1024u;

    check_vector("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_vector("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_vector("a", 1000,
                 "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");

    bench_rng rng;
    bench_rng_seed(&rng, 0x53484132ULL);
    unsigned char *buf = malloc(n);
    if (!buf) {
        bench_fail("out of memory");
    }
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = bench_rng_u64(&rng);
        for (size_t k = 0; k < 8 && i + k < n; k++) {
            buf[i + k] = (unsigned char)(v >> (8 * k));
        }
    }

    unsigned char d[32], whole[32];
    uint64_t sum = 0;
    /* many messages of varied length */
    size_t off = 0;
    unsigned long msgs = 0;
    while (off < n) {
        size_t len = bench_rng_below(&rng, 8) ? bench_rng_below(&rng, 130) : bench_rng_below(&rng, 4096);
        if (len > n - off) {
            len = n - off;
        }
        sha256(buf + off, len, d);
        sum = bench_hash(sum, digest_word(d));
        off += len;
        msgs++;
    }
    /* one stream in irregular chunks must equal the one-shot digest */
    sha256_ctx c;
    sha256_init(&c);
    off = 0;
    while (off < n) {
        size_t len = bench_rng_below(&rng, 300);
        if (len > n - off) {
            len = n - off;
        }
        sha256_update(&c, buf + off, len);
        off += len;
    }
    sha256_final(&c, d);
    sha256(buf, n, whole);
    if (memcmp(d, whole, 32) != 0) {
        bench_fail("chunked and one-shot digests differ");
    }
    char hx[65];
    hex(whole, hx);
    sum = bench_hash(sum, digest_word(whole));
    sum = bench_hash(sum, msgs);
    printf("messages: %lu, sha256(buffer) = %s\n", msgs, hx);
    free(buf);
    return bench_finish(sum);
}
