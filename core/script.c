#include "script.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>



void script_init(struct script *s, const uint8_t *schedule, size_t len, bool stream)
{
    /* Everything but the 64 KiB record of sent bytes, which sent_len
     * guards: clearing it would cost more than most fuzz executions. */
    memset(s, 0, offsetof(struct script, sent));
    s->sent_len = s->sent_total = s->sends_to_foreign = s->shutdowns = 0;
    s->calls = 0;
    /* The event loop's world: small, so cleared field by field too (the
     * watch table is read only where `watched` has a bit). */
    s->listen_fd = s->stop_fd = -1;
    s->target_fd = s->pending_fd = -1;
    s->open_conns = 0;
    s->stop_pending = s->exhausted_stop_sent = false;
    s->shut_fault_count = s->watch_fault_count = 0;
    s->accepts = s->closes = s->abortive_closes = s->bad_closes = s->waits = 0;
    memset(s->watched, 0, sizeof s->watched);
    s->p = schedule;
    s->len = len;
    s->stream = stream;
    s->clock_ms = 1000;
    s->peer_port = 40000;
}

void script_serve(struct script *s, int listen_fd, int stop_fd)
{
    s->listen_fd = listen_fd;
    s->stop_fd = stop_fd;
}

bool script_exhausted(const struct script *s)
{
    return s->off >= s->len && s->pending_len == 0;
}

static void tick(struct script *s)
{
    s->calls++;
    s->clock_ms += 1;
}

static void queue_send_fault(struct script *s, uint8_t op, uint8_t arg)
{
    if (s->send_fault_count < SCRIPT_SEND_QUEUE) {
        s->send_faults[s->send_fault_count].op = op;
        s->send_faults[s->send_fault_count].arg = arg;
        s->send_fault_count++;
    }
}

/* Decoding the schedule is the harness's input adapter, not code under
 * test: it is compiled without coverage hooks (which cost more than the
 * code under test on every receive), as is the event loop's scripted world
 * (accept, the watch set, wait, close), and reads through this small reader,
 * the cursor's rules inlined: a read past the end fails, yields 0 and fails
 * every read after it; an argument cut short takes what is there. */
#if defined(__clang__) && __clang_major__ >= 13
#define SCRIPT_DECODER __attribute__((no_sanitize("coverage")))
#else
#define SCRIPT_DECODER
#endif

struct rd {
    const uint8_t *p;
    size_t len, off;
    bool failed;
};

SCRIPT_DECODER static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
    if (r->failed || n > r->len - r->off) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *at = r->p + r->off;
    r->off += n;
    return at;
}

SCRIPT_DECODER static inline uint8_t rd_u8(struct rd *r)
{
    const uint8_t *b = rd_take(r, 1);
    return b ? b[0] : 0;
}

