/* Fuzz target: udp-server's event loop (core/udp_loop.c), the loop the
 * program runs: wait, batch receive, log, echo policy, stop, --count.
 *
 * Input: a schedule (core/script.h) of the datagrams, errors, timeouts,
 * source addresses (IPv4, IPv6, v4-mapped) and send faults the server's
 * socket sees. Each input runs four servers, each a loop made once and
 * reset per input, until the loop ends or the schedule is used up (a
 * TIMEOUT makes the loop's wait come back empty: it is run again):
 *   A  --max 16 (most datagrams truncated), batches of 4, echo, bound to
 *      127.0.0.1:3434; a stop is requested once the scripted clock passes
 *      3 s (CLOCK, TIMEOUT), so the drain and its deadline run;
 *   B  --max 2048 (long lines cut at 4 KiB), batches of 8, echo, bound to
 *      the IPv6 wildcard [::]:3434;
 *   C  --max 16, batches of 3, --count 5 (reached inside a batch), print
 *      only, a log without a flush hook;
 *   D  --max 16, --count 3, on a seam without recvmmsg (the one-datagram
 *      fallback); its log fails (EPIPE) at the second write or the second
 *      flush, whichever comes first.
 *
 * A thin tap between the loop and the scripted sockio remembers the
 * datagrams of the last receive and checks every sendto and every write.
 *
 * Invariants: one write per receive that returned datagrams, and it holds
 * exactly their lines, in order: "Received: ..." or, for a datagram that
 * did not fit, "Truncated: datagram of <its real length> bytes ...", each
 * followed by "Echo refused: ..." where refused; every line printable (no
 * byte below 0x20, no 0x7f, no UTF-8 C1 control). Never a sendto to port 0,
 * a port below 1024, or the server itself; an echo goes to the source of a
 * datagram of the batch (in order) and carries exactly the bytes kept of
 * it. --count is never passed, and reached exactly when the loop says so
 * (unless the log failed first). The loop ends LOG_FAILED (errno EPIPE)
 * exactly when the log failed, and writes or flushes nothing after that. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "netaddr.h"
#include "script.h"
#include "session.h"
#include "udp_loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROUNDS 64
#define STOP_AT_MS (1000 + 3000) /* the script's clock starts at 1000 */
#define SELF_PORT 3434

struct seen {
    size_t wire_len, kept;
    uint8_t *bytes;
    struct sockaddr_storage from;
    socklen_t fromlen;
};

struct tap {
    struct sockio inner;
    struct script *s;
    size_t max;
    uint8_t *bytes;      /* UDP_LOOP_BATCH_MAX * max */
    unsigned batch_len;
    unsigned next_echo;  /* echoes go out in the batch's order */
    unsigned logged;     /* datagram lines of this batch checked so far */
    unsigned long datagrams, receives, log_writes, flushes, refusals, sendtos, recv_errors;
    unsigned long wait_failures; /* polls the script failed with other than EINTR */
    bool stop_at_clock;
    /* The log fails (EPIPE: stdout closed) at this write / flush, 0 never. */
    unsigned long fail_write_at, fail_flush_at;
    bool log_failed;
    /* Last: only what a receive filled is read, so a run clears what is above. */
    struct seen batch[UDP_LOOP_BATCH_MAX]; /* the last receive's datagrams */
};

FUZZ_NO_COVERAGE static void note_datagram(struct tap *t, unsigned i, const void *buf, size_t cap,
                                           size_t wire_len, const struct sockaddr *from,
                                           const socklen_t *fromlen)
{
    struct seen *d = &t->batch[i];
    d->wire_len = wire_len;
    d->kept = wire_len < cap ? wire_len : cap;
    d->bytes = t->bytes + (size_t)i * t->max;
    memcpy(d->bytes, buf, d->kept);
    tap_note_source(&d->from, &d->fromlen, from, fromlen);
}

