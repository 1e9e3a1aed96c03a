/* Unit tests of core/cursor: every accessor at exact bounds, one past,
 * zero length, fail-closed behaviour, sub-cursors, peek, rest, NULL init. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"

static const uint8_t bytes8[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

/* After a failure: not ok, nothing remains, and every accessor fails and
 * yields zeros without moving the offset. */
static void assert_failed_closed(struct cursor *c)
{
    size_t off = cursor_offset(c);
    assert_false(cursor_ok(c));
    assert_int_equal(cursor_remaining(c), 0);

    uint8_t u8 = 0xaa;
    uint16_t u16 = 0xaaaa;
    uint32_t u32 = 0xaaaaaaaa;
    assert_false(cursor_u8(c, &u8));
    assert_int_equal(u8, 0);
    u16 = 0xaaaa;
    assert_false(cursor_be16(c, &u16));
    assert_int_equal(u16, 0);
    u16 = 0xaaaa;
    assert_false(cursor_le16(c, &u16));
    assert_int_equal(u16, 0);
    assert_false(cursor_be32(c, &u32));
    assert_int_equal(u32, 0);
    u32 = 0xaaaaaaaa;
    assert_false(cursor_le32(c, &u32));
    assert_int_equal(u32, 0);

    uint8_t dst[4];
    memset(dst, 0xaa, sizeof dst);
    assert_false(cursor_copy(c, dst, sizeof dst));
    for (size_t i = 0; i < sizeof dst; i++)
        assert_int_equal(dst[i], 0);

    assert_false(cursor_skip(c, 0));
    assert_false(cursor_skip(c, 1));

    struct cursor sub;
    assert_false(cursor_sub(c, 0, &sub));
    assert_false(cursor_ok(&sub));
    assert_int_equal(cursor_remaining(&sub), 0);

    u8 = 0xaa;
    assert_false(cursor_peek_u8(c, 0, &u8));
    assert_int_equal(u8, 0);

    struct cursor rest;
    cursor_rest(c, &rest);
    assert_false(cursor_ok(&rest));
    assert_int_equal(cursor_remaining(&rest), 0);

    assert_false(cursor_ok(c));
    assert_int_equal(cursor_offset(c), off);
}

static void test_init(void **state)
{
    (void)state;
    struct cursor c;
    memset(&c, 0x5a, sizeof c);
    cursor_init(&c, bytes8, sizeof bytes8);
    assert_true(cursor_ok(&c));
    assert_int_equal(cursor_offset(&c), 0);
    assert_int_equal(cursor_remaining(&c), 8);
    assert_ptr_equal(c.p, bytes8);
}

static void test_u8_bounds(void **state)
{
    (void)state;
    struct cursor c;
    cursor_init(&c, bytes8, 1);
    uint8_t v = 0xff;
    assert_true(cursor_u8(&c, &v));
    assert_int_equal(v, 0x01);
    assert_int_equal(cursor_remaining(&c), 0);
    assert_int_equal(cursor_offset(&c), 1);
    assert_true(cursor_ok(&c));
    /* one past */
    v = 0xff;
    assert_false(cursor_u8(&c, &v));
    assert_int_equal(v, 0);
    assert_failed_closed(&c);
}

static void test_be16_le16_bounds(void **state)
{
    (void)state;
    struct cursor c;
    uint16_t v;
    cursor_init(&c, bytes8, 2);
    assert_true(cursor_be16(&c, &v));
    assert_int_equal(v, 0x0102);
    assert_int_equal(cursor_remaining(&c), 0);
    assert_true(cursor_ok(&c));

    cursor_init(&c, bytes8, 2);
    assert_true(cursor_le16(&c, &v));
    assert_int_equal(v, 0x0201);
    assert_int_equal(cursor_remaining(&c), 0);

    /* one byte short: fails, yields 0, does not consume the one byte */
    cursor_init(&c, bytes8, 1);
    v = 0xffff;
    assert_false(cursor_be16(&c, &v));
    assert_int_equal(v, 0);
    assert_int_equal(cursor_offset(&c), 0);
    assert_failed_closed(&c);

    cursor_init(&c, bytes8, 1);
    v = 0xffff;
    assert_false(cursor_le16(&c, &v));
    assert_int_equal(v, 0);
    assert_failed_closed(&c);

    /* high bit values are not sign-extended */
    static const uint8_t hi[2] = {0xff, 0xfe};
    cursor_init(&c, hi, 2);
    assert_true(cursor_be16(&c, &v));
    assert_int_equal(v, 0xfffe);
    cursor_init(&c, hi, 2);
    assert_true(cursor_le16(&c, &v));
    assert_int_equal(v, 0xfeff);
}

