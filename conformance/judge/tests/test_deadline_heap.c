/* The deadline heap the analysis finds flows due for judgement with: pops
 * in deadline order, deadlines moved either way, nodes taken out from
 * anywhere, and a random run checked against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deadline_heap.h"

/* Every parent no later than its children (4 to a parent: slot i's parent
 * is (i + 2) / 4), every node told its slot and holding the deadline its
 * slot holds. */
static void assert_heap_sound(const struct deadline_heap *h)
{
    for (size_t i = 1; i <= h->count; i++) {
        const struct deadline_slot *s = &h->slots[i];
        assert_int_equal(s->node->slot, i);
        assert_true(s->node->at == s->at);
        if (i > 1)
            assert_true(h->slots[(i + 2) / 4].at <= s->at);
    }
}

static void test_pops_in_deadline_order(void **state)
{
    (void)state;
    static const int64_t at[] = {50, 10, 40, 10, -5, 90, 0, 70, 30, 20};
    enum { N = sizeof at / sizeof at[0] };
    struct deadline_node nodes[N];
    memset(nodes, 0, sizeof nodes);
    struct deadline_heap h;
    deadline_heap_init(&h);
    assert_null(deadline_heap_top(&h));
    assert_null(deadline_heap_pop(&h));
    for (size_t i = 0; i < N; i++) {
        assert_false(deadline_node_queued(&nodes[i])); /* zeroed: not queued */
        assert_true(deadline_heap_push(&h, &nodes[i], at[i]));
        assert_heap_sound(&h);
    }
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < N; i++) {
        struct deadline_node *n = deadline_heap_pop(&h);
        assert_non_null(n);
        assert_false(deadline_node_queued(n));
        assert_true(n->at >= last);
        last = n->at;
        assert_heap_sound(&h);
    }
    assert_null(deadline_heap_pop(&h));
    deadline_heap_free(&h);
}

static void test_move_either_way(void **state)
{
    (void)state;
    struct deadline_node a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    struct deadline_heap h;
    deadline_heap_init(&h);
    assert_true(deadline_heap_push(&h, &a, 10));
    assert_true(deadline_heap_push(&h, &b, 20));
    assert_true(deadline_heap_push(&h, &c, INT64_MAX)); /* "no deadline yet" */
    assert_ptr_equal(deadline_heap_top(&h), &a);
    deadline_heap_move(&h, &a, 30);         /* later: sinks */
    assert_heap_sound(&h);
    assert_ptr_equal(deadline_heap_top(&h), &b);
    deadline_heap_move(&h, &c, 5);          /* earlier: rises */
    assert_heap_sound(&h);
    assert_ptr_equal(deadline_heap_top(&h), &c);
    assert_true(c.at == 5);
    deadline_heap_move(&h, &c, 5);          /* unchanged: stays */
    assert_ptr_equal(deadline_heap_top(&h), &c);
    assert_ptr_equal(deadline_heap_pop(&h), &c);
    assert_ptr_equal(deadline_heap_pop(&h), &b);
    assert_ptr_equal(deadline_heap_pop(&h), &a);
    deadline_heap_free(&h);
}

static void test_remove_from_anywhere(void **state)
{
    (void)state;
    enum { N = 9 };
    struct deadline_node nodes[N];
    memset(nodes, 0, sizeof nodes);
    struct deadline_heap h;
    deadline_heap_init(&h);
    for (size_t i = 0; i < N; i++)
        assert_true(deadline_heap_push(&h, &nodes[i], (int64_t)(i * 7 % N))); /* 0..8, once each */
    struct deadline_node *root = deadline_heap_top(&h);
    assert_ptr_equal(root, &nodes[0]);
    deadline_heap_remove(&h, root);
    deadline_heap_remove(&h, h.slots[h.count].node);      /* the last slot */
    deadline_heap_remove(&h, h.slots[2].node);            /* an inner slot */
    assert_int_equal(h.count, N - 3);
    assert_heap_sound(&h);
    assert_false(deadline_node_queued(root));
    deadline_heap_remove(&h, root);                       /* not queued: no-op */
    assert_int_equal(h.count, N - 3);
    assert_heap_sound(&h);
    /* A node taken out can be queued again. */
    assert_true(deadline_heap_push(&h, root, -1));
    assert_ptr_equal(deadline_heap_top(&h), root);
    assert_heap_sound(&h);
    deadline_heap_free(&h);
}

/* Random pushes, moves, removes and pops against the queued deadlines kept
 * in a plain array: the top is always one with the earliest deadline. */
static void test_random_operations_match_a_plain_array(void **state)
{
    (void)state;
    enum { N = 300, STEPS = 20000 };
    static struct deadline_node nodes[N];
    memset(nodes, 0, sizeof nodes);
    struct deadline_heap h;
    deadline_heap_init(&h);
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    for (int step = 0; step < STEPS; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        struct deadline_node *n = &nodes[rng % N];
        int64_t at = (int64_t)(rng >> 40) % 1000 - 500; /* many ties */
        switch (rng >> 20 & 3) {
        case 0:
            if (deadline_node_queued(n))
                deadline_heap_move(&h, n, at);
            else
                assert_true(deadline_heap_push(&h, n, at));
            break;
        case 1:
            deadline_heap_remove(&h, n);
            break;
        case 2:
            deadline_heap_pop(&h);
            break;
        default:
            if (!deadline_node_queued(n))
                assert_true(deadline_heap_push(&h, n, at));
            break;
        }
        size_t queued = 0;
        int64_t earliest = INT64_MAX;
        for (size_t i = 0; i < N; i++) {
            if (!deadline_node_queued(&nodes[i]))
                continue;
            queued++;
            if (nodes[i].at < earliest)
                earliest = nodes[i].at;
        }
        assert_int_equal(h.count, queued);
        if (queued)
            assert_true(deadline_heap_top(&h)->at == earliest);
        if (step % 97 == 0)
            assert_heap_sound(&h);
    }
    deadline_heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pops_in_deadline_order),
        cmocka_unit_test(test_move_either_way),
        cmocka_unit_test(test_remove_from_anywhere),
        cmocka_unit_test(test_random_operations_match_a_plain_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
