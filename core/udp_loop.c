#include "udp_loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "textput.h"

struct udp_loop {
    struct udp_loop_config c;
    struct datagram_batch b;
    struct datagram d[UDP_LOOP_BATCH_MAX];
    struct mmsghdr msgs[UDP_LOOP_BATCH_MAX];
    struct iovec iov[UDP_LOOP_BATCH_MAX];
    char *out;
    size_t out_len;
    struct sockaddr_storage self;
    socklen_t self_len;
    struct udp_echo_guard guard;
    bool stopping;
    int64_t drain_until;
    struct udp_loop_stats st;
    int err;
};

struct udp_loop *udp_loop_new(const struct udp_loop_config *c)
{
    if (c->max == 0 || c->batch == 0 || c->batch > UDP_LOOP_BATCH_MAX ||
        c->max > SIZE_MAX / UDP_LOOP_BATCH_MAX)
        return NULL;
    struct udp_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->c = *c;
    l->out = malloc((size_t)c->batch * UDP_LOOP_ENTRY_MAX); /* a batch's lines */
    l->b = (struct datagram_batch){.bufs = malloc(c->batch * c->max), .cap = c->max,
                                   .n = c->batch, .d = l->d, .msgs = l->msgs, .iov = l->iov};
    if (!l->out || !l->b.bufs) {
        udp_loop_free(l);
        return NULL;
    }
    sockio_batch_init(&l->b);
    if (c->self && c->self_len > 0) {
        l->self_len = c->self_len < sizeof l->self ? c->self_len : (socklen_t)sizeof l->self;
        memcpy(&l->self, c->self, l->self_len);
    }
    l->c.self = NULL; /* the copy above is what the guard uses */
    udp_loop_reset(l);
    return l;
}

void udp_loop_free(struct udp_loop *l)
{
    if (!l)
        return;
    free(l->out);
    free(l->b.bufs);
    free(l);
}

void udp_loop_reset(struct udp_loop *l)
{
    memset(&l->st, 0, sizeof l->st);
    l->out_len = 0;
    l->stopping = false;
    l->drain_until = 0;
    l->err = 0;
    if (l->c.echo)
        udp_echo_guard_init(&l->guard, (const struct sockaddr *)&l->self, l->self_len);
}

const struct udp_loop_stats *udp_loop_stats(const struct udp_loop *l)
{
    return &l->st;
}

int udp_loop_err(const struct udp_loop *l)
{
    return l->err;
}

/* Writes the lines of the batch just handled (never empty: a line each). */
static bool write_batch(struct udp_loop *l, const struct udp_loop_hooks *h)
{
    l->st.writes++;
    if (!h->write_log(h->ctx, l->out, l->out_len)) {
        l->err = errno;
        return false;
    }
    l->out_len = 0;
    return true;
}

static void note_stop_request(struct udp_loop *l, const struct sockio *io,
                              const struct udp_loop_hooks *h)
{
    if (l->stopping || !h->stop_requested || !h->stop_requested(h->ctx))
        return;
    l->stopping = true;
    l->drain_until = io->ops->now_ms(io->ctx) + UDP_LOOP_STOP_DRAIN_MS;
}

/* Logs (and echoes) the n datagrams the last receive left in the batch. */
static void handle_batch(struct udp_loop *l, const struct sockio *io, int fd, unsigned n)
{
    int64_t now = l->c.echo ? io->ops->now_ms(io->ctx) : 0;
    for (unsigned i = 0; i < n; i++) {
        const struct datagram *d = &l->d[i];
        const uint8_t *buf = l->b.bufs + (size_t)i * l->c.max;
        l->out_len += udp_server_log_line(d, buf, l->c.max, l->out + l->out_len);
        l->out[l->out_len++] = '\n';
        if (!l->c.echo)
            continue;
        enum udp_echo_refusal why;
        if (udp_server_echo(io, fd, buf, d, &l->guard, now, &why))
            l->st.echoed++;
        if (why != UDP_ECHO_ALLOWED) {
            l->st.refused++;
            char *p = put_str(l->out + l->out_len, "Echo refused: ");
            p = put_str(p, udp_echo_refusal_text(why));
            *p++ = '\n';
            l->out_len = (size_t)(p - l->out);
        }
    }
    l->st.handled += n;
    l->st.receives++;
}

static bool count_reached(const struct udp_loop *l)
{
    return l->c.count > 0 && l->st.handled >= l->c.count;
}

/* Everything queued now, without waiting; false when the log failed. */
static bool drain(struct udp_loop *l, const struct sockio *io, int fd,
                  const struct udp_loop_hooks *h)
{
    unsigned since_check = 0;
    while (!count_reached(l)) {
        if (since_check >= UDP_LOOP_STOP_CHECK_EVERY) {
            since_check = 0;
            note_stop_request(l, io, h);
            if (l->stopping && io->ops->now_ms(io->ctx) >= l->drain_until)
                break;
        }
        unsigned want = l->c.batch;
        if (l->c.count > 0 && l->c.count - l->st.handled < want)
            want = (unsigned)(l->c.count - l->st.handled); /* never take one past --count */
        unsigned got;
        int err = 0;
        enum sio_status s = sockio_recv_batch(io, fd, &l->b, want, &got, &err);
        if (s == SIO_TIMEOUT)
            break; /* the queue is empty */
        if (s != SIO_OK) {
            if (h->recv_error)
                h->recv_error(h->ctx, s, err);
            break;
        }
        handle_batch(l, io, fd, got);
        since_check += got;
        /* Handed over before the next receive: a line never waits in here
         * for a datagram that may not come (nor dies with a process that
         * ends inside a receive, as under fuzz/desock). */
        if (!write_batch(l, h))
            return false;
    }
    /* The loop waits next (or ends): nothing may stay buffered. */
    if (!h->flush_log)
        return true;
    l->st.flushes++;
    if (!h->flush_log(h->ctx)) {
        l->err = errno;
        return false;
    }
    return true;
}

enum udp_loop_end udp_loop_run(struct udp_loop *l, const struct sockio *io, int fd,
                               const struct udp_loop_hooks *h)
{
    for (;;) {
        if (count_reached(l))
            return UDP_LOOP_COUNT;
        if (l->stopping)
            return UDP_LOOP_STOPPED; /* after one more drain of the queue */
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                              {.fd = l->c.stop_fd, .events = POLLIN}};
        int n = io->ops->poll(io->ctx, p, l->c.stop_fd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            l->err = errno;
            return UDP_LOOP_WAIT_FAILED;
        }
        if (n == 0)
            return UDP_LOOP_IDLE; /* no real poll without a timeout returns 0 */
        if (l->c.stop_fd < 0 || p[1].revents)
            note_stop_request(l, io, h);
        if (!drain(l, io, fd, h))
            return UDP_LOOP_LOG_FAILED;
    }
}
