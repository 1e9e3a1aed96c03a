/* expect: case expectations against the judged capture. See expect.h. */
#include "expect.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "verdict.h"

/* A rule expectation holds when some flow gave the rule that verdict (with
 * the words, if any) and no flow gave it another judgement; for n/a, when no
 * flow judged it at all. */
static bool rule_expectation_met(const struct analysis *a, const struct case_expect *e,
                                 char *seen, size_t size)
{
    bool matched = false, conflict = false;
    size_t used = 0;
    seen[0] = '\0';
    for (size_t i = 0; i < analysis_report_count(a); i++) {
        const struct verdict *v = flow_report_find(analysis_report(a, i), e->rule_id);
        if (!v)
            continue;
        bool same = v->kind == e->verdict && (!e->text[0] || strcasestr(v->text, e->text));
        if (same)
            matched = true;
        else if (v->kind != VERDICT_NA || e->verdict != VERDICT_NA)
            conflict = conflict || v->kind != VERDICT_NA || e->verdict == VERDICT_NA;
        if (used + 2 < size) {
            char one[400];
            verdict_format_brief(v, one, sizeof one);
            used += (size_t)snprintf(seen + used, size - used, "%s%s", used ? "; " : "", one);
        }
    }
    if (!seen[0])
        snprintf(seen, size, "rule not evaluated on any flow");
    if (e->verdict == VERDICT_NA)
        return !conflict;
    return matched && !conflict;
}

static bool rule_is_expected(const struct case_spec *c, const char *id)
{
    for (size_t i = 0; i < c->nexpects; i++)
        if (c->expects[i].kind == EXPECT_RULE && strcmp(c->expects[i].rule_id, id) == 0)
            return true;
    return false;
}

/* The bytes as text for a message: printable ASCII as is, any other byte
 * as '.', at most 60 of them. */
static void printable(const uint8_t *b, size_t n, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n && i < 60 && k + 1 < size; i++)
        out[k++] = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' ? (char)b[i] : '.';
    if (n > 60 && k + 3 < size)
        out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = '\0';
}

static const char *proto_name(enum flow_proto p)
{
    return p == FLOW_UDP ? "UDP" : "TCP";
}

/* server-sends / client-sends REGEX on one flow's bytes from `side`. */
static bool payload_matches(const struct flow_report *fr, enum flow_side side, const regex_t *re,
                            char *seen, size_t size)
{
    const uint8_t *bytes;
    size_t len;
    bool complete = flow_report_payload(fr, side, &bytes, &len);
    char shown[200];
    printable(bytes, len, shown, sizeof shown);
    if (!complete) {
        snprintf(seen, size, "%s flow %u: the bytes are not all in the capture (a gap, or over "
                 "the payload cap), first %zu: \"%s\"", proto_name(fr->proto), fr->index, len, shown);
        return false;
    }
    /* regexec reads a C string: a NUL in the bytes would end it early. */
    const uint8_t *nul = memchr(bytes, 0, len);
    if (nul) {
        snprintf(seen, size, "%s flow %u: a NUL byte at offset %zu of %zu: \"%s\"",
                 proto_name(fr->proto), fr->index, (size_t)(nul - bytes), len, shown);
        return false;
    }
    char *text = malloc(len + 1);
    if (!text) {
        snprintf(seen, size, "out of memory");
        return false;
    }
    if (len)
        memcpy(text, bytes, len);
    text[len] = '\0';
    bool ok = regexec(re, text, 0, NULL, 0) == 0;
    free(text);
    snprintf(seen, size, "%s flow %u: %zu bytes \"%s\"", proto_name(fr->proto), fr->index, len,
             shown);
    return ok;
}

/* server-echoes on one flow: the server sent back exactly the client's
 * bytes, and (UDP) the echo did not meet a closed port. */
static bool echo_matches(const struct flow_report *fr, char *seen, size_t size)
{
    const uint8_t *c, *s;
    size_t clen, slen;
    bool ccomplete = flow_report_payload(fr, SIDE_CLIENT, &c, &clen);
    bool scomplete = flow_report_payload(fr, SIDE_SERVER, &s, &slen);
    char cs[200], ss[200];
    printable(c, clen, cs, sizeof cs);
    printable(s, slen, ss, sizeof ss);
    if (!ccomplete || !scomplete) {
        snprintf(seen, size, "%s flow %u: the bytes are not all in the capture", proto_name(fr->proto),
                 fr->index);
        return false;
    }
    if (clen == 0) {
        snprintf(seen, size, "%s flow %u: the client sent nothing to echo", proto_name(fr->proto),
                 fr->index);
        return false;
    }
    if (clen != slen || memcmp(c, s, clen) != 0) {
        size_t at = 0;
        while (at < clen && at < slen && c[at] == s[at])
            at++;
        snprintf(seen, size, "%s flow %u: the client sent %zu bytes \"%s\", the server sent back "
                 "%zu \"%s\" (first difference at byte %zu)", proto_name(fr->proto), fr->index,
                 clen, cs, slen, ss, at);
        return false;
    }
    if (fr->proto == FLOW_UDP && fr->icmp_unreachable) {
        snprintf(seen, size, "UDP flow %u: the echo drew %u ICMP port unreachable: the client's "
                 "socket was closed, the echo was never read", fr->index, fr->icmp_unreachable);
        return false;
    }
    snprintf(seen, size, "%s flow %u: %zu bytes echoed", proto_name(fr->proto), fr->index, clen);
    return true;
}