static void test_be32_le32_bounds(void **state)
{
    (void)state;
    struct cursor c;
    uint32_t v;
    cursor_init(&c, bytes8, 4);
    assert_true(cursor_be32(&c, &v));
    assert_int_equal(v, 0x01020304);
    assert_int_equal(cursor_remaining(&c), 0);

    cursor_init(&c, bytes8, 4);
    assert_true(cursor_le32(&c, &v));
    assert_int_equal(v, 0x04030201);
    assert_int_equal(cursor_remaining(&c), 0);

    for (size_t len = 0; len < 4; len++) {
        cursor_init(&c, bytes8, len);
        v = 0xffffffff;
        assert_false(cursor_be32(&c, &v));
        assert_int_equal(v, 0);
        assert_int_equal(cursor_offset(&c), 0);
        assert_failed_closed(&c);

        cursor_init(&c, bytes8, len);
        v = 0xffffffff;
        assert_false(cursor_le32(&c, &v));
        assert_int_equal(v, 0);
        assert_failed_closed(&c);
    }

    static const uint8_t hi[4] = {0xff, 0xee, 0xdd, 0xcc};
    cursor_init(&c, hi, 4);
    assert_true(cursor_be32(&c, &v));
    assert_int_equal(v, 0xffeeddccu);
    cursor_init(&c, hi, 4);
    assert_true(cursor_le32(&c, &v));
    assert_int_equal(v, 0xccddeeffu);
}

static void test_sequential_reads(void **state)
{
    (void)state;
    struct cursor c;
    cursor_init(&c, bytes8, sizeof bytes8);
    uint8_t a;
    uint16_t b;
    uint32_t d;
    assert_true(cursor_u8(&c, &a));
    assert_true(cursor_be16(&c, &b));
    assert_true(cursor_le32(&c, &d));
    assert_int_equal(a, 0x01);
    assert_int_equal(b, 0x0203);
    assert_int_equal(d, 0x07060504);
    assert_int_equal(cursor_offset(&c), 7);
    assert_int_equal(cursor_remaining(&c), 1);
    /* 2 bytes wanted, 1 left */
    assert_false(cursor_le16(&c, &b));
    assert_int_equal(b, 0);
    assert_int_equal(cursor_offset(&c), 7);
    assert_failed_closed(&c);
}

static void test_copy(void **state)
{
    (void)state;
    struct cursor c;
    uint8_t dst[8];
    cursor_init(&c, bytes8, sizeof bytes8);
    memset(dst, 0, sizeof dst);
    assert_true(cursor_copy(&c, dst, 8));
    assert_memory_equal(dst, bytes8, 8);
    assert_int_equal(cursor_remaining(&c), 0);
    assert_true(cursor_copy(&c, dst, 0));
    assert_true(cursor_ok(&c));

    cursor_init(&c, bytes8, 7);
    memset(dst, 0xaa, sizeof dst);
    assert_false(cursor_copy(&c, dst, 8)); /* one past */
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(dst[i], 0);
    assert_int_equal(cursor_offset(&c), 0);
    assert_failed_closed(&c);
}

static void test_skip(void **state)
{
    (void)state;
    struct cursor c;
    cursor_init(&c, bytes8, sizeof bytes8);
    assert_true(cursor_skip(&c, 0));
    assert_int_equal(cursor_offset(&c), 0);
    assert_true(cursor_skip(&c, 8));
    assert_int_equal(cursor_remaining(&c), 0);
    assert_true(cursor_skip(&c, 0));
    assert_false(cursor_skip(&c, 1));
    assert_failed_closed(&c);

    cursor_init(&c, bytes8, sizeof bytes8);
    assert_false(cursor_skip(&c, 9));
    assert_int_equal(cursor_offset(&c), 0);
    assert_failed_closed(&c);

    cursor_init(&c, bytes8, sizeof bytes8);
    assert_true(cursor_skip(&c, 4));
    assert_false(cursor_skip(&c, SIZE_MAX));
    assert_failed_closed(&c);
}

