#include "timemsg.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cursor.h"

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static bool fields_in_range(const struct timemsg *t)
{
    return t->year >= 1 && t->year <= 9999 && t->month >= 1 && t->month <= 12 &&
           t->day >= 1 && t->day <= days_in_month(t->year, t->month) &&
           t->hour >= 0 && t->hour <= 23 && t->minute >= 0 && t->minute <= 59 &&
           t->second >= 0 && t->second <= 59 && t->microsecond >= 0 &&
           t->microsecond <= 999999;
}

int timemsg_format(const struct timemsg *t, char out[TIMEMSG_LEN + 1])
{
    if (!fields_in_range(t))
        return -1;
    return snprintf(out, TIMEMSG_LEN + 1, TIMEMSG_PREFIX "%04d-%02d-%02d %02d:%02d:%02d.%06ld",
                    t->year, t->month, t->day, t->hour, t->minute, t->second, t->microsecond);
}

int timemsg_format_now(char out[TIMEMSG_LEN + 1])
{
    struct timeval tv;
    struct tm tm;
    if (gettimeofday(&tv, NULL) != 0 || !localtime_r(&tv.tv_sec, &tm))
        return -1;
    struct timemsg t = {
        .year = tm.tm_year + 1900, .month = tm.tm_mon + 1, .day = tm.tm_mday,
        .hour = tm.tm_hour, .minute = tm.tm_min, .second = tm.tm_sec > 59 ? 59 : tm.tm_sec,
        .microsecond = (long)tv.tv_usec, .had_fraction = true,
    };
    return timemsg_format(&t, out);
}

/* Reads exactly `digits` ASCII digits. */
static bool read_number(struct cursor *c, int digits, long *out)
{
    long v = 0;
    for (int i = 0; i < digits; i++) {
        uint8_t b;
        if (!cursor_u8(c, &b) || b < '0' || b > '9')
            return false;
        v = v * 10 + (b - '0');
    }
    *out = v;
    return true;
}

static bool expect_byte(struct cursor *c, char want)
{
    uint8_t b;
    return cursor_u8(c, &b) && b == (uint8_t)want;
}

enum timemsg_error timemsg_parse(const uint8_t *p, size_t n, struct timemsg *out)
{
    static const size_t prefix_len = sizeof(TIMEMSG_PREFIX) - 1;
    static const size_t short_len = TIMEMSG_LEN - 7; /* without ".ffffff" */
    memset(out, 0, sizeof *out);
    if (n == 0)
        return TIMEMSG_EMPTY;
    if (n < prefix_len || memcmp(p, TIMEMSG_PREFIX, prefix_len) != 0)
        return TIMEMSG_BAD_PREFIX;
    if (n != TIMEMSG_LEN && n != short_len)
        return TIMEMSG_BAD_LENGTH;

    struct cursor c;
    cursor_init(&c, p + prefix_len, n - prefix_len);
    long year, month, day, hour, minute, second, micro = 0;
    bool ok = read_number(&c, 4, &year) && expect_byte(&c, '-') &&
              read_number(&c, 2, &month) && expect_byte(&c, '-') &&
              read_number(&c, 2, &day) && expect_byte(&c, ' ') &&
              read_number(&c, 2, &hour) && expect_byte(&c, ':') &&
              read_number(&c, 2, &minute) && expect_byte(&c, ':') &&
              read_number(&c, 2, &second);
    bool had_fraction = n == TIMEMSG_LEN;
    if (ok && had_fraction)
        ok = expect_byte(&c, '.') && read_number(&c, 6, &micro);
    if (!ok || cursor_remaining(&c) != 0)
        return TIMEMSG_BAD_SYNTAX;

    *out = (struct timemsg){
        .year = (int)year, .month = (int)month, .day = (int)day, .hour = (int)hour,
        .minute = (int)minute, .second = (int)second, .microsecond = micro,
        .had_fraction = had_fraction,
    };
    return fields_in_range(out) ? TIMEMSG_OK : TIMEMSG_BAD_RANGE;
}

const char *timemsg_error_text(enum timemsg_error e)
{
    switch (e) {
    case TIMEMSG_OK: return "ok";
    case TIMEMSG_EMPTY: return "empty reply";
    case TIMEMSG_BAD_PREFIX: return "does not start with \"" TIMEMSG_PREFIX "\"";
    case TIMEMSG_BAD_LENGTH: return "wrong length for a time message";
    case TIMEMSG_BAD_SYNTAX: return "not of the form YYYY-MM-DD HH:MM:SS.ffffff";
    case TIMEMSG_BAD_RANGE: return "a date or time field is out of range";
    }
    return "unknown error";
}
