/* libwirecheck-desock.so: black-box fuzzing of an unmodified server.
 *
 * LD_PRELOAD (AFL_PRELOAD under afl-fuzz) this library into a TCP or UDP
 * server and its network input comes from stdin instead of a peer:
 *
 *   TCP  The first stream socket bound to an IPv4/IPv6 address and then
 *        listen()ed becomes a fake listener (an eventfd dup'ed onto the
 *        descriptor: poll/epoll/select see it readable exactly when accept
 *        has something to give). The first accept()/accept4() returns one end
 *        of an AF_UNIX stream socketpair. Before accept returns, the whole of
 *        stdin is queued on it and the other end is shut down for writing, so
 *        the server reads the input and then EOF (a client that sent its
 *        request and half-closed); recv/read/poll/epoll behave as the kernel
 *        makes them. What the server sends on it is discarded. Once the
 *        server close()s that connection the listener turns readable again,
 *        and the next accept() ends the process: fflush(NULL), _exit(0).
 *   UDP  The first datagram socket bound to an IPv4/IPv6 address is replaced
 *        (at bind) by one end of an AF_UNIX SOCK_SEQPACKET socketpair: one
 *        message per datagram, so MSG_TRUNC, MSG_PEEK and poll work as on UDP.
 *        stdin is one datagram, or, with WIRECHECK_DESOCK_SEP set, split at
 *        each occurrence of that byte string into several (empty ones too);
 *        each is at most 65507 bytes (the rest is cut off). recvfrom, recvmsg,
 *        recv and read on it report the fixed source 127.0.0.1:40000 (or
 *        [::1]:40000 for an IPv6 socket). When every datagram has been
 *        received, the next receive call ends the process: fflush(NULL),
 *        _exit(0). sendto/sendmsg/send/write on it are discarded (they
 *        succeed).
 *
 * The real bind() still happens, on the requested address with port 0, so an
 * address the host does not have fails as it would, and no real port is
 * taken (parallel fuzzers and other tests keep 3434). getsockname() reports
 * the requested address (the real ephemeral port when 0 was asked for),
 * getpeername() on the connection the fake peer; setsockopt()/getsockopt()
 * on a desocked descriptor succeed (SO_TYPE/SO_DOMAIN/SO_PROTOCOL/SO_ERROR
 * answer as for the real socket type). socket() needs no interception: the
 * type and family are asked of the socket at bind time.
 *
 * Environment:
 *   WIRECHECK_DESOCK_PORT=N      desock only a bind to port N (default: the
 *                                first TCP listener and the first UDP socket)
 *   WIRECHECK_DESOCK_SEP=BYTES   UDP: split stdin into datagrams at BYTES
 *                                (e.g. SEP=$'\n'); unset: one datagram
 *   WIRECHECK_DESOCK_PEER_OUT=F  append what the server sends to the fake
 *                                peer to file F (default: discarded); every
 *                                write path: write, send, sendto, sendmsg,
 *                                sendmmsg, writev, sendfile, dprintf (and the
 *                                _FORTIFY_SOURCE __dprintf_chk), and stdio on
 *                                an fdopen() of the descriptor (fprintf,
 *                                fputs, fwrite..., through fopencookie)
 *   WIRECHECK_DESOCK_DEBUG=1     one line on stderr per decision
 *
 * Limits (by design; see fuzz/README.md "Black-box mode"):
 *   - one connection / one stdin per process; a second listener or UDP
 *     socket is left alone (use WIRECHECK_DESOCK_PORT to pick one);
 *   - no multi-process servers (fork per connection, pre-forked workers):
 *     state is per process and the exit rules assume one;
 *   - stdin is read to EOF at accept (TCP) or bind (UDP): fine for AFL++ (a
 *     file), blocks on a terminal;
 *   - timing: all the input and its EOF are there at once, so timeouts,
 *     slow-peer and partial-read logic (and the order of input against
 *     output) are not exercised; the in-process harnesses' schedules are;
 *   - descriptors >= 4096, dup/dup2 copies of a desocked descriptor,
 *     splice/vmsplice and io_uring are not tracked; recvmmsg on a desocked
 *     UDP socket returns one datagram a call;
 *   - a server that never closes the connection, or never receives again
 *     after the last datagram, does not end: afl-fuzz counts a hang.
 *
 * Built without instrumentation or sanitizers in every preset, so it
 * preloads into any binary (afl-clang-fast, ASan, plain, someone else's). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define DESOCK_MAX_FD 4096
#define DESOCK_MAX_DATAGRAM 65507
#define DESOCK_FAKE_PORT 40000

enum role { R_NONE, R_BOUND_STREAM, R_LISTEN, R_CONN, R_UDP };
enum conn_state { CONN_NONE, CONN_OPEN, CONN_CLOSED };

#define EXPORT __attribute__((visibility("default")))

/* The real functions, resolved once. */
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_close)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*real_getpeername)(int, struct sockaddr *, socklen_t *);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_vdprintf)(int, const char *, va_list);
static FILE *(*real_fdopen)(int, const char *);
static ssize_t (*real_sendfile)(int, int, off_t *, size_t);
static int (*real_sendmmsg)(int, struct mmsghdr *, unsigned int, int);
static int (*real_recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);

