/* cases: parser of .case files. See cases.h and CASES.md. */
#include "cases.h"

#include "command.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_FILE_MAX (64 * 1024)
#define WORDS_MAX 8

/* One line split into words: bare words, or "double quoted" with \" and \\. */
struct words {
    char *w[WORDS_MAX];
    size_t n;
    char storage[CASE_COMMAND_MAX + 64];
};

struct parser {
    const char *origin;
    unsigned line;
    char *err;
    size_t errlen;
    struct case_spec *out;
    bool saw_client;
};

__attribute__((format(printf, 2, 3)))
static bool parse_error(struct parser *p, const char *fmt, ...)
{
    int used = snprintf(p->err, p->errlen, "%s:%u: ", p->origin, p->line);
    if (used < 0 || (size_t)used >= p->errlen)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + used, p->errlen - (size_t)used, fmt, ap);
    va_end(ap);
    return false;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Splits `s` into words. Fails on an unterminated quote or too many words. */
static bool split_words(struct parser *p, const char *s, struct words *out)
{
    char *dst = out->storage;
    char *end = out->storage + sizeof out->storage - 1;
    out->n = 0;
    for (s = skip_space(s); *s; s = skip_space(s)) {
        if (out->n == WORDS_MAX)
            return parse_error(p, "too many words (at most %d)", WORDS_MAX);
        out->w[out->n++] = dst;
        bool quoted = *s == '"';
        if (quoted)
            s++;
        while (*s && (quoted ? *s != '"' : (*s != ' ' && *s != '\t'))) {
            if (quoted && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
                s++;
            if (dst == end)
                return parse_error(p, "line too long");
            *dst++ = *s++;
        }
        if (quoted && *s != '"')
            return parse_error(p, "unterminated quote");
        if (quoted)
            s++;
        *dst++ = '\0';
    }
    return true;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool need_words(struct parser *p, const struct words *w, size_t min, size_t max,
                       const char *usage)
{
    if (w->n < min || w->n > max)
        return parse_error(p, "usage: %s", usage);
    return true;
}

static bool copy_text(struct parser *p, char *dst, size_t size, const char *src, const char *what)
{
    if (strlen(src) >= size)
        return parse_error(p, "%s too long (at most %zu characters)", what, size - 1);
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

static bool parse_family(struct parser *p, const struct words *w)
{
    if (!need_words(p, w, 2, 2, "family ipv4|ipv6|both"))
        return false;
    const char *f = w->w[1];
    p->out->ipv4 = strcmp(f, "ipv4") == 0 || strcmp(f, "both") == 0;
    p->out->ipv6 = strcmp(f, "ipv6") == 0 || strcmp(f, "both") == 0;
    if (!p->out->ipv4 && !p->out->ipv6)
        return parse_error(p, "unknown family '%s' (ipv4, ipv6 or both)", f);
    return true;
}

static bool parse_topology(struct parser *p, const struct words *w)
{
    if (!need_words(p, w, 2, 2, "topology loopback|veth"))
        return false;
    if (strcmp(w->w[1], "loopback") == 0)
        p->out->topology = NETNS_LOOPBACK;
    else if (strcmp(w->w[1], "veth") == 0)
        p->out->topology = NETNS_VETH;
    else
        return parse_error(p, "unknown topology '%s' (loopback or veth)", w->w[1]);
    return true;
}

static bool parse_port(struct parser *p, const struct words *w)
{
    unsigned long v;
    if (!need_words(p, w, 2, 2, "port N"))
        return false;
    if (!parse_uint(w->w[1], 65535, &v))
        return parse_error(p, "bad port '%s' (0..65535)", w->w[1]);
    p->out->port = (uint16_t)v;
    return true;
}

static bool parse_timeout(struct parser *p, const struct words *w)
{
    unsigned long v;
    if (!need_words(p, w, 2, 2, "timeout MILLISECONDS"))
        return false;
    if (!parse_uint(w->w[1], 600000, &v) || v == 0)
        return parse_error(p, "bad timeout '%s' (1..600000 ms)", w->w[1]);
    p->out->timeout_ms = (unsigned)v;
    return true;
}

static bool parse_fault(struct parser *p, const struct words *w)
{
    struct case_spec *c = p->out;
    if (w->n < 2)
        return parse_error(p, "usage: fault drop-first-syn | drop-first-data client|server | "
                              "drop-first-fin client|server | drop-percent N | reset | "
                              "slow-teardown | nft \"RULE\"");
    if (c->nfaults == CASE_MAX_FAULTS)
        return parse_error(p, "too many faults (at most %d)", CASE_MAX_FAULTS);
    struct case_fault *f = &c->faults[c->nfaults];
    memset(f, 0, sizeof *f);
    const char *kind = w->w[1];
    unsigned long v;
    if (strcmp(kind, "drop-first-syn") == 0 && w->n == 2) {
        f->kind = FAULT_DROP_FIRST_SYN;
        c->loss_injected = true;
    } else if ((strcmp(kind, "drop-first-data") == 0 || strcmp(kind, "drop-first-fin") == 0) &&
               w->n == 3) {
        f->kind = kind[11] == 'd' ? FAULT_DROP_FIRST_DATA : FAULT_DROP_FIRST_FIN;
        if (strcmp(w->w[2], "client") == 0)
            f->from = FAULT_FROM_CLIENT;
        else if (strcmp(w->w[2], "server") == 0)
            f->from = FAULT_FROM_SERVER;
        else
            return parse_error(p, "%s: whose segment: 'client' or 'server', not '%s'", kind, w->w[2]);
        c->loss_injected = true;
    } else if (strcmp(kind, "reset") == 0 && w->n == 2) {
        f->kind = FAULT_RESET;
    } else if (strcmp(kind, "slow-teardown") == 0 && w->n == 2) {
        f->kind = FAULT_SLOW_TEARDOWN; /* delays, drops nothing */
    } else if (strcmp(kind, "drop-percent") == 0 && w->n == 3) {
        if (!parse_uint(w->w[2], 100, &v))
            return parse_error(p, "bad percentage '%s' (0..100)", w->w[2]);
        f->kind = FAULT_DROP_PERCENT;
        f->percent = (unsigned)v;
        if (v > 0)
            c->loss_injected = true;
    } else if (strcmp(kind, "nft") == 0 && w->n == 3) {
        if (strpbrk(w->w[2], "{};\n"))
            return parse_error(p, "an nft fault is one rule: no braces or semicolons");
        f->kind = FAULT_NFT;
        if (!copy_text(p, f->rule, sizeof f->rule, w->w[2], "nft rule"))
            return false;
    } else {
        return parse_error(p, "unknown fault '%s' (drop-first-syn, drop-first-data client|server, "
                              "drop-first-fin client|server, drop-percent N, reset, slow-teardown, "
                              "nft \"RULE\")",
                           kind);
    }
    c->nfaults++;
    return true;
}

static bool parse_exit_status(struct parser *p, const char *s, int *out)
{
    unsigned long v;
    if (!parse_uint(s, 255, &v))
        return parse_error(p, "bad exit status '%s' (0..255)", s);
    *out = (int)v;
    return true;
}

/* expect RULE.ID VERDICT ["WORDS"] */
static bool parse_rule_expect(struct parser *p, const struct words *w, struct case_expect *e)
{
    if (!need_words(p, w, 3, 4, "expect RULE.ID pass|fail|info|n/a [\"WORDS IN ITS TEXT\"]"))
        return false;
    if (rule_lookup(w->w[1]) < 0)
        return parse_error(p, "unknown rule id '%s' (see conformance/RULES.md)", w->w[1]);
    if (!verdict_parse(w->w[2], &e->verdict))
        return parse_error(p, "unknown verdict '%s' (pass, fail, info or n/a)", w->w[2]);
    e->kind = EXPECT_RULE;
    if (!copy_text(p, e->rule_id, sizeof e->rule_id, w->w[1], "rule id"))
        return false;
    return w->n < 4 || copy_text(p, e->text, sizeof e->text, w->w[3], "expected text");
}

static bool parse_expect(struct parser *p, const struct words *w)
{
    struct case_spec *c = p->out;
    if (w->n < 3 && !(w->n == 2 && strcmp(w->w[1], "server-echoes") == 0))
        return parse_error(p, "usage: expect RULE.ID VERDICT | client-exit N | server-exit N | "
                              "client-output \"WORDS\" | server-output \"WORDS\" | "
                              "server-sends \"REGEX\" | client-sends \"REGEX\" | server-echoes");
    if (c->nexpects == CASE_MAX_EXPECTS)
        return parse_error(p, "too many expectations (at most %d)", CASE_MAX_EXPECTS);
    struct case_expect *e = &c->expects[c->nexpects];
    memset(e, 0, sizeof *e);
    e->line = p->line;
    const char *what = w->w[1];
    bool ok;
    if (strcmp(what, "client-exit") == 0 || strcmp(what, "server-exit") == 0) {
        e->kind = what[0] == 'c' ? EXPECT_CLIENT_EXIT : EXPECT_SERVER_EXIT;
        ok = need_words(p, w, 3, 3, "expect client-exit|server-exit N") &&
             parse_exit_status(p, w->w[2], &e->exit_status);
    } else if (strcmp(what, "server-sends") == 0 || strcmp(what, "client-sends") == 0) {
        e->kind = what[0] == 's' ? EXPECT_SERVER_SENDS : EXPECT_CLIENT_SENDS;
        ok = need_words(p, w, 3, 3, "expect server-sends|client-sends \"REGEX\"") &&
             copy_text(p, e->text, sizeof e->text, w->w[2], "regular expression");
        regex_t re;
        int rc = ok ? regcomp(&re, e->text, REG_EXTENDED | REG_NOSUB) : 0;
        if (ok && rc != 0) {
            char why[128];
            regerror(rc, &re, why, sizeof why);
            ok = parse_error(p, "bad regular expression \"%s\": %s", e->text, why);
        } else if (ok) {
            regfree(&re);
        }
    } else if (strcmp(what, "server-echoes") == 0) {
        /* "expect server-echoes" has no value: w->n is 2. */
        e->kind = EXPECT_SERVER_ECHOES;
        ok = need_words(p, w, 2, 2, "expect server-echoes");
    } else if (strcmp(what, "client-output") == 0 || strcmp(what, "server-output") == 0) {
        e->kind = what[0] == 'c' ? EXPECT_CLIENT_OUTPUT : EXPECT_SERVER_OUTPUT;
        ok = need_words(p, w, 3, 3, "expect client-output|server-output \"WORDS\"") &&
             copy_text(p, e->text, sizeof e->text, w->w[2], "expected output");
    } else if (strchr(what, '.')) {
        ok = parse_rule_expect(p, w, e);
    } else {
        ok = parse_error(p, "unknown expectation '%s' (a rule id such as tcp.no_rst, "
                            "client-exit, server-exit, client-output, server-output, "
                            "server-sends, client-sends, server-echoes)", what);
    }
    if (ok)
        c->nexpects++;
    return ok;
}

/* server/client/description take the rest of the line verbatim. */
static bool parse_rest(struct parser *p, const char *keyword, const char *rest)
{
    struct case_spec *c = p->out;
    size_t len = strlen(rest);
    while (len && (rest[len - 1] == ' ' || rest[len - 1] == '\t'))
        len--;
    char value[CASE_COMMAND_MAX];
    if (len >= sizeof value)
        return parse_error(p, "%s too long (at most %zu characters)", keyword, sizeof value - 1);
    memcpy(value, rest, len);
    value[len] = '\0';
    if (len == 0)
        return parse_error(p, "%s needs a value", keyword);
    if (strcmp(keyword, "description") == 0)
        return copy_text(p, c->description, sizeof c->description, value, "description");
    char bad[64];
    if (strcmp(keyword, "description") != 0 && !command_check_placeholders(value, bad, sizeof bad))
        return parse_error(p, "unknown placeholder '%s' in the %s command (known: %s; {{ is a "
                              "literal {)", bad, keyword, COMMAND_PLACEHOLDERS);
    if (strcmp(keyword, "server") == 0) {
        /* "none": nothing listens (the closed-port cases). */
        if (strcmp(value, "none") == 0)
            value[0] = '\0';
        return copy_text(p, c->server, sizeof c->server, value, "server command");
    }
    p->saw_client = true;
    return copy_text(p, c->client, sizeof c->client, value, "client command");
}

static bool parse_line(struct parser *p, char *line)
{
    const char *s = skip_space(line);
    if (*s == '\0' || *s == '#')
        return true;
    size_t klen = strcspn(s, " \t");
    char keyword[32];
    if (klen >= sizeof keyword)
        return parse_error(p, "unknown keyword '%.*s'", (int)klen, s);
    memcpy(keyword, s, klen);
    keyword[klen] = '\0';
    const char *rest = skip_space(s + klen);

    if (strcmp(keyword, "server") == 0 || strcmp(keyword, "client") == 0 ||
        strcmp(keyword, "description") == 0)
        return parse_rest(p, keyword, rest);

    struct words w;
    if (!split_words(p, s, &w))
        return false;
    if (strcmp(keyword, "name") == 0) {
        if (!need_words(p, &w, 2, 2, "name NAME"))
            return false;
        if (!case_name_is_safe(w.w[1]))
            return parse_error(p, "name: %s", CASE_NAME_RULE);
        return copy_text(p, p->out->name, sizeof p->out->name, w.w[1], "name");
    }
    if (strcmp(keyword, "family") == 0)
        return parse_family(p, &w);
    if (strcmp(keyword, "topology") == 0)
        return parse_topology(p, &w);
    if (strcmp(keyword, "port") == 0)
        return parse_port(p, &w);
    if (strcmp(keyword, "timeout") == 0)
        return parse_timeout(p, &w);
    if (strcmp(keyword, "fault") == 0)
        return parse_fault(p, &w);
    if (strcmp(keyword, "loss-injected") == 0) {
        /* For `fault nft` rules that drop: say so, or retransmissions fail. */
        if (!need_words(p, &w, 1, 1, "loss-injected"))
            return false;
        p->out->loss_injected = true;
        return true;
    }
    if (strcmp(keyword, "expect") == 0)
        return parse_expect(p, &w);
    if (strcmp(keyword, "serves") == 0) {
        if (!need_words(p, &w, 2, 2, "serves " CASE_SERVICES))
            return false;
        if (!case_service_parse(w.w[1], &p->out->serves))
            return parse_error(p, "unknown service '%s' (%s)", w.w[1], CASE_SERVICES);
        return true;
    }
    if (strcmp(keyword, "reference") == 0) {
        if (!need_words(p, &w, 2, 2, "reference server|client"))
            return false;
        if (strcmp(w.w[1], "server") == 0)
            p->out->reference_server = true;
        else if (strcmp(w.w[1], "client") == 0)
            p->out->reference_client = true;
        else
            return parse_error(p, "reference: 'server' or 'client', not '%s'", w.w[1]);
        return true;
    }
    return parse_error(p, "unknown keyword '%s' (name, description, family, topology, port, "
                          "timeout, server, client, serves, reference, fault, loss-injected, "
                          "expect)", keyword);
}

static const char *const service_names[] = {
    [SERVES_UNSET] = "-", [SERVES_NONE] = "none", [SERVES_TIME] = "time",
    [SERVES_ECHO] = "echo", [SERVES_DISCARD] = "discard",
    [SERVES_UDP_RECEIVE] = "udp-receive", [SERVES_UDP_ECHO] = "udp-echo",
};

const char *case_service_name(enum case_service s)
{
    return (size_t)s < sizeof service_names / sizeof service_names[0] ? service_names[s] : "?";
}

bool case_service_parse(const char *name, enum case_service *out)
{
    for (size_t i = SERVES_NONE; i < sizeof service_names / sizeof service_names[0]; i++)
        if (strcmp(name, service_names[i]) == 0) {
            *out = (enum case_service)i;
            return true;
        }
    return false;
}

bool case_name_is_safe(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CASE_NAME_SAFE_MAX || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '+';
        if (!ok)
            return false;
    }
    return true;
}

/* "dir/time.case" -> "time" */
static void default_name(const char *origin, char *name, size_t size)
{
    const char *base = strrchr(origin, '/');
    base = base ? base + 1 : origin;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".case") == 0)
        len -= 5;
    if (len >= size)
        len = size - 1;
    memcpy(name, base, len);
    name[len] = '\0';
}

