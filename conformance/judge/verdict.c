/* verdict: building a verdict, and the one renderer of it in each form.
 * See verdict.h. */
#include "verdict.h"

#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *verdict_name(enum verdict_kind v)
{
    switch (v) {
    case VERDICT_NA: return "n/a";
    case VERDICT_PASS: return "pass";
    case VERDICT_INFO: return "info";
    case VERDICT_FAIL: return "fail";
    case VERDICT_WARN: return "warn";
    case VERDICT_WAIVED: return "waived";
    }
    return "?";
}

bool verdict_parse(const char *s, enum verdict_kind *out)
{
    static const struct { const char *name; enum verdict_kind v; } names[] = {
        {"n/a", VERDICT_NA}, {"na", VERDICT_NA}, {"not-applicable", VERDICT_NA},
        {"pass", VERDICT_PASS}, {"info", VERDICT_INFO}, {"seen", VERDICT_INFO},
        {"fail", VERDICT_FAIL}, {"warn", VERDICT_WARN}, {"waived", VERDICT_WAIVED},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].v;
            return true;
        }
    }
    return false;
}

void verdict_format(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

/* verdict_add_frame's other cases: 0, the list full, a frame already named
 * or earlier than the last. */
void verdict_insert_frame(struct verdict *v, uint32_t frame)
{
    if (frame == 0 || v->nframes == VERDICT_MAX_FRAMES)
        return;
    unsigned at = v->nframes;
    for (unsigned i = 0; i < v->nframes; i++) {
        if (v->frames[i] == frame)
            return;
        if (v->frames[i] > frame && at == v->nframes)
            at = i;
    }
    memmove(&v->frames[at + 1], &v->frames[at], (v->nframes - at) * sizeof v->frames[0]);
    v->frames[at] = frame;
    v->nframes++;
}

/* ---- console --------------------------------------------------------------- */

static const char *verdict_tag(enum verdict_kind k)
{
    switch (k) {
    case VERDICT_PASS: return "pass";
    case VERDICT_FAIL: return "FAIL";
    case VERDICT_INFO: return "info";
    case VERDICT_NA: return "n/a ";
    case VERDICT_WARN: return "warn";
    case VERDICT_WAIVED: return "waived";
    }
    return "?";
}

void verdict_print(FILE *out, const struct verdict *v)
{
    fprintf(out, "  %s %s: %s", verdict_tag(v->kind), v->id, v->text);
    if (v->nframes) {
        fprintf(out, " [frame%s", v->nframes > 1 ? "s" : "");
        for (unsigned i = 0; i < v->nframes; i++)
            fprintf(out, "%s%u", i ? "," : " ", v->frames[i]);
        fputc(']', out);
    }
    fputc('\n', out);
    if (v->kind == VERDICT_FAIL || v->kind == VERDICT_WARN) {
        fprintf(out, "       expected: %s\n", v->expected);
        fprintf(out, "       seen:     %s\n", v->seen);
    }
}

/* ---- packet comment and brief ---------------------------------------------- */

int verdict_format_comment(const struct verdict *v, char *buf, size_t size)
{
    if (v->kind == VERDICT_FAIL || v->kind == VERDICT_WARN)
        return snprintf(buf, size, "%s: %s: %s (expected %s; seen %s)", v->id, v->text,
                        verdict_name(v->kind), v->expected, v->seen);
    return snprintf(buf, size, "%s: %s: %s", v->id, v->text, verdict_name(v->kind));
}

void verdict_format_brief(const struct verdict *v, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s (%s", verdict_name(v->kind), v->text);
    for (unsigned i = 0; i < v->nframes && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%u", i ? "," : "; frames ",
                                 v->frames[i]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
}

/* ---- JSON ------------------------------------------------------------------ */

void verdict_print_json(FILE *out, const struct verdict *v, const char *case_name,
                        const char *flow)
{
    bool failed = v->kind == VERDICT_FAIL || v->kind == VERDICT_WARN;
    fputs("{\"case\":", out);
    json_write_string(out, case_name);
    fputs(",\"flow\":", out);
    json_write_string(out, flow);
    fputs(",\"rule\":", out);
    json_write_string(out, v->id);
    fputs(",\"verdict\":", out);
    json_write_string(out, verdict_name(v->kind));
    fputs(",\"text\":", out);
    json_write_string(out, v->text);
    fputs(",\"expected\":", out);
    json_write_string(out, failed ? v->expected : "");
    fputs(",\"seen\":", out);
    json_write_string(out, failed ? v->seen : "");
    fputs(",\"frames\":[", out);
    for (unsigned i = 0; i < v->nframes; i++)
        fprintf(out, "%s%u", i ? "," : "", v->frames[i]);
    fputs("]}\n", out);
}