static struct {
    unsigned char role[DESOCK_MAX_FD];
    int only_port; /* -1: any */
    const char *sep;
    size_t sep_len;
    int peer_out; /* -1: discard */
    bool debug;
    /* TCP */
    bool tcp_used;
    int tcp_bound_fd; /* bound, not yet listening */
    int listen_fd;
    int conn_fd;
    enum conn_state conn;
    /* UDP */
    bool udp_used;
    size_t udp_total, udp_delivered;
    /* The address the server asked for (per role family), and the fake peer. */
    struct sockaddr_storage local_tcp, local_udp;
    socklen_t local_tcp_len, local_udp_len;
} S = {.only_port = -1, .peer_out = -1, .tcp_bound_fd = -1, .listen_fd = -1, .conn_fd = -1};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void *next_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        static const char msg[] = "libwirecheck-desock: dlsym(RTLD_NEXT) failed\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(125);
    }
    return p;
}

static void init(void)
{
    real_bind = next_sym("bind");
    real_listen = next_sym("listen");
    real_accept4 = next_sym("accept4");
    real_close = next_sym("close");
    real_read = next_sym("read");
    real_write = next_sym("write");
    real_writev = next_sym("writev");
    real_recvmsg = next_sym("recvmsg");
    real_recvfrom = next_sym("recvfrom");
    real_sendmsg = next_sym("sendmsg");
    real_sendto = next_sym("sendto");
    real_getsockname = next_sym("getsockname");
    real_getpeername = next_sym("getpeername");
    real_setsockopt = next_sym("setsockopt");
    real_getsockopt = next_sym("getsockopt");
    real_vdprintf = next_sym("vdprintf");
    real_fdopen = next_sym("fdopen");
    real_sendfile = next_sym("sendfile");
    real_sendmmsg = next_sym("sendmmsg");
    real_recvmmsg = next_sym("recvmmsg");
    const char *e = getenv("WIRECHECK_DESOCK_PORT");
    if (e && *e)
        S.only_port = atoi(e);
    e = getenv("WIRECHECK_DESOCK_SEP");
    if (e && *e) {
        S.sep = e;
        S.sep_len = strlen(e);
    }
    e = getenv("WIRECHECK_DESOCK_PEER_OUT");
    if (e && *e)
        S.peer_out = open(e, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    e = getenv("WIRECHECK_DESOCK_DEBUG");
    S.debug = e && *e && strcmp(e, "0") != 0;
}

#define INIT() pthread_once(&init_once, init)

__attribute__((format(printf, 1, 2))) static void debug(const char *fmt, ...)
{
    if (!S.debug)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = real_write(2, line, (size_t)n);
    (void)ignored;
}

static enum role role_of(int fd)
{
    return fd >= 0 && fd < DESOCK_MAX_FD ? (enum role)S.role[fd] : R_NONE;
}

static void set_role(int fd, enum role r)
{
    if (fd >= 0 && fd < DESOCK_MAX_FD)
        S.role[fd] = (unsigned char)r;
}

/* The input is consumed: end the run the way a server that was stopped
 * would, without atexit handlers or LeakSanitizer (the server's state is
 * whatever it was in the middle of its loop). */
static _Noreturn void end_run(const char *why)
{
    debug("desock: %s: exit 0", why);
    fflush(NULL);
    _exit(0);
}

static int socket_int_opt(int fd, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (real_getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0)
        return -1;
    return v;
}

static void fake_peer(int family, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(DESOCK_FAKE_PORT);
        a->sin6_addr = in6addr_loopback;
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(DESOCK_FAKE_PORT);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *a;
    }
}