FUZZ_NO_COVERAGE static void new_batch(struct tap *t, unsigned n)
{
    FUZZ_CHECK(t->batch_len == 0 || t->logged == t->batch_len,
               "a receive before the last batch's %u lines were written (%u were)", t->batch_len,
               t->logged);
    t->batch_len = n;
    t->next_echo = t->logged = 0;
    t->datagrams += n;
    t->receives++;
}

FUZZ_NO_COVERAGE static ssize_t tap_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                                             struct sockaddr *from, socklen_t *fromlen)
{
    struct tap *t = ctx;
    ssize_t n = t->inner.ops->recvfrom(t->inner.ctx, fd, buf, len, flags, from, fromlen);
    if (n >= 0) {
        FUZZ_CHECK(len == t->max, "receive buffer of %zu bytes, --max is %zu", len, t->max);
        new_batch(t, 1);
        note_datagram(t, 0, buf, len, (size_t)n, from, fromlen);
    }
    return n;
}

FUZZ_NO_COVERAGE static int tap_recvmmsg(void *ctx, int fd, struct mmsghdr *msgs, unsigned n,
                                         int flags)
{
    struct tap *t = ctx;
    int got = t->inner.ops->recvmmsg(t->inner.ctx, fd, msgs, n, flags);
    if (got > 0) {
        FUZZ_CHECK((unsigned)got <= n && n <= UDP_LOOP_BATCH_MAX, "%d datagrams for %u slots", got, n);
        new_batch(t, (unsigned)got);
        for (unsigned i = 0; i < (unsigned)got; i++) {
            const struct msghdr *h = &msgs[i].msg_hdr;
            FUZZ_CHECK(h->msg_iovlen == 1 && h->msg_iov[0].iov_len == t->max,
                       "slot %u is not one buffer of --max bytes", i);
            note_datagram(t, i, h->msg_iov[0].iov_base, t->max, msgs[i].msg_len, h->msg_name,
                          &h->msg_namelen);
        }
    }
    return got;
}

static ssize_t tap_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    (void)ctx;
    (void)fd;
    (void)buf;
    (void)len;
    (void)flags;
    FUZZ_CHECK(false, "udp-server used send() on an unconnected socket");
    return -1;
}

/* memcmp, without the fuzzer's comparison hooks (its interceptor feeds
 * them even from here). */
FUZZ_NO_COVERAGE static bool bytes_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        if (u != v)
            return false;
    }
    for (; i < n; i++)
        if (x[i] != y[i])
            return false;
    return true;
}

FUZZ_NO_COVERAGE static bool same_endpoint(const struct sockaddr *a, socklen_t alen,
                                           const struct sockaddr_storage *b, socklen_t blen)
{
    return alen == blen && bytes_equal(a, b, alen);
}

FUZZ_NO_COVERAGE static ssize_t tap_sendto(void *ctx, int fd, const void *buf, size_t len,
                                           int flags, const struct sockaddr *to, socklen_t tolen)
{
    struct tap *t = ctx;
    t->sendtos++;
    FUZZ_CHECK(to != NULL && (to->sa_family == AF_INET || to->sa_family == AF_INET6),
               "echo to a missing or unexpected address (len %u)", (unsigned)tolen);
    uint16_t port = net_port_of(to);
    FUZZ_CHECK(port >= 1024, "echo to privileged port %u", port);
    /* Never to port 3434: the servers' own (loopback, or the wildcard
     * address) and a known reflector port. */
    FUZZ_CHECK(port != SELF_PORT, "echo to the server's own port");
    unsigned i = t->next_echo;
    while (i < t->batch_len && !same_endpoint(to, tolen, &t->batch[i].from, t->batch[i].fromlen))
        i++;
    FUZZ_CHECK(i < t->batch_len, "echo not sent to the source of a datagram of the batch");
    FUZZ_CHECK(len == t->batch[i].kept && bytes_equal(buf, t->batch[i].bytes, len),
               "echo of %zu bytes differs from the %zu bytes kept", len, t->batch[i].kept);
    ssize_t n = t->inner.ops->sendto(t->inner.ctx, fd, buf, len, flags, to, tolen);
    if (n >= 0 || errno != EINTR)
        t->next_echo = i + 1; /* after EINTR the same echo is tried again */
    return n;
}

