/* A scripted sockio: what every recv/recvfrom/send/poll returns comes from a
 * schedule of bytes. The fuzz harnesses feed fuzzer input as the schedule;
 * the cmocka tests build schedules with the script_add_* helpers; both run
 * the programs' real receive code through the seam.
 *
 * Schedule format (binary; one opcode byte, low 4 bits, then its arguments;
 * an argument cut short by the end of input takes what is there):
 *   0 DATA       len:u8  bytes[len]   next receive returns these bytes
 *   1 DATA_LONG  len:u16be bytes[len]
 *   2 EOF                             receive returns 0
 *   3 EINTR                           receive fails with EINTR
 *   4 EAGAIN                          receive fails with EAGAIN
 *   5 RESET                           receive fails with ECONNRESET
 *   6 TIMEOUT                         poll returns 0 and the clock jumps 1 h
 *   7 REFUSED                         receive fails with ECONNREFUSED
 *   8 TRUNC      wire:u16be len:u8 bytes[len]
 *                                     a datagram whose real length is
 *                                     max(wire, len): MSG_TRUNC reports it;
 *                                     the bytes past the scripted ones are
 *                                     zeros the first time a buffer is
 *                                     filled that far, then whatever the
 *                                     buffer holds (always written bytes:
 *                                     no 64 KiB fill per datagram)
 *   9 FOREIGN                         next datagram comes from another host;
 *                                     the op byte's high 4 bits pick its
 *                                     source (enum script_source): 0
 *                                     192.0.2.7, 1 the peer over IPv6 ::1,
 *                                     2 2001:db8::7, 3 the peer v4-mapped
 *                                     ::ffff:127.0.0.1, others as 0
 *  10 SEND_SHORT max:u8               next send takes at most max(1, max) bytes
 *  11 SEND_AGAIN                      next send fails with EAGAIN
 *  12 SEND_RESET                      next send fails with EPIPE
 *  13 SEND_EINTR                      next send fails with EINTR
 *  14 PEER_PORT  port:u16be           source port of the datagrams from now on
 *  15 CLOCK      step:u8              the clock advances step * 100 ms
 * The servers' event loop (tcp_server_loop.h) adds these whole-byte opcodes
 * (0x20..0x27; any other byte is its low 4 bits, as above):
 *  0x20 ACCEPT      addr:u8 port:u16be   a client connects: the next accept
 *                                        returns a new fd (the lowest free of
 *                                        SCRIPT_CONN_FDS, else EMFILE) from
 *                                        addr&3: 127.0.0.1, ::1, 2001:db8::7,
 *                                        ::ffff:192.0.2.7; the new connection
 *                                        is the target
 *  0x21 ACCEPT_FAIL err:u8               the next accept fails with EAGAIN,
 *                                        ECONNABORTED, EMFILE, EINTR, ENFILE,
 *                                        ENOBUFS, ENOMEM or EPERM (err&7)
 *  0x22 CONN        k:u8                 receive events from now on go to the
 *                                        k-th open connection (k mod open)
 *  0x23 WAIT_FAIL   err:u8               the next poll/wait fails: EINTR or
 *                                        ENOMEM (err&1)
 *  0x24 SHUT_FAIL   err:u8               the next shutdown fails: ENOTCONN,
 *                                        ECONNRESET, ENOBUFS, EINVAL (err&3)
 *  0x25 SEND_ZERO                        the next send returns 0
 *  0x26 STOP                             the stop fd becomes readable (SIGTERM)
 *  0x27 WATCH_FAIL  err:u8               the next change to the watch set
 *                                        (epoll_ctl) fails: ENOMEM or ENOSPC
 *                                        (err&1)
 * Receive events (DATA .. TRUNC) belong to the target connection: another
 * connection's receive gets EAGAIN and its wait does not wake; before any
 * ACCEPT every fd is the target (the single-connection harnesses). A wait
 * reports every watched fd that wants POLLOUT, the listener when an accept
 * event is next, the target when a receive event is next (an event for a
 * closed or unwatched target is dropped), and once the schedule is
 * exhausted every connection wanting POLLIN (its peer closed) and then, once,
 * the stop fd. With nothing ready (a TIMEOUT next is then consumed: nothing
 * comes for the whole wait) the clock advances by the wait's timeout (1 h
 * if none) and the wait returns 0.
 * Stream data longer than a receive's buffer is returned over several
 * receives (short reads); a datagram longer than the buffer is truncated.
 * A recvmmsg takes datagrams until the batch is full or the next event is
 * not a datagram: an error event fails it only when it comes first (else it
 * waits for the next call, as the kernel reports it), EAGAIN and TIMEOUT end
 * the batch.
 * Send-side opcodes queue up (at most 16) and apply to the next sends; the
 * schedule is one timeline, so a send takes the faults read before it,
 * including those at the head of the schedule when it happens. A TIMEOUT is
 * never taken by a receive (it returns EAGAIN) but by the poll after it.
 * Once the schedule is exhausted a stream receive returns EOF, a datagram
 * receive EAGAIN and poll a timeout, so every loop ends. Each call advances
 * the clock by 1 ms. */