/* Copies an address into a caller's (addr, len) pair with the kernel's
 * semantics: truncated to *len, *len set to the real size. */
static void give_addr(const struct sockaddr_storage *ss, socklen_t ss_len, void *addr,
                      socklen_t *len)
{
    if (!addr || !len)
        return;
    memcpy(addr, ss, *len < ss_len ? *len : ss_len);
    *len = ss_len;
}

/* Whole stdin (the fuzzer's input) into memory. */
static uint8_t *read_stdin(size_t *out_len)
{
    size_t cap = 65536, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        end_run("out of memory for stdin");
    for (;;) {
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger)
                break;
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = real_read(0, buf + len, cap - len);
        if (n > 0)
            len += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break; /* EOF, or no stdin at all: the input ends there */
    }
    *out_len = len;
    return buf;
}

/* Copies the server's descriptor flags onto the replacement: O_NONBLOCK
 * (file status) and FD_CLOEXEC, then puts the replacement on the same
 * number. Returns 0 or -1. */
static int replace_fd(int fd, int with)
{
    int fl = fcntl(fd, F_GETFL);
    int fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0)
        return -1;
    if (fcntl(with, F_SETFL, (fcntl(with, F_GETFL) & ~O_NONBLOCK) | (fl & O_NONBLOCK)) != 0)
        return -1;
    if (dup3(with, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
        return -1;
    real_close(with);
    return 0;
}

static void grow_sndbuf(int fd, size_t want)
{
    int v = want > (64u << 20) ? (64 << 20) : (int)want;
    if (real_setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) != 0)
        real_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
}

/* ---- what does not fit the socket buffer at once: a pump thread ---- */

struct pump {
    int fd;        /* our end, blocking */
    uint8_t *data; /* owned */
    size_t len, off;
    bool datagrams;            /* SEQPACKET: (off, len) pairs in msgs */
    size_t *msgs;              /* start offsets of the messages, then len */
    size_t nmsgs, next_msg;
};

static bool pump_step(struct pump *p, int flags)
{
    if (p->datagrams) {
        while (p->next_msg < p->nmsgs) {
            size_t a = p->msgs[p->next_msg * 2], n = p->msgs[p->next_msg * 2 + 1];
            ssize_t w = real_sendto(p->fd, p->data + a, n, flags | MSG_NOSIGNAL, NULL, 0);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return errno == EAGAIN || errno == EWOULDBLOCK ? false : true;
            }
            p->next_msg++;
        }
        return true;
    }
    while (p->off < p->len) {
        ssize_t w = real_sendto(p->fd, p->data + p->off, p->len - p->off, flags | MSG_NOSIGNAL,
                                NULL, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? false : true;
        }
        p->off += (size_t)w;
    }
    return true;
}

static void pump_finish(struct pump *p)
{
    shutdown(p->fd, SHUT_WR); /* EOF for the server after the input */
    free(p->data);
    free(p->msgs);
    free(p);
}

static void *pump_thread(void *arg)
{
    struct pump *p = arg;
    pump_step(p, 0); /* blocking: waits while the server reads */
    pump_finish(p);
    return NULL;
}

/* Queues everything it can now; the rest goes in a thread, so the server
 * never waits on a full buffer with nobody to fill it. */
static void pump_start(struct pump *p)
{
    if (pump_step(p, MSG_DONTWAIT)) {
        pump_finish(p);
        return;
    }
    debug("desock: input larger than the socket buffer: pump thread");
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, pump_thread, p) != 0)
        end_run("pthread_create failed");
    pthread_attr_destroy(&at);
}

/* ---- bind / listen / accept ---- */

static uint16_t port_of(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)a)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

/* Datagrams in in[0..len) split at S.sep: stores (start, length) pairs in
 * msgs when given; returns how many. */