SCRIPT_DECODER static inline uint16_t rd_be16(struct rd *r)
{
    const uint8_t *b = rd_take(r, 2);
    return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

/* Takes up to n bytes, fewer if the schedule ends first. */
SCRIPT_DECODER static inline const uint8_t *take_upto(struct rd *r, size_t n, size_t *got)
{
    size_t have = r->failed ? 0 : r->len - r->off;
    *got = n < have ? n : have;
    return rd_take(r, *got);
}

/* The offset past what r read; the end of the schedule if a read failed. */
SCRIPT_DECODER static inline size_t rd_end(const struct script *s, const struct rd *r)
{
    return r->failed ? s->len : s->off + r->off;
}

/* The opcode a byte names: a loop opcode (0x20..0x27) whole, else its low
 * 4 bits. */
SCRIPT_DECODER static inline unsigned op_of(uint8_t b)
{
    return b >= SCRIPT_ACCEPT && b <= SCRIPT_WATCH_FAIL ? b : b & 0x0fu;
}

static void select_target(struct script *s, uint8_t k);

/* Applies the state and send-side opcodes at the head of the schedule, so
 * that the next opcode (if any) is a receive-side event. */
SCRIPT_DECODER static void apply_state_ops(struct script *s)
{
    if (s->head_ok)
        return; /* applied when the head was decoded */
    while (s->off < s->len) {
        struct rd c = {.p = s->p + s->off, .len = s->len - s->off};
        uint8_t opbyte = rd_u8(&c), u8;
        switch (op_of(opbyte)) {
        case SCRIPT_CONN:
            select_target(s, rd_u8(&c));
            break;
        case SCRIPT_SHUT_FAIL:
            u8 = rd_u8(&c);
            if (s->shut_fault_count < sizeof s->shut_faults)
                s->shut_faults[s->shut_fault_count++] = u8;
            break;
        case SCRIPT_WATCH_FAIL:
            u8 = rd_u8(&c);
            if (s->watch_fault_count < sizeof s->watch_faults)
                s->watch_faults[s->watch_fault_count++] = u8;
            break;
        case SCRIPT_SEND_ZERO:
            queue_send_fault(s, SCRIPT_SEND_ZERO, 0);
            break;
        case SCRIPT_FOREIGN:
            s->foreign_next = true;
            s->source_next = opbyte >> 4;
            break;
        case SCRIPT_SEND_SHORT:
            u8 = rd_u8(&c);
            queue_send_fault(s, SCRIPT_SEND_SHORT, u8 ? u8 : 1);
            break;
        case SCRIPT_SEND_AGAIN:
        case SCRIPT_SEND_RESET:
        case SCRIPT_SEND_EINTR:
            queue_send_fault(s, opbyte & 0x0f, 0);
            break;
        case SCRIPT_PEER_PORT:
            s->peer_port = rd_be16(&c);
            break;
        case SCRIPT_CLOCK:
            s->clock_ms += (int64_t)rd_u8(&c) * 100;
            break;
        default:
            return;
        }
        s->off = rd_end(s, &c);
    }
}

/* Decodes the receive-side event at the head without consuming it; *end is
 * the offset just past it. false when the schedule is exhausted. */
static bool decode_head(struct script *s, struct script_event *ev, size_t *end);

SCRIPT_DECODER static bool peek_event(struct script *s, struct script_event *ev, size_t *end)
{
    if (!s->head_ok) {
        apply_state_ops(s);
        if (s->off >= s->len)
            return false;
        s->head_ok = decode_head(s, &s->head, &s->head_end);
    }
    *ev = s->head;
    *end = s->head_end;
    return true;
}

/* Moves past the head event. */
static void consume(struct script *s, size_t end)
{
    s->off = end;
    s->head_ok = false;
}

SCRIPT_DECODER static bool decode_head(struct script *s, struct script_event *ev, size_t *end)
{
    struct rd c = {.p = s->p + s->off, .len = s->len - s->off};
    uint8_t opbyte = rd_u8(&c), u8;
    uint16_t u16;
    memset(ev, 0, sizeof *ev);
    ev->op = (enum script_op)op_of(opbyte);
    switch (ev->op) {
    case SCRIPT_ACCEPT:
        ev->arg = rd_u8(&c);
        ev->port = rd_be16(&c);
        break;
    case SCRIPT_ACCEPT_FAIL:
    case SCRIPT_WAIT_FAIL:
        ev->arg = rd_u8(&c);
        break;
    case SCRIPT_DATA:
        u8 = rd_u8(&c);
        ev->data = take_upto(&c, u8, &ev->data_len);
        ev->wire_len = ev->data_len;
        break;
    case SCRIPT_DATA_LONG:
        u16 = rd_be16(&c);
        ev->data = take_upto(&c, u16, &ev->data_len);
        ev->op = SCRIPT_DATA;
        ev->wire_len = ev->data_len;
        break;
    case SCRIPT_TRUNC:
        u16 = rd_be16(&c);
        u8 = rd_u8(&c);
        ev->data = take_upto(&c, u8, &ev->data_len);
        ev->wire_len = u16 > ev->data_len ? u16 : ev->data_len;
        break;
    default:
        break;
    }
    *end = rd_end(s, &c);
    return true;
}

/* Whether a poll now times out: a TIMEOUT event is next (consumed), or a
 * datagram socket has nothing more to receive. */
static bool next_is_timeout(struct script *s)
{
    struct script_event ev;
    size_t end;
    bool has = peek_event(s, &ev, &end);
    if (has && ev.op == SCRIPT_TIMEOUT) {
        consume(s, end);
        return true;
    }
    return !has && !s->stream && s->pending_len == 0;
}

static ssize_t fail(int e)
{
    errno = e;
    return -1;
}

/* Whether a receive takes this event (the others wait for accept, poll or
 * wait). */
SCRIPT_DECODER static bool is_receive_event(enum script_op op)
{
    return op <= SCRIPT_TRUNC && op != SCRIPT_TIMEOUT;
}

SCRIPT_DECODER static void select_target(struct script *s, uint8_t k)
{
    if (s->accepts == 0)
        return; /* a single-connection harness: every fd stays the target */
    int open = __builtin_popcountll(s->open_conns);
    s->target_fd = -2;
    if (open == 0)
        return;
    for (int i = 0, nth = k % open; i < SCRIPT_CONN_FDS; i++)
        if ((s->open_conns >> i & 1) && nth-- == 0)
            s->target_fd = SCRIPT_CONN_FD0 + i;
}

/* Maps an error event to the errno a receive reports. */
static int event_errno(enum script_op op)
{
    switch (op) {
    case SCRIPT_EINTR: return EINTR;
    case SCRIPT_EAGAIN: return EAGAIN;
    case SCRIPT_RESET: return ECONNRESET;
    case SCRIPT_REFUSED: return ECONNREFUSED;
    case SCRIPT_TIMEOUT: return EAGAIN;
    default: return EIO;
    }
}

static ssize_t script_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    (void)fd;
    struct script *s = ctx;
    tick(s);
    if (s->pending_len > 0 && s->pending_fd != fd && s->target_fd != -1)
        return fail(EAGAIN); /* the rest of a chunk for another connection comes first */
    if (s->pending_len == 0) {
        struct script_event ev;
        size_t end;
        if (!peek_event(s, &ev, &end))
            return 0; /* exhausted: the peer closed */
        if (!is_receive_event(ev.op))
            return fail(EAGAIN); /* nothing yet; the poll that follows times out */
        if (s->target_fd != -1 && fd != s->target_fd)
            return fail(EAGAIN); /* it is for another connection */
        consume(s, end);
        s->pending_fd = fd;
        if (ev.op == SCRIPT_EOF)
            return 0;
        if (ev.op != SCRIPT_DATA && ev.op != SCRIPT_TRUNC)
            return fail(event_errno(ev.op));
        if (ev.data_len == 0)
            return fail(EAGAIN); /* an empty chunk is no data yet, not EOF */
        s->pending = ev.data;
        s->pending_len = ev.data_len;
    }
    size_t n = len < s->pending_len ? len : s->pending_len;
    memcpy(buf, s->pending, n);
    if (!(flags & MSG_PEEK)) { /* a peek looks, and leaves the bytes queued */
        s->pending += n;
        s->pending_len -= n;
    }
    return (ssize_t)n;
}

