/* process: spawn, bounded output, reap, stop, readiness. See process.h. */
#include "process.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t process_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void process_init(struct process *p)
{
    memset(p, 0, sizeof *p);
    p->pidfd = p->in_fd = p->out_fd = p->err_fd = -1;
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

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static void init_noop(int sig)
{
    (void)sig;
}

/* The init of a command's PID namespace (pid 1 there): runs o->exec in a
 * child, passes SIGTERM/SIGINT/SIGHUP on to every process of the namespace
 * (kill(-1) from inside reaches exactly those), reaps whatever ends there
 * (orphans are reparented to us) and returns the command's status once it
 * has exited and, with until_empty, every other process too. Returning
 * (the init exiting) makes the kernel kill whatever is left. Signals are
 * blocked and taken with sigwaitinfo; the no-op handlers make sure a signal
 * sent from outside is delivered to an init at all. */
static int run_init(const struct process_options *o)
{
    static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
    sigset_t set, old;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = init_noop;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    pid_t command = fork();
    if (command < 0) {
        dprintf(STDERR_FILENO, "wirecheck: fork for %s in its PID namespace: %s\n", o->what,
                strerror(errno));
        return 126;
    }
    if (command == 0) {
        sa.sa_handler = SIG_DFL;
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            sigaction(sigs[i], &sa, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        _exit(o->exec(o->ctx));
    }
    int status = -1;
    bool command_done = false;
    for (;;) {
        int wstatus;
        pid_t got = waitpid(-1, &wstatus, WNOHANG);
        if (got < 0 && errno == EINTR)
            continue;
        if (got == command) {
            command_done = true;
            status = status_code(wstatus);
        }
        if (got > 0)
            continue;
        if (got < 0) /* ECHILD: the namespace is empty */
            return command_done ? status : 126;
        if (command_done && !o->until_empty)
            return status;
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            kill(-1, sig);
    }
}

/* In the forked child: the descriptors, the group, then the caller's exec.
 * The pipes' own descriptors are closed once dup'ed (exec would close them,
 * but the exec function may run code first): a child holding its stdin's
 * write end would never see EOF there. */
static void in_child(const struct process_options *o, int in[2], int outp[2], int errp[2])
{
    int in_r = in[0], out_w = outp[1], err_w = o->merge_stderr ? outp[1] : errp[1];
    if (o->own_group)
        setpgid(0, 0);
    if (o->die_with_parent)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (o->stdin_pipe) {
        dup2(in_r, STDIN_FILENO);
    } else if (o->stdin_null) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, STDIN_FILENO);
    }
    dup2(out_w, STDOUT_FILENO);
    dup2(err_w, STDERR_FILENO);
    for (int i = 0; i < 2; i++) {
        if (in[i] > STDERR_FILENO)
            close(in[i]);
        if (outp[i] > STDERR_FILENO)
            close(outp[i]);
        if (errp[i] > STDERR_FILENO)
            close(errp[i]);
    }
    _exit(o->pid_namespace ? run_init(o) : o->exec(o->ctx));
}

/* fork(), or with pid_namespace a fork into a new PID namespace whose init
 * the child is (clone with only CLONE_NEWPID | SIGCHLD and no new stack
 * behaves like fork; every other argument is 0 whatever the architecture's
 * argument order). */
static pid_t fork_child(const struct process_options *o)
{
    if (!o->pid_namespace)
        return fork();
    return (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
}

static void close_pipes(int in[2], int outp[2], int errp[2])
{
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&outp[i]);
        close_fd(&errp[i]);
    }
}

bool process_spawn(struct process *p, struct process_output *out, struct process_output *err,
                   const struct process_options *o, char *errtext, size_t errlen)
{
    process_init(p);
    p->out = out;
    p->err = o->merge_stderr ? out : err;
    int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
    if ((o->stdin_pipe && pipe2(in, O_CLOEXEC) < 0) || pipe2(outp, O_CLOEXEC) < 0 ||
        (!o->merge_stderr && pipe2(errp, O_CLOEXEC) < 0)) {
        snprintf(errtext, errlen, "pipe for %s: %s", o->what, strerror(errno));
        close_pipes(in, outp, errp);
        return false;
    }
    pid_t pid = fork_child(o);
    if (pid < 0) {
        snprintf(errtext, errlen, "%s for %s: %s",
                 o->pid_namespace ? "clone(CLONE_NEWPID)" : "fork", o->what, strerror(errno));
        close_pipes(in, outp, errp);
        return false;
    }
    if (pid == 0)
        in_child(o, in, outp, errp);
    close_fd(&in[0]);
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    p->pid = pid;
    p->in_fd = in[1];
    p->out_fd = outp[0];
    p->err_fd = errp[0];
    set_nonblocking(p->out_fd);
    if (p->err_fd >= 0)
        set_nonblocking(p->err_fd);
    p->pidfd = open_pidfd(pid);
    if (p->pidfd < 0 && errno != ENOSYS) {
        snprintf(errtext, errlen, "pidfd_open for %s (pid %d): %s", o->what, (int)pid,
                 strerror(errno));
        return false;
    }
    return true;
}