static size_t split(const uint8_t *in, size_t len, size_t *msgs)
{
    size_t n = 0, start = 0;
    if (S.sep) {
        for (size_t i = 0; i + S.sep_len <= len;) {
            if (memcmp(in + i, S.sep, S.sep_len) != 0) {
                i++;
                continue;
            }
            if (msgs) {
                msgs[2 * n] = start;
                msgs[2 * n + 1] = i - start;
            }
            n++;
            i += S.sep_len;
            start = i;
        }
    }
    if (msgs) {
        msgs[2 * n] = start;
        msgs[2 * n + 1] = len - start;
    }
    return n + 1;
}

static int udp_desock(int fd)
{
    size_t len;
    uint8_t *in = read_stdin(&len);
    /* Split into datagrams: (start, length) pairs. */
    size_t n = split(in, len, NULL);
    size_t *msgs = malloc(2 * n * sizeof *msgs);
    struct pump *p = calloc(1, sizeof *p);
    if (!msgs || !p)
        end_run("out of memory");
    split(in, len, msgs);
    for (size_t i = 0; i < n; i++)
        if (msgs[2 * i + 1] > DESOCK_MAX_DATAGRAM)
            msgs[2 * i + 1] = DESOCK_MAX_DATAGRAM;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    grow_sndbuf(sv[1], len + n * 1024 + 65536);
    if (replace_fd(fd, sv[0]) != 0) {
        real_close(sv[0]);
        real_close(sv[1]);
        return -1;
    }
    set_role(fd, R_UDP);
    S.udp_used = true;
    S.udp_total = n;
    *p = (struct pump){.fd = sv[1], .data = in, .len = len, .datagrams = true, .msgs = msgs,
                       .nmsgs = n};
    debug("desock: UDP fd %d: %zu bytes of stdin as %zu datagram(s)", fd, len, n);
    pump_start(p);
    return 0;
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    INIT();
    if (fd < 0 || fd >= DESOCK_MAX_FD || !addr ||
        (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
        len < (addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                          : sizeof(struct sockaddr_in6)))
        return real_bind(fd, addr, len);
    int type = socket_int_opt(fd, SO_TYPE);
    bool want = (type == SOCK_STREAM && !S.tcp_used && S.tcp_bound_fd < 0) ||
                (type == SOCK_DGRAM && !S.udp_used);
    if (!want || (S.only_port >= 0 && port_of(addr) != S.only_port))
        return real_bind(fd, addr, len);

    /* Bind for real to port 0: the address must exist, no port is taken. */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    if (real_bind(fd, (struct sockaddr *)&ss, len) != 0)
        return -1;
    if (port_of(addr) != 0) /* report the port asked for */
        memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    else {
        socklen_t l = sizeof ss;
        real_getsockname(fd, (struct sockaddr *)&ss, &l);
    }
    socklen_t ss_len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                               : sizeof(struct sockaddr_in6);
    if (type == SOCK_STREAM) {
        S.local_tcp = ss;
        S.local_tcp_len = ss_len;
        set_role(fd, R_BOUND_STREAM);
        S.tcp_bound_fd = fd;
        debug("desock: TCP fd %d bound, waiting for listen", fd);
        return 0;
    }
    S.local_udp = ss;
    S.local_udp_len = ss_len;
    return udp_desock(fd);
}

EXPORT int listen(int fd, int backlog)
{
    INIT();
    if (role_of(fd) != R_BOUND_STREAM || S.tcp_used)
        return real_listen(fd, backlog);
    /* A descriptor that is readable once: the one connection. */
    int ev = eventfd(1, EFD_CLOEXEC);
    if (ev < 0)
        return -1;
    if (replace_fd(fd, ev) != 0) {
        real_close(ev);
        return -1;
    }
    set_role(fd, R_LISTEN);
    S.tcp_used = true;
    S.tcp_bound_fd = -1;
    S.listen_fd = fd;
    debug("desock: TCP fd %d is the fake listener", fd);
    return 0;
}

static int fake_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (S.conn != CONN_NONE) {
        if (S.conn == CONN_OPEN) {
            if (fcntl(fd, F_GETFL) & O_NONBLOCK) {
                errno = EAGAIN;
                return -1;
            }
            /* Blocking accept while the connection is served elsewhere (a
             * thread): wait until it is closed. */
            struct pollfd p = {.fd = fd, .events = POLLIN};
            while (poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
        }
        end_run("accept after the connection was closed");
    }
    uint64_t one;
    ssize_t ignored = real_read(fd, &one, sizeof one); /* listener no longer readable */
    (void)ignored;
    size_t in_len;
    uint8_t *in = read_stdin(&in_len);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(in);
        return -1;
    }
    if (!(flags & SOCK_CLOEXEC))
        fcntl(sv[0], F_SETFD, 0);
    if (flags & SOCK_NONBLOCK)
        fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    grow_sndbuf(sv[1], in_len * 2 + 65536);
    set_role(sv[0], R_CONN);
    S.conn_fd = sv[0];
    S.conn = CONN_OPEN;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    fake_peer(S.local_tcp.ss_family, &peer, &peer_len);
    give_addr(&peer, peer_len, addr, len);
    struct pump *p = calloc(1, sizeof *p);
    if (!p)
        end_run("out of memory");
    *p = (struct pump){.fd = sv[1], .data = in, .len = in_len};
    debug("desock: accept on fd %d: connection fd %d with %zu bytes of stdin", fd, sv[0], in_len);
    pump_start(p); /* our end stays open (shut for writing) until exit */
    return sv[0];
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    INIT();
    if (role_of(fd) != R_LISTEN)
        return real_accept4(fd, addr, len, flags);
    return fake_accept(fd, addr, len, flags);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    INIT();
    if (role_of(fd) != R_LISTEN)
        return real_accept4(fd, addr, len, 0);
    return fake_accept(fd, addr, len, 0);
}

