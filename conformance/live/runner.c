/* runner: one case, start to verdict. See runner.h for the steps. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis.h"
#include "capture.h"
#include "netns.h"
#include "pcapng.h"

#define LISTEN_TIMEOUT_MS 3000   /* server start to its "Listening on" line */
#define SERVER_EXIT_GRACE_MS 1000 /* client exit to the server's own exit */
#define TERM_GRACE_MS 500        /* SIGTERM to SIGKILL */
#define QUIET_MS 50              /* no packet for this long: nothing more is coming */
#define DRAIN_MAX_MS 1000        /* bound on waiting for the last packets */
#define RESULT_MARGIN_MS 10000   /* case timeout to giving up on the case process */
#define OUTPUT_MAX 8192
#define COMMENT_MAX 4096

struct proc {
    const char *role;
    pid_t pid;            /* 0: not started */
    int pidfd;            /* readable when the process exits */
    int out_fd, err_fd;   /* -1 once at EOF */
    bool exited;
    int status;           /* exit code, or 128 + signal */
    char output[OUTPUT_MAX]; /* stdout and stderr as they came */
    size_t output_len;
};

/* State of the case process. */
struct live {
    const struct case_spec *c;
    const struct run_options *o;
    struct case_result *r;
    int family;
    char host[64];
    unsigned port;
    struct netns_env env;
    struct capture cap;
    struct analysis *watch;     /* fed live, only to see teardowns */
    int64_t last_packet_ms;
    int64_t drain_since_ms;
    bool listening;
    struct proc server, client;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 2, 3)))
static void add_detail(struct case_result *r, const char *fmt, ...)
{
    size_t used = strlen(r->details);
    if (used + 1 >= sizeof r->details)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->details + used, sizeof r->details - used, fmt, ap);
    va_end(ap);
    used = strlen(r->details);
    if (used + 1 < sizeof r->details) {
        r->details[used] = '\n';
        r->details[used + 1] = '\0';
    }
}

const char *case_outcome_name(enum case_outcome o)
{
    switch (o) {
    case CASE_PASS: return "pass";
    case CASE_FAIL: return "FAIL";
    case CASE_ERROR: return "ERROR";
    }
    return "?";
}

/* ---- commands ---------------------------------------------------------- */

static bool append_text(char *out, size_t size, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (*used + n >= size)
        return false;
    memcpy(out + *used, s, n + 1);
    *used += n;
    return true;
}

bool runner_substitute(const char *template, const char *host, unsigned port, int family,
                       const char *bin_dir, char *out, size_t size)
{
    char port_text[8], family_text[4];
    snprintf(port_text, sizeof port_text, "%u", port);
    snprintf(family_text, sizeof family_text, "%d", family);
    const struct { const char *key, *value; } vars[] = {
        { "{host}", host }, { "{port}", port_text },
        { "{family}", family_text }, { "{bin}", bin_dir ? bin_dir : "." },
    };
    size_t used = 0;
    if (size == 0)
        return false;
    out[0] = '\0';
    for (const char *s = template; *s;) {
        bool replaced = false;
        for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !replaced; i++) {
            size_t klen = strlen(vars[i].key);
            if (strncmp(s, vars[i].key, klen) == 0) {
                if (!append_text(out, size, &used, vars[i].value))
                    return false;
                s += klen;
                replaced = true;
            }
        }
        if (!replaced) {
            char one[2] = { *s++, '\0' };
            if (!append_text(out, size, &used, one))
                return false;
        }
    }
    return true;
}

static int status_code(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return -1;
}

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Splits a command that needs no shell (words, '…' and "…" quotes,
 * backslash escapes) into argv, so the common case skips a /bin/sh exec.
 * False when anything a shell would expand or redirect is there. */
