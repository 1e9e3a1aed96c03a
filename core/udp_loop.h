/* udp-server's event loop over the sockio seam: wait until datagrams or a
 * stop request come, receive what is queued in batches (recvmmsg where the
 * seam has it), log every datagram, echo when asked, stop after --count
 * datagrams or on request. The program (servers/udp-server.c) runs it on
 * the real system; the fuzz harness and the tests run the same loop on a
 * script (script.h).
 *
 * One write per batch: the lines of a batch are escaped into one buffer and
 * handed to write_log before the next receive; flush_log, when given, is
 * called before the loop waits, so a caller that buffers further (the
 * program, in stdio's 64 KiB) never holds a line while the server sleeps.
 *
 *   struct udp_loop_config c = {.max = 1024, .batch = 64, .echo = false,
 *                               .stop_fd = stop_pipe, .self = sa, .self_len = len};
 *   struct udp_loop *l = udp_loop_new(&c);
 *   struct udp_loop_hooks h = {.write_log = w, .recv_error = e, .stop_requested = s};
 *   switch (udp_loop_run(l, &sockio_system, fd, &h)) { ... }
 *   udp_loop_free(l); */
#ifndef WIRECHECK_UDP_LOOP_H
#define WIRECHECK_UDP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "session.h"
#include "sockio.h"

#define UDP_LOOP_BATCH_MAX 64
/* Datagrams handled between two looks at the stop request: a flood keeps
 * the queue from ever running empty, and SIGTERM must still end the server
 * within 100 ms (a datagram costs microseconds). */
#define UDP_LOOP_STOP_CHECK_EVERY 64
/* After a stop request, what is already queued is still logged, for at
 * most this long: a flood must not keep a stopping server alive. */
#define UDP_LOOP_STOP_DRAIN_MS 50
/* The most one datagram adds to the log: its line, a newline and an
 * "Echo refused: ...\n" line. */
#define UDP_LOOP_ENTRY_MAX (UDP_LINE_CAP + 96)

struct udp_loop_config {
    size_t max;           /* receive buffer per datagram (--max), >= 1 */
    unsigned batch;       /* datagrams per receive, 1..UDP_LOOP_BATCH_MAX */
    bool echo;            /* --service echo */
    unsigned long count;  /* end after this many datagrams (0: never) */
    int stop_fd;          /* waited on beside the socket, readable once a stop
                             is requested (-1: none) */
    const struct sockaddr *self; /* the bound address, for the echo guard */
    socklen_t self_len;
};

struct udp_loop_hooks {
    /* Writes the whole log text of a batch, or returns false with errno
     * set. */
    bool (*write_log)(void *ctx, const char *text, size_t len);
    /* The queue is empty and the loop is about to wait (or end): what
     * write_log kept must go out now; false with errno set when it cannot.
     * May be NULL. */
    bool (*flush_log)(void *ctx);
    /* A receive failed (e.g. ECONNREFUSED left by an echo); the loop goes
     * on. May be NULL. */
    void (*recv_error)(void *ctx, enum sio_status s, int err);
    /* Whether a stop was requested: asked when stop_fd woke the wait (or at
     * every wake-up without a stop_fd) and every UDP_LOOP_STOP_CHECK_EVERY
     * datagrams. May be NULL: never. */
    bool (*stop_requested)(void *ctx);
    void *ctx;
};

enum udp_loop_end {
    UDP_LOOP_COUNT,       /* --count datagrams handled */
    UDP_LOOP_STOPPED,     /* stop requested; the queue was logged (or the
                             drain time ran out) */
    UDP_LOOP_IDLE,        /* the wait ended with nothing to do, which only a
                             scripted seam does: run again to go on */
    UDP_LOOP_LOG_FAILED,  /* write_log or flush_log failed (udp_loop_err) */
    UDP_LOOP_WAIT_FAILED, /* poll failed (udp_loop_err) */
};

struct udp_loop_stats {
    unsigned long handled;  /* datagrams received and logged */
    unsigned long receives; /* receive calls that returned datagrams */
    unsigned long writes;   /* write_log calls */
    unsigned long flushes;  /* flush_log calls */
    unsigned long echoed, refused;
};

struct udp_loop;

/* NULL when out of memory or the config is out of range. */
struct udp_loop *udp_loop_new(const struct udp_loop_config *c);
void udp_loop_free(struct udp_loop *l);
/* Forgets what a run did (counts, echo rate buckets, a stop), so one loop
 * serves many runs (the fuzz harness). */
void udp_loop_reset(struct udp_loop *l);

/* Runs until one of enum udp_loop_end; every line is written before it
 * returns (but after LOG_FAILED, whose batch is lost). */
enum udp_loop_end udp_loop_run(struct udp_loop *l, const struct sockio *io, int fd,
                               const struct udp_loop_hooks *h);

const struct udp_loop_stats *udp_loop_stats(const struct udp_loop *l);
/* errno of LOG_FAILED / WAIT_FAILED. */
int udp_loop_err(const struct udp_loop *l);

#endif