EXPORT int close(int fd)
{
    INIT();
    enum role r = role_of(fd);
    if (r != R_NONE) {
        set_role(fd, R_NONE);
        if (r == R_CONN && fd == S.conn_fd) {
            S.conn = CONN_CLOSED;
            S.conn_fd = -1;
            if (role_of(S.listen_fd) == R_LISTEN) { /* the next accept ends the run */
                uint64_t one = 1;
                ssize_t ignored = real_write(S.listen_fd, &one, sizeof one);
                (void)ignored;
            }
            debug("desock: connection closed by the server");
        }
        if (r == R_LISTEN)
            S.listen_fd = -1;
        if (r == R_BOUND_STREAM) /* a client's bound socket: the next one may listen */
            S.tcp_bound_fd = -1;
    }
    return real_close(fd);
}

/* ---- UDP receive: fixed source, exit once everything was received ---- */

static ssize_t udp_recvmsg(int fd, struct msghdr *msg, int flags)
{
    void *name = msg->msg_name;
    socklen_t namelen = msg->msg_namelen;
    msg->msg_name = NULL;
    msg->msg_namelen = 0;
    ssize_t n = real_recvmsg(fd, msg, flags);
    msg->msg_name = name;
    msg->msg_namelen = namelen;
    if (n < 0)
        return n;
    /* 0 without MSG_TRUNC is an empty datagram or the end of the input;
     * the count of datagrams tells which. */
    if (n == 0 && !(msg->msg_flags & MSG_TRUNC) && S.udp_delivered >= S.udp_total)
        end_run("every datagram received");
    if (!(flags & MSG_PEEK))
        S.udp_delivered++;
    struct sockaddr_storage from;
    socklen_t from_len;
    fake_peer(S.local_udp.ss_family, &from, &from_len);
    if (name)
        give_addr(&from, from_len, name, &msg->msg_namelen);
    else
        msg->msg_namelen = 0;
    return n;
}

static ssize_t udp_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                            socklen_t *fromlen)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct sockaddr_storage ss;
    m.msg_name = from && fromlen ? (void *)&ss : NULL;
    m.msg_namelen = from && fromlen ? sizeof ss : 0;
    ssize_t n = udp_recvmsg(fd, &m, flags);
    if (n >= 0 && from && fromlen)
        give_addr(&ss, m.msg_namelen, from, fromlen);
    return n;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    INIT();
    if (role_of(fd) == R_UDP)
        return udp_recvmsg(fd, msg, flags);
    return real_recvmsg(fd, msg, flags);
}

