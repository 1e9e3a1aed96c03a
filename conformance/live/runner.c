/* runner: one case, start to verdict. See runner.h for the contract.
 *
 * The steps of a case, each waiting on events with a bounded timeout (no
 * sleeps), all inside a forked child that owns the namespaces:
 *
 *   1. prepare_network: private namespace(s), topology, nftables faults,
 *      the slow class, and the capture on the case's port
 *   2. start_analysis: the analysis that is fed every packet as it is
 *      captured (it sees the teardown, and is the final judgement)
 *   3. start_server: the server, until it is ready: a socket of the case's
 *      namespace listens (TCP) or is bound (UDP) on the case's port (the
 *      socket table, polled on a short tick), or it printed a "Listening on"
 *      line (the fast path); --ready picks one of the two
 *   4. run_programs: the client until its exit; the server given a moment
 *      to exit, then SIGTERM, then SIGKILL; the capture until it settles
 *   5. kill_leftovers, capture stopped, the analysis finished
 *   6. judge: expectations (expect.c) against the analysis and the programs
 *   7. write_capture: OUT/<case>.pcapng with a comment on every judged packet
 *
 * runner_case_process is that child; runner_job.c starts it with
 * process_call, which brings its struct case_result back through a pipe,
 * bounded by the case's timeout. Commands are templated and split by command.c, processes supervised by
 * process.c, expectations checked by expect.c, the file written by case_capture.c. */
#include "runner.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.h"
#include "case_capture.h"
#include "capture.h"
#include "command.h"
#include "expect.h"
#include "faults.h"
#include "netns.h"
#include "nft.h"
#include "process.h"
#include "socktable.h"
#include "tc.h"

#define SERVER_EXIT_GRACE_MS 1000 /* client exit to the server's own exit */
#define TERM_GRACE_MS 500        /* SIGTERM to SIGKILL */
#define QUIET_MS 50              /* no packet for this long: nothing more is coming */
#define DRAIN_MAX_MS 1000        /* bound on waiting for the last packets */
#define OUTPUT_MAX 8192

/* The server or the client of a case. */
struct program {
    struct process proc;
    struct process_output out;   /* stdout and stderr as they came, into text */
    char text[OUTPUT_MAX];
    char command[CASE_COMMAND_MAX + 256]; /* as run, placeholders filled in */
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
    struct analysis *analysis;  /* fed live; finished, it is the judgement */
    int64_t last_packet_ms;
    int64_t drain_since_ms;
    bool listening;
    bool awaiting_ready;        /* polling the socket table on its tick */
    char ready_error[256];      /* the socket table could not be read */
    struct program server, client;
    int64_t start_ms;
    struct expect_outcomes outcomes; /* every expectation, for the capture */
};

static volatile sig_atomic_t interrupt_signal;

void runner_note_signal(int sig)
{
    interrupt_signal = sig;
}

int runner_interrupted(void)
{
    return interrupt_signal;
}

const char *runner_signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP"
                                                                                 : strsignal(sig);
}

static int64_t now_ms(void)
{
    return process_now_ms();
}

#define add_detail case_result_add_detail

/* ---- the programs ------------------------------------------------------ */

struct exec_plan {
    const struct netns_env *env;
    const char *command;
    bool client_side;
};

/* In the forked child (own process group, so the runner can stop a shell
 * and what it started; stdin /dev/null; killed if the case process dies):
 * into the client's namespace if it is the client, then exec. */
static int exec_command(void *ctx)
{
    const struct exec_plan *plan = ctx;
    char err[256];
    if (plan->client_side && !netns_enter_client(plan->env, err, sizeof err)) {
        dprintf(STDERR_FILENO, "wirecheck: %s\n", err);
        return 126;
    }
    char words[CASE_COMMAND_MAX + 256], *argv[64];
    if (command_split_plain(plan->command, words, sizeof words, argv, 64)) {
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "wirecheck: exec %s: %s\n", argv[0], strerror(errno));
        return 127;
    }
    execl("/bin/sh", "sh", "-c", plan->command, (char *)NULL);
    dprintf(STDERR_FILENO, "wirecheck: exec /bin/sh -c '%s': %s\n", plan->command, strerror(errno));
    return 127;
}

