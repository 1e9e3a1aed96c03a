/* Unit tests of core/timemsg: format, format_now, strict parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "timemsg.h"

#define VALID "Current time is 2024-03-07 13:45:09.123456"
#define VALID_SHORT "Current time is 2024-03-07 13:45:09"

static enum timemsg_error parse_str(const char *s, struct timemsg *t)
{
    return timemsg_parse((const uint8_t *)s, strlen(s), t);
}

static enum timemsg_error parse_only(const char *s)
{
    struct timemsg t;
    return parse_str(s, &t);
}

static void test_lengths(void **state)
{
    (void)state;
    assert_int_equal(strlen(VALID), TIMEMSG_LEN);
    assert_int_equal(strlen(TIMEMSG_PREFIX), 16);
}

static void test_format_fixed_fields(void **state)
{
    (void)state;
    char out[TIMEMSG_LEN + 1];
    struct timemsg t = {.year = 2024, .month = 3, .day = 7, .hour = 13, .minute = 45,
                        .second = 9, .microsecond = 123456, .had_fraction = true};
    assert_int_equal(timemsg_format(&t, out), TIMEMSG_LEN);
    assert_string_equal(out, VALID);

    struct timemsg z = {.year = 1, .month = 1, .day = 1};
    assert_int_equal(timemsg_format(&z, out), TIMEMSG_LEN);
    assert_string_equal(out, "Current time is 0001-01-01 00:00:00.000000");

    /* microsecond 0 is still written in full */
    struct timemsg m = {.year = 9999, .month = 12, .day = 31, .hour = 23, .minute = 59,
                        .second = 59, .microsecond = 999999};
    assert_int_equal(timemsg_format(&m, out), TIMEMSG_LEN);
    assert_string_equal(out, "Current time is 9999-12-31 23:59:59.999999");

    struct timemsg leap = {.year = 2024, .month = 2, .day = 29, .microsecond = 7};
    assert_int_equal(timemsg_format(&leap, out), TIMEMSG_LEN);
    assert_string_equal(out, "Current time is 2024-02-29 00:00:00.000007");
}

static void test_format_rejects_out_of_range(void **state)
{
    (void)state;
    char out[TIMEMSG_LEN + 1];
    const struct timemsg base = {.year = 2024, .month = 3, .day = 7, .hour = 13,
                                 .minute = 45, .second = 9, .microsecond = 1};
    struct timemsg t;
#define BAD(field, value)                                     \
    do {                                                      \
        t = base;                                             \
        t.field = value;                                      \
        assert_int_equal(timemsg_format(&t, out), -1);        \
    } while (0)
    BAD(year, 0);
    BAD(year, 10000);
    BAD(year, -1);
    BAD(month, 0);
    BAD(month, 13);
    BAD(day, 0);
    BAD(day, 32);
    BAD(hour, -1);
    BAD(hour, 24);
    BAD(minute, 60);
    BAD(second, 60);
    BAD(microsecond, -1);
    BAD(microsecond, 1000000);
#undef BAD
    t = base;
    t.month = 4;
    t.day = 31;
    assert_int_equal(timemsg_format(&t, out), -1);
    t = base;
    t.year = 2023;
    t.month = 2;
    t.day = 29;
    assert_int_equal(timemsg_format(&t, out), -1);
}

static void test_format_now_parses_back(void **state)
{
    (void)state;
    char out[TIMEMSG_LEN + 1];
    memset(out, 'Q', sizeof out);
    int n = timemsg_format_now(out);
    assert_int_equal(n, TIMEMSG_LEN);
    assert_int_equal(strlen(out), TIMEMSG_LEN);
    struct timemsg t;
    assert_int_equal(timemsg_parse((const uint8_t *)out, (size_t)n, &t), TIMEMSG_OK);
    assert_true(t.had_fraction);
    assert_true(t.year >= 2024);
    /* re-formatting the parsed fields gives the same text */
    char again[TIMEMSG_LEN + 1];
    assert_int_equal(timemsg_format(&t, again), TIMEMSG_LEN);
    assert_string_equal(again, out);
}

static void test_parse_valid(void **state)
{
    (void)state;
    struct timemsg t;
    memset(&t, 0x55, sizeof t);
    assert_int_equal(parse_str(VALID, &t), TIMEMSG_OK);
    assert_int_equal(t.year, 2024);
    assert_int_equal(t.month, 3);
    assert_int_equal(t.day, 7);
    assert_int_equal(t.hour, 13);
    assert_int_equal(t.minute, 45);
    assert_int_equal(t.second, 9);
    assert_int_equal(t.microsecond, 123456);
    assert_true(t.had_fraction);

    assert_int_equal(parse_str("Current time is 0001-01-01 00:00:00.000000", &t), TIMEMSG_OK);
    assert_int_equal(t.year, 1);
    assert_int_equal(t.microsecond, 0);
    assert_int_equal(parse_str("Current time is 9999-12-31 23:59:59.999999", &t), TIMEMSG_OK);
    assert_int_equal(t.year, 9999);
    assert_int_equal(t.hour, 23);
    assert_int_equal(t.microsecond, 999999);
    /* the last day of each month */
    static const char *last[] = {
        "Current time is 2023-01-31 00:00:00.000000", "Current time is 2023-02-28 00:00:00.000000",
        "Current time is 2023-03-31 00:00:00.000000", "Current time is 2023-04-30 00:00:00.000000",
        "Current time is 2023-05-31 00:00:00.000000", "Current time is 2023-06-30 00:00:00.000000",
        "Current time is 2023-07-31 00:00:00.000000", "Current time is 2023-08-31 00:00:00.000000",
        "Current time is 2023-09-30 00:00:00.000000", "Current time is 2023-10-31 00:00:00.000000",
        "Current time is 2023-11-30 00:00:00.000000", "Current time is 2023-12-31 00:00:00.000000",
    };
    for (size_t i = 0; i < sizeof last / sizeof last[0]; i++) {
        assert_int_equal(parse_str(last[i], &t), TIMEMSG_OK);
        assert_int_equal(t.month, (int)i + 1);
    }
}