/* A wire expectation holds on every TCP/UDP flow of the capture, and there
 * is at least one. */
static bool wire_expectation_met(const struct analysis *a, const struct case_expect *e,
                                 char *seen, size_t size)
{
    regex_t re;
    bool regex = e->kind != EXPECT_SERVER_ECHOES;
    if (regex && regcomp(&re, e->text, REG_EXTENDED | REG_NOSUB) != 0) {
        snprintf(seen, size, "a regular expression that does not compile");
        return false;
    }
    size_t flows = 0;
    bool met = true;
    snprintf(seen, size, "no TCP or UDP flow in the capture");
    for (size_t i = 0; i < analysis_report_count(a) && met; i++) {
        const struct flow_report *fr = analysis_report(a, i);
        if (fr->proto != FLOW_TCP && fr->proto != FLOW_UDP)
            continue;
        flows++;
        if (e->kind == EXPECT_SERVER_ECHOES)
            met = echo_matches(fr, seen, size);
        else
            met = payload_matches(fr, e->kind == EXPECT_SERVER_SENDS ? SIDE_SERVER : SIDE_CLIENT,
                                  &re, seen, size);
    }
    if (regex)
        regfree(&re);
    return met && flows > 0;
}

/* ---- outcomes ----------------------------------------------------------- */

size_t expect_printable(const char *in, size_t n, char *out, size_t size)
{
    if (size == 0)
        return 0;
    size_t used = 0;
    out[0] = '\0';
    while (n > 0 && used + 1 < size) {
        const char *bs = memchr(in, '\\', n);
        size_t seg = bs ? (size_t)(bs - in) : n;
        size_t shown_len;
        size_t took = escape_prefix((const uint8_t *)in, seg, out + used, size - used, &shown_len);
        used += shown_len;
        if (took < seg)
            break; /* out is full */
        in += seg;
        n -= seg;
        if (n > 0 && used + 1 < size) {
            out[used++] = '\\';
            out[used] = '\0';
            in++;
            n--;
        }
    }
    return used;
}

static void set_text(char *dst, size_t size, const char *src)
{
    expect_printable(src, strlen(src), dst, size);
}

static void add_frame(struct case_expectation *o, uint32_t frame)
{
    if (frame == 0)
        return;
    unsigned i = 0;
    while (i < o->nframes && o->frames[i] < frame)
        i++;
    if ((i < o->nframes && o->frames[i] == frame) || o->nframes == CASE_EXPECT_FRAMES)
        return;
    memmove(o->frames + i + 1, o->frames + i, (o->nframes - i) * sizeof o->frames[0]);
    o->frames[i] = frame;
    o->nframes++;
}

/* Writes src into buf, each `avoid` written with its space as \x20. */
static size_t put_avoiding(char *buf, size_t size, size_t used, const char *src, const char *avoid)
{
    size_t alen = strlen(avoid);
    const char *sp = strchr(avoid, ' ');
    size_t at_space = sp ? (size_t)(sp - avoid) : 0;
    while (*src && used + 1 < size) {
        if (sp && strncmp(src, avoid, alen) == 0) {
            int k = snprintf(buf + used, size - used, "%.*s\\x20", (int)at_space, src);
            used = k > 0 && used + (size_t)k < size ? used + (size_t)k : size - 1;
            src += at_space + 1;
            continue;
        }
        buf[used++] = *src++;
        buf[used] = '\0';
    }
    return used;
}