#ifndef WIRECHECK_SCRIPT_H
#define WIRECHECK_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockio.h"

enum script_op {
    SCRIPT_DATA = 0, SCRIPT_DATA_LONG, SCRIPT_EOF, SCRIPT_EINTR, SCRIPT_EAGAIN,
    SCRIPT_RESET, SCRIPT_TIMEOUT, SCRIPT_REFUSED, SCRIPT_TRUNC, SCRIPT_FOREIGN,
    SCRIPT_SEND_SHORT, SCRIPT_SEND_AGAIN, SCRIPT_SEND_RESET, SCRIPT_SEND_EINTR,
    SCRIPT_PEER_PORT, SCRIPT_CLOCK,
    SCRIPT_ACCEPT = 0x20, SCRIPT_ACCEPT_FAIL, SCRIPT_CONN, SCRIPT_WAIT_FAIL, SCRIPT_SHUT_FAIL,
    SCRIPT_SEND_ZERO, SCRIPT_STOP, SCRIPT_WATCH_FAIL,
};

/* Descriptors of the event loop's scripted world: accepted connections are
 * SCRIPT_CONN_FD0 .. + SCRIPT_CONN_FDS - 1; a watch set is SCRIPT_SET_FD. */
#define SCRIPT_CONN_FD0 16
#define SCRIPT_CONN_FDS 64
#define SCRIPT_FD_LIMIT 128
#define SCRIPT_SET_FD (SCRIPT_FD_LIMIT - 1)
/* Where the next datagram comes from (FOREIGN's high 4 bits). */
enum script_source {
    SCRIPT_FROM_FOREIGN_V4 = 0, /* 192.0.2.7 */
    SCRIPT_FROM_PEER_V6,        /* ::1 */
    SCRIPT_FROM_FOREIGN_V6,     /* 2001:db8::7 */
    SCRIPT_FROM_PEER_MAPPED,    /* ::ffff:127.0.0.1 */
};

#define SCRIPT_SEND_QUEUE 16
#define SCRIPT_FILL_SLOTS 64
#define SCRIPT_SENT_KEEP 65536

/* A receive-side event decoded from the schedule (the head, kept decoded). */
struct script_event {
    enum script_op op;
    const uint8_t *data;
    size_t data_len;
    size_t wire_len;
    uint8_t arg;   /* ACCEPT's address, the errno selectors, CONN's k */
    uint16_t port; /* ACCEPT's */
};

