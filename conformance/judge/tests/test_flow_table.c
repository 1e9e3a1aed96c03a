/* The flow table's packed trackers: a closed TCP flow is packed at once
 * and a packet's lookup unpacks it; what comes back is the tracker, byte
 * for byte, whatever its zero and nonzero words (sparse, dense, the first
 * and last words, runs across a bitmap word). Closed flows coming due by
 * frames. Many flows found and removed. Noted frames that follow a packed
 * flow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_table.h"

static const struct flow_timeouts timeouts = {
    .tcp_idle_usec = 300 * 1000000LL,
    .udp_idle_usec = 60 * 1000000LL,
    .closed_linger_usec = 2 * 1000000LL,
    .closed_linger_frames = 65536,
};

static struct endpoint endpoint_v4(uint8_t last, uint16_t port)
{
    struct endpoint e;
    memset(&e, 0, sizeof e);
    e.ip.family = 4;
    e.ip.bytes[0] = 10;
    e.ip.bytes[3] = last;
    e.port = port;
    return e;
}

/* Fills the tracker's 64-bit words: word k nonzero when keep(k) says so
 * (a value that differs in both halves from word to word), zero otherwise;
 * then makes it a closed flow without payload copies (what is packed). */
static void fill_closed(struct tcp_flow *f, bool (*keep)(size_t), uint64_t seed)
{
    uint8_t *bytes = (uint8_t *)f;
    for (size_t k = 0; k < sizeof *f / 8; k++) {
        uint64_t w = keep(k) ? (seed + k) * 0x9E3779B97F4A7C15ull | 1 : 0;
        memcpy(bytes + 8 * k, &w, 8);
    }
    memset(&f->side[0].copy, 0, sizeof f->side[0].copy);
    memset(&f->side[1].copy, 0, sizeof f->side[1].copy);
    f->noted_frames = NULL;
    f->closed = true;
    f->first_ts = f->last_ts = f->closed_ts = 1000;
}

static bool none(size_t k) { (void)k; return false; }
static bool all(size_t k) { (void)k; return true; }
static bool every_third(size_t k) { return k % 3 == 0; }
static bool ends_only(size_t k) { return k == 0 || k == sizeof(struct tcp_flow) / 8 - 1; }
/* Runs of nonzero words straddling the 64-word bitmap boundaries. */
static bool across_bitmap_words(size_t k) { return k % 64 >= 60 || k % 64 < 5; }

static void test_packed_tracker_comes_back_whole(void **state)
{
    (void)state;
    bool (*const patterns[])(size_t) = {none, all, every_third, ends_only, across_bitmap_words};
    struct flow_table t;
    assert_true(flow_table_init(&t, &timeouts));
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        struct endpoint client = endpoint_v4((uint8_t)(1 + i), (uint16_t)(40000 + i));
        struct endpoint server = endpoint_v4(200, 37);
        struct flow_entry *e = flow_table_insert(&t, FLOW_TCP, &client, &server);
        assert_non_null(e);
        fill_closed(&e->u->tcp, patterns[i], i);
        struct tcp_flow before;
        memcpy(&before, &e->u->tcp, sizeof before);

        flow_table_touched(&t, e);          /* closed: packed at once */
        assert_null(e->u);
        assert_non_null(e->packed);
        assert_true(flow_entry_tcp_closed(e));
        if (patterns[i] != all)
            assert_true(e->packed_len < sizeof before);

        /* Found from the other direction, unpacked. */
        assert_ptr_equal(flow_table_lookup(&t, FLOW_TCP, &server, &client), e);
        assert_non_null(e->u);
        assert_null(e->packed);
        assert_memory_equal(&e->u->tcp, &before, sizeof before);
    }
    flow_table_free(&t);
}

/* ICMP errors noted on f, frames first..first+n-1 (their numbers go to the
 * flow's frame store). */
static void note_icmp_errors(struct tcp_flow *f, uint32_t first, uint32_t n)
{
    struct packet p;
    memset(&p, 0, sizeof p);
    p.l4 = L4_ICMP;
    for (uint32_t k = 0; k < n; k++) {
        p.frame = first + k;
        p.ts_usec = f->last_ts;
        tcp_flow_note_icmp(f, &p);
    }
}

/* The frame numbers a flow noted live out of line: packed with the flow
 * they stay its own, unpacked they read back the same, and a flow freed
 * while packed (or left in the table) frees them (ASan: no leak). */
static void test_noted_frames_follow_a_packed_flow(void **state)
{
    (void)state;
    struct flow_table t;
    assert_true(flow_table_init(&t, &timeouts));
    struct endpoint client = endpoint_v4(1, 40000), server = endpoint_v4(200, 37);
    struct flow_entry *e[3];
    for (size_t i = 0; i < 3; i++) {
        client.port = (uint16_t)(40000 + i);
        assert_non_null(e[i] = flow_table_insert(&t, FLOW_TCP, &client, &server));
        fill_closed(&e[i]->u->tcp, every_third, i);
        e[i]->u->tcp.icmp_errors.count = 0;
        note_icmp_errors(&e[i]->u->tcp, 100, 12); /* 8 kept, 12 counted */
        assert_non_null(e[i]->u->tcp.noted_frames);
        flow_table_touched(&t, e[i]);
        assert_non_null(e[i]->packed);
    }
    client.port = 40000;
    assert_ptr_equal(flow_table_lookup(&t, FLOW_TCP, &client, &server), e[0]);
    const struct frame_list *l = FLOW_FRAMES(&e[0]->u->tcp, e[0]->u->tcp.icmp_errors);
    assert_int_equal(l->count, 12);
    for (uint32_t k = 0; k < FLOW_MAX_NOTED_FRAMES; k++)
        assert_int_equal(l->frames[k], 100 + k);
    flow_table_remove(&t, e[1]);
    flow_table_release(&t, e[1]); /* packed */
    flow_table_free(&t);          /* e[0] unpacked, e[2] packed */
}

