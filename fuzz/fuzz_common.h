/* Shared by the fuzz harnesses and make_corpus: the invariant check and the
 * few fixed values a harness hands to the API under test (so the seeds that
 * make_corpus writes match what the harness sends or serves). Nothing here
 * re-implements project logic. */
#ifndef WIRECHECK_FUZZ_COMMON_H
#define WIRECHECK_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "sockio.h"
#include "tcp_server_loop.h"

/* An invariant of the code under test does not hold: report and abort, so
 * every engine (libFuzzer, AFL++, the replay driver) records a crash. */
#define FUZZ_CHECK(cond, ...)                                                          \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "\nwirecheck fuzz invariant failed at %s:%d: %s\n  ",       \
                    __FILE__, __LINE__, #cond);                                        \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* The time message tcp_server_recv serves (a leap day, all fields at their
 * widest) and the one tcp_client_recv seeds expect. 42 bytes = TIMEMSG_LEN. */
/* The harness's own checking code (the invariants, the taps) is not what is
 * being fuzzed: no coverage feedback from it and none of its per-byte
 * comparison hooks, which cost more than the code under test. */
#if defined(__clang__) && __clang_major__ >= 13
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_NO_COVERAGE
#endif

#define FUZZ_TIME_REPLY "Current time is 2024-02-29 23:59:59.123456"

/* What tcp_client_recv sends before reading an echo. */
#define FUZZ_ECHO_MSG "hello, wirecheck\n"

/* What udp_client_reply sends to the server. */
#define FUZZ_UDP_MSG "ping 1"

/* The fd handed to the API under test; the scripted sockio ignores it. */
#define FUZZ_FD 3

/* dissect_packet: the link type byte 0 of an input selects (low 4 bits;
 * bit 7 marks the frame as cut by the snapshot length). Raw numbers, as
 * LINKTYPE_* in pcap files: 0 null, 1 Ethernet, 12 DLT_RAW, 101 raw,
 * 108 loop, 113 Linux SLL, 228 IPv4, 229 IPv6, 276 Linux SLL2, and one
 * unsupported type (147, USER0) that must be refused cleanly. */
static inline int fuzz_linktype_of(unsigned selector)
{
    static const int types[16] = {0, 1, 12, 101, 108, 113, 228, 229, 276,
                                  1, 1, 113, 276, 101, 0, 147};
    return types[selector & 0x0f];
}

/* The selector byte for a link type (-1 if none selects it). */
static inline int fuzz_linktype_selector(int linktype)
{
    for (unsigned i = 0; i < 16; i++)
        if (fuzz_linktype_of(i) == linktype)
            return (int)i;
    return -1;
}


/* tcp_server_recv: the two configuration bytes before its schedule.
 *   byte 0: bits 0-1 service (time, echo, discard, time), bits 2-3 close
 *           mode (fin, rst, unread, fin), bits 4-5 slots - 1 (1..4),
 *           bits 6-7 count (forever, 1, 2, 8)
 *   byte 1: bits 0-2 timeout (1..8 s), bits 3-4 lifetime (6, 1, 2, 3 x
 *           timeout), bits 5-6 grace (0, 100, 1000, 5000 ms)
 * Missing bytes are 0. Returns how many bytes it used. */
static inline size_t fuzz_tcp_server_config(const uint8_t *p, size_t n,
                                            struct tcp_server_config *cfg)
{
    static const enum tcp_service services[4] = {TCP_SERVICE_TIME, TCP_SERVICE_ECHO,
                                                 TCP_SERVICE_DISCARD, TCP_SERVICE_TIME};
    static const enum close_mode modes[4] = {CLOSE_MODE_FIN, CLOSE_MODE_RST, CLOSE_MODE_UNREAD,
                                             CLOSE_MODE_FIN};
    static const unsigned long counts[4] = {0, 1, 2, 8};
    static const int64_t lifetimes[4] = {6, 1, 2, 3}, graces[4] = {0, 100, 1000, 5000};
    uint8_t b0 = n > 0 ? p[0] : 0, b1 = n > 1 ? p[1] : 0;
    cfg->service = services[b0 & 3];
    cfg->close_mode = modes[b0 >> 2 & 3];
    cfg->max_conns = 1 + (b0 >> 4 & 3);
    cfg->count = counts[b0 >> 6];
    cfg->timeout_ms = 1000 * (1 + (b1 & 7));
    cfg->lifetime_ms = cfg->timeout_ms * lifetimes[b1 >> 3 & 3];
    cfg->grace_ms = graces[b1 >> 5 & 3];
    return n < 2 ? n : 2;
}

/* The configuration bytes for a service and close mode, with 4 slots,
 * forever, a 5 s timeout, the default lifetime and a 1 s grace. */
static inline void fuzz_tcp_server_config_bytes(enum tcp_service svc, enum close_mode mode,
                                                uint8_t out[2])
{
    unsigned s = svc == TCP_SERVICE_ECHO ? 1 : svc == TCP_SERVICE_DISCARD ? 2 : 0;
    unsigned m = mode == CLOSE_MODE_RST ? 1 : mode == CLOSE_MODE_UNREAD ? 2 : 0;
    out[0] = (uint8_t)(s | m << 2 | 3 << 4);
    out[1] = (uint8_t)(4 | 2 << 5);
}