struct script {
    const uint8_t *p;
    size_t len, off;
    /* The decoder's cursor: the state opcodes before off are applied and the
     * receive-side event at off is decoded once (head, ending at head_end)
     * until a call consumes it; polls and peeks do not re-decode it. */
    bool head_ok;
    struct script_event head;
    size_t head_end;
    /* The datagram buffers filled so far (a batch fills several) and how
     * much of each this script has written: TRUNC zero-fills only beyond
     * that. Kept by address, one slot per hash: a buffer whose slot another
     * took is zero-filled again, never read uninitialized. */
    struct { const void *buf; size_t len; } filled[SCRIPT_FILL_SLOTS];
    bool stream;
    int64_t clock_ms;
    const uint8_t *pending; /* rest of a DATA chunk a short read left */
    size_t pending_len;
    bool foreign_next;
    uint8_t source_next; /* enum script_source, when foreign_next */
    uint16_t peer_port;
    struct { uint8_t op; uint8_t arg; } send_faults[SCRIPT_SEND_QUEUE];
    size_t send_fault_count;
    /* What the code under test sent, for assertions (first SCRIPT_SENT_KEEP). */
    uint8_t sent[SCRIPT_SENT_KEEP];
    size_t sent_len;
    size_t sent_total;
    size_t sends_to_foreign; /* to 192.0.2.7 or 2001:db8::7 */
    size_t shutdowns;
    uint64_t calls;
    /* The event loop's world (script_serve): which fd listens and which is
     * the stop pipe, the target of receive events (-1 any fd, -2 a closed
     * connection), the fd a partly read chunk belongs to, the open
     * connections (bit i: SCRIPT_CONN_FD0 + i), the watched fds. */
    int listen_fd, stop_fd;
    int target_fd, pending_fd;
    uint64_t open_conns;
    bool stop_pending, exhausted_stop_sent;
    uint8_t shut_faults[8], watch_faults[8];
    size_t shut_fault_count, watch_fault_count;
    size_t accepts, closes, abortive_closes, bad_closes, waits;
    uint64_t watched[SCRIPT_FD_LIMIT / 64];
    struct { uint32_t events; void *tag; } watch[SCRIPT_FD_LIMIT];
};

/* stream: true for a TCP connection, false for a UDP socket. The script
 * keeps pointing into schedule; it must outlive the script's use. */
void script_init(struct script *s, const uint8_t *schedule, size_t len, bool stream);
struct sockio script_sockio(struct script *s);
bool script_exhausted(const struct script *s);
/* Names the listening fd and the stop fd (-1: none) of an event loop the
 * script drives. */
void script_serve(struct script *s, int listen_fd, int stop_fd);

/* The addresses scripted datagrams come from: the expected peer 127.0.0.1
 * (port from PEER_PORT, default 40000), unless FOREIGN picks another
 * source for the next one (enum script_source, same port). */
void script_peer_addr(const struct script *s, struct sockaddr_storage *out, socklen_t *len);

/* Building schedules (tests, corpus tools). Writes into buf[cap]; *len grows;
 * returns false (and writes nothing) when it would not fit. */
struct script_builder {
    uint8_t *buf;
    size_t cap, len;
};
bool script_add_data(struct script_builder *b, const void *data, size_t n);
bool script_add_op(struct script_builder *b, enum script_op op);
bool script_add_trunc(struct script_builder *b, uint16_t wire_len, const void *data, uint8_t n);
bool script_add_send_short(struct script_builder *b, uint8_t max);
bool script_add_peer_port(struct script_builder *b, uint16_t port);
bool script_add_clock(struct script_builder *b, uint8_t step);
/* ACCEPT (addr: 0 127.0.0.1, 1 ::1, 2 2001:db8::7, 3 ::ffff:192.0.2.7) and
 * the one-argument loop opcodes (ACCEPT_FAIL, CONN, WAIT_FAIL, SHUT_FAIL,
 * WATCH_FAIL). */
bool script_add_accept(struct script_builder *b, uint8_t addr, uint16_t port);
bool script_add_op_arg(struct script_builder *b, enum script_op op, uint8_t arg);
bool script_add_source(struct script_builder *b, enum script_source from);

#endif