static bool spawn(struct live *L, struct program *p, const char *role, const char *template,
                  bool client_side)
{
    char command[CASE_COMMAND_MAX + 256];
    if (!command_substitute(template, L->host, L->port, L->family, L->o->bin_dir,
                            command, sizeof command)) {
        add_detail(L->r, "%s command too long after substitution", role);
        return false;
    }
    char what[32], err[512];
    snprintf(what, sizeof what, "the %s", role);
    snprintf(p->command, sizeof p->command, "%s", command);
    struct exec_plan plan = { &L->env, command, client_side };
    /* Its own PID namespace: all it starts dies with it. A server stays
     * "running" while anything it started runs (a daemonizing server); a
     * client is done when its command exits, and the rest is killed then. */
    struct process_options o = {
        .what = what, .own_group = true, .die_with_parent = true, .stdin_null = true,
        .pid_namespace = true, .until_empty = !client_side,
        .exec = exec_command, .ctx = &plan,
    };
    p->text[0] = '\0';
    p->out = (struct process_output){ .data = p->text, .size = sizeof p->text };
    if (!process_spawn(&p->proc, &p->out, &p->out, &o, err, sizeof err)) {
        add_detail(L->r, "%s", err);
        return false;
    }
    return true;
}

/* ---- the event loop ---------------------------------------------------- */

typedef bool done_fn(struct live *L);

static void on_capture_packet(const struct captured_packet *p, uint32_t frame, void *ctx)
{
    struct live *L = ctx;
    L->last_packet_ms = now_ms();
    if (L->analysis)
        (void)analysis_feed(L->analysis, frame, p->ts_usec, L->cap.linktype, p->caplen,
                            p->wirelen, p->data);
}

/* When to wake up even without events: the quiet period of the drain, or
 * the tick of a process the kernel gave no pidfd for. */
static int64_t wake_hint(const struct live *L)
{
    int64_t hint = INT64_MAX;
    if (L->drain_since_ms != 0) {
        int64_t from = L->last_packet_ms > L->drain_since_ms ? L->last_packet_ms
                                                              : L->drain_since_ms;
        hint = from + QUIET_MS;
    }
    return hint;
}

static int64_t tick_deadline(const struct live *L, int64_t now)
{
    int tick = process_tick_ms(&L->server.proc);
    int client_tick = process_tick_ms(&L->client.proc);
    if (tick < 0 || (client_tick >= 0 && client_tick < tick))
        tick = client_tick;
    /* No event says "a socket now listens": poll the table on a short tick. */
    if (L->awaiting_ready && (tick < 0 || SOCKTABLE_TICK_MS < tick))
        tick = SOCKTABLE_TICK_MS;
    return tick < 0 ? INT64_MAX : now + tick;
}

/* Waits on the capture, the pipes and the processes until done() or the
 * deadline. False on timeout or on a capture error (detail added). */
static bool pump(struct live *L, int64_t deadline, done_fn *done)
{
    char err[512];
    while (!done(L)) {
        if (interrupt_signal)
            return false;
        int64_t now = now_ms();
        int64_t until = wake_hint(L) < deadline ? wake_hint(L) : deadline;
        if (tick_deadline(L, now) < until)
            until = tick_deadline(L, now);
        if (now >= deadline)
            return false;
        struct pollfd fds[8];
        size_t n = 0;
        int cap_fd = capture_fd(&L->cap);
        if (cap_fd >= 0)
            fds[n++] = (struct pollfd){ .fd = cap_fd, .events = POLLIN };
        n = process_poll_fds(&L->server.proc, fds, n);
        n = process_poll_fds(&L->client.proc, fds, n);
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
            process_handle_fd(&L->server.proc, fds[i].fd);
            process_handle_fd(&L->client.proc, fds[i].fd);
        }
        if (L->server.proc.pidfd < 0)
            process_reap(&L->server.proc, false);
        if (L->client.proc.pidfd < 0)
            process_reap(&L->client.proc, false);
    }
    return true;
}

static bool server_listening(struct live *L)
{
    if (L->listening)
        return true;
    unsigned port;
    if (L->o->ready != READY_PORT && process_listening_port(L->server.text, &port)) {
        if (port)
            L->port = port;
        L->listening = true;
        return true;
    }
    if (L->o->ready != READY_LINE) {
        bool tcp = false, udp = false;
        char err[256];
        if (!socktable_port_bound(SOCKTABLE_TCP, L->port, &tcp, err, sizeof err) ||
            (!tcp && !socktable_port_bound(SOCKTABLE_UDP, L->port, &udp, err, sizeof err)))
            snprintf(L->ready_error, sizeof L->ready_error, "%s", err);
        L->listening = tcp || udp;
    }
    return L->listening;
}

