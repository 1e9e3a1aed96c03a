/* reasm: IPv4 and IPv6 fragments in and out of order, identical and
 * conflicting overlaps, the size limit, the timeout and the bound on
 * datagrams in reassembly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dissect.h"
#include "flow.h"
#include "packet_builder.h"
#include "reasm.h"

/* Fragments: in order, out of order, overlapping with different bytes. */
static size_t fragment(uint8_t *out, const uint8_t *l4, size_t off, size_t len, bool mf, uint16_t id)
{
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    struct pb_ip x = { .id = id, .mf = mf, .frag_offset = (uint16_t)off };
    return pb_ip_packet(out, 2048, &a, &b, WC_IPPROTO_UDP, l4 + off, len, &x);
}

static void test_reassembly(void **state)
{
    (void)state;
    uint8_t dg[1100], f1[2048], f2[2048];
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    size_t n = pb_udp_datagram(dg, sizeof dg, &a, &b, 40000, 3434, payload, sizeof payload, PB_CSUM_GOOD);
    size_t n1 = fragment(f1, dg, 0, 512, true, 9), n2 = fragment(f2, dg, 512, n - 512, false, 9);

    struct reasm *r = reasm_create(4, 1000000);
    struct frame_list failed = { 0 };
    struct packet p1, p2;
    const uint8_t *whole;
    uint32_t len;
    dissect_frame(&p2, 1, 0, WC_LINK_RAW, f2, (uint32_t)n2, (uint32_t)n2);
    dissect_frame(&p1, 2, 0, WC_LINK_RAW, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p2, &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_pending(r), 1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_DONE);
    assert_int_equal(len, n);
    assert_memory_equal(whole, dg, n);
    assert_int_equal(dissect_transport(&p1, whole, len), DISSECT_OK);
    assert_int_equal(p1.l4, L4_UDP);
    assert_int_equal(p1.payload_len, 1000);
    assert_int_equal(p1.l4_checksum, CSUM_GOOD);
    assert_true(p1.reassembled);
    assert_int_equal(reasm_pending(r), 0);

    /* Overlap with different bytes: given up. */
    dissect_frame(&p1, 3, 0, WC_LINK_RAW, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_PENDING);
    f1[28 + 100] ^= 0xff; /* same fragment, one byte changed */
    dissect_frame(&p1, 4, 0, WC_LINK_RAW, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_FAILED);
    assert_int_equal(failed.count, 1);
    assert_int_equal(failed.frames[0], 4);

    /* Missing tail: expires. */
    dissect_frame(&p1, 5, 10, WC_LINK_RAW, f1, (uint32_t)n1, (uint32_t)n1);
    assert_int_equal(reasm_add(r, &p1, &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_expire(r, 500, &failed), 0);
    assert_int_equal(reasm_expire(r, 2000000, &failed), 1);
    assert_int_equal(failed.count, 2);

    /* Bounded: a fifth pending datagram evicts the oldest of four. */
    for (uint16_t id = 100; id < 105; id++) {
        n1 = fragment(f1, dg, 0, 512, true, id);
        dissect_frame(&p1, id, id, WC_LINK_RAW, f1, (uint32_t)n1, (uint32_t)n1);
        reasm_add(r, &p1, &whole, &len, &failed);
    }
    assert_int_equal(reasm_pending(r), 4);
    assert_int_equal(failed.count, 3);
    reasm_destroy(r);
}

/* A UDP datagram of `len` payload bytes (0, 1, 2, ...) from a to b. */
static size_t udp_datagram(uint8_t *dg, size_t cap, const char *from, const char *to, size_t len)
{
    struct pb_addr a = pb_addr(from), b = pb_addr(to);
    uint8_t payload[4000];
    assert_true(len <= sizeof payload);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)i;
    return pb_udp_datagram(dg, cap, &a, &b, 40000, 3434, payload, len, PB_CSUM_GOOD);
}

/* Cuts dg into fragments of `piece` bytes (a multiple of 8) and dissects
 * fragment k into p[k] (frame k + 1). Returns how many. */
static size_t cut(const uint8_t *dg, size_t n, size_t piece, const char *from, const char *to,
                  bool v6, uint8_t frames[][2048], struct packet *p, size_t max)
{
    struct pb_addr a = pb_addr(from), b = pb_addr(to);
    size_t k = 0;
    for (size_t off = 0; off < n; off += piece, k++) {
        assert_true(k < max);
        size_t len = n - off < piece ? n - off : piece;
        struct pb_ip x = { .id = 77, .mf = off + len < n, .frag_offset = (uint16_t)off,
                           .ipv6_frag_header = v6 };
        size_t m = pb_ip_packet(frames[k], 2048, &a, &b, WC_IPPROTO_UDP, dg + off, len, &x);
        assert_int_equal(dissect_frame(&p[k], (uint32_t)k + 1, (int64_t)k, WC_LINK_RAW, frames[k],
                                       (uint32_t)m, (uint32_t)m), DISSECT_OK);
        assert_true(p[k].is_fragment);
    }
    return k;
}