/* A scripted WAIT_FAIL (ENOMEM) ends the loop with UDP_LOOP_WAIT_FAILED,
 * as the kernel's would end the server: only then may it. */
static int tap_poll(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    struct tap *t = ctx;
    int rc = t->inner.ops->poll(t->inner.ctx, fds, n, timeout_ms);
    if (rc < 0 && errno != EINTR)
        t->wait_failures++;
    return rc;
}

static const struct sockio_ops tap_ops = {
    .recv = tap_pass_recv, .recvfrom = tap_recvfrom,
    .send = tap_send, .sendto = tap_sendto,
    .accept = tap_pass_accept, .shutdown = tap_pass_shutdown,
    .poll = tap_poll, .now_ms = tap_pass_now_ms, .recvmmsg = tap_recvmmsg,
};

/* The same without the batch op: the loop falls back to recvfrom. */
static const struct sockio_ops tap_ops_one_at_a_time = {
    .recv = tap_pass_recv, .recvfrom = tap_recvfrom,
    .send = tap_send, .sendto = tap_sendto,
    .accept = tap_pass_accept, .shutdown = tap_pass_shutdown,
    .poll = tap_poll, .now_ms = tap_pass_now_ms,
};

FUZZ_NO_COVERAGE static bool starts_with(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && bytes_equal(p, prefix, n);
}

/* The decimal at p (up to a non-digit). */
FUZZ_NO_COVERAGE static size_t decimal_at(const char *p, const char *end)
{
    size_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (size_t)(*p++ - '0');
    return v;
}

/* What a byte of the log is to the checks below: most are fine; a newline
 * ends a line; a control byte or DEL must never appear; 0xc2 starts a C1
 * control when 0x80..0x9f follows. One lookup per byte: the log of an
 * input is kilobytes. */
enum { BYTE_OK, BYTE_NEWLINE, BYTE_CONTROL, BYTE_C2 };
static uint8_t byte_class[256];

FUZZ_NO_COVERAGE static void init_byte_class(void)
{
    for (unsigned b = 0; b < 0x20; b++)
        byte_class[b] = BYTE_CONTROL;
    byte_class[0x7f] = BYTE_CONTROL;
    byte_class['\n'] = BYTE_NEWLINE;
    byte_class[0xc2] = BYTE_C2;
}

/* What one line (without its newline) must be, its bytes checked already. */
FUZZ_NO_COVERAGE static void check_line(struct tap *t, const char *line, const char *end)
{
    size_t n = (size_t)(end - line);
    FUZZ_CHECK(n < UDP_LINE_CAP, "line of %zu bytes", n);
    if (starts_with(line, end, "Echo refused: ")) {
        FUZZ_CHECK(t->logged > 0, "a refusal before any datagram's line");
        t->refusals++;
        return;
    }
    FUZZ_CHECK(t->logged < t->batch_len, "more lines than the %u datagrams received",
               t->batch_len);
    const struct seen *d = &t->batch[t->logged++];
    if (d->wire_len > t->max) {
        FUZZ_CHECK(starts_with(line, end, "Truncated: datagram of "), "truncation not reported: %.*s",
                   (int)n, line);
        size_t said = decimal_at(line + strlen("Truncated: datagram of "), end);
        FUZZ_CHECK(said == d->wire_len, "truncated datagram of %zu bytes reported as %zu",
                   d->wire_len, said);
    } else {
        FUZZ_CHECK(starts_with(line, end, "Received: "), "unexpected line: %.*s", (int)n, line);
    }
}

