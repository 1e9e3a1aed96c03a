/* capdup: which packets are capture duplicates. Packets are built by the
 * test packet builder and dissected as a raw IP capture, so the detector
 * sees what it sees in a capture: the same packet after a hop (another TTL,
 * another IPv4 header checksum) is a copy; a packet differing in any other
 * byte is not, however short it is (below one 32-byte hash block, the seed
 * carrying the header's first 16 bytes once went lost). And hash_mix_bytes
 * itself: every seed counts, at every length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capdup.h"
#include "hash_mix.h"
#include "packet_builder.h"
#include "proto.h"

struct built {
    uint8_t bytes[256];
    size_t len;
    struct packet p;
};

/* A UDP datagram of `len` payload bytes (each `fill`) from 10.0.0.1:5000
 * to 10.0.0.2:53 (or the reverse), IP id `id`, TTL `ttl`, dissected as
 * frame `frame` at `ts` microseconds. */
static void build_udp(struct built *b, bool reverse, uint8_t fill, size_t len, uint16_t id, uint8_t ttl,
                      uint32_t frame, int64_t ts)
{
    struct pb_addr a = pb_addr("10.0.0.1"), c = pb_addr("10.0.0.2");
    uint8_t payload[64];
    memset(payload, fill, sizeof payload);
    uint8_t l4[128];
    size_t l4_len = reverse ? pb_udp_datagram(l4, sizeof l4, &c, &a, 53, 5000, payload, len, PB_CSUM_GOOD)
                            : pb_udp_datagram(l4, sizeof l4, &a, &c, 5000, 53, payload, len, PB_CSUM_GOOD);
    struct pb_ip x = { .ttl = ttl, .id = id };
    b->len = reverse ? pb_ip_packet(b->bytes, sizeof b->bytes, &c, &a, 17, l4, l4_len, &x)
                     : pb_ip_packet(b->bytes, sizeof b->bytes, &a, &c, 17, l4, l4_len, &x);
    assert_true(b->len > 0);
    assert_int_equal(dissect_frame(&b->p, frame, ts, WC_LINK_RAW, b->bytes, (uint32_t)b->len,
                                   (uint32_t)b->len),
                     DISSECT_OK);
}

static void test_copy_after_a_hop_is_a_duplicate(void **state)
{
    (void)state;
    struct capdup d;
    capdup_init(&d);
    struct built first, copy;
    build_udp(&first, false, 'a', 40, 7, 64, 1, 1000);
    build_udp(&copy, false, 'a', 40, 7, 63, 2, 1010);   /* TTL and checksum differ */
    assert_int_equal(capdup_check(&d, &first.p), 0);
    assert_int_equal(capdup_check(&d, &copy.p), 1);
    capdup_free(&d);
}

/* Short packets (IP 28-31 bytes: less than 16 bytes after the header's
 * first 16) that differ in one header byte of those 16, or one payload
 * byte: none is a copy of another. */
static void test_short_packets_differing_in_one_byte_are_not_duplicates(void **state)
{
    (void)state;
    for (size_t len = 0; len < 4; len++) {
        struct capdup d;
        capdup_init(&d);
        struct built b;
        build_udp(&b, false, 'a', len, 7, 64, 1, 1000);
        assert_int_equal(capdup_check(&d, &b.p), 0);
        build_udp(&b, false, 'a', len, 8, 64, 2, 1001);  /* IP id */
        assert_int_equal(capdup_check(&d, &b.p), 0);
        if (len) {
            build_udp(&b, false, 'b', len, 7, 64, 3, 1002); /* payload */
            assert_int_equal(capdup_check(&d, &b.p), 0);
        }
        capdup_free(&d);
    }
}

/* The same bytes sent again after the peer answered are a real re-send. */
static void test_resend_after_an_answer_is_not_a_duplicate(void **state)
{
    (void)state;
    struct capdup d;
    capdup_init(&d);
    struct built b;
    build_udp(&b, false, 'q', 20, 9, 64, 1, 1000);
    assert_int_equal(capdup_check(&d, &b.p), 0);
    build_udp(&b, true, 'r', 20, 10, 64, 2, 1100);     /* the answer */
    assert_int_equal(capdup_check(&d, &b.p), 0);
    build_udp(&b, false, 'q', 20, 9, 64, 3, 1200);
    assert_int_equal(capdup_check(&d, &b.p), 0);
    /* Without an answer between, the same re-send is a copy. */
    build_udp(&b, false, 'q', 20, 9, 64, 4, 1300);
    assert_int_equal(capdup_check(&d, &b.p), 3);
    capdup_free(&d);
}

static void test_hash_mix_bytes_keeps_the_seed_at_every_length(void **state)
{
    (void)state;
    uint8_t bytes[80];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof bytes; n++) {
        uint64_t h1 = hash_mix_bytes(1, bytes, n), h2 = hash_mix_bytes(2, bytes, n);
        assert_true(h1 != h2);
        for (size_t k = 0; k < n; k++) { /* every byte counts, wherever it falls */
            bytes[k] ^= 1;
            assert_true(hash_mix_bytes(1, bytes, n) != h1);
            bytes[k] ^= 1;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_after_a_hop_is_a_duplicate),
        cmocka_unit_test(test_short_packets_differing_in_one_byte_are_not_duplicates),
        cmocka_unit_test(test_resend_after_an_answer_is_not_a_duplicate),
        cmocka_unit_test(test_hash_mix_bytes_keeps_the_seed_at_every_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
