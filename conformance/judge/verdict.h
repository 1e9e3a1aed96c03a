/* verdict: one rule's judgement on one flow, built by the rule functions
 * (checks_*.c) and rendered here, and only here, in each form a reader sees.
 *
 *   struct verdict_builder b;
 *   verdict_builder_start(&b, 0);        // 0: every kind's text is wanted
 *   verdict_init(&b, RULE_TCP_NO_RST, VERDICT_FAIL, "%u RST(s)", 1u);
 *   verdict_expect(&b, "no RST");
 *   verdict_seen(&b, "RST from the server");
 *   verdict_add_frame(&b.v, 7);
 *   const struct verdict v = b.v;
 *   verdict_print(stdout, &v);            // "  FAIL tcp.no_rst: 1 RST(s) [frame 7]" + expected/seen lines
 *   verdict_format_comment(&v, buf, n);   // "tcp.no_rst: 1 RST(s): fail (expected no RST; seen ...)"
 *   verdict_format_brief(&v, buf, n);     // "fail (1 RST(s); frames 7)"
 *   verdict_print_json(stdout, &v, "case", "TCP 10.0.0.1.40000 > 10.0.0.2.3434 (frames 1-9)");
 *
 * The console form is what `wirecheck check` prints (report.c lays the
 * flows out around it), the comment form what a pcapng packet comment holds,
 * the brief form what the runner says about a case's expectation, the JSON
 * form what `wirecheck check --json` prints, one object per line. */
#ifndef WIRECHECK_VERDICT_H
#define WIRECHECK_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"

/* WARN: a finding where the RFC says SHOULD (a MUST/MUST NOT breach is a
 * FAIL); `check --strict` turns it into FAIL. WAIVED: the rule's verdict was
 * waived by the user (`check --ignore RULE`); its text is kept. Both come
 * after the first four so that those keep their values. */
enum verdict_kind { VERDICT_NA = 0, VERDICT_PASS, VERDICT_INFO, VERDICT_FAIL, VERDICT_WARN,
                    VERDICT_WAIVED };
#define VERDICT_KINDS 6

/* "n/a", "pass", "info", "fail", "warn", "waived". */
const char *verdict_name(enum verdict_kind v);
/* Accepts the names above plus "na", "not-applicable", "seen" (= info). */
bool verdict_parse(const char *s, enum verdict_kind *out);

#define VERDICT_MAX_FRAMES 8

struct verdict {
    enum rule_id rule;
    enum verdict_kind kind;
    const char *id;       /* == rule_get(rule)->id */
    uint32_t frames[VERDICT_MAX_FRAMES];
    unsigned nframes;
    /* The strings last: a textless verdict is copied without them (its
     * fields above in one piece, see verdict_list_add). */
    char text[160];       /* one line: what was checked and what was seen */
    char expected[96];    /* failures only */
    char seen[160];       /* failures only */
};

/* Adds a frame number (0 ignored, duplicates ignored, extra ones dropped),
 * keeping them ascending. Inline for the usual case, a frame later than
 * the last (a rule names frames as a reader scans the capture). */
void verdict_insert_frame(struct verdict *v, uint32_t frame);
static inline void verdict_add_frame(struct verdict *v, uint32_t frame)
{
    unsigned n = v->nframes;
    if (n >= VERDICT_MAX_FRAMES) /* full, or only counted (verdict_start) */
        return;
    if (frame && (n == 0 || v->frames[n - 1] < frame)) {
        v->frames[n] = frame;
        v->nframes = n + 1;
        return;
    }
    verdict_insert_frame(v, frame);
}

/* A verdict being built by a rule function (checks_*.c), and the one decision
 * about its text, taken once per evaluation: the verdict kinds (bit
 * 1u << kind) whose text nobody will read (checks_options.textless_kinds:
 * `wirecheck check --quiet` prints failures only). A verdict of such a kind
 * keeps text, expected and seen empty, so they are never formatted; kind,
 * rule and frames are the same either way. */
struct verdict_builder {
    struct verdict v;
    unsigned textless_kinds;
    /* Kinds whose verdict goes nowhere but into a count (checks_common.h's
     * verdict_list, set by it): only its kind is read, so verdict_start
     * neither clears its strings and frames nor names its rule, and its
     * frames are not noted. */
    unsigned counted_kinds;
};

