//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package benchmarks_test; tcbot builds it with a C compiler.)

/*
 * crc32.c - CRC-32 (IEEE 802.3, as in gzip/zlib/PNG) and CRC-32C
 * (Castagnoli, as in InnoDB pages, ext4 and iSCSI), each computed
 * byte-at-a-time from a 256-entry table and with slicing-by-8.
 *
 * Checks the standard "123456789" check values and a bit-at-a-time
 * reference, then, for each of N passes over a 64 KiB generated buffer,
 * splits the buffer into segments of varied length and alignment and checks
 * that both table methods agree on every segment and that incremental
 * updates over the segments equal the CRC of the whole buffer.
 *
 * usage: crc32 N     (N = number of passes over the buffer)
 */
#include "bench.h"

#define BUF_SIZE (64u * 1024u)
#define POLY_IEEE 0xedb88320u
#define POLY_C 0x82f63b78u

typedef struct {
    uint32_t t[8][256];
} crc_tables;

static crc_tables ieee, castagnoli;

static void make_tables(crc_tables *ct, uint32_t poly)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ poly : c >> 1;
        }
        ct->t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = ct->t[0][i];
        for (int s = 1; s < 8; s++) {
            c = ct->t[0][c & 0xffu] ^ (c >> 8);
            ct->t[s][i] = c;
        }
    }
}

/* Bit-at-a-time reference. crc is the running value (start with 0). */
static uint32_t crc_bitwise(uint32_t poly, uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (poly & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static uint32_t crc_bytewise(const crc_tables *ct, uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = ct->t[0][(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    }
    return ~crc;
}

static uint32_t crc_slice8(const crc_tables *ct, uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    /* byte steps up to 8-byte alignment of the data offset */
    while (n && ((uintptr_t)p & 7u)) {
        crc = ct->t[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                       ((uint32_t)p[3] << 24)) ^ crc;
        uint32_t hi = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) |
                      ((uint32_t)p[7] << 24);
        crc = ct->t[7][lo & 0xffu] ^ ct->t[6][(lo >> 8) & 0xffu] ^
              ct->t[5][(lo >> 16) & 0xffu] ^ ct->t[4][lo >> 24] ^
              ct->t[3][hi & 0xffu] ^ ct->t[2][(hi >> 8) & 0xffu] ^
              ct->t[1][(hi >> 16) & 0xffu] ^ ct->t[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) {
        crc = ct->t[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    }
    return ~crc;
}

static void check_value(const char *what, uint32_t got, uint32_t want)
{
    if (got != want) {
        bench_fail("%s = %08x, expected %08x", what, (unsigned)got, (unsigned)want);
    }
}

int main(int argc, char **argv)
{
    unsigned long passes = bench_arg(argc, argv, "number of passes over a 64 KiB buffer", 1,
                                     100000000);
    make_tables(&ieee, POLY_IEEE);
    make_tables(&castagnoli, POLY_C);

    const unsigned char *check = (const unsigned char *)"123456789";
    check_value("crc32 bitwise", crc_bitwise(POLY_IEEE, 0, check, 9), 0xcbf43926u);
    check_value("crc32 bytewise", crc_bytewise(&ieee, 0, check, 9), 0xcbf43926u);
    check_value("crc32 slice8", crc_slice8(&ieee, 0, check, 9), 0xcbf43926u);
    check_value("crc32c bitwise", crc_bitwise(POLY_C, 0, check, 9), 0xe3069283u);
    check_value("crc32c bytewise", crc_bytewise(&castagnoli, 0, check, 9), 0xe3069283u);
    check_value("crc32c slice8", crc_slice8(&castagnoli, 0, check, 9), 0xe3069283u);

    bench_rng rng;
    bench_rng_seed(&rng, 0x43524333ULL);
    /* 8 spare bytes so that segments can start at any alignment */
    unsigned char *mem = malloc(BUF_SIZE + 16);
    if (!mem) {
        bench_fail("out of memory");
    }
    memset(mem, 0, BUF_SIZE + 16);
    unsigned char *buf = mem + 8;
    for (size_t i = 0; i < BUF_SIZE; i++) {
        buf[i] = (unsigned char)(bench_rng_u32(&rng) >> 24);
    }
    /* reference for the whole buffer, computed once bit by bit */
    uint32_t whole_ieee = crc_bitwise(POLY_IEEE, 0, buf, BUF_SIZE);
    uint32_t whole_c = crc_bitwise(POLY_C, 0, buf, BUF_SIZE);
    check_value("crc32 slice8 of buffer", crc_slice8(&ieee, 0, buf, BUF_SIZE), whole_ieee);
    check_value("crc32c bytewise of buffer", crc_bytewise(&castagnoli, 0, buf, BUF_SIZE), whole_c);

    uint64_t sum = bench_hash(whole_ieee, whole_c);
    for (unsigned long pass = 0; pass < passes; pass++) {
        /* change a few bytes so every pass hashes different data */
        for (int k = 0; k < 4; k++) {
            uint32_t at = bench_rng_below(&rng, BUF_SIZE);
            buf[at] ^= (unsigned char)(1u + bench_rng_below(&rng, 255));
        }
        uint32_t run_ieee = 0, run_c = 0, run_ieee_b = 0;
        size_t off = 0;
        unsigned nseg = 0;
        while (off < BUF_SIZE) {
            size_t len = bench_rng_below(&rng, 4) ? bench_rng_below(&rng, 64)
                                                  : bench_rng_below(&rng, 8192);
            if (len > BUF_SIZE - off) {
                len = BUF_SIZE - off;
            }
            const unsigned char *seg = buf + off;
            uint32_t a = crc_bytewise(&ieee, 0, seg, len);
            uint32_t b = crc_slice8(&ieee, 0, seg, len);
            if (a != b) {
                bench_fail("pass %lu segment at %lu+%lu: bytewise %08x != slice8 %08x", pass,
                           (unsigned long)off, (unsigned long)len, (unsigned)a, (unsigned)b);
            }
            uint32_t c = crc_slice8(&castagnoli, 0, seg, len);
            sum = bench_hash(sum, ((uint64_t)b << 32) | c);
            run_ieee = crc_slice8(&ieee, run_ieee, seg, len);
            run_ieee_b = crc_bytewise(&ieee, run_ieee_b, seg, len);
            run_c = crc_slice8(&castagnoli, run_c, seg, len);
            off += len;
            nseg++;
        }
        uint32_t full = crc_slice8(&ieee, 0, buf, BUF_SIZE);
        uint32_t full_c = crc_bytewise(&castagnoli, 0, buf, BUF_SIZE);
        if (run_ieee != full || run_ieee_b != full || run_c != full_c) {
            bench_fail("pass %lu: incremental CRCs %08x/%08x/%08x differ from whole-buffer %08x/%08x",
                       pass, (unsigned)run_ieee, (unsigned)run_ieee_b, (unsigned)run_c,
                       (unsigned)full, (unsigned)full_c);
        }
        sum = bench_hash(sum, ((uint64_t)full << 32) | full_c);
        sum = bench_hash(sum, nseg);
    }
    printf("passes: %lu x %u bytes\n", passes, BUF_SIZE);
    free(mem);
    return bench_finish(sum);
}
