/* Helpers shared by the core tests that drive code through a scripted
 * sockio (script.h). Not a test itself: only test_*.c are registered.
 * Include after <cmocka.h>. */
#ifndef WIRECHECK_TESTS_SCRIPT_HELPERS_H
#define WIRECHECK_TESTS_SCRIPT_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "script.h"
#include "sockio.h"

/* One schedule under construction and the script that replays it. Static
 * storage: struct script alone is > 64 KiB. */
static uint8_t sh_sched[1 << 18];
static struct script_builder sh_b;
static struct script sh_s;
static struct sockio sh_io;

static inline void sched_begin(void)
{
    sh_b.buf = sh_sched;
    sh_b.cap = sizeof sh_sched;
    sh_b.len = 0;
}

static inline void sched_data(const void *p, size_t n)
{
    assert_true(script_add_data(&sh_b, p, n));
}

static inline void sched_str(const char *s)
{
    sched_data(s, strlen(s));
}

static inline void sched_op(enum script_op op)
{
    assert_true(script_add_op(&sh_b, op));
}

static inline void sched_raw(const void *p, size_t n)
{
    assert_true(n <= sh_b.cap - sh_b.len);
    memcpy(sh_b.buf + sh_b.len, p, n);
    sh_b.len += n;
}

static inline void sched_trunc(uint16_t wire, const void *p, uint8_t n)
{
    assert_true(script_add_trunc(&sh_b, wire, p, n));
}

static inline void sched_send_short(uint8_t max)
{
    assert_true(script_add_send_short(&sh_b, max));
}

static inline void sched_peer_port(uint16_t port)
{
    assert_true(script_add_peer_port(&sh_b, port));
}

static inline void sched_clock(uint8_t step)
{
    assert_true(script_add_clock(&sh_b, step));
}

/* Splits data into DATA chunks of the given size (the last may be shorter). */
static inline void sched_chunks(const void *p, size_t n, size_t chunk)
{
    const uint8_t *at = p;
    while (n > 0) {
        size_t k = n < chunk ? n : chunk;
        sched_data(at, k);
        at += k;
        n -= k;
    }
}

/* Starts replaying the schedule built so far. */
static inline const struct sockio *sched_start(bool stream)
{
    script_init(&sh_s, sh_sched, sh_b.len, stream);
    sh_io = script_sockio(&sh_s);
    return &sh_io;
}

static inline int64_t sched_now(void)
{
    return sh_io.ops->now_ms(sh_io.ctx);
}

/* A recognisable payload: byte i is (i * 7 + 3) mod 251. */
static inline void fill_pattern(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 7 + 3) % 251);
}

#endif