/* The sources' addresses as bytes (no inet_pton per datagram). */
static const uint8_t peer_v4[4] = {127, 0, 0, 1};          /* 127.0.0.1 */
static const uint8_t foreign_v4[4] = {192, 0, 2, 7};       /* 192.0.2.7 */
static const uint8_t peer_v6[16] = {[15] = 1};             /* ::1 */
static const uint8_t foreign_v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7}; /* 2001:db8::7 */
static const uint8_t peer_mapped[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1};

/* The datagram's source: the peer, or what FOREIGN picked for it. The
 * address fill, the zero-fill bookkeeping and the delivery below adapt the
 * schedule to the seam, like the decoder: no coverage hooks either. */
SCRIPT_DECODER static void fill_addr(const struct script *s, bool foreign,
                                     struct sockaddr_storage *out, socklen_t *len)
{
    memset(out, 0, sizeof *out);
    const uint8_t *v6 = NULL;
    switch (foreign ? s->source_next : 0xff) {
    case SCRIPT_FROM_PEER_V6: v6 = peer_v6; break;
    case SCRIPT_FROM_FOREIGN_V6: v6 = foreign_v6; break;
    case SCRIPT_FROM_PEER_MAPPED: v6 = peer_mapped; break;
    default: break;
    }
    if (v6) {
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(s->peer_port)};
        memcpy(&sin6.sin6_addr, v6, 16);
        memcpy(out, &sin6, sizeof sin6);
        *len = sizeof sin6;
        return;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(s->peer_port)};
    memcpy(&sin.sin_addr, foreign ? foreign_v4 : peer_v4, 4);
    memcpy(out, &sin, sizeof sin);
    *len = sizeof sin;
}