/* The clients' printing of a reply ("Received: TEXT"): escape_bytes into
 * escape_bound + 1 bytes as tcp-client and udp-client do, then into a
 * 16-byte buffer (a cut). Checks: the whole text fits and is as long as
 * escape_bytes says, within the bound, with no control byte, DEL or C1
 * control (0xc2 0x80..0x9f) in it; the cut text is a prefix of it, ends at
 * a whole escape (the next piece would not fit) and reports the same need. */
FUZZ_NO_COVERAGE static inline void fuzz_check_reply_print(const uint8_t *reply, size_t n)
{
    size_t cap = escape_bound(n) + 1;
    char *text = malloc(cap); /* exactly cap: ASan sees a byte written past it */
    FUZZ_CHECK(text != NULL, "out of memory");
    size_t need = escape_bytes(reply, n, text, cap);
    size_t len = strlen(text);
    FUZZ_CHECK(need == len && need <= escape_bound(n) && need >= n,
               "escape of %zu bytes: %zu written, %zu needed", n, len, need);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f, "byte 0x%02x in the printed reply", c);
        FUZZ_CHECK(c != 0xc2 || i + 1 >= len || (unsigned char)text[i + 1] < 0x80 ||
                       (unsigned char)text[i + 1] > 0x9f,
                   "C1 control in the printed reply");
    }
    char cut[16];
    size_t cut_need = escape_bytes(reply, n, cut, sizeof cut);
    size_t cut_len = strlen(cut);
    FUZZ_CHECK(cut_need == need && cut_len <= sizeof cut - 1 && memcmp(cut, text, cut_len) == 0,
               "cut escape: %zu bytes, need %zu (whole: %zu)", cut_len, cut_need, need);
    if (cut_len < len) {
        const uint8_t *next = (const uint8_t *)text + cut_len;
        size_t piece = next[0] != '\\' ? utf8_sequence_len(next, len - cut_len)
                       : next[1] == '\\' ? 2 : 4;
        FUZZ_CHECK(piece > sizeof cut - 1 - cut_len,
                   "cut escape stopped at %zu bytes, the next %zu-byte piece fits", cut_len, piece);
    }
    free(text);
}

/* ---- taps: a harness's wrapper around the scripted sockio ----------------
 * A tap struct starts with `struct sockio inner` and overrides only the calls
 * it checks; every other call passes straight through with these. */
struct tap_head {
    struct sockio inner;
};

static inline ssize_t tap_pass_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    struct tap_head *t = ctx;
    return t->inner.ops->recv(t->inner.ctx, fd, buf, len, flags);
}

static inline ssize_t tap_pass_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                                        struct sockaddr *from, socklen_t *fromlen)
{
    struct tap_head *t = ctx;
    return t->inner.ops->recvfrom(t->inner.ctx, fd, buf, len, flags, from, fromlen);
}

static inline ssize_t tap_pass_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    struct tap_head *t = ctx;
    return t->inner.ops->send(t->inner.ctx, fd, buf, len, flags);
}

static inline ssize_t tap_pass_sendto(void *ctx, int fd, const void *buf, size_t len, int flags,
                                      const struct sockaddr *to, socklen_t tolen)
{
    struct tap_head *t = ctx;
    return t->inner.ops->sendto(t->inner.ctx, fd, buf, len, flags, to, tolen);
}

static inline int tap_pass_accept(void *ctx, int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct tap_head *t = ctx;
    return t->inner.ops->accept(t->inner.ctx, fd, addr, len, flags);
}

static inline int tap_pass_shutdown(void *ctx, int fd, int how)
{
    struct tap_head *t = ctx;
    return t->inner.ops->shutdown(t->inner.ctx, fd, how);
}

static inline int tap_pass_poll(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    struct tap_head *t = ctx;
    return t->inner.ops->poll(t->inner.ctx, fds, n, timeout_ms);
}

static inline int tap_pass_watch_open(void *ctx)
{
    struct tap_head *t = ctx;
    return t->inner.ops->watch_open(t->inner.ctx);
}

static inline int tap_pass_watch(void *ctx, int set, enum sockio_watch_op op, int fd,
                                 uint32_t events, void *tag)
{
    struct tap_head *t = ctx;
    return t->inner.ops->watch(t->inner.ctx, set, op, fd, events, tag);
}

static inline ssize_t tap_pass_read(void *ctx, int fd, void *buf, size_t len)
{
    struct tap_head *t = ctx;
    return t->inner.ops->read(t->inner.ctx, fd, buf, len);
}

/* Keeps the source address a recvfrom reported (none: zeroed), so a tap can
 * check later sends against where the last datagram came from. */
static inline void tap_note_source(struct sockaddr_storage *last, socklen_t *last_len,
                                   const struct sockaddr *from, const socklen_t *fromlen)
{
    memset(last, 0, sizeof *last);
    *last_len = 0;
    if (from && fromlen) {
        *last_len = *fromlen < sizeof *last ? *fromlen : (socklen_t)sizeof *last;
        memcpy(last, from, *last_len);
    }
}

static inline int64_t tap_pass_now_ms(void *ctx)
{
    struct tap_head *t = ctx;
    return t->inner.ops->now_ms(t->inner.ctx);
}

#endif