static inline void verdict_builder_start(struct verdict_builder *b, unsigned textless_kinds)
{
    b->textless_kinds = textless_kinds;
    b->counted_kinds = 0;
}

/* Builders used by the rule functions (and by tests). Text is printf-style
 * and silently truncated to fit. verdict_init starts b->v afresh (rule,
 * kind, text; everything else cleared); the others add to it.
 * They are macros so that a text nobody reads (the builder's textless
 * kinds) costs neither its formatting nor its arguments' evaluation: the
 * arguments must have no side effects (they are read only when the text is
 * wanted). b is evaluated once. */
#define verdict_init(b, r, kind, ...)                                                        \
    do {                                                                                  \
        struct verdict_builder *verdict_b_ = (b);                                         \
        verdict_start(verdict_b_, (r), (kind));                                           \
        if (verdict_wants_text(verdict_b_))                                               \
            verdict_format(verdict_b_->v.text, sizeof verdict_b_->v.text, __VA_ARGS__);   \
    } while (0)
#define verdict_expect(b, ...)                                                             \
    do {                                                                                  \
        struct verdict_builder *verdict_b_ = (b);                                         \
        if (verdict_wants_text(verdict_b_))                                               \
            verdict_format(verdict_b_->v.expected, sizeof verdict_b_->v.expected,         \
                           __VA_ARGS__);                                                  \
    } while (0)
#define verdict_seen(b, ...)                                                               \
    do {                                                                                  \
        struct verdict_builder *verdict_b_ = (b);                                         \
        if (verdict_wants_text(verdict_b_))                                               \
            verdict_format(verdict_b_->v.seen, sizeof verdict_b_->v.seen, __VA_ARGS__);   \
    } while (0)

/* What verdict_init does before its text: every field but the unused
 * tails of the strings (a verdict is ~460 bytes, most of it text nobody
 * reads when it is textless). */
static inline void verdict_start(struct verdict_builder *b, enum rule_id r, enum verdict_kind kind)
{
    struct verdict *v = &b->v;
    v->kind = kind;
    if (b->counted_kinds >> kind & 1u) {
        v->nframes = VERDICT_MAX_FRAMES; /* "full": verdict_add_frame drops its frames at once */
        return;
    }
    v->text[0] = v->expected[0] = v->seen[0] = '\0';
    memset(v->frames, 0, sizeof v->frames);
    v->nframes = 0;
    v->rule = r;
    v->id = rule_get(r)->id;
}

/* Whether the text of b's verdict (of its kind) is read by anyone. */
static inline bool verdict_wants_text(const struct verdict_builder *b)
{
    return !(b->textless_kinds >> b->v.kind & 1u);
}

/* vsnprintf into one of a verdict's strings (the macros above). */
void verdict_format(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- renderers --------------------------------------------------------- */

/* The console form: "  <tag> <rule.id>: <text> [frame(s) N,M]" where tag is
 * "pass", "FAIL", "info", "n/a ", "warn" or "waived", then for a failure or a warning
 * "       expected: ..." and "       seen:     ..." lines. */
void verdict_print(FILE *out, const struct verdict *v);

/* The pcapng comment line: "rule.id: text: verdict", for a failure
 * "rule.id: text: fail (expected E; seen S)". snprintf's contract: returns
 * the length it needed, negative on error. */
int verdict_format_comment(const struct verdict *v, char *buf, size_t size);

/* The brief form: "verdict (text; frames 1,2)", or "verdict (text)" with no
 * frames; truncated to size (NUL-terminated if size > 0). */
void verdict_format_brief(const struct verdict *v, char *buf, size_t size);

/* One JSON object and a newline:
 *   {"case":C,"flow":F,"rule":"tcp.no_rst","verdict":"fail","text":T,
 *    "expected":E,"seen":S,"frames":[7]}
 * verdict as verdict_name; expected and seen empty unless it failed. Every
 * string is escaped (quotes, backslashes, control bytes as \uXXXX, bytes
 * that are not UTF-8 as U+FFFD), so each line is valid JSON. case_name and
 * flow may be NULL (then ""). */
void verdict_print_json(FILE *out, const struct verdict *v, const char *case_name,
                        const char *flow);

#endif