static bool split_plain_command(const char *cmd, char *buf, size_t cap, char **argv, size_t max)
{
    static const char shell_only[] = "|&;<>()$`*?[]{}~#=!";
    size_t n = 0, w = 0;
    bool in_word = false;
    for (const char *p = cmd;; p++) {
        char ch = *p;
        if (ch == '\0' || ch == ' ' || ch == '\t' || ch == '\n') {
            if (in_word) {
                if (w >= cap)
                    return false;
                buf[w++] = '\0';
                in_word = false;
            }
            if (ch == '\0')
                break;
            continue;
        }
        if (!in_word) {
            if (n + 1 >= max)
                return false;
            argv[n++] = buf + w;
            in_word = true;
        }
        if (strchr(shell_only, ch))
            return false;
        if (ch == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end || w + (size_t)(end - p) >= cap)
                return false;
            memcpy(buf + w, p + 1, (size_t)(end - p - 1));
            w += (size_t)(end - p - 1);
            p = end;
            continue;
        }
        if (ch == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0' || *p == '$' || *p == '`')
                    return false;
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                if (w + 1 >= cap)
                    return false;
                buf[w++] = *p;
            }
            continue;
        }
        if (ch == '\\') {
            if (*++p == '\0')
                return false;
            ch = *p;
        }
        if (w + 1 >= cap)
            return false;
        buf[w++] = ch;
    }
    argv[n] = NULL;
    return n > 0;
}

/* In the forked child: stdin from /dev/null, stdout/stderr to the pipes,
 * own process group (so the runner can stop a shell and what it started),
 * killed if the case process dies. */
static void exec_command(struct live *L, const char *command, bool client_side,
                         int out_w, int err_w)
{
    char err[256];
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
        dup2(null_fd, STDIN_FILENO);
    dup2(out_w, STDOUT_FILENO);
    dup2(err_w, STDERR_FILENO);
    if (client_side && !netns_enter_client(&L->env, err, sizeof err)) {
        dprintf(STDERR_FILENO, "wirecheck: %s\n", err);
        _exit(126);
    }
    char words[CASE_COMMAND_MAX + 256], *argv[64];
    if (split_plain_command(command, words, sizeof words, argv, 64)) {
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "wirecheck: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    dprintf(STDERR_FILENO, "wirecheck: exec /bin/sh -c '%s': %s\n", command, strerror(errno));
    _exit(127);
}

static bool spawn(struct live *L, struct proc *p, const char *role, const char *template,
                  bool client_side)
{
    char command[CASE_COMMAND_MAX + 256];
    memset(p, 0, sizeof *p);
    p->role = role;
    p->pidfd = p->out_fd = p->err_fd = -1;
    if (!runner_substitute(template, L->host, L->port, L->family, L->o->bin_dir,
                           command, sizeof command)) {
        add_detail(L->r, "%s command too long after substitution", role);
        return false;
    }
    int out[2], errp[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        add_detail(L->r, "pipe for the %s: %s", role, strerror(errno));
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        add_detail(L->r, "fork for the %s: %s", role, strerror(errno));
        return false;
    }
    if (pid == 0)
        exec_command(L, command, client_side, out[1], errp[1]);
    close(out[1]);
    close(errp[1]);
    p->pid = pid;
    p->out_fd = out[0];
    p->err_fd = errp[0];
    set_nonblocking(p->out_fd);
    set_nonblocking(p->err_fd);
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd < 0) {
        add_detail(L->r, "pidfd_open for the %s (pid %d): %s", role, (int)pid, strerror(errno));
        return false;
    }
    return true;
}

/* Reads what is in one of the process's pipes; keeps the first OUTPUT_MAX
 * bytes and throws the rest away so a chatty program never blocks. */
static void read_output(struct proc *p, int *fd)
{
    for (;;) {
        char buf[4096];
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close(*fd);
            *fd = -1;
            return;
        }
        size_t room = sizeof p->output - 1 - p->output_len;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        memcpy(p->output + p->output_len, buf, keep);
        p->output_len += keep;
        p->output[p->output_len] = '\0';
    }
}

static void reap(struct proc *p)
{
    int wstatus;
    pid_t got = waitpid(p->pid, &wstatus, WNOHANG);
    if (got != p->pid)
        return;
    p->exited = true;
    p->status = status_code(wstatus);
    close(p->pidfd);
    p->pidfd = -1;
    /* What it wrote before exiting is in the pipes now. A leftover child of
     * a shell could keep them open forever, so take it and stop listening. */
    if (p->out_fd >= 0)
        read_output(p, &p->out_fd);
    if (p->err_fd >= 0)
        read_output(p, &p->err_fd);
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    p->out_fd = p->err_fd = -1;
}

static bool running(const struct proc *p)
{
    return p->pid > 0 && !p->exited;
}

/* Stops a process group: `sig` first, SIGKILL if it outlives grace_ms. */
static void stop_group(struct proc *p, int sig)
{
    if (running(p))
        kill(-p->pid, sig);
}

/* ---- the event loop ---------------------------------------------------- */

typedef bool done_fn(struct live *L);

static void on_capture_packet(const struct captured_packet *p, uint32_t frame, void *ctx)
{
    struct live *L = ctx;
    L->last_packet_ms = now_ms();
    if (L->watch)
        (void)analysis_feed(L->watch, frame, p->ts_usec, L->cap.linktype, p->caplen,
                            p->wirelen, p->data);
}

static size_t add_proc_fds(struct proc *p, struct pollfd *fds, size_t n)
{
    if (p->out_fd >= 0)
        fds[n++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
    if (p->err_fd >= 0)
        fds[n++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
    if (p->pidfd >= 0)
        fds[n++] = (struct pollfd){ .fd = p->pidfd, .events = POLLIN };
    return n;
}

static void handle_proc_fd(struct proc *p, int fd)
{
    if (fd == p->out_fd)
        read_output(p, &p->out_fd);
    else if (fd == p->err_fd)
        read_output(p, &p->err_fd);
    else if (fd == p->pidfd)
        reap(p);
}

/* When to wake up even without events: the quiet period of the drain. */
static int64_t wake_hint(const struct live *L)
{
    if (L->drain_since_ms == 0)
        return INT64_MAX;
    int64_t from = L->last_packet_ms > L->drain_since_ms ? L->last_packet_ms : L->drain_since_ms;
    return from + QUIET_MS;
}

/* Waits on the capture, the pipes and the processes until done() or the
 * deadline. False on timeout or on a capture error (detail added). */
static bool pump(struct live *L, int64_t deadline, done_fn *done)
{
    char err[512];
    while (!done(L)) {
        int64_t now = now_ms();
        int64_t until = wake_hint(L) < deadline ? wake_hint(L) : deadline;
        if (now >= deadline)
            return false;
        struct pollfd fds[8];
        size_t n = 0;
        int cap_fd = capture_fd(&L->cap);
        if (cap_fd >= 0)
            fds[n++] = (struct pollfd){ .fd = cap_fd, .events = POLLIN };
        n = add_proc_fds(&L->server, fds, n);
        n = add_proc_fds(&L->client, fds, n);
        int timeout = until > now ? (int)(until - now) : 0;
        int rc = poll(fds, n, timeout);
        if (rc < 0 && errno != EINTR) {
            add_detail(L->r, "poll: %s", strerror(errno));
            return false;
        }
        for (size_t i = 0; rc > 0 && i < n; i++) {
            if (!fds[i].revents)
                continue;
            if (fds[i].fd == cap_fd) {
                if (capture_read(&L->cap, err, sizeof err) < 0) {
                    add_detail(L->r, "%s", err);
                    return false;
                }
                continue;
            }
            handle_proc_fd(&L->server, fds[i].fd);
            handle_proc_fd(&L->client, fds[i].fd);
        }
    }
    return true;
}

/* Parses the port out of a readiness line: "Listening on 127.0.0.1:3434",
 * "Listening on [::1]:3434", socat's "listening on AF=2 0.0.0.0:3434",
 * OpenBSD nc's "Listening on localhost 3434". */
static bool port_from_line(const char *after, size_t len, unsigned *port)
{
    char line[256];
    if (len >= sizeof line)
        len = sizeof line - 1;
    memcpy(line, after, len);
    line[len] = '\0';
    for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        char *colon = strrchr(tok, ':');
        const char *digits = colon ? colon + 1 : tok;
        char *end;
        unsigned long v = strtoul(digits, &end, 10);
        if (end != digits && *end == '\0' && v > 0 && v <= 65535) {
            *port = (unsigned)v;
            return true;
        }
    }
    return false;
}

static bool server_listening(struct live *L)
{
    if (L->listening)
        return true;
    const char *out = L->server.output;
    const char *hit = strcasestr(out, "listening on");
    if (!hit)
        return false;
    const char *eol = strchr(hit, '\n');
    if (!eol)
        return false; /* wait for the whole line: it carries the port */
    const char *after = hit + strlen("listening on");
    unsigned port;
    if (port_from_line(after, (size_t)(eol - after), &port))
        L->port = port;
    L->listening = true;
    return true;
}

static bool server_ready_or_gone(struct live *L)
{
    return server_listening(L) || L->server.exited;
}

static bool client_done(struct live *L)
{
    return L->client.exited;
}

static bool server_done(struct live *L)
{
    return !running(&L->server);
}

/* Every TCP connection the analysis saw has been torn down (a case with
 * only TCP then has nothing more to say), or the wire has been quiet. */
static bool capture_settled(struct live *L)
{
    struct analysis_summary s;
    if (L->watch) {
        analysis_get_summary(L->watch, &s);
        bool only_tcp = s.open_tcp > 0 && s.open_tcp == s.open_flows && s.udp_flows == 0;
        if (only_tcp && s.open_tcp_unclosed == 0)
            return true;
    }
    return now_ms() >= wake_hint(L);
}

/* ---- the case process -------------------------------------------------- */

static void pick_host(struct live *L)
{
    const char *host;
    if (L->c->topology == NETNS_VETH)
        host = L->family == 6 ? NETNS_SERVER_IPV6 : NETNS_SERVER_IPV4;
    else
        host = L->family == 6 ? "::1" : "127.0.0.1";
    snprintf(L->host, sizeof L->host, "%s", host);
    L->port = L->c->port;
}

static void prepend_path(const char *dir)
{
    if (!dir || !*dir)
        return;
    const char *old = getenv("PATH");
    char path[4096];
    snprintf(path, sizeof path, "%s:%s", dir, old ? old : "/usr/bin:/bin");
    setenv("PATH", path, 1);
}

/* Steps 1-2: namespaces, faults, capture. False = environment error. */
static bool prepare_network(struct live *L)
{
    char err[1024];
    if (!netns_enter_private(err, sizeof err) ||
        !netns_build(&L->env, L->c->topology, err, sizeof err)) {
        add_detail(L->r, "%s", err);
        return false;
    }
    char rules[4096];
    case_fault_ruleset(L->c, (uint16_t)L->port, rules, sizeof rules);
    if (rules[0] && !netns_load_nft(rules, err, sizeof err)) {
        add_detail(L->r, "%s", err);
        return false;
    }
    if (case_needs_slow_class(L->c) &&
        !netns_add_slow_class(L->env.capture_if, CASE_SLOW_CLASS_MINOR, CASE_SLOW_BYTES_PER_S,
                              err, sizeof err)) {
        add_detail(L->r, "%s", err);
        return false;
    }
    char filter[512];
    bool permission;
    capture_filter_for_port((uint16_t)L->port, filter, sizeof filter);
    if (!capture_start(&L->cap, L->env.capture_if, filter, &permission, err, sizeof err)) {
        add_detail(L->r, "%s", err);
        return false;
    }
    L->cap.on_packet = on_capture_packet;
    L->cap.ctx = L;
    return true;
}

static bool start_watch(struct live *L)
{
    struct analysis_options o;
    analysis_options_default(&o);
    o.payload_cap = 0; /* only asked whether the TCP flows are torn down */
    L->watch = analysis_create(&o);
    if (!L->watch)
        add_detail(L->r, "out of memory creating the analysis");
    return L->watch != NULL;
}

/* Step 3. False: the server never became ready (detail added). */
static bool start_server(struct live *L)
{
    /* A case without a server (a closed port) keeps none under --server. */
    if (!L->c->server[0])
        return true;
    const char *command = L->o->server_override ? L->o->server_override : L->c->server;
    if (!spawn(L, &L->server, "server", command, false))
        return false;
    unsigned asked_port = L->port;
    bool ok = pump(L, now_ms() + LISTEN_TIMEOUT_MS, server_ready_or_gone);
    if (!ok || !L->listening) {
        if (L->server.exited)
            add_detail(L->r, "server exited with status %d before printing 'Listening on ADDR:PORT'%s",
                       L->server.status, L->server.status == 127 ? " (command not found?)" : "");
        else
            add_detail(L->r, "server printed no 'Listening on ADDR:PORT' line within %d ms",
                       LISTEN_TIMEOUT_MS);
        return false;
    }
    if (L->port != asked_port) {
        char filter[512], err[512];
        capture_filter_for_port((uint16_t)L->port, filter, sizeof filter);
        if (!capture_set_filter(&L->cap, filter, err, sizeof err)) {
            add_detail(L->r, "%s", err);
            return false;
        }
    }
    return true;
}

/* Steps 4-6. */
static void run_programs(struct live *L, int64_t deadline)
{
    const char *command = L->o->client_override ? L->o->client_override : L->c->client;
    if (!spawn(L, &L->client, "client", command, true))
        return;
    if (!pump(L, deadline, client_done))
        add_detail(L->r, "client still running after the case timeout of %u ms: killed",
                   L->c->timeout_ms);
    stop_group(&L->client, SIGKILL);

    int64_t grace = now_ms() + SERVER_EXIT_GRACE_MS;
    if (!pump(L, grace < deadline ? grace : deadline, server_done)) {
        stop_group(&L->server, SIGTERM);
        if (!pump(L, now_ms() + TERM_GRACE_MS, server_done))
            stop_group(&L->server, SIGKILL);
    }
    pump(L, now_ms() + TERM_GRACE_MS, client_done);
    pump(L, now_ms() + TERM_GRACE_MS, server_done);

    L->drain_since_ms = now_ms();
    pump(L, L->drain_since_ms + DRAIN_MAX_MS, capture_settled);
}

static void kill_leftovers(struct live *L)
{
    stop_group(&L->client, SIGKILL);
    stop_group(&L->server, SIGKILL);
    if (running(&L->client))
        waitpid(L->client.pid, NULL, 0);
    if (running(&L->server))
        waitpid(L->server.pid, NULL, 0);
}

/* ---- judging ----------------------------------------------------------- */

static struct analysis *judge_packets(const struct capture *cap, bool loss_injected)
{
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    o.loss_injected = loss_injected;
    struct analysis *a = analysis_create(&o);
    if (!a)
        return NULL;
    for (size_t i = 0; i < cap->count; i++) {
        const struct captured_packet *p = &cap->packets[i];
        (void)analysis_feed(a, (uint32_t)(i + 1), p->ts_usec, cap->linktype, p->caplen,
                            p->wirelen, p->data);
    }
    analysis_finish(a);
    return a;
}

static void describe_verdict(const struct verdict *v, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s (%s", verdict_name(v->kind), v->text);
    for (unsigned i = 0; i < v->nframes && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%u", i ? "," : "; frames ",
                                 v->frames[i]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
}

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
            describe_verdict(v, one, sizeof one);
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

static void check_expectation(struct live *L, const struct analysis *a, const struct case_expect *e)
{
    char seen[1200] = "";
    bool met = false;
    const char *what = case_expect_kind_name(e->kind);
    switch (e->kind) {
    case EXPECT_RULE:
        met = rule_expectation_met(a, e, seen, sizeof seen);
        if (!met)
            add_detail(L->r, "line %u: expected %s %s%s%s%s, seen %s", e->line, e->rule_id,
                       verdict_name(e->verdict), e->text[0] ? " \"" : "", e->text,
                       e->text[0] ? "\"" : "", seen);
        break;
    case EXPECT_CLIENT_EXIT:
    case EXPECT_SERVER_EXIT: {
        const struct proc *p = e->kind == EXPECT_CLIENT_EXIT ? &L->client : &L->server;
        met = p->exited && p->status == e->exit_status;
        if (!met)
            add_detail(L->r, "line %u: expected %s %d, seen %s %d", e->line, what,
                       e->exit_status, p->exited ? "status" : "not exited, status", p->status);
        break;
    }
    case EXPECT_CLIENT_OUTPUT:
    case EXPECT_SERVER_OUTPUT: {
        const struct proc *p = e->kind == EXPECT_CLIENT_OUTPUT ? &L->client : &L->server;
        met = strstr(p->output, e->text) != NULL;
        if (!met)
            add_detail(L->r, "line %u: expected %s containing \"%s\", seen \"%.300s\"", e->line,
                       what, e->text, p->output);
        break;
    }
    }
    L->r->expectations++;
    if (!met)
        L->r->unmet++;
}

/* A fail verdict the case did not announce is a failure of the case. */
static void check_unexpected_failures(struct live *L, const struct analysis *a)
{
    for (size_t i = 0; i < analysis_report_count(a); i++) {
        const struct flow_report *r = analysis_report(a, i);
        for (size_t j = 0; j < r->nverdicts; j++) {
            const struct verdict *v = &r->verdicts[j];
            if (v->kind != VERDICT_FAIL || rule_is_expected(L->c, v->id))
                continue;
            char one[400];
            describe_verdict(v, one, sizeof one);
            add_detail(L->r, "unexpected %s %s; expected %s, seen %s", v->id, one, v->expected, v->seen);
            L->r->unmet++;
        }
    }
}

static void judge(struct live *L, const struct analysis *a)
{
    for (size_t i = 0; i < L->c->nexpects; i++)
        check_expectation(L, a, &L->c->expects[i]);
    check_unexpected_failures(L, a);
    if (L->cap.kernel_drops)
        add_detail(L->r, "note: the kernel dropped %u packets from the capture", L->cap.kernel_drops);
    if (L->r->unmet) {
        L->r->outcome = CASE_FAIL;
        add_detail(L->r, "client (status %d) said: %.400s", L->client.status, L->client.output);
        if (L->server.pid)
            add_detail(L->r, "server (status %d) said: %.400s", L->server.status, L->server.output);
    }
}

/* ---- the capture file -------------------------------------------------- */

/* Splits a multi-line comment into one pcapng comment per line. */
static size_t split_lines(char *text, const char **lines, size_t max)
{
    size_t n = 0;
    for (char *s = text; *s && n < max;) {
        lines[n++] = s;
        char *nl = strchr(s, '\n');
        if (!nl)
            break;
        *nl = '\0';
        s = nl + 1;
    }
    return n;
}

static void write_capture(struct live *L, const struct analysis *a)
{
    char err[600];
    struct pcapng_writer w;
    snprintf(L->r->capture_path, sizeof L->r->capture_path, "%s/%s.pcapng", L->o->out_dir,
             L->r->name);
    if (!pcapng_writer_open(&w, L->r->capture_path, "wirecheck run", err, sizeof err)) {
        add_detail(L->r, "%s", err);
        L->r->capture_path[0] = '\0';
        return;
    }
    int ifid = pcapng_add_interface(&w, (uint16_t)L->cap.linktype, L->cap.snaplen, L->env.capture_if);
    char summary[800];
    /* The case file by its name only: a capture is shared, a local path is not. */
    const char *slash = strrchr(L->c->origin, '/');
    snprintf(summary, sizeof summary, "wirecheck case %s (%s): %s", L->r->name,
             slash ? slash + 1 : L->c->origin, case_outcome_name(L->r->outcome));
    static char comment[COMMENT_MAX];
    for (size_t i = 0; i < L->cap.count && ifid >= 0; i++) {
        const struct captured_packet *p = &L->cap.packets[i];
        const char *lines[32];
        size_t n = 0;
        if (i == 0)
            lines[n++] = summary;
        if (a && analysis_frame_comment(a, (uint32_t)(i + 1), comment, sizeof comment) > 0)
            n += split_lines(comment, lines + n, 32 - n);
        pcapng_write_packet(&w, (uint32_t)ifid, p->ts_usec, p->data, p->caplen, p->wirelen, lines, n);
    }
    if (!pcapng_writer_close(&w, err, sizeof err)) {
        add_detail(L->r, "%s: %s", L->r->capture_path, err);
        L->r->capture_path[0] = '\0';
    }
}

/* The whole case, inside the forked child. */
static void run_in_namespace(struct live *L)
{
    int64_t deadline = now_ms() + L->c->timeout_ms;
    prepend_path(L->o->bin_dir);
    pick_host(L);
    if (!prepare_network(L)) {
        L->r->outcome = CASE_ERROR;
        return;
    }
    bool started = start_watch(L) && start_server(L);
    if (started)
        run_programs(L, deadline);
    kill_leftovers(L);
    capture_stop(&L->cap);
    L->r->client_status = L->client.pid ? L->client.status : -1;
    L->r->server_status = L->server.pid ? L->server.status : -1;
    L->r->packets = (unsigned)L->cap.count;

    struct analysis *a = judge_packets(&L->cap, L->c->loss_injected);
    if (!started) {
        L->r->outcome = CASE_FAIL;
    } else if (!a) {
        L->r->outcome = CASE_ERROR;
        add_detail(L->r, "out of memory creating the analysis");
    } else {
        judge(L, a);
    }
    write_capture(L, a);
    if (a)
        analysis_destroy(a);
    if (L->watch)
        analysis_destroy(L->watch);
    capture_free(&L->cap);
    netns_release(&L->env);
}

/* ---- the parent side --------------------------------------------------- */

static bool write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads exactly n bytes before the deadline. */
static bool read_all(int fd, void *p, size_t n, int64_t deadline)
{
    char *d = p;
    while (n) {
        int64_t left = deadline - now_ms();
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int rc = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        ssize_t got = read(fd, d, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        d += got;
        n -= (size_t)got;
    }
    return true;
}

static void init_result(struct case_result *r, const struct case_spec *c, int family)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s-ipv%d", c->name, family);
    r->outcome = CASE_PASS;
    r->client_status = r->server_status = -1;
}

bool runner_run_case(const struct case_spec *c, int family, const struct run_options *o,
                     struct case_result *r)
{
    int64_t start = now_ms();
    init_result(r, c, family);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        r->outcome = CASE_ERROR;
        add_detail(r, "pipe for the case process: %s", strerror(errno));
        return false;
    }
    fflush(NULL); /* or the child would flush our buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        r->outcome = CASE_ERROR;
        add_detail(r, "fork the case process: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        static struct live L;
        /* No process yet: nothing of theirs to poll (fd 0 would be stdin). */
        L.server.pidfd = L.server.out_fd = L.server.err_fd = -1;
        L.client.pidfd = L.client.out_fd = L.client.err_fd = -1;
        L.c = c;
        L.o = o;
        L.r = r;
        L.family = family;
        run_in_namespace(&L);
        _exit(write_all(fds[1], r, sizeof *r) ? 0 : 1);
    }
    close(fds[1]);
    bool got = read_all(fds[0], r, sizeof *r, start + c->timeout_ms + RESULT_MARGIN_MS);
    close(fds[0]);
    if (!got) {
        kill(pid, SIGKILL);
        init_result(r, c, family);
        r->outcome = CASE_ERROR;
        add_detail(r, "the case process (pid %d) died or hung without reporting", (int)pid);
    }
    waitpid(pid, NULL, 0);
    r->elapsed_ms = (unsigned)(now_ms() - start);
    return r->outcome != CASE_ERROR;
}