static void test_zero_length(void **state)
{
    (void)state;
    struct cursor c;
    cursor_init(&c, bytes8, 0);
    assert_true(cursor_ok(&c));
    assert_int_equal(cursor_remaining(&c), 0);
    uint8_t v = 0xff;
    assert_false(cursor_peek_u8(&c, 0, &v));
    assert_int_equal(v, 0);
    assert_true(cursor_ok(&c)); /* peek never fails the cursor */
    assert_true(cursor_skip(&c, 0));
    struct cursor sub;
    assert_true(cursor_sub(&c, 0, &sub));
    assert_true(cursor_ok(&sub));
    assert_int_equal(cursor_remaining(&sub), 0);
    assert_true(cursor_ok(&c));
    assert_false(cursor_u8(&c, &v));
    assert_failed_closed(&c);
}

static void test_null_init(void **state)
{
    (void)state;
    struct cursor c;
    /* a NULL pointer with a non-zero length is treated as empty */
    cursor_init(&c, NULL, 100);
    assert_true(cursor_ok(&c));
    assert_int_equal(cursor_remaining(&c), 0);
    uint8_t v = 0xff;
    assert_false(cursor_peek_u8(&c, 0, &v));
    assert_int_equal(v, 0);
    uint32_t w = 1;
    assert_false(cursor_be32(&c, &w));
    assert_int_equal(w, 0);
    assert_failed_closed(&c);

    cursor_init(&c, NULL, 0);
    assert_true(cursor_ok(&c));
    assert_int_equal(cursor_remaining(&c), 0);
    uint8_t dst[1] = {0xaa};
    assert_false(cursor_copy(&c, dst, 1));
    assert_int_equal(dst[0], 0);
    assert_failed_closed(&c);
}

/* Regression (fixed): cursor.c take() computes c->p + c->off with p == NULL and returns
 * NULL for a successful zero-length take, so on a cursor over (NULL, 0) a
 * zero-length read reports failure while the cursor stays ok: the return
 * value and cursor_ok() disagree (and clang's UBSan reports "applying zero
 * offset to null pointer" at cursor.c:25). A zero-length read of an empty
 * cursor must succeed as it does for a non-NULL empty cursor. */
static void test_null_init_zero_length_read(void **state)
{
    (void)state;
    struct cursor c;
    cursor_init(&c, NULL, 0);
    bool skipped = cursor_skip(&c, 0);
    assert_true(cursor_ok(&c));
    assert_true(skipped);
    uint8_t dst[1];
    assert_true(cursor_copy(&c, dst, 0));
    struct cursor sub;
    assert_true(cursor_sub(&c, 0, &sub));
    assert_true(cursor_ok(&sub));
    assert_true(cursor_ok(&c));
}

static void test_peek(void **state)
{
    (void)state;
    struct cursor c;
    cursor_init(&c, bytes8, sizeof bytes8);
    uint8_t v;
    assert_true(cursor_peek_u8(&c, 0, &v));
    assert_int_equal(v, 0x01);
    assert_true(cursor_peek_u8(&c, 7, &v)); /* last byte */
    assert_int_equal(v, 0x08);
    v = 0xff;
    assert_false(cursor_peek_u8(&c, 8, &v)); /* one past */
    assert_int_equal(v, 0);
    assert_false(cursor_peek_u8(&c, SIZE_MAX, &v));
    assert_int_equal(v, 0);
    /* peek does not consume and a failed peek does not fail the cursor */
    assert_int_equal(cursor_offset(&c), 0);
    assert_true(cursor_ok(&c));

    assert_true(cursor_skip(&c, 5));
    assert_true(cursor_peek_u8(&c, 0, &v));
    assert_int_equal(v, 0x06);
    assert_true(cursor_peek_u8(&c, 2, &v));
    assert_int_equal(v, 0x08);
    assert_false(cursor_peek_u8(&c, 3, &v));
    assert_int_equal(v, 0);
    assert_int_equal(cursor_offset(&c), 5);
    assert_true(cursor_ok(&c));

    assert_true(cursor_skip(&c, 3));
    assert_false(cursor_peek_u8(&c, 0, &v));
    assert_true(cursor_ok(&c));
}