FUZZ_NO_COVERAGE static bool tap_write_log(void *ctx, const char *text, size_t len)
{
    struct tap *t = ctx;
    t->log_writes++;
    FUZZ_CHECK(len > 0 && text[len - 1] == '\n', "a write of %zu bytes not ending a line", len);
    const unsigned char *p = (const unsigned char *)text;
    const char *line = text;
    for (size_t i = 0; i < len; i++) {
        /* Eight bytes at once while none is below 0x20 (the newline among
         * them), 0x7f or 0xc2: bit tricks that may flag a clean word, never
         * miss one; a flagged word goes byte by byte. */
        while (i + 8 <= len) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
            uint64_t below_20 = (x - 0x20 * ones) & ~x & highs;
            uint64_t y = x ^ (0x7f * ones), z = x ^ (0xc2 * ones);
            uint64_t is_7f = (y - ones) & ~y & highs, is_c2 = (z - ones) & ~z & highs;
            if (below_20 | is_7f | is_c2)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        uint8_t c = byte_class[p[i]];
        if (c == BYTE_OK)
            continue;
        if (c == BYTE_NEWLINE) {
            check_line(t, line, text + i);
            line = text + i + 1;
            continue;
        }
        FUZZ_CHECK(c != BYTE_CONTROL, "control byte 0x%02x in the log: %.*s", p[i],
                   (int)(len - (size_t)(line - text)), line);
        FUZZ_CHECK(!(i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f),
                   "C1 control in the log: %.*s", (int)(len - (size_t)(line - text)), line);
    }
    FUZZ_CHECK(t->logged == t->batch_len, "a write with %u of the batch's %u datagrams", t->logged,
               t->batch_len);
    FUZZ_CHECK(!t->log_failed, "a write after the log failed");
    if (t->log_writes == t->fail_write_at) {
        t->log_failed = true;
        errno = EPIPE;
        return false;
    }
    return true;
}

FUZZ_NO_COVERAGE static bool tap_flush_log(void *ctx)
{
    struct tap *t = ctx;
    FUZZ_CHECK(t->logged == t->batch_len, "a flush with %u of the batch's %u lines written",
               t->logged, t->batch_len);
    FUZZ_CHECK(!t->log_failed, "a flush after the log failed");
    t->flushes++;
    if (t->flushes == t->fail_flush_at) {
        t->log_failed = true;
        errno = EPIPE;
        return false;
    }
    return true;
}

FUZZ_NO_COVERAGE static void tap_recv_error(void *ctx, enum sio_status s, int err)
{
    struct tap *t = ctx;
    FUZZ_CHECK(s != SIO_OK && s != SIO_TIMEOUT && (s != SIO_ERROR || err != 0),
               "receive error reported as %s (errno %d)", sio_status_text(s), err);
    t->recv_errors++;
}

static bool tap_stop_requested(void *ctx)
{
    struct tap *t = ctx;
    return t->stop_at_clock && t->s->clock_ms > STOP_AT_MS;
}

struct server {
    struct udp_loop_config c;
    const struct sockio_ops *ops;
    bool stop_at_clock;
    bool no_flush; /* no flush_log hook */
    unsigned long fail_write_at, fail_flush_at;
    struct udp_loop *loop;
    uint8_t *bytes;
};