static void test_parse_short_form(void **state)
{
    (void)state;
    struct timemsg t;
    memset(&t, 0x55, sizeof t);
    assert_int_equal(parse_str(VALID_SHORT, &t), TIMEMSG_OK);
    assert_false(t.had_fraction);
    assert_int_equal(t.microsecond, 0);
    assert_int_equal(t.year, 2024);
    assert_int_equal(t.second, 9);
    /* the short form with a dot and no digits is neither form */
    assert_int_equal(parse_only("Current time is 2024-03-07 13:45:09."), TIMEMSG_BAD_LENGTH);
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_int_equal(parse_only("Current time is 2024-02-29 12:00:00.000000"), TIMEMSG_OK);
    assert_int_equal(parse_only("Current time is 2023-02-29 12:00:00.000000"), TIMEMSG_BAD_RANGE);
    assert_int_equal(parse_only("Current time is 2000-02-29 12:00:00.000000"), TIMEMSG_OK);
    assert_int_equal(parse_only("Current time is 1900-02-29 12:00:00.000000"), TIMEMSG_BAD_RANGE);
    assert_int_equal(parse_only("Current time is 2024-02-30 12:00:00.000000"), TIMEMSG_BAD_RANGE);
    assert_int_equal(parse_only("Current time is 2400-02-29 12:00:00"), TIMEMSG_OK);
    assert_int_equal(parse_only("Current time is 2100-02-29 12:00:00"), TIMEMSG_BAD_RANGE);
}

struct bad_case {
    const char *text;
    enum timemsg_error want;
};