static void set_defaults(struct case_spec *c, const char *origin)
{
    memset(c, 0, sizeof *c);
    snprintf(c->origin, sizeof c->origin, "%s", origin);
    default_name(origin, c->name, sizeof c->name);
    c->ipv4 = c->ipv6 = true;
    c->topology = NETNS_LOOPBACK;
    c->port = CASE_DEFAULT_PORT;
    c->timeout_ms = CASE_DEFAULT_TIMEOUT_MS;
}

bool case_parse_text(const char *text, const char *origin, struct case_spec *out,
                     char *err, size_t errlen)
{
    struct parser p = { .origin = origin, .err = err, .errlen = errlen, .out = out };
    set_defaults(out, origin);
    char line[CASE_COMMAND_MAX + 64];
    for (const char *s = text; *s;) {
        p.line++;
        size_t len = strcspn(s, "\n");
        if (len >= sizeof line)
            return parse_error(&p, "line too long (at most %zu characters)", sizeof line - 1);
        memcpy(line, s, len);
        line[len] = '\0';
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (!parse_line(&p, line))
            return false;
        s += len + (s[len] == '\n');
    }
    if (!case_name_is_safe(out->name)) {
        /* The name came from the file's name (no `name` line). */
        snprintf(err, errlen, "%s: the file's name does not make a case name (add a line "
                 "'name NAME'): %s", origin, CASE_NAME_RULE);
        return false;
    }
    if (!p.saw_client) {
        p.line = 0;
        snprintf(err, errlen, "%s: no client command (add a line 'client COMMAND')", origin);
        return false;
    }
    /* The faults sit on the server namespace's input hook: on veth the
     * server's own segments never pass there. */
    for (size_t i = 0; i < out->nfaults; i++) {
        const struct case_fault *f = &out->faults[i];
        if ((f->kind == FAULT_DROP_FIRST_DATA || f->kind == FAULT_DROP_FIRST_FIN) &&
            f->from == FAULT_FROM_SERVER && out->topology != NETNS_LOOPBACK) {
            snprintf(err, errlen, "%s: fault %s server needs topology loopback (on veth the "
                     "server's segments do not pass the server namespace's input hook)", origin,
                     f->kind == FAULT_DROP_FIRST_DATA ? "drop-first-data" : "drop-first-fin");
            return false;
        }
        /* The slow class is lo's qdisc, and lo carries both directions only
         * when both programs share the namespace. */
        if (f->kind == FAULT_SLOW_TEARDOWN && out->topology != NETNS_LOOPBACK) {
            snprintf(err, errlen, "%s: fault slow-teardown needs topology loopback (it shapes "
                     "what leaves lo; on veth the client's segments leave another namespace)",
                     origin);
            return false;
        }
    }
    return true;
}

