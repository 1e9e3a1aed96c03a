/* case_result: see case_result.h. */
#include "case_result.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void case_result_init(struct case_result *r, const struct case_spec *c, int family)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s-ipv%d", c->name, family);
    r->outcome = CASE_PASS;
    r->client_status = r->server_status = -1;
}

__attribute__((format(printf, 3, 0)))
static void add_line(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t used = strlen(buf);
    if (used + 1 >= size)
        return;
    vsnprintf(buf + used, size - used, fmt, ap);
    used = strlen(buf);
    if (used + 1 < size) {
        buf[used] = '\n';
        buf[used + 1] = '\0';
    }
}

void case_result_add_detail(struct case_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(r->details, sizeof r->details, fmt, ap);
    va_end(ap);
}

void case_result_add_note(struct case_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_line(r->notes, sizeof r->notes, fmt, ap);
    va_end(ap);
}

const char *case_outcome_name(enum case_outcome o)
{
    switch (o) {
    case CASE_PASS: return "pass";
    case CASE_FAIL: return "FAIL";
    case CASE_ERROR: return "ERROR";
    case CASE_SKIP: return "skip";
    }
    return "?";
}