bool process_running(const struct process *p)
{
    return p->pid > 0 && !p->exited;
}

void process_read_output(struct process *p, int *fd)
{
    struct process_output *o = fd == &p->err_fd ? p->err : p->out;
    for (;;) {
        size_t room = o->len + 1 < o->size ? o->size - 1 - o->len : 0;
        /* Held: read no more than fits, so nothing is lost. */
        bool hold = o->hold_when_full && !p->exited;
        if (hold && room == 0)
            return;
        char buf[4096];
        size_t want = hold && room < sizeof buf ? room : sizeof buf;
        ssize_t n = read(*fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close_fd(fd);
            return;
        }
        size_t keep = (size_t)n < room ? (size_t)n : room;
        memcpy(o->data + o->len, buf, keep);
        o->len += keep;
        o->data[o->len] = '\0';
    }
}

bool process_reap(struct process *p, bool block)
{
    if (!process_running(p))
        return p->exited;
    int wstatus;
    pid_t got;
    do
        got = waitpid(p->pid, &wstatus, block ? 0 : WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        /* Not ours to wait for (ECHILD): nothing will ever come; say why. */
        p->wait_errno = errno;
    } else if (got != p->pid) {
        return false;
    }
    p->exited = true;
    p->status = got < 0 ? -1 : status_code(wstatus);
    close_fd(&p->pidfd);
    /* What it wrote before exiting is in the pipes now. A leftover child of
     * a shell could keep them open forever, so take it and stop listening. */
    if (p->out_fd >= 0)
        process_read_output(p, &p->out_fd);
    if (p->err_fd >= 0)
        process_read_output(p, &p->err_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    return true;
}

/* A held output with no room: its pipe waits until the caller makes some. */
static bool holding(const struct process_output *o)
{
    return o->hold_when_full && o->len + 1 >= o->size;
}

size_t process_poll_pipes(const struct process *p, struct pollfd *fds, size_t n)
{
    if (p->out_fd >= 0 && !holding(p->out))
        fds[n++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
    if (p->err_fd >= 0 && !holding(p->err))
        fds[n++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
    return n;
}

size_t process_poll_fds(const struct process *p, struct pollfd *fds, size_t n)
{
    n = process_poll_pipes(p, fds, n);
    if (p->pidfd >= 0)
        fds[n++] = (struct pollfd){ .fd = p->pidfd, .events = POLLIN };
    return n;
}

void process_handle_fd(struct process *p, int fd)
{
    if (fd < 0)
        return;
    if (fd == p->out_fd)
        process_read_output(p, &p->out_fd);
    else if (fd == p->err_fd)
        process_read_output(p, &p->err_fd);
    else if (fd == p->pidfd)
        process_reap(p, false);
}

int process_tick_ms(const struct process *p)
{
    return process_running(p) && p->pidfd < 0 ? PROCESS_TICK_MS : -1;
}

bool process_wait(struct process *p, int64_t deadline_ms)
{
    while (process_running(p)) {
        int64_t now = process_now_ms();
        if (now >= deadline_ms)
            return false;
        struct pollfd fds[3];
        size_t n = process_poll_fds(p, fds, 0);
        int64_t left = deadline_ms - now;
        int tick = process_tick_ms(p);
        /* Both pipes shut (a held output counts) and no pidfd: the tick. */
        if (tick < 0 && n == 0)
            tick = PROCESS_TICK_MS;
        int timeout = left > INT32_MAX ? INT32_MAX : (int)left;
        if (tick >= 0 && tick < timeout)
            timeout = tick;
        int rc = poll(fds, n, timeout);
        for (size_t i = 0; rc > 0 && i < n; i++)
            if (fds[i].revents)
                process_handle_fd(p, fds[i].fd);
        if (p->pidfd < 0)
            process_reap(p, false);
    }
    return true;
}

void process_close_stdin(struct process *p)
{
    close_fd(&p->in_fd);
}

void process_signal(const struct process *p, int sig)
{
    if (process_running(p))
        kill(p->pid, sig);
}

void process_signal_group(const struct process *p, int sig)
{
    if (process_running(p))
        kill(-p->pid, sig);
}

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

enum process_call_result process_call_start(struct process_call *pc, void (*fn)(void *ctx),
                                            void *ctx, void *result, size_t size)
{
    pc->pid = 0;
    pc->fd = -1;
    pc->result = result;
    pc->size = size;
    pc->got = 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return PROCESS_CALL_NO_PIPE;
    fflush(NULL); /* or the child would flush our buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return PROCESS_CALL_NO_FORK;
    }
    if (pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fn(ctx);
        _exit(write_all(fds[1], result, size) ? 0 : 1);
    }
    close(fds[1]);
    set_nonblocking(fds[0]);
    pc->pid = pid;
    pc->fd = fds[0];
    return PROCESS_CALL_DONE;
}

bool process_call_read(struct process_call *pc)
{
    while (pc->fd >= 0 && pc->got < pc->size) {
        ssize_t n = read(pc->fd, pc->result + pc->got, pc->size - pc->got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false;
        if (n <= 0)
            break;
        pc->got += (size_t)n;
    }
    close_fd(&pc->fd);
    return true;
}

enum process_call_result process_call_finish(struct process_call *pc)
{
    close_fd(&pc->fd);
    bool whole = pc->got == pc->size;
    if (pc->pid > 0) {
        if (!whole)
            kill(pc->pid, SIGKILL);
        while (waitpid(pc->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        pc->pid = 0;
    }
    return whole ? PROCESS_CALL_DONE : PROCESS_CALL_NO_RESULT;
}

enum process_call_result process_call(void (*fn)(void *ctx), void *ctx, void *result, size_t size,
                                      int64_t deadline_ms, pid_t *pid)
{
    struct process_call pc;
    enum process_call_result started = process_call_start(&pc, fn, ctx, result, size);
    *pid = pc.pid;
    if (started != PROCESS_CALL_DONE)
        return started;
    for (;;) {
        int64_t left = deadline_ms - process_now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = { .fd = pc.fd, .events = POLLIN };
        int rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && process_call_read(&pc))
            break;
    }
    return process_call_finish(&pc);
}

/* 1..65535 if s is all digits, else 0. */
static unsigned port_number(const char *s)
{
    if (!isdigit((unsigned char)*s))
        return 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end == '\0' && v > 0 && v <= 65535 ? (unsigned)v : 0;
}

/* The port one word of a readiness line names, or 0: "3434" (nc's
 * "ADDR PORT"), "[ADDR]:3434", "ADDR:3434" (one colon), or an IPv6 address
 * without brackets followed by ":PORT" (":::3434"). A bare IPv6 address
 * ("::1", "fe80::1:2") names none, even though it ends in ":DIGITS". */
static unsigned token_port(const char *tok)
{
    unsigned v = port_number(tok);
    if (v)
        return v;
    if (tok[0] == '[') {
        const char *close = strstr(tok, "]:");
        return close ? port_number(close + 2) : 0;
    }
    const char *last = strrchr(tok, ':');
    if (!last)
        return 0;
    if (strchr(tok, ':') == last)
        return port_number(last + 1);
    char addr[INET6_ADDRSTRLEN + 8];
    struct in6_addr a6;
    if (strlen(tok) < sizeof addr && inet_pton(AF_INET6, tok, &a6) == 1)
        return 0;
    size_t alen = (size_t)(last - tok);
    if (alen >= sizeof addr)
        return 0;
    memcpy(addr, tok, alen);
    addr[alen] = '\0';
    return inet_pton(AF_INET6, addr, &a6) == 1 ? port_number(last + 1) : 0;
}

bool process_listening_port(const char *output, unsigned *port)
{
    const char *hit = strcasestr(output, "listening on");
    if (!hit)
        return false;
    const char *eol = strchr(hit, '\n');
    if (!eol)
        return false;
    const char *after = hit + strlen("listening on");
    char line[256];
    size_t len = (size_t)(eol - after);
    if (len >= sizeof line)
        len = sizeof line - 1;
    memcpy(line, after, len);
    line[len] = '\0';
    *port = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
        unsigned v = token_port(tok);
        if (v) {
            *port = v;
            break;
        }
    }
    return true;
}