/* A closed flow is due by frames once closed_linger_frames passed since its
 * close and twice that since its first frame: which of the two ends later
 * differs from flow to flow, so the flows come due in another order than
 * they closed. Each scan takes exactly the ones due, oldest first. */
static void test_closed_flows_due_by_frames(void **state)
{
    (void)state;
    struct flow_timeouts few = timeouts;
    few.closed_linger_frames = 100;
    struct flow_table t;
    assert_true(flow_table_init(&t, &few));
    /* {first frame, closing frame}: due after max(close + 100, first + 200). */
    static const uint32_t span[][2] = {
        {1, 400},   /* long: due after 500 */
        {290, 395}, /* short: due after 495 */
        {350, 360}, /* closed first: due after 550 */
        {380, 420}, /* due after 580 */
        {10, 430},  /* long, closed last: due after 530 */
    };
    static const size_t order[] = {2, 1, 0, 3, 4}; /* the order they close in */
    struct flow_entry *e[5];
    for (size_t i = 0; i < 5; i++) {
        struct endpoint client = endpoint_v4((uint8_t)(1 + i), 40000), server = endpoint_v4(200, 37);
        assert_non_null(e[i] = flow_table_insert(&t, FLOW_TCP, &client, &server));
    }
    for (size_t k = 0; k < 5; k++) {
        size_t i = order[k];
        fill_closed(&e[i]->u->tcp, none, i);
        e[i]->u->tcp.first_frame = span[i][0];
        e[i]->u->tcp.last_frame = span[i][1];
        flow_table_touched(&t, e[i]);
    }
    /* No time has passed (INT64_MIN): only frames decide. */
    assert_int_equal(flow_table_take_due(&t, INT64_MIN, 495), 0);
    assert_int_equal(flow_table_take_due(&t, INT64_MIN, 501), 2);
    assert_ptr_equal(t.due[0], e[0]);        /* created first, listed first */
    assert_ptr_equal(t.due[1], e[1]);
    flow_table_remove(&t, e[0]);
    flow_table_release(&t, e[0]);
    flow_table_remove(&t, e[1]);
    flow_table_release(&t, e[1]);
    assert_int_equal(flow_table_take_due(&t, INT64_MIN, 531), 1);
    assert_ptr_equal(t.due[0], e[4]);
    flow_table_remove(&t, e[4]);
    flow_table_release(&t, e[4]);
    /* Taken by time first: not listed a second time by frames. */
    assert_int_equal(flow_table_take_due(&t, 1000 + few.closed_linger_usec + 1, 540), 2);
    assert_ptr_equal(t.due[0], e[2]);
    assert_ptr_equal(t.due[1], e[3]);
    assert_int_equal(flow_table_take_due(&t, INT64_MIN, 1000), 0);
    flow_table_free(&t);
}

/* Thousands of flows (the table grows several times), found from either
 * direction; a third of them removed in a scattered order (the flows after
 * each hole move back); every lookup still finds exactly the flows left,
 * and the end lists them in the order they were opened. */
static void test_many_flows_found_and_removed(void **state)
{
    (void)state;
    enum { N = 5000 };
    static struct flow_entry *e[N];
    struct flow_table t;
    assert_true(flow_table_init(&t, &timeouts));
    t.created = ((uint64_t)1 << 32) - 300;
    for (size_t i = 0; i < N; i++) {
        struct endpoint client = endpoint_v4((uint8_t)(i % 251), (uint16_t)(1024 + i));
        struct endpoint server = endpoint_v4(200, (uint16_t)(i % 7 + 80));
        assert_non_null(e[i] = flow_table_insert(&t, i % 5 ? FLOW_TCP : FLOW_UDP, &client, &server));
        memset(e[i]->u, 0, sizeof *e[i]->u);
    }
    bool removed[N] = {false};
    for (size_t k = 0; k < N / 3; k++) {
        size_t i = (k * 2654435761u) % N;
        if (removed[i])
            continue;
        flow_table_remove(&t, e[i]);
        flow_table_release(&t, e[i]);
        removed[i] = true;
    }
    for (size_t i = 0; i < N; i++) {
        struct endpoint client = endpoint_v4((uint8_t)(i % 251), (uint16_t)(1024 + i));
        struct endpoint server = endpoint_v4(200, (uint16_t)(i % 7 + 80));
        enum flow_proto proto = i % 5 ? FLOW_TCP : FLOW_UDP;
        struct flow_entry *found = flow_table_lookup(&t, proto, &server, &client);
        assert_ptr_equal(found, removed[i] ? NULL : e[i]);
        assert_ptr_equal(flow_table_lookup(&t, proto, &client, &server), found);
        /* The other protocol's flow between the same ends is another flow. */
        assert_null(flow_table_lookup(&t, proto == FLOW_TCP ? FLOW_UDP : FLOW_TCP, &client, &server));
    }
    /* What is left, oldest first (creation numbers crossing byte and
     * 32-bit boundaries: the table took them from 2^32 - 300). */
    size_t left = 0;
    for (size_t i = 0; i < N; i++)
        left += !removed[i];
    assert_int_equal(flow_table_take_all(&t), left);
    for (size_t i = 0, k = 0; i < N; i++)
        if (!removed[i])
            assert_ptr_equal(t.due[k++], e[i]);
    flow_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_tracker_comes_back_whole),
        cmocka_unit_test(test_closed_flows_due_by_frames),
        cmocka_unit_test(test_many_flows_found_and_removed),
        cmocka_unit_test(test_noted_frames_follow_a_packed_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