void script_peer_addr(const struct script *s, struct sockaddr_storage *out, socklen_t *len)
{
    fill_addr(s, false, out, len);
}

/* How much of buf this script has written before (0 for a new buffer). */
SCRIPT_DECODER static size_t *filled_len(struct script *s, const void *buf)
{
    uintptr_t a = (uintptr_t)buf;
    size_t slot = (size_t)((a >> 4) ^ (a >> 12)) % SCRIPT_FILL_SLOTS;
    if (s->filled[slot].buf != buf) {
        s->filled[slot].buf = buf;
        s->filled[slot].len = 0;
    }
    return &s->filled[slot].len;
}

/* Delivers a consumed datagram event into buf[len]: returns what recvfrom
 * returns (the real length under MSG_TRUNC). */
SCRIPT_DECODER static size_t deliver_datagram(struct script *s, const struct script_event *ev,
                                              void *buf, size_t len, int flags,
                                              struct sockaddr *from, socklen_t *fromlen)
{
    /* Store what fits of the datagram; a TRUNC datagram's bytes beyond the
     * scripted ones are zeros, so every byte reported is a byte written. */
    size_t stored = len < ev->wire_len ? len : ev->wire_len;
    size_t scripted = stored < ev->data_len ? stored : ev->data_len;
    if (scripted)
        memcpy(buf, ev->data, scripted);
    size_t *filled = filled_len(s, buf);
    if (stored > scripted && stored > *filled) {
        size_t zero_from = scripted > *filled ? scripted : *filled;
        memset((uint8_t *)buf + zero_from, 0, stored - zero_from);
    }
    if (stored > *filled)
        *filled = stored;
    if (from && fromlen) {
        struct sockaddr_storage a;
        socklen_t alen;
        fill_addr(s, s->foreign_next, &a, &alen);
        socklen_t copy = *fromlen < alen ? *fromlen : alen;
        memcpy(from, &a, copy);
        *fromlen = alen;
    }
    s->foreign_next = false;
    return (flags & MSG_TRUNC) ? ev->wire_len : stored;
}

SCRIPT_DECODER static bool is_datagram(enum script_op op)
{
    return op == SCRIPT_DATA || op == SCRIPT_TRUNC || op == SCRIPT_EOF; /* EOF: empty datagram */
}

static ssize_t script_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                               struct sockaddr *from, socklen_t *fromlen)
{
    (void)fd;
    struct script *s = ctx;
    if (s->stream)
        return script_recv(ctx, fd, buf, len, flags);
    tick(s);
    struct script_event ev;
    size_t end;
    if (!peek_event(s, &ev, &end))
        return fail(EAGAIN);
    if (!is_receive_event(ev.op))
        return fail(EAGAIN); /* left for the poll that follows */
    consume(s, end);
    if (!is_datagram(ev.op))
        return fail(event_errno(ev.op));
    return (ssize_t)deliver_datagram(s, &ev, buf, len, flags, from, fromlen);
}