bool case_parse_file(const char *path, struct case_spec *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "open case file %s: %s", path, strerror(errno));
        return false;
    }
    char *text = malloc(CASE_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        snprintf(err, errlen, "read %s: out of memory", path);
        return false;
    }
    size_t n = fread(text, 1, CASE_FILE_MAX + 1, f);
    bool read_error = ferror(f);
    fclose(f);
    bool ok = false;
    if (read_error)
        snprintf(err, errlen, "read case file %s: %s", path, strerror(errno));
    else if (n > CASE_FILE_MAX)
        snprintf(err, errlen, "%s: larger than %d bytes", path, CASE_FILE_MAX);
    else if (memchr(text, '\0', n))
        snprintf(err, errlen, "%s: contains a NUL byte: not a case file", path);
    else {
        text[n] = '\0';
        ok = case_parse_text(text, path, out, err, errlen);
    }
    free(text);
    return ok;
}

const char *case_expect_kind_name(enum case_expect_kind k)
{
    switch (k) {
    case EXPECT_RULE: return "rule";
    case EXPECT_CLIENT_EXIT: return "client-exit";
    case EXPECT_SERVER_EXIT: return "server-exit";
    case EXPECT_CLIENT_OUTPUT: return "client-output";
    case EXPECT_SERVER_OUTPUT: return "server-output";
    case EXPECT_SERVER_SENDS: return "server-sends";
    case EXPECT_CLIENT_SENDS: return "client-sends";
    case EXPECT_SERVER_ECHOES: return "server-echoes";
    }
    return "?";
}