/* Three IPv6 fragments in the order 3, 1, 2 make the datagram again. */
static void test_ipv6_out_of_order(void **state)
{
    (void)state;
    static uint8_t dg[2000], frames[4][2048];
    struct packet p[4];
    size_t n = udp_datagram(dg, sizeof dg, "2001:db8::1", "2001:db8::2", 1200);
    size_t k = cut(dg, n, 512, "2001:db8::1", "2001:db8::2", true, frames, p, 4);
    assert_int_equal(k, 3);
    struct reasm *r = reasm_create(4, 1000000);
    struct frame_list failed = { 0 };
    const uint8_t *whole;
    uint32_t len;
    assert_int_equal(reasm_add(r, &p[2], &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_add(r, &p[0], &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_add(r, &p[1], &whole, &len, &failed), REASM_DONE);
    assert_int_equal(len, n);
    assert_memory_equal(whole, dg, n);
    assert_int_equal(dissect_transport(&p[1], whole, len), DISSECT_OK);
    assert_int_equal(p[1].l4, L4_UDP);
    assert_int_equal(p[1].payload_len, 1200);
    assert_int_equal(p[1].l4_checksum, CSUM_GOOD);
    assert_int_equal(failed.count, 0);
    reasm_destroy(r);
}

/* The same fragment twice (identical bytes) is harmless; fragments of two
 * datagrams (different ids, or different sources) never mix. */
static void test_identical_overlap_and_separate_datagrams(void **state)
{
    (void)state;
    static uint8_t dg[2000], other[2000], frames[4][2048], oframes[4][2048];
    struct packet p[4], q[4];
    size_t n = udp_datagram(dg, sizeof dg, "10.0.0.1", "10.0.0.2", 1000);
    size_t m = udp_datagram(other, sizeof other, "10.0.0.3", "10.0.0.2", 1000);
    assert_int_equal(cut(dg, n, 512, "10.0.0.1", "10.0.0.2", false, frames, p, 4), 2);
    assert_int_equal(cut(other, m, 512, "10.0.0.3", "10.0.0.2", false, oframes, q, 4), 2);
    struct reasm *r = reasm_create(4, 1000000);
    struct frame_list failed = { 0 };
    const uint8_t *whole;
    uint32_t len;
    assert_int_equal(reasm_add(r, &p[0], &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_add(r, &q[0], &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_add(r, &p[0], &whole, &len, &failed), REASM_PENDING);
    assert_int_equal(reasm_pending(r), 2);
    assert_int_equal(reasm_add(r, &q[1], &whole, &len, &failed), REASM_DONE);
    assert_memory_equal(whole, other, m);
    assert_int_equal(reasm_add(r, &p[1], &whole, &len, &failed), REASM_DONE);
    assert_memory_equal(whole, dg, n);
    assert_int_equal(failed.count, 0);
    assert_int_equal(reasm_pending(r), 0);
    reasm_destroy(r);
}

/* A fragment reaching past REASM_MAX_DATAGRAM fails the datagram. */
static void test_too_large(void **state)
{
    (void)state;
    uint8_t l4[64], ip[128];
    memset(l4, 0, sizeof l4);
    struct pb_addr a = pb_addr("10.0.0.1"), b = pb_addr("10.0.0.2");
    struct pb_ip x = { .id = 5, .mf = true, .frag_offset = 65528 };
    size_t n = pb_ip_packet(ip, sizeof ip, &a, &b, WC_IPPROTO_UDP, l4, 16, &x);
    struct packet p;
    assert_int_equal(dissect_frame(&p, 9, 0, WC_LINK_RAW, ip, (uint32_t)n, (uint32_t)n), DISSECT_OK);
    struct reasm *r = reasm_create(4, 1000000);
    struct frame_list failed = { 0 };
    const uint8_t *whole;
    uint32_t len;
    assert_int_equal(reasm_add(r, &p, &whole, &len, &failed), REASM_FAILED);
    assert_int_equal(failed.count, 1);
    assert_int_equal(failed.frames[0], 9);
    assert_int_equal(reasm_pending(r), 0);
    reasm_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reassembly),
        cmocka_unit_test(test_ipv6_out_of_order),
        cmocka_unit_test(test_identical_overlap_and_separate_datagrams),
        cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