SCRIPT_DECODER static int script_recvmmsg(void *ctx, int fd, struct mmsghdr *msgs, unsigned n,
                                          int flags)
{
    (void)fd;
    struct script *s = ctx;
    tick(s);
    unsigned got = 0;
    while (got < n) {
        struct script_event ev;
        size_t end;
        if (!peek_event(s, &ev, &end) || !is_receive_event(ev.op))
            break; /* nothing more queued now (a TIMEOUT is the poll's) */
        if (!is_datagram(ev.op) && got > 0)
            break; /* EAGAIN or an error: the next call's */
        consume(s, end);
        if (!is_datagram(ev.op))
            return (int)fail(event_errno(ev.op));
        struct msghdr *h = &msgs[got].msg_hdr;
        void *buf = h->msg_iovlen > 0 ? h->msg_iov[0].iov_base : NULL;
        size_t len = h->msg_iovlen > 0 ? h->msg_iov[0].iov_len : 0;
        size_t wire = deliver_datagram(s, &ev, buf, len, flags, h->msg_name,
                                       h->msg_name ? &h->msg_namelen : NULL);
        msgs[got].msg_len = (unsigned)wire;
        h->msg_flags = wire > len ? MSG_TRUNC : 0;
        got++;
    }
    return got > 0 ? (int)got : (int)fail(EAGAIN);
}

static void record_sent(struct script *s, const void *buf, size_t n)
{
    size_t room = SCRIPT_SENT_KEEP - s->sent_len;
    size_t keep = n < room ? n : room;
    memcpy(s->sent + s->sent_len, buf, keep);
    s->sent_len += keep;
    s->sent_total += n;
}

static ssize_t script_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    (void)fd;
    (void)flags;
    struct script *s = ctx;
    tick(s);
    apply_state_ops(s); /* send faults at the head apply to this send */
    size_t n = len;
    if (s->send_fault_count > 0) {
        uint8_t op = s->send_faults[0].op, arg = s->send_faults[0].arg;
        memmove(s->send_faults, s->send_faults + 1,
                (s->send_fault_count - 1) * sizeof s->send_faults[0]);
        s->send_fault_count--;
        if (op == SCRIPT_SEND_AGAIN)
            return fail(EAGAIN);
        if (op == SCRIPT_SEND_RESET)
            return fail(EPIPE);
        if (op == SCRIPT_SEND_EINTR)
            return fail(EINTR);
        if (op == SCRIPT_SEND_ZERO)
            return 0;
        if (arg < n)
            n = arg;
    }
    record_sent(s, buf, n);
    return (ssize_t)n;
}

static ssize_t script_sendto(void *ctx, int fd, const void *buf, size_t len, int flags,
                             const struct sockaddr *to, socklen_t tolen)
{
    struct script *s = ctx;
    if (to && tolen >= (socklen_t)sizeof(struct sockaddr_in) && to->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, to, sizeof sin);
        if (memcmp(&sin.sin_addr, foreign_v4, 4) == 0)
            s->sends_to_foreign++;
    } else if (to && tolen >= (socklen_t)sizeof(struct sockaddr_in6) && to->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, to, sizeof sin6);
        if (memcmp(&sin6.sin6_addr, foreign_v6, 16) == 0)
            s->sends_to_foreign++;
    }
    return script_send(ctx, fd, buf, len, flags);
}

SCRIPT_DECODER static void fill_conn_addr(uint8_t which, uint16_t port, struct sockaddr_storage *out,
                           socklen_t *len)
{
    static const char *const hosts[4] = {"127.0.0.1", "::1", "2001:db8::7", "::ffff:192.0.2.7"};
    memset(out, 0, sizeof *out);
    if ((which & 3) == 0) {
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, hosts[0], &sin->sin_addr);
        *len = sizeof *sin;
        return;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, hosts[which & 3], &sin6->sin6_addr);
    *len = sizeof *sin6;
}

SCRIPT_DECODER static int script_accept(void *ctx, int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    (void)fd;
    (void)flags;
    static const int errs[8] = {EAGAIN, ECONNABORTED, EMFILE, EINTR,
                                ENFILE, ENOBUFS, ENOMEM, EPERM};
    struct script *s = ctx;
    tick(s);
    struct script_event ev;
    size_t end;
    if (!peek_event(s, &ev, &end) || (ev.op != SCRIPT_ACCEPT && ev.op != SCRIPT_ACCEPT_FAIL))
        return (int)fail(EAGAIN); /* no client waiting */
    if (ev.op == SCRIPT_ACCEPT_FAIL) {
        consume(s, end);
        return (int)fail(errs[ev.arg & 7]);
    }
    if (~s->open_conns == 0)
        return (int)fail(EMFILE); /* the client stays queued, as in the kernel */
    consume(s, end);
    int slot = __builtin_ctzll(~s->open_conns); /* the lowest free, as the kernel's */
    s->open_conns |= 1ull << slot;
    s->accepts++;
    s->target_fd = SCRIPT_CONN_FD0 + slot;
    if (addr && len) {
        struct sockaddr_storage a;
        socklen_t alen;
        fill_conn_addr(ev.arg, ev.port, &a, &alen);
        memcpy(addr, &a, *len < alen ? *len : alen);
        *len = alen;
    }
    return s->target_fd;
}