/* A batch of one: every datagram still goes through udp_recvmsg's count. */
EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *tmo)
{
    INIT();
    if (role_of(fd) != R_UDP)
        return real_recvmmsg(fd, v, n, flags, tmo);
    if (n == 0)
        return 0;
    ssize_t got = udp_recvmsg(fd, &v[0].msg_hdr, flags & ~MSG_WAITFORONE);
    if (got < 0)
        return -1;
    v[0].msg_len = (unsigned int)got;
    return 1;
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                        socklen_t *fromlen)
{
    INIT();
    if (role_of(fd) == R_UDP)
        return udp_recvfrom(fd, buf, len, flags, from, fromlen);
    return real_recvfrom(fd, buf, len, flags, from, fromlen);
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    return recvfrom(fd, buf, len, flags, NULL, NULL);
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
    INIT();
    if (role_of(fd) == R_UDP)
        return udp_recvfrom(fd, buf, len, 0, NULL, NULL);
    return real_read(fd, buf, len);
}

/* _FORTIFY_SOURCE builds (most distribution binaries) call these. */
extern void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *from, socklen_t *fromlen);
EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    if (len > buflen)
        __chk_fail();
    return read(fd, buf, len);
}
EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
    if (len > buflen)
        __chk_fail();
    return recv(fd, buf, len, flags);
}
EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                              struct sockaddr *from, socklen_t *fromlen)
{
    if (len > buflen)
        __chk_fail();
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

/* ---- sends to the fake peer: discarded (or kept in PEER_OUT) ---- */

static bool discards(int fd)
{
    enum role r = role_of(fd);
    return r == R_CONN || r == R_UDP;
}

static ssize_t discard(const void *buf, size_t len)
{
    if (S.peer_out >= 0 && len) {
        ssize_t ignored = real_write(S.peer_out, buf, len);
        (void)ignored;
    }
    return (ssize_t)len;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                      socklen_t tolen)
{
    INIT();
    if (discards(fd))
        return discard(buf, len);
    return real_sendto(fd, buf, len, flags, to, tolen);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    return sendto(fd, buf, len, flags, NULL, 0);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
    INIT();
    if (discards(fd))
        return discard(buf, len);
    return real_write(fd, buf, len);
}

static ssize_t discard_iov(const struct iovec *iov, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        discard(iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    return (ssize_t)total;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    INIT();
    if (discards(fd))
        return discard_iov(msg->msg_iov, msg->msg_iovlen);
    return real_sendmsg(fd, msg, flags);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
    INIT();
    if (discards(fd))
        return n < 0 ? (errno = EINVAL, -1) : discard_iov(iov, (size_t)n);
    return real_writev(fd, iov, n);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    INIT();
    if (!discards(fd))
        return real_sendmmsg(fd, v, n, flags);
    for (unsigned int i = 0; i < n; i++)
        v[i].msg_len = (unsigned int)discard_iov(v[i].msg_hdr.msg_iov, v[i].msg_hdr.msg_iovlen);
    return (int)n;
}

/* sendfile to the fake peer: the file's bytes are read (from *off, which
 * advances, or from the file position) and discarded. */
static ssize_t discard_file(int in, off_t *off, size_t count)
{
    char buf[16384];
    size_t done = 0;
    while (done < count) {
        size_t want = count - done < sizeof buf ? count - done : sizeof buf;
        ssize_t n = off ? pread(in, buf, want, *off) : real_read(in, buf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return done ? (ssize_t)done : -1;
        }
        if (n == 0)
            break;
        discard(buf, (size_t)n);
        if (off)
            *off += n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
    INIT();
    if (discards(out))
        return discard_file(in, off, count);
    return real_sendfile(out, in, off, count);
}

/* On LP64 glibc, sendfile64 is the same function under another name. */
ssize_t sendfile64(int out, int in, off_t *off, size_t count);
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
    return sendfile(out, in, off, count);
}

/* dprintf & co. write with glibc's internal write, which no preload sees:
 * format here, then send the text the way write() would. */
__attribute__((format(printf, 2, 0))) static int discard_vprintf(int fd, const char *fmt,
                                                                 va_list ap)
{
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    if (n < 0)
        return -1;
    (void)fd;
    discard(text, (size_t)n);
    free(text);
    return n;
}

EXPORT int vdprintf(int fd, const char *fmt, va_list ap)
{
    INIT();
    if (discards(fd))
        return discard_vprintf(fd, fmt, ap);
    return real_vdprintf(fd, fmt, ap);
}

EXPORT int dprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vdprintf(fd, fmt, ap);
    va_end(ap);
    return n;
}

/* _FORTIFY_SOURCE: the flag only adds %n checks, which vasprintf does not
 * need for a discarded write. */
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int __dprintf_chk(int fd, int flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
EXPORT int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
    (void)flag;
    return vdprintf(fd, fmt, ap);
}
EXPORT int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
    (void)flag;
    va_list ap;
    va_start(ap, fmt);
    int n = vdprintf(fd, fmt, ap);
    va_end(ap);
    return n;
}