int expect_comment(const struct case_expectation *o, char *buf, size_t size)
{
    if (size < 64)
        return -1;
    size_t used = (size_t)snprintf(buf, size, "expect ");
    used = put_avoiding(buf, size, used, o->what, ": ");
    if (o->line)
        used += (size_t)snprintf(buf + used, size - used, ": line %u", o->line);
    else
        used += (size_t)snprintf(buf + used, size - used, ": not announced by the case");
    if (used >= size)
        return -1;
    if (o->verdict == VERDICT_FAIL) {
        used += (size_t)snprintf(buf + used, size - used, ": fail (expected ");
        if (used >= size)
            return -1;
        used = put_avoiding(buf, size, used, o->expected, "; seen ");
        used += (size_t)snprintf(buf + used, size - used, "; seen ");
        if (used >= size)
            return -1;
        used = put_avoiding(buf, size, used, o->seen, ": fail (");
        /* Cut or not, the line ends with its ")". */
        if (used + 2 > size)
            used = size - 2;
        buf[used++] = ')';
        buf[used] = '\0';
        return (int)used;
    }
    used += (size_t)snprintf(buf + used, size - used, ", %s", o->seen);
    const char *word = verdict_name(o->verdict);
    size_t wlen = strlen(word) + 2;
    if (used + wlen + 1 > size)
        used = size - wlen - 1;
    snprintf(buf + used, size - used, ": %s", word);
    return (int)(used + wlen);
}

/* Records an outcome: in out, and in r when it is not met. */
static void record(const struct case_expectation *o, struct case_result *r,
                   struct expect_outcomes *out)
{
    if (out && out->n < CASE_MAX_EXPECTS)
        out->e[out->n++] = *o;
    if (o->verdict == VERDICT_FAIL && r->nlisted < CASE_UNMET_LISTED)
        r->unmet_list[r->nlisted++] = *o;
}

/* The frames of rule `id`'s verdicts, over every flow. */
static void rule_frames(const struct analysis *a, const char *id, struct case_expectation *o)
{
    for (size_t i = 0; i < analysis_report_count(a); i++) {
        const struct verdict *v = flow_report_find(analysis_report(a, i), id);
        for (unsigned k = 0; v && k < v->nframes; k++)
            add_frame(o, v->frames[k]);
    }
}

/* The first frame of each TCP/UDP flow (a wire expectation is about them
 * all when met); of the flow it failed on (the last one looked at) if not. */
static void flow_frames(const struct analysis *a, bool met, struct case_expectation *o)
{
    uint32_t last = 0;
    for (size_t i = 0; i < analysis_report_count(a); i++) {
        const struct flow_report *fr = analysis_report(a, i);
        if (fr->proto != FLOW_TCP && fr->proto != FLOW_UDP)
            continue;
        if (met)
            add_frame(o, fr->first_frame);
        last = fr->first_frame;
    }
    if (!met)
        add_frame(o, last);
}

static void check_expectation(const struct analysis *a, const struct case_expect *e,
                              const struct expect_program *client,
                              const struct expect_program *server, struct case_result *r,
                              struct expect_outcomes *out)
{
    char seen[1200] = "";
    char expected[400], what[64 + 1 + sizeof expected];
    bool met = false;
    const char *kind = case_expect_kind_name(e->kind);
    struct case_expectation o = { .line = e->line };
    const char *q = e->text[0] ? "\"" : "";
    switch (e->kind) {
    case EXPECT_RULE:
        met = rule_expectation_met(a, e, seen, sizeof seen);
        snprintf(expected, sizeof expected, "%s%s%.256s%s", verdict_name(e->verdict),
                 e->text[0] ? " \"" : "", e->text, q);
        snprintf(what, sizeof what, "%s %s", e->rule_id, expected);
        rule_frames(a, e->rule_id, &o);
        if (!met)
            case_result_add_detail(r, "line %u: expected %s %s%s%s%s, seen %s", e->line, e->rule_id,
                                   verdict_name(e->verdict), e->text[0] ? " \"" : "", e->text,
                                   e->text[0] ? "\"" : "", seen);
        break;
    case EXPECT_SERVER_SENDS:
    case EXPECT_CLIENT_SENDS:
    case EXPECT_SERVER_ECHOES:
        met = wire_expectation_met(a, e, seen, sizeof seen);
        snprintf(what, sizeof what, "%s%s%.256s%s", kind, e->text[0] ? " \"" : "", e->text, q);
        if (e->kind == EXPECT_SERVER_ECHOES)
            snprintf(expected, sizeof expected, "the server sends back the client's bytes");
        else
            snprintf(expected, sizeof expected, "%s bytes matching \"%.256s\"",
                     e->kind == EXPECT_SERVER_SENDS ? "server" : "client", e->text);
        flow_frames(a, met, &o);
        if (!met)
            case_result_add_detail(r, "line %u: expected %s%s%s%s, seen %s", e->line, kind,
                                   e->text[0] ? " \"" : "", e->text, e->text[0] ? "\"" : "", seen);
        break;
    case EXPECT_CLIENT_EXIT:
    case EXPECT_SERVER_EXIT: {
        const struct expect_program *p = e->kind == EXPECT_CLIENT_EXIT ? client : server;
        met = p->exited && p->status == e->exit_status;
        snprintf(what, sizeof what, "%s %d", kind, e->exit_status);
        snprintf(expected, sizeof expected, "status %d", e->exit_status);
        snprintf(seen, sizeof seen, "%s %d", p->exited ? "status" : "not exited, status",
                 p->status);
        if (!met)
            case_result_add_detail(r, "line %u: expected %s %d, seen %s", e->line, kind,
                                   e->exit_status, seen);
        break;
    }
    case EXPECT_CLIENT_OUTPUT:
    case EXPECT_SERVER_OUTPUT: {
        const struct expect_program *p = e->kind == EXPECT_CLIENT_OUTPUT ? client : server;
        size_t tlen = strlen(e->text);
        met = tlen == 0 || memmem(p->output, p->output_len, e->text, tlen) != NULL;
        snprintf(what, sizeof what, "%s \"%.256s\"", kind, e->text);
        snprintf(expected, sizeof expected, "output containing \"%.256s\"", e->text);
        /* The program's bytes, NULs and control bytes visible as \xNN. */
        char shown[1000];
        size_t shown_len;
        size_t took = escape_prefix((const uint8_t *)p->output,
                                    p->output_len > 300 ? 300 : p->output_len, shown,
                                    sizeof shown, &shown_len);
        if (met)
            snprintf(seen, sizeof seen, "found in the %s's output",
                     e->kind == EXPECT_CLIENT_OUTPUT ? "client" : "server");
        else
            snprintf(seen, sizeof seen, "\"%s\"%s", shown, took < p->output_len ? " (cut)" : "");
        if (!met)
            case_result_add_detail(r, "line %u: expected %s containing \"%s\", seen %s",
                                   e->line, kind, e->text, seen);
        break;
    }
    }
    o.verdict = met ? VERDICT_PASS : VERDICT_FAIL;
    set_text(o.what, sizeof o.what, what);
    set_text(o.expected, sizeof o.expected, expected);
    set_text(o.seen, sizeof o.seen, seen);
    record(&o, r, out);
    r->expectations++;
    if (!met)
        r->unmet++;
}