/* Takes the oldest fault queued for a call (SHUT_FAIL, WATCH_FAIL): its
 * argument byte in *arg; false when none is queued. */
SCRIPT_DECODER static bool take_fault(uint8_t *queue, size_t *count, uint8_t *arg)
{
    if (*count == 0)
        return false;
    *arg = queue[0];
    memmove(queue, queue + 1, --*count);
    return true;
}

SCRIPT_DECODER static int script_shutdown(void *ctx, int fd, int how)
{
    (void)fd;
    (void)how;
    static const int errs[4] = {ENOTCONN, ECONNRESET, ENOBUFS, EINVAL};
    struct script *s = ctx;
    tick(s);
    apply_state_ops(s); /* shutdown faults at the head apply to this call */
    uint8_t arg;
    if (take_fault(s->shut_faults, &s->shut_fault_count, &arg))
        return (int)fail(errs[arg & 3]);
    s->shutdowns++;
    return 0;
}

SCRIPT_DECODER static int wait_errno(uint8_t arg)
{
    return arg & 1 ? ENOMEM : EINTR;
}

SCRIPT_DECODER static int script_poll(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    struct script *s = ctx;
    tick(s);
    struct script_event ev;
    size_t end;
    while (peek_event(s, &ev, &end) && !is_receive_event(ev.op) && ev.op != SCRIPT_TIMEOUT) {
        consume(s, end); /* no accept or stop pipe behind a poll: dropped */
        if (ev.op == SCRIPT_WAIT_FAIL)
            return (int)fail(wait_errno(ev.arg));
    }
    if (next_is_timeout(s)) {
        s->clock_ms += timeout_ms < 0 ? 3600 * 1000 : timeout_ms + 3600 * 1000;
        for (nfds_t i = 0; i < n; i++)
            fds[i].revents = 0;
        return 0;
    }
    for (nfds_t i = 0; i < n; i++)
        fds[i].revents = fds[i].events & (POLLIN | POLLOUT);
    return (int)n;
}

/* ---- the event loop's readiness set, close and the stop pipe ---- */

SCRIPT_DECODER static bool is_watched(const struct script *s, int fd)
{
    return fd >= 0 && fd < SCRIPT_FD_LIMIT && (s->watched[fd / 64] >> (fd % 64) & 1);
}

SCRIPT_DECODER static void unwatch(struct script *s, int fd)
{
    if (fd >= 0 && fd < SCRIPT_FD_LIMIT)
        s->watched[fd / 64] &= ~(1ull << (fd % 64));
}

SCRIPT_DECODER static int script_watch_open(void *ctx)
{
    struct script *s = ctx;
    tick(s);
    memset(s->watched, 0, sizeof s->watched);
    return SCRIPT_SET_FD;
}

SCRIPT_DECODER static int script_watch(void *ctx, int set, enum sockio_watch_op op, int fd, uint32_t events,
                        void *tag)
{
    (void)set;
    struct script *s = ctx;
    tick(s);
    apply_state_ops(s); /* watch faults at the head apply to this call */
    uint8_t arg;
    if (take_fault(s->watch_faults, &s->watch_fault_count, &arg))
        return (int)fail(arg & 1 ? ENOSPC : ENOMEM);
    if (fd < 0 || fd >= SCRIPT_FD_LIMIT)
        return (int)fail(EBADF);
    bool on = is_watched(s, fd);
    if (op == SOCKIO_WATCH_ADD && on)
        return (int)fail(EEXIST);
    if (op != SOCKIO_WATCH_ADD && !on)
        return (int)fail(ENOENT);
    if (op == SOCKIO_WATCH_DEL) {
        unwatch(s, fd);
        return 0;
    }
    s->watched[fd / 64] |= 1ull << (fd % 64);
    s->watch[fd].events = events;
    s->watch[fd].tag = tag;
    return 0;
}