static void test_malformed(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"current time is 2024-03-07 13:45:09.123456", TIMEMSG_BAD_PREFIX},
        {"CURRENT TIME IS 2024-03-07 13:45:09.123456", TIMEMSG_BAD_PREFIX},
        {"Current Time is 2024-03-07 13:45:09.123456", TIMEMSG_BAD_PREFIX},
        {"Current time: 2024-03-07 13:45:09.123456xx", TIMEMSG_BAD_PREFIX},
        {"The time is 2024-03-07 13:45:09.123456xxxxx", TIMEMSG_BAD_PREFIX},
        {" Current time is 2024-03-07 13:45:09.12345", TIMEMSG_BAD_PREFIX},
        {"Current time is", TIMEMSG_BAD_PREFIX},
        {"C", TIMEMSG_BAD_PREFIX},
        {"Current time is 2024-03-07 13:45:09.123456\n", TIMEMSG_BAD_LENGTH},
        {"Current time is 2024-03-07 13:45:09.123456\r\n", TIMEMSG_BAD_LENGTH},
        {"Current time is 2024-03-07 13:45:09\n", TIMEMSG_BAD_LENGTH},
        {"Current time is  2024-03-07 13:45:09.123456", TIMEMSG_BAD_LENGTH},
        {"Current time is 2024-03-07 13:45:09.12345", TIMEMSG_BAD_LENGTH},
        {"Current time is 2024-03-07 13:45:09.1234567", TIMEMSG_BAD_LENGTH},
        {"Current time is 2024-3-7 13:45:09.123456", TIMEMSG_BAD_LENGTH},
        {"Current time is ", TIMEMSG_BAD_LENGTH},
        /* right length, wrong content */
        {"Current time is  024-03-07 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:09.123456 ", TIMEMSG_BAD_LENGTH},
        {"Current time is 2O24-03-07 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-0a-07 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-x7 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 1e:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:4 :09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:0Z.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:09.12345a", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:09.-12345", TIMEMSG_BAD_SYNTAX},
        {"Current time is +024-03-07 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-+3-07 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03- 7 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024/03/07 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03/07 13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07T13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13.45.09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45-09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:09,123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:09:123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07_13:45:09.123456", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:091234567", TIMEMSG_BAD_SYNTAX},
        {"Current time is 20240307 13:45:09.123456xx", TIMEMSG_BAD_SYNTAX},
        {"Current time is 2024-03-07 13:45:09Z", TIMEMSG_BAD_LENGTH},
        /* ranges */
        {"Current time is 0000-03-07 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-00-07 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-13-07 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-99-07 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-03-00 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-03-32 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-04-31 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-06-31 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-09-31 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-11-31 13:45:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-03-07 24:00:00.000000", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-03-07 13:60:09.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-03-07 13:45:60.123456", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-03-07 13:45:60", TIMEMSG_BAD_RANGE},
        {"Current time is 2024-03-07 99:99:99.999999", TIMEMSG_BAD_RANGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct timemsg t;
        enum timemsg_error e = parse_str(cases[i].text, &t);
        if (e != cases[i].want)
            fail_msg("\"%s\": got %d (%s), want %d (%s)", cases[i].text, (int)e,
                     timemsg_error_text(e), (int)cases[i].want,
                     timemsg_error_text(cases[i].want));
    }
}

static void test_empty(void **state)
{
    (void)state;
    struct timemsg t;
    assert_int_equal(timemsg_parse((const uint8_t *)"", 0, &t), TIMEMSG_EMPTY);
    assert_int_equal(timemsg_parse(NULL, 0, &t), TIMEMSG_EMPTY);
}

static void test_nul_byte_inside(void **state)
{
    (void)state;
    struct timemsg t;
    char buf[TIMEMSG_LEN];
    /* a NUL at every position of a valid message makes it invalid */
    for (size_t i = 0; i < TIMEMSG_LEN; i++) {
        memcpy(buf, VALID, TIMEMSG_LEN);
        buf[i] = '\0';
        enum timemsg_error e = timemsg_parse((const uint8_t *)buf, TIMEMSG_LEN, &t);
        assert_int_equal(e, i < 16 ? TIMEMSG_BAD_PREFIX : TIMEMSG_BAD_SYNTAX);
    }
    /* and of the short form */
    for (size_t i = 16; i < TIMEMSG_LEN - 7; i++) {
        memcpy(buf, VALID_SHORT, TIMEMSG_LEN - 7);
        buf[i] = '\0';
        assert_int_equal(timemsg_parse((const uint8_t *)buf, TIMEMSG_LEN - 7, &t),
                         TIMEMSG_BAD_SYNTAX);
    }
}

static void test_every_position_checked(void **state)
{
    (void)state;
    /* any letter in place of any byte after the prefix is a syntax error */
    struct timemsg t;
    char buf[TIMEMSG_LEN];
    for (size_t i = 16; i < TIMEMSG_LEN; i++) {
        memcpy(buf, VALID, TIMEMSG_LEN);
        buf[i] = 'x';
        assert_int_equal(timemsg_parse((const uint8_t *)buf, TIMEMSG_LEN, &t),
                         TIMEMSG_BAD_SYNTAX);
    }
}

static void test_each_truncation(void **state)
{
    (void)state;
    struct timemsg t;
    for (size_t n = 0; n < TIMEMSG_LEN; n++) {
        enum timemsg_error e = timemsg_parse((const uint8_t *)VALID, n, &t);
        enum timemsg_error want;
        if (n == 0)
            want = TIMEMSG_EMPTY;
        else if (n < 16)
            want = TIMEMSG_BAD_PREFIX;
        else if (n == TIMEMSG_LEN - 7)
            want = TIMEMSG_OK; /* exactly the short form */
        else
            want = TIMEMSG_BAD_LENGTH;
        if (e != want)
            fail_msg("truncated to %zu: got %d, want %d", n, (int)e, (int)want);
        if (n == TIMEMSG_LEN - 7)
            assert_false(t.had_fraction);
    }
    /* the full length and longer */
    assert_int_equal(timemsg_parse((const uint8_t *)VALID, TIMEMSG_LEN, &t), TIMEMSG_OK);
    assert_int_equal(timemsg_parse((const uint8_t *)VALID "0", TIMEMSG_LEN + 1, &t),
                     TIMEMSG_BAD_LENGTH);
}

static void test_failed_parse_clears_output(void **state)
{
    (void)state;
    struct timemsg t;
    memset(&t, 0x55, sizeof t);
    assert_int_equal(parse_str("Current time is 2024-03-07 13:45:0Z.123456", &t),
                     TIMEMSG_BAD_SYNTAX);
    assert_int_equal(t.year, 0);
    assert_int_equal(t.microsecond, 0);
    assert_false(t.had_fraction);
}

static void test_error_text(void **state)
{
    (void)state;
    assert_string_equal(timemsg_error_text(TIMEMSG_OK), "ok");
    for (int e = TIMEMSG_EMPTY; e <= TIMEMSG_BAD_RANGE; e++) {
        const char *s = timemsg_error_text((enum timemsg_error)e);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
    }
    assert_string_equal(timemsg_error_text((enum timemsg_error)99), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_format_fixed_fields),
        cmocka_unit_test(test_format_rejects_out_of_range),
        cmocka_unit_test(test_format_now_parses_back),
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_short_form),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_nul_byte_inside),
        cmocka_unit_test(test_every_position_checked),
        cmocka_unit_test(test_each_truncation),
        cmocka_unit_test(test_failed_parse_clears_output),
        cmocka_unit_test(test_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