static void test_sub(void **state)
{
    (void)state;
    struct cursor c, sub;
    cursor_init(&c, bytes8, sizeof bytes8);
    assert_true(cursor_skip(&c, 2));
    assert_true(cursor_sub(&c, 4, &sub));
    assert_int_equal(cursor_offset(&c), 6);
    assert_int_equal(cursor_remaining(&c), 2);
    assert_true(cursor_ok(&sub));
    assert_int_equal(cursor_offset(&sub), 0);
    assert_int_equal(cursor_remaining(&sub), 4);

    /* the sub-cursor is bounded by its own length, not the parent's */
    uint32_t w;
    assert_true(cursor_be32(&sub, &w));
    assert_int_equal(w, 0x03040506);
    uint8_t v = 0xff;
    assert_false(cursor_peek_u8(&sub, 0, &v));
    assert_false(cursor_u8(&sub, &v));
    assert_int_equal(v, 0);
    assert_failed_closed(&sub);
    /* a failed sub-cursor does not fail its parent */
    assert_true(cursor_ok(&c));
    uint16_t h;
    assert_true(cursor_be16(&c, &h));
    assert_int_equal(h, 0x0708);

    /* exact remaining length */
    cursor_init(&c, bytes8, sizeof bytes8);
    assert_true(cursor_sub(&c, 8, &sub));
    assert_int_equal(cursor_remaining(&sub), 8);
    assert_int_equal(cursor_remaining(&c), 0);

    /* one past: parent fails, sub is failed and empty */
    cursor_init(&c, bytes8, sizeof bytes8);
    memset(&sub, 0x5a, sizeof sub);
    assert_false(cursor_sub(&c, 9, &sub));
    assert_false(cursor_ok(&sub));
    assert_int_equal(cursor_remaining(&sub), 0);
    assert_false(cursor_u8(&sub, &v));
    assert_int_equal(v, 0);
    assert_int_equal(cursor_offset(&c), 0);
    assert_failed_closed(&c);
}

static void test_rest(void **state)
{
    (void)state;
    struct cursor c, rest;
    cursor_init(&c, bytes8, sizeof bytes8);
    assert_true(cursor_skip(&c, 3));
    cursor_rest(&c, &rest);
    assert_true(cursor_ok(&c));
    assert_int_equal(cursor_remaining(&c), 0);
    assert_int_equal(cursor_offset(&c), 8);
    assert_true(cursor_ok(&rest));
    assert_int_equal(cursor_remaining(&rest), 5);
    uint8_t v;
    assert_true(cursor_u8(&rest, &v));
    assert_int_equal(v, 0x04);
    uint32_t w;
    assert_true(cursor_be32(&rest, &w));
    assert_int_equal(w, 0x05060708);
    assert_false(cursor_u8(&rest, &v));

    /* the rest of a cursor at its end is empty but ok */
    cursor_rest(&c, &rest);
    assert_true(cursor_ok(&rest));
    assert_int_equal(cursor_remaining(&rest), 0);
    assert_false(cursor_u8(&rest, &v));
    assert_false(cursor_ok(&rest));
    assert_true(cursor_ok(&c));

    /* the rest of a failed cursor is failed */
    cursor_init(&c, bytes8, 2);
    assert_false(cursor_be32(&c, &w));
    cursor_rest(&c, &rest);
    assert_false(cursor_ok(&rest));
    assert_int_equal(cursor_remaining(&rest), 0);
    assert_failed_closed(&rest);
}

static void test_reads_after_failure_yield_zeros(void **state)
{
    (void)state;
    /* A dissector reads a whole header and tests cursor_ok once: after the
     * first short read, later reads that "would fit" from the start must
     * still fail and yield zeros. */
    struct cursor c;
    cursor_init(&c, bytes8, 3);
    uint32_t w = 1;
    uint8_t v = 1;
    assert_false(cursor_be32(&c, &w));
    assert_false(cursor_u8(&c, &v)); /* 3 bytes exist but the cursor failed */
    assert_int_equal(v, 0);
    assert_int_equal(w, 0);
    assert_failed_closed(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_u8_bounds),
        cmocka_unit_test(test_be16_le16_bounds),
        cmocka_unit_test(test_be32_le32_bounds),
        cmocka_unit_test(test_sequential_reads),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_null_init),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_rest),
        cmocka_unit_test(test_reads_after_failure_yield_zeros),
        /* last: clang's UBSan aborts the binary on this bug */
        cmocka_unit_test(test_null_init_zero_length_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