static bool server_ready_or_gone(struct live *L)
{
    return server_listening(L) || L->server.proc.exited;
}

static bool client_done(struct live *L)
{
    return L->client.proc.exited;
}

static bool server_done(struct live *L)
{
    return !process_running(&L->server.proc);
}

/* Every TCP connection the analysis saw has been torn down (a case with
 * only TCP then has nothing more to say), or the wire has been quiet. */
static bool capture_settled(struct live *L)
{
    struct analysis_summary s;
    if (L->analysis) {
        analysis_get_summary(L->analysis, &s);
        bool only_tcp = s.open_tcp > 0 && s.open_tcp == s.open_flows && s.udp_flows == 0;
        if (only_tcp && s.open_tcp_unclosed == 0)
            return true;
    }
    return now_ms() >= wake_hint(L);
}

static bool server_done_or_settled(struct live *L)
{
    return server_done(L) || capture_settled(L);
}

/* ---- the steps --------------------------------------------------------- */

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

/* Step 1. False = environment error. */
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
    if (rules[0] && !nft_load_ruleset(rules, err, sizeof err)) {
        add_detail(L->r, "%s", err);
        return false;
    }
    if (case_needs_slow_class(L->c) &&
        !tc_add_slow_class(L->env.capture_if, CASE_SLOW_CLASS_MINOR, CASE_SLOW_BYTES_PER_S,
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

/* Step 2: the analysis, with the options of the final judgement (reports
 * retained, loss_injected from the case, the default payload cap): fed every
 * packet in capture order as it comes, it sees the teardown while the case
 * runs and, finished, judges the capture exactly as a second pass over the
 * stored packets would. */
static bool start_analysis(struct live *L)
{
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    o.loss_injected = L->c->loss_injected;
    L->analysis = analysis_create(&o);
    if (!L->analysis)
        add_detail(L->r, "out of memory creating the analysis");
    return L->analysis != NULL;
}

/* Bytes of s[0..n) before the first newline. */
static size_t memcspn_nl(const char *s, size_t n)
{
    const char *nl = memchr(s, '\n', n);
    return nl ? (size_t)(nl - s) : n;
}

/* The last `max` lines a program printed, one detail each (escaped when
 * printed: they are the program's bytes). */
static void add_last_lines(struct case_result *r, const char *role, const struct program *p,
                           int max)
{
    const char *text = p->text;
    size_t len = p->out.len;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len == 0) {
        add_detail(r, "the %s printed nothing", role);
        return;
    }
    size_t start = len;
    for (int lines = 0; start > 0; start--)
        if (text[start - 1] == '\n' && ++lines == max)
            break;
    add_detail(r, "the %s's last lines of output:", role);
    for (const char *s = text + start; s < text + len;) {
        size_t n = memcspn_nl(s, (size_t)(text + len - s));
        char line[1300];
        expect_printable(s, n > 300 ? 300 : n, line, sizeof line);
        add_detail(r, "  | %s", line);
        s += n + 1;
    }
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
    unsigned timeout = L->o->ready_timeout_ms ? L->o->ready_timeout_ms : RUNNER_READY_TIMEOUT_MS;
    L->awaiting_ready = true;
    bool ok = pump(L, now_ms() + timeout, server_ready_or_gone);
    L->awaiting_ready = false;
    if (!ok || !L->listening) {
        if (L->server.proc.exited && (L->server.proc.status == 126 || L->server.proc.status == 127))
            return false; /* command_could_not_run says it */
        char why[256];
        if (L->o->ready == READY_LINE)
            snprintf(why, sizeof why, "printed no 'Listening on' line");
        else
            snprintf(why, sizeof why, "had no socket listening (TCP) or bound (UDP) on port %u in "
                     "the case's namespace%s", asked_port,
                     L->o->ready == READY_ANY ? " and printed no 'Listening on' line" : "");
        if (L->server.proc.exited)
            add_detail(L->r, "server exited with status %d before it was ready: it %s",
                       L->server.proc.status, why);
        else
            add_detail(L->r, "server not ready within %u ms (--ready-timeout): it %s", timeout, why);
        if (L->ready_error[0])
            add_detail(L->r, "socket table: %s", L->ready_error);
        add_last_lines(L->r, "server", &L->server, 5);
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

/* Step 4. */
static void run_programs(struct live *L, int64_t deadline)
{
    const char *command = L->o->client_override ? L->o->client_override : L->c->client;
    if (!spawn(L, &L->client, "client", command, true))
        return;
    if (!pump(L, deadline, client_done))
        add_detail(L->r, "client still running after the case timeout of %u ms: killed",
                   L->c->timeout_ms);
    process_signal_group(&L->client.proc, SIGKILL);

    int64_t grace = now_ms() + SERVER_EXIT_GRACE_MS;
    /* A replaced server need not exit by itself (most never do): it is
     * stopped once the wire has settled, not after the whole grace. */
    if (L->o->server_override)
        L->drain_since_ms = now_ms();
    bool exited = pump(L, grace < deadline ? grace : deadline,
                       L->o->server_override ? server_done_or_settled : server_done);
    L->drain_since_ms = 0;
    if (!exited || !server_done(L)) {
        process_signal_group(&L->server.proc, SIGTERM);
        if (!pump(L, now_ms() + TERM_GRACE_MS, server_done))
            process_signal_group(&L->server.proc, SIGKILL);
    }
    pump(L, now_ms() + TERM_GRACE_MS, client_done);
    pump(L, now_ms() + TERM_GRACE_MS, server_done);

    L->drain_since_ms = now_ms();
    pump(L, L->drain_since_ms + DRAIN_MAX_MS, capture_settled);
}

static void kill_leftovers(struct live *L)
{
    process_signal_group(&L->client.proc, SIGKILL);
    process_signal_group(&L->server.proc, SIGKILL);
    if (process_running(&L->client.proc))
        waitpid(L->client.proc.pid, NULL, 0);
    if (process_running(&L->server.proc))
        waitpid(L->server.proc.pid, NULL, 0);
}

/* The first 400 bytes a program printed, made printable (NUL, control
 * bytes and invalid UTF-8 as \xNN), so a detail line is text whatever it
 * printed. */
static void printable_output(const struct program *p, char *out, size_t size)
{
    size_t len = p->out.len;
    size_t shown = expect_printable(p->text, len > 400 ? 400 : len, out, size);
    if (len > 400 && shown + 4 < size)
        memcpy(out + shown, "...", 4);
}

/* Step 6. */
static void judge(struct live *L, const struct analysis *a)
{
    struct expect_program client = { L->client.proc.exited, L->client.proc.status, L->client.text,
                                     L->client.out.len, L->o->client_override != NULL };
    struct expect_program server = { L->server.proc.exited, L->server.proc.status, L->server.text,
                                     L->server.out.len,
                                     L->o->server_override != NULL && L->c->server[0] };
    expect_judge(L->c, a, &client, &server, L->r, &L->outcomes);
    if (L->cap.kernel_drops)
        add_detail(L->r, "note: the kernel dropped %u packets from the capture", L->cap.kernel_drops);
    if (L->r->unmet) {
        L->r->outcome = CASE_FAIL;
        char said[1700];
        printable_output(&L->client, said, sizeof said);
        add_detail(L->r, "client (status %d) said: %s", L->client.proc.status, said);
        if (L->server.proc.pid) {
            printable_output(&L->server, said, sizeof said);
            add_detail(L->r, "server (status %d) said: %s", L->server.proc.status, said);
        }
    }
}

/* Exit 126 or 127: the command could not run (not found, not executable,
 * or the shell said so). That is the command's fault, never a verdict on
 * the wire: an error naming it, whatever the case expects. */
static void command_could_not_run(struct live *L, struct program *p, const char *role)
{
    if (!p->proc.pid || !p->proc.exited || (p->proc.status != 126 && p->proc.status != 127))
        return;
    add_detail(L->r, "the %s command exited %d (%s): %s", role, p->proc.status,
               p->proc.status == 127 ? "command not found" : "found but could not run",
               p->command);
    add_last_lines(L->r, role, p, 5);
    L->r->outcome = CASE_ERROR;
}

/* Step 7: the capture with the case line on its first packet, each
 * expectation's outcome on the packets it is about, and in the section
 * header the case line and, unless it passed, why (the detail lines): a
 * case that failed before any packet still says why. */
static void write_capture(struct live *L, const struct analysis *a)
{
    char err[1300];
    snprintf(L->r->capture_path, sizeof L->r->capture_path, "%s/%s.pcapng", L->o->out_dir,
             L->r->name);
    char summary[800];
    /* The case file by its name only: a capture is shared, a local path is not. */
    const char *slash = strrchr(L->c->origin, '/');
    snprintf(summary, sizeof summary, "wirecheck case %s (%s): %s", L->r->name,
             slash ? slash + 1 : L->c->origin, case_outcome_name(L->r->outcome));

    static char texts[CASE_MAX_EXPECTS][1024];
    static struct case_capture_line lines[CASE_MAX_EXPECTS * CASE_EXPECT_FRAMES];
    size_t nlines = 0;
    for (size_t i = 0; i < L->outcomes.n; i++) {
        const struct case_expectation *o = &L->outcomes.e[i];
        if (expect_comment(o, texts[i], sizeof texts[i]) < 0)
            continue;
        if (o->nframes == 0)
            lines[nlines++] = (struct case_capture_line){ 0, texts[i] };
        for (unsigned k = 0; k < o->nframes; k++)
            lines[nlines++] = (struct case_capture_line){ o->frames[k], texts[i] };
    }
    /* The detail lines, one section comment each (made printable: a case
     * file's own text is in them too). */
    static char details[4 * sizeof L->r->details];
    const char *section[40];
    size_t nsection = 0, used = 0;
    for (const char *s = L->r->details; L->r->outcome != CASE_PASS && *s && nsection < 40;) {
        size_t n = strcspn(s, "\n");
        section[nsection++] = details + used;
        used += expect_printable(s, n, details + used, sizeof details - used) + 1;
        if (used >= sizeof details || !s[n])
            break;
        s += n + 1;
    }
    struct case_capture_comments cc = { .summary = summary, .section = section,
                                        .nsection = nsection, .lines = lines, .nlines = nlines };
    if (!case_capture_write(L->r->capture_path, &L->cap, L->env.capture_if, &cc, a, err,
                            sizeof err)) {
        /* A capture that cannot be written whole is no pass: the case ran,
         * but what it proves is lost (exit 2, like any environment error). */
        add_detail(L->r, "%s", err);
        L->r->capture_path[0] = '\0';
        L->r->outcome = CASE_ERROR;
    }
}

/* The whole case, inside the forked child. */
static void run_in_namespace(struct live *L)
{
    L->start_ms = now_ms();
    int64_t deadline = L->start_ms + L->c->timeout_ms;
    prepend_path(L->o->bin_dir);
    pick_host(L);
    if (!prepare_network(L)) {
        L->r->outcome = CASE_ERROR;
        return;
    }
    bool started = start_analysis(L) && start_server(L);
    if (started)
        run_programs(L, deadline);
    kill_leftovers(L);
    capture_stop(&L->cap);
    L->r->client_status = L->client.proc.pid ? L->client.proc.status : -1;
    L->r->server_status = L->server.proc.pid ? L->server.proc.status : -1;
    L->r->packets = (unsigned)L->cap.count;

    struct analysis *a = L->analysis;
    if (a)
        analysis_finish(a);
    command_could_not_run(L, &L->server, "server");
    command_could_not_run(L, &L->client, "client");
    if (interrupt_signal) {
        /* What went wrong after the signal is the signal's doing. */
        L->r->details[0] = '\0';
        add_detail(L->r, "interrupted by %s after %u ms: its programs were stopped; the "
                   "capture holds what ran", runner_signal_name(interrupt_signal),
                   (unsigned)(now_ms() - L->start_ms));
        L->r->outcome = CASE_ERROR;
    }
    /* A command that could not run: only that, the verdicts of a run that
     * never happened say nothing. */
    if (L->r->outcome == CASE_ERROR)
        ;
    else if (!started)
        L->r->outcome = CASE_FAIL;
    else
        judge(L, a);
    write_capture(L, a);
    if (a)
        analysis_destroy(a);
    capture_free(&L->cap);
    netns_release(&L->env);
}

/* ---- the case process -------------------------------------------------- */

void runner_case_process(void *runner_case)
{
    const struct runner_case *rc = runner_case;
    /* Large, so static: this runs in the forked case process, one per case. */
    static struct live L;
    memset(&L, 0, sizeof L);
    L.c = rc->c;
    L.o = rc->o;
    L.r = rc->r;
    L.family = rc->family;
    /* No process yet: nothing of theirs to poll (fd 0 would be stdin). */
    process_init(&L.server.proc);
    process_init(&L.client.proc);
    run_in_namespace(&L);
}
