/* expect: case expectations against the judged capture. See expect.h. */
#include "expect.h"

#include <stdio.h>
#include <string.h>

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

static void check_expectation(const struct analysis *a, const struct case_expect *e,
                              const struct expect_program *client,
                              const struct expect_program *server, struct case_result *r)
{
    char seen[1200] = "";
    bool met = false;
    const char *what = case_expect_kind_name(e->kind);
    switch (e->kind) {
    case EXPECT_RULE:
        met = rule_expectation_met(a, e, seen, sizeof seen);
        if (!met)
            case_result_add_detail(r, "line %u: expected %s %s%s%s%s, seen %s", e->line, e->rule_id,
                                   verdict_name(e->verdict), e->text[0] ? " \"" : "", e->text,
                                   e->text[0] ? "\"" : "", seen);
        break;
    case EXPECT_CLIENT_EXIT:
    case EXPECT_SERVER_EXIT: {
        const struct expect_program *p = e->kind == EXPECT_CLIENT_EXIT ? client : server;
        met = p->exited && p->status == e->exit_status;
        if (!met)
            case_result_add_detail(r, "line %u: expected %s %d, seen %s %d", e->line, what,
                                   e->exit_status, p->exited ? "status" : "not exited, status",
                                   p->status);
        break;
    }
    case EXPECT_CLIENT_OUTPUT:
    case EXPECT_SERVER_OUTPUT: {
        const struct expect_program *p = e->kind == EXPECT_CLIENT_OUTPUT ? client : server;
        met = strstr(p->output, e->text) != NULL;
        if (!met)
            case_result_add_detail(r, "line %u: expected %s containing \"%s\", seen \"%.300s\"",
                                   e->line, what, e->text, p->output);
        break;
    }
    }
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
        }
    }
}

void expect_judge(const struct case_spec *c, const struct analysis *a,
                  const struct expect_program *client, const struct expect_program *server,
                  struct case_result *r)
{
    for (size_t i = 0; i < c->nexpects; i++)
        check_expectation(a, &c->expects[i], client, server, r);
    check_unexpected_failures(c, a, r);
}