/* Whether connection fd has something to receive now (data, an error or
 * its peer's close). */
SCRIPT_DECODER static bool conn_readable(const struct script *s, int fd, bool has, enum script_op op)
{
    if (s->pending_len > 0)
        return s->pending_fd == fd || s->target_fd == -1;
    if (!has)
        return true; /* exhausted: every peer has closed */
    return is_receive_event(op) && (s->target_fd == -1 || s->target_fd == fd);
}

/* What is ready among the watched fds, into evs[max]. */
SCRIPT_DECODER static int ready_events(const struct script *s, bool has, enum script_op op,
                        struct sockio_event *evs, int max)
{
    int n = 0;
    for (int w = 0; w < SCRIPT_FD_LIMIT / 64; w++) {
        for (uint64_t bits = s->watched[w]; bits && n < max; bits &= bits - 1) {
            int fd = w * 64 + __builtin_ctzll(bits);
            uint32_t want = s->watch[fd].events, got = 0;
            if (fd == s->stop_fd)
                got = s->stop_pending ? POLLIN : 0;
            else if (fd == s->listen_fd)
                got = has && (op == SCRIPT_ACCEPT || op == SCRIPT_ACCEPT_FAIL) ? POLLIN : 0;
            else
                got = (want & POLLOUT) |
                      ((want & POLLIN) && conn_readable(s, fd, has, op) ? POLLIN : 0);
            got &= want;
            if (got)
                evs[n++] = (struct sockio_event){.events = got, .tag = s->watch[fd].tag};
        }
    }
    return n;
}

SCRIPT_DECODER static int script_wait(void *ctx, int set, struct sockio_event *evs, int max, int timeout_ms)
{
    (void)set;
    struct script *s = ctx;
    tick(s);
    s->waits++;
    for (;;) {
        struct script_event ev = {0};
        size_t end;
        bool has = peek_event(s, &ev, &end);
        if (has && (ev.op == SCRIPT_WAIT_FAIL || ev.op == SCRIPT_STOP)) {
            consume(s, end);
            if (ev.op == SCRIPT_WAIT_FAIL)
                return (int)fail(wait_errno(ev.arg));
            s->stop_pending = true; /* the pipe holds a byte until read */
            continue;
        }
        int n = ready_events(s, has, ev.op, evs, max);
        if (n > 0)
            return n;
        if (has && ev.op == SCRIPT_TIMEOUT) {
            /* Nothing happens for the whole wait: the earliest deadline
             * (idle, lifetime, grace) is the one that passes. */
            consume(s, end);
            s->clock_ms += timeout_ms < 0 ? 3600 * 1000 : timeout_ms;
            return 0;
        }
        /* Nothing ready: what nobody can take is dropped (bytes for a
         * closed connection); once exhausted, the stop comes, once. */
        if (s->pending_len > 0) {
            s->pending_len = 0;
            continue;
        }
        if (has && (is_receive_event(ev.op) || timeout_ms < 0)) {
            consume(s, end);
            continue;
        }
        if (!has && !s->exhausted_stop_sent && is_watched(s, s->stop_fd)) {
            s->exhausted_stop_sent = s->stop_pending = true;
            continue;
        }
        s->clock_ms += timeout_ms < 0 ? 3600 * 1000 : timeout_ms;
        return 0;
    }
}

