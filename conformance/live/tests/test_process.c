/* process: the readiness parser, and a child supervised to its exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "process.h"

static unsigned port_of(const char *output)
{
    unsigned port = 12345;
    if (!process_listening_port(output, &port))
        return 99999; /* not (yet) a whole readiness line */
    return port;
}

static void test_listening_lines(void **state)
{
    (void)state;
    assert_int_equal(port_of("Listening on 127.0.0.1:3434\n"), 3434);
    assert_int_equal(port_of("Listening on [::1]:40000\n"), 40000);
    assert_int_equal(port_of("2024 socat[1] N listening on AF=2 0.0.0.0:3434\n"), 3434);
    assert_int_equal(port_of("Listening on localhost 3434\n"), 3434);
    assert_int_equal(port_of("starting\r\nLISTENING ON 10.0.0.1:7\r\nmore"), 7);
    /* A whole line without a port: ready, port unknown. */
    assert_int_equal(port_of("Listening on a socket\n"), 0);
    assert_int_equal(port_of("Listening on 0.0.0.0:0 x:65536\n"), 0);
    /* IPv6 without brackets: OpenBSD nc -lvn -s ::1 prints "ADDR PORT"; a
     * bare address's last group is not a port. */
    assert_int_equal(port_of("Listening on ::1 3434\n"), 3434);
    assert_int_equal(port_of("Listening on fd00::1 3434\n"), 3434);
    assert_int_equal(port_of("Listening on :::3434\n"), 3434);
    assert_int_equal(port_of("Listening on ::1\n"), 0);
    assert_int_equal(port_of("Listening on fe80::1:2\n"), 0);
    assert_int_equal(port_of("N listening on AF=10 [0000:0000:0000:0000:0000:0000:0000:0001]:3434\n"),
                     3434);
}

static void test_not_ready_yet(void **state)
{
    (void)state;
    assert_int_equal(port_of(""), 99999);
    assert_int_equal(port_of("starting up\n"), 99999);
    /* Unfinished: the port may still be coming. */
    assert_int_equal(port_of("Listening on 127.0.0.1:34"), 99999);
}

static int say_and_exit(void *ctx)
{
    (void)ctx;
    char buf[64];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    dprintf(STDOUT_FILENO, "got %zd\n", n);
    dprintf(STDERR_FILENO, "Listening on 127.0.0.1:5\n");
    return 3;
}

static void test_spawn_wait_reap(void **state)
{
    (void)state;
    char text[16], err[128];
    struct process_output out = { text, sizeof text, 0, false };
    struct process p;
    struct process_options o = { .what = "the test", .stdin_pipe = true, .merge_stderr = true,
                                 .die_with_parent = true, .exec = say_and_exit };
    assert_true(process_spawn(&p, &out, NULL, &o, err, sizeof err));
    assert_true(process_running(&p));
    assert_int_equal(write(p.in_fd, "abc", 3), 3);
    process_close_stdin(&p);
    assert_true(process_wait(&p, process_now_ms() + 5000));
    assert_false(process_running(&p));
    assert_int_equal(p.status, 3);
    /* Bounded: the first size - 1 bytes as they came, the rest dropped. */
    assert_string_equal(text, "got 3\nListening");
    assert_int_equal(p.out_fd, -1);
    assert_int_equal(p.pidfd, -1);
}

static int sleep_forever(void *ctx)
{
    (void)ctx;
    pause();
    return 0;
}

static void test_signal_group(void **state)
{
    (void)state;
    char text[16], err[128];
    struct process_output out = { text, sizeof text, 0, false };
    struct process p;
    struct process_options o = { .what = "the test", .own_group = true, .stdin_null = true,
                                 .exec = sleep_forever };
    assert_true(process_spawn(&p, &out, &out, &o, err, sizeof err));
    assert_false(process_wait(&p, process_now_ms() + 20));
    process_signal_group(&p, SIGTERM);
    assert_true(process_wait(&p, process_now_ms() + 5000));
    assert_int_equal(p.status, 128 + SIGTERM);
}

/* A kernel without pidfd_open (before 5.3): the exit is noticed on a tick. */
static void test_exit_seen_without_pidfd(void **state)
{
    (void)state;
    char text[64], err[128];
    struct process_output out = { text, sizeof text, 0, false };
    struct process p;
    struct process_options o = { .what = "the test", .stdin_pipe = true, .merge_stderr = true,
                                 .exec = say_and_exit };
    assert_true(process_spawn(&p, &out, NULL, &o, err, sizeof err));
    if (p.pidfd >= 0) {
        close(p.pidfd);
        p.pidfd = -1;
    }
    assert_int_equal(process_tick_ms(&p), PROCESS_TICK_MS);
    process_close_stdin(&p);
    assert_true(process_wait(&p, process_now_ms() + 5000));
    assert_int_equal(p.status, 3);
    assert_string_equal(text, "got 0\nListening on 127.0.0.1:5\n");
    assert_int_equal(process_tick_ms(&p), -1);
}

static void fill_result(void *ctx)
{
    int *result = ctx;
    *result = 42;
}

static void test_call_brings_the_result_back(void **state)
{
    (void)state;
    int result = 0;
    pid_t pid = 0;
    assert_int_equal(process_call(fill_result, &result, &result, sizeof result,
                                  process_now_ms() + 5000, &pid), PROCESS_CALL_DONE);
    assert_int_equal(result, 42);
    assert_true(pid > 0);
}

static void hang(void *ctx)
{
    (void)ctx;
    pause();
}

static void test_call_gives_up_at_the_deadline(void **state)
{
    (void)state;
    int result = 7;
    pid_t pid = 0;
    assert_int_equal(process_call(hang, NULL, &result, sizeof result, process_now_ms() + 50, &pid),
                     PROCESS_CALL_NO_RESULT);
    assert_true(pid > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listening_lines),
        cmocka_unit_test(test_not_ready_yet),
        cmocka_unit_test(test_spawn_wait_reap),
        cmocka_unit_test(test_signal_group),
        cmocka_unit_test(test_exit_seen_without_pidfd),
        cmocka_unit_test(test_call_brings_the_result_back),
        cmocka_unit_test(test_call_gives_up_at_the_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
