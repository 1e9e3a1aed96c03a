/* The time message: "Current time is YYYY-MM-DD HH:MM:SS.ffffff".
 *
 * The seed server sent Python's "Current time is " + str(datetime.now()):
 * local time, microseconds, no newline. str() drops ".ffffff" when the
 * microsecond is exactly 0; timemsg_parse accepts that form (flagged) so the
 * seed itself is not failed once in a million, while our server always sends
 * the full form. */
#ifndef WIRECHECK_TIMEMSG_H
#define WIRECHECK_TIMEMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMEMSG_PREFIX "Current time is "
#define TIMEMSG_LEN 42 /* prefix (16) + "YYYY-MM-DD HH:MM:SS.ffffff" (26) */

struct timemsg {
    int year, month, day, hour, minute, second;
    long microsecond;
    bool had_fraction;
};

enum timemsg_error {
    TIMEMSG_OK = 0,
    TIMEMSG_EMPTY,
    TIMEMSG_BAD_PREFIX,
    TIMEMSG_BAD_LENGTH,
    TIMEMSG_BAD_SYNTAX,
    TIMEMSG_BAD_RANGE,
};

/* Formats fields into out (TIMEMSG_LEN + 1 bytes). Returns the length, or
 * -1 when a field is out of range. */
int timemsg_format(const struct timemsg *t, char out[TIMEMSG_LEN + 1]);

/* Formats the current local time of the real clock. */
int timemsg_format_now(char out[TIMEMSG_LEN + 1]);

/* Strict parse of exactly n bytes: nothing before or after, every field in
 * its calendar range (leap years included). */
enum timemsg_error timemsg_parse(const uint8_t *p, size_t n, struct timemsg *out);

const char *timemsg_error_text(enum timemsg_error e);

#endif