SCRIPT_DECODER static int script_close(void *ctx, int fd, bool abortive)
{
    struct script *s = ctx;
    tick(s);
    unwatch(s, fd);
    int slot = fd - SCRIPT_CONN_FD0;
    if (slot >= 0 && slot < SCRIPT_CONN_FDS && (s->open_conns >> slot & 1)) {
        s->open_conns &= ~(1ull << slot);
        s->closes++;
        s->abortive_closes += abortive;
        if (s->target_fd == fd)
            s->target_fd = -2;
        if (s->pending_fd == fd)
            s->pending_len = 0; /* what it had not read dies with it */
        return 0;
    }
    if (fd == s->listen_fd || fd == SCRIPT_SET_FD) {
        if (fd == s->listen_fd)
            s->listen_fd = -1;
        return 0;
    }
    s->bad_closes++;
    return (int)fail(EBADF);
}

SCRIPT_DECODER static ssize_t script_read(void *ctx, int fd, void *buf, size_t len)
{
    struct script *s = ctx;
    tick(s);
    if (fd != s->stop_fd || !s->stop_pending || len == 0)
        return fail(EAGAIN);
    s->stop_pending = false;
    memset(buf, 'x', 1);
    return 1;
}

static int64_t script_now_ms(void *ctx)
{
    struct script *s = ctx;
    return s->clock_ms;
}

static const struct sockio_ops script_ops = {
    .recv = script_recv, .recvfrom = script_recvfrom, .send = script_send,
    .sendto = script_sendto, .accept = script_accept, .shutdown = script_shutdown,
    .poll = script_poll, .now_ms = script_now_ms,
    .watch_open = script_watch_open, .watch = script_watch, .wait = script_wait,
    .close = script_close, .read = script_read, .recvmmsg = script_recvmmsg,
};

struct sockio script_sockio(struct script *s)
{
    return (struct sockio){.ops = &script_ops, .ctx = s};
}

/* ---- builder ---- */

static bool put(struct script_builder *b, const void *p, size_t n)
{
    if (n > b->cap - b->len)
        return false;
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return true;
}

static bool room(const struct script_builder *b, size_t n)
{
    return n <= b->cap - b->len;
}

bool script_add_op(struct script_builder *b, enum script_op op)
{
    uint8_t o = (uint8_t)op;
    return put(b, &o, 1);
}

bool script_add_data(struct script_builder *b, const void *data, size_t n)
{
    if (n <= 255) {
        uint8_t hdr[2] = {SCRIPT_DATA, (uint8_t)n};
        return room(b, 2 + n) && put(b, hdr, 2) && put(b, data, n);
    }
    if (n > 65535)
        return false;
    uint8_t hdr[3] = {SCRIPT_DATA_LONG, (uint8_t)(n >> 8), (uint8_t)n};
    return room(b, 3 + n) && put(b, hdr, 3) && put(b, data, n);
}

bool script_add_trunc(struct script_builder *b, uint16_t wire_len, const void *data, uint8_t n)
{
    uint8_t hdr[4] = {SCRIPT_TRUNC, (uint8_t)(wire_len >> 8), (uint8_t)wire_len, n};
    return room(b, 4u + n) && put(b, hdr, 4) && put(b, data, n);
}

bool script_add_send_short(struct script_builder *b, uint8_t max)
{
    uint8_t op[2] = {SCRIPT_SEND_SHORT, max};
    return put(b, op, 2);
}

bool script_add_peer_port(struct script_builder *b, uint16_t port)
{
    uint8_t op[3] = {SCRIPT_PEER_PORT, (uint8_t)(port >> 8), (uint8_t)port};
    return put(b, op, 3);
}

bool script_add_clock(struct script_builder *b, uint8_t step)
{
    uint8_t op[2] = {SCRIPT_CLOCK, step};
    return put(b, op, 2);
}

bool script_add_accept(struct script_builder *b, uint8_t addr, uint16_t port)
{
    uint8_t op[4] = {SCRIPT_ACCEPT, addr, (uint8_t)(port >> 8), (uint8_t)port};
    return put(b, op, 4);
}

bool script_add_op_arg(struct script_builder *b, enum script_op op, uint8_t arg)
{
    uint8_t bytes[2] = {(uint8_t)op, arg};
    return put(b, bytes, 2);
}

bool script_add_source(struct script_builder *b, enum script_source from)
{
    uint8_t op = (uint8_t)(SCRIPT_FOREIGN | (unsigned)from << 4);
    return put(b, &op, 1);
}