/* stdio on the descriptor (fdopen, then fprintf/fputs/fwrite/fgets...):
 * glibc's FILE writes with its internal write, so the stream is a
 * fopencookie whose reads go through read() above and whose writes are
 * discarded; fclose closes the descriptor as fclose would. */
static ssize_t cookie_read(void *c, char *buf, size_t len)
{
    return read((int)(intptr_t)c, buf, len);
}

static ssize_t cookie_write(void *c, const char *buf, size_t len)
{
    (void)c;
    return discard(buf, len);
}

static int cookie_close(void *c)
{
    return close((int)(intptr_t)c);
}

EXPORT FILE *fdopen(int fd, const char *mode)
{
    INIT();
    if (!discards(fd))
        return real_fdopen(fd, mode);
    cookie_io_functions_t io = {.read = cookie_read, .write = cookie_write, .close = cookie_close};
    FILE *f = fopencookie((void *)(intptr_t)fd, mode, io);
    debug("desock: fdopen(%d, \"%s\"): a stream whose writes reach the fake peer", fd, mode);
    return f;
}

/* ---- addresses and options of desocked descriptors ---- */

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    INIT();
    switch (role_of(fd)) {
    case R_BOUND_STREAM:
    case R_LISTEN:
    case R_CONN:
        give_addr(&S.local_tcp, S.local_tcp_len, addr, len);
        return 0;
    case R_UDP:
        give_addr(&S.local_udp, S.local_udp_len, addr, len);
        return 0;
    default:
        return real_getsockname(fd, addr, len);
    }
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    INIT();
    if (role_of(fd) == R_CONN) {
        struct sockaddr_storage peer;
        socklen_t peer_len;
        fake_peer(S.local_tcp.ss_family, &peer, &peer_len);
        give_addr(&peer, peer_len, addr, len);
        return 0;
    }
    if (role_of(fd) != R_NONE) {
        errno = ENOTCONN;
        return -1;
    }
    return real_getpeername(fd, addr, len);
}

EXPORT int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    INIT();
    enum role r = role_of(fd);
    if (r == R_NONE || r == R_BOUND_STREAM)
        return real_setsockopt(fd, level, opt, val, len);
    /* Socket-level options apply to the socketpair where they can; IP/TCP
     * options have nothing to act on. Either way the server carries on. */
    if (r != R_LISTEN && level == SOL_SOCKET)
        real_setsockopt(fd, level, opt, val, len);
    return 0;
}

EXPORT int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
    INIT();
    enum role r = role_of(fd);
    if (r == R_NONE || r == R_BOUND_STREAM)
        return real_getsockopt(fd, level, opt, val, len);
    int v = -1;
    if (level == SOL_SOCKET) {
        int family = r == R_UDP ? S.local_udp.ss_family : S.local_tcp.ss_family;
        switch (opt) {
        case SO_TYPE: v = r == R_UDP ? SOCK_DGRAM : SOCK_STREAM; break;
        case SO_DOMAIN: v = family; break;
        case SO_PROTOCOL: v = r == R_UDP ? IPPROTO_UDP : IPPROTO_TCP; break;
        case SO_ERROR: v = 0; break;
        case SO_ACCEPTCONN: v = r == R_LISTEN; break;
        default: break;
        }
    }
    if (v >= 0 && val && len && *len >= sizeof v) {
        memcpy(val, &v, sizeof v);
        *len = sizeof v;
        return 0;
    }
    if (r != R_LISTEN && real_getsockopt(fd, level, opt, val, len) == 0)
        return 0;
    if (val && len)
        memset(val, 0, *len);
    return 0;
}