/* A fail verdict the case did not announce is a failure of the case. */
static void check_unexpected_failures(const struct case_spec *c, const struct analysis *a,
                                      struct case_result *r)
{
    for (size_t i = 0; i < analysis_report_count(a); i++) {
        const struct flow_report *fr = analysis_report(a, i);
        for (size_t j = 0; j < fr->nverdicts; j++) {
            const struct verdict *v = &fr->verdicts[j];
            if (v->kind != VERDICT_FAIL || rule_is_expected(c, v->id))
                continue;
            char one[400];
            verdict_format_brief(v, one, sizeof one);
            case_result_add_detail(r, "unexpected %s %s; expected %s, seen %s", v->id, one,
                                   v->expected, v->seen);
            r->unmet++;
            struct case_expectation o = { .line = 0, .verdict = VERDICT_FAIL };
            set_text(o.what, sizeof o.what, v->id);
            set_text(o.expected, sizeof o.expected, v->expected);
            set_text(o.seen, sizeof o.seen, v->seen);
            for (unsigned k = 0; k < v->nframes; k++)
                add_frame(&o, v->frames[k]);
            record(&o, r, NULL); /* its own comment line is on its frames already */
        }
    }
}

/* Exit and output expectations describe the reference program. */
static bool about_replaced_program(const struct case_expect *e, const struct expect_program *client,
                                   const struct expect_program *server)
{
    switch (e->kind) {
    case EXPECT_CLIENT_EXIT:
    case EXPECT_CLIENT_OUTPUT:
        return client->replaced;
    case EXPECT_SERVER_EXIT:
    case EXPECT_SERVER_OUTPUT:
        return server->replaced;
    default:
        return false;
    }
}

void expect_judge(const struct case_spec *c, const struct analysis *a,
                  const struct expect_program *client, const struct expect_program *server,
                  struct case_result *r, struct expect_outcomes *out)
{
    for (size_t i = 0; i < c->nexpects; i++) {
        const struct case_expect *e = &c->expects[i];
        if (about_replaced_program(e, client, server)) {
            const char *kind = case_expect_kind_name(e->kind);
            case_result_add_note(r, "line %u: %s not judged for a replaced program", e->line, kind);
            struct case_expectation o = { .line = e->line, .verdict = VERDICT_NA };
            char what[400];
            if (e->kind == EXPECT_CLIENT_EXIT || e->kind == EXPECT_SERVER_EXIT)
                snprintf(what, sizeof what, "%s %d", kind, e->exit_status);
            else
                snprintf(what, sizeof what, "%s \"%.256s\"", kind, e->text);
            set_text(o.what, sizeof o.what, what);
            set_text(o.seen, sizeof o.seen, "not judged for a replaced program");
            record(&o, r, out);
            continue;
        }
        check_expectation(a, e, client, server, r, out);
    }
    check_unexpected_failures(c, a, r);
}