FUZZ_NO_COVERAGE static void run(struct server *srv, const uint8_t *data, size_t size)
{
    static struct script s;
    script_init(&s, data, size, false);
    if (!srv->loop) {
        srv->loop = udp_loop_new(&srv->c);
        srv->bytes = malloc(UDP_LOOP_BATCH_MAX * srv->c.max);
        FUZZ_CHECK(srv->loop && srv->bytes, "out of memory");
    }
    udp_loop_reset(srv->loop);
    static struct tap t;
    memset(&t, 0, offsetof(struct tap, batch));
    t.inner = script_sockio(&s);
    t.s = &s;
    t.max = srv->c.max;
    t.bytes = srv->bytes;
    t.stop_at_clock = srv->stop_at_clock;
    t.fail_write_at = srv->fail_write_at;
    t.fail_flush_at = srv->fail_flush_at;
    struct sockio io = {.ops = srv->ops, .ctx = &t};
    struct udp_loop_hooks hooks = {.write_log = tap_write_log,
                                   .flush_log = srv->no_flush ? NULL : tap_flush_log,
                                   .recv_error = tap_recv_error,
                                   .stop_requested = tap_stop_requested, .ctx = &t};

    enum udp_loop_end end = UDP_LOOP_IDLE;
    for (int round = 0; round < MAX_ROUNDS && end == UDP_LOOP_IDLE; round++) {
        end = udp_loop_run(srv->loop, &io, FUZZ_FD, &hooks);
        if (script_exhausted(&s))
            break;
    }
    const struct udp_loop_stats *st = udp_loop_stats(srv->loop);
    FUZZ_CHECK((end == UDP_LOOP_LOG_FAILED) == t.log_failed, "log failed %d, the loop ended %d",
               t.log_failed, end);
    FUZZ_CHECK(end != UDP_LOOP_LOG_FAILED || udp_loop_err(srv->loop) == EPIPE,
               "log failure with errno %d", udp_loop_err(srv->loop));
    FUZZ_CHECK(end != UDP_LOOP_WAIT_FAILED || t.wait_failures > 0,
               "the wait failed but the script failed none");
    FUZZ_CHECK(st->handled == t.datagrams, "%lu datagrams handled, %lu received", st->handled,
               t.datagrams);
    FUZZ_CHECK(t.logged == t.batch_len, "the last batch's lines were not all written");
    FUZZ_CHECK(t.log_writes == t.receives && st->writes == t.receives,
               "%lu writes for %lu receives", t.log_writes, t.receives);
    FUZZ_CHECK(t.flushes == st->flushes &&
                   (srv->no_flush ? t.flushes == 0
                                  : t.receives == 0 || t.flushes > 0 || t.log_failed),
               "%lu flushes for %lu receives", t.flushes, t.receives);
    FUZZ_CHECK(t.refusals == st->refused, "%lu refusals logged, %lu counted", t.refusals,
               st->refused);
    FUZZ_CHECK(st->echoed + st->refused <= st->handled && st->echoed <= t.sendtos,
               "echo counts do not add up");
    FUZZ_CHECK(srv->c.echo || t.sendtos == 0, "an echo from a print-only server");
    if (srv->c.count > 0) {
        FUZZ_CHECK(st->handled <= srv->c.count, "--count %lu passed: %lu", srv->c.count,
                   st->handled);
        FUZZ_CHECK(t.log_failed || (end == UDP_LOOP_COUNT) == (st->handled == srv->c.count),
                   "--count reached (%lu) but the loop says %d", st->handled, end);
    }
    if (end == UDP_LOOP_STOPPED)
        FUZZ_CHECK(tap_stop_requested(&t), "stopped without a stop request");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sockaddr_in self_v4 = {.sin_family = AF_INET};
    static struct sockaddr_in6 self_any6 = {.sin6_family = AF_INET6};
    static struct server servers[] = {
        {.c = {.max = 16, .batch = 4, .echo = true, .stop_fd = -1,
               .self = (struct sockaddr *)&self_v4, .self_len = sizeof self_v4},
         .ops = &tap_ops, .stop_at_clock = true},
        {.c = {.max = 2048, .batch = 8, .echo = true, .stop_fd = -1,
               .self = (struct sockaddr *)&self_any6, .self_len = sizeof self_any6},
         .ops = &tap_ops},
        {.c = {.max = 16, .batch = 3, .count = 5, .stop_fd = -1,
               .self = (struct sockaddr *)&self_v4, .self_len = sizeof self_v4},
         .ops = &tap_ops, .no_flush = true},
        {.c = {.max = 16, .batch = 4, .count = 3, .stop_fd = -1,
               .self = (struct sockaddr *)&self_v4, .self_len = sizeof self_v4},
         .ops = &tap_ops_one_at_a_time, .fail_write_at = 2, .fail_flush_at = 2},
    };
    if (self_v4.sin_port == 0) {
        init_byte_class();
        self_v4.sin_port = self_any6.sin6_port = htons(SELF_PORT);
        self_v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++)
        run(&servers[i], data, size);
    return 0;
}
