/* Integration: the reference servers with the reference clients on
 * ephemeral loopback ports, IPv4 and IPv6, as a user runs them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "proc.h"

#define WAIT_MS 5000

struct server_fixture {
    struct proc server;
    char port[16];
};

static void start_server(struct server_fixture *f, const char *bin, char *const args[])
{
    assert_true(proc_start(&f->server, bin, args));
    int port = proc_listening_port(&f->server, WAIT_MS);
    assert_true(port > 0);
    snprintf(f->port, sizeof f->port, "%d", port);
}

static void time_exchange(const char *host)
{
    struct server_fixture f;
    char *sargs[] = {"--bind", (char *)host, "--port", "0", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc c;
    char *cargs[] = {"--host", (char *)host, "--port", f.port, NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 0);
    assert_non_null(strstr(c.out, "OK!\nReceived: Current time is "));
    /* --count 1: the server exits by itself after the one connection. */
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, ": closed, 42 bytes sent, 0 received"));
}

static void test_time_ipv4(void **state) { (void)state; time_exchange("127.0.0.1"); }
static void test_time_ipv6(void **state) { (void)state; time_exchange("::1"); }

static void test_time_client_sends_first_is_drained(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--send", "GET / HTTP/1.0\r\n\r\n", "--expect", "time", NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 0);
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    /* The bytes were read (drained), so the close was clean, not an RST. */
    assert_non_null(strstr(f.server.out, ": closed, 42 bytes sent, 18 received"));
}

static void echo_half_close(const char *host)
{
    struct server_fixture f;
    char *sargs[] = {"--bind", (char *)host, "--port", "0", "--service", "echo", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc c;
    char *cargs[] = {"--host", (char *)host, "--port", f.port, "--send", "ping\x01pong",
                     "--shutdown-write", "--expect", "echo", NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 0);
    assert_non_null(strstr(c.out, "Received: ping\\x01pong\n"));
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, ": closed, 9 bytes sent, 9 received"));
}

static void test_echo_half_close_ipv4(void **state) { (void)state; echo_half_close("127.0.0.1"); }
static void test_echo_half_close_ipv6(void **state) { (void)state; echo_half_close("::1"); }

static void test_echo_client_closes_first(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--service", "echo", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--send", "abc", "--expect", "echo", "--close-after-reply", NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 0);
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, "3 bytes sent, 3 received"));
}

/* The client closes as soon as the 42 bytes are in, before the server's FIN. */
static void test_time_client_closes_after_reply(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--close-after-reply", NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 0);
    assert_non_null(strstr(c.out, "Received: Current time is "));
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, ": closed, 42 bytes sent, 0 received"));
    struct proc bad;
    char *any[] = {"--port", f.port, "--expect", "any", "--close-after-reply", NULL};
    assert_int_equal(proc_run(&bad, "tcp-client", any, WAIT_MS), 2); /* no known length */
}

static void test_discard(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--service", "discard", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--send", "dropped", "--shutdown-write", NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 0);
    assert_non_null(strstr(c.out, "Received: \n"));
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, ": closed, 0 bytes sent, 7 received"));
}

/* An idle connection must not delay another client (one poll loop). */
static void test_idle_client_does_not_block_others(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--service", "echo", "--timeout", "30", NULL};
    start_server(&f, "tcp-time-server", sargs);
    int idle = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(f.port))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(idle, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(idle, "x", 1, 0), 1);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--send", "second", "--shutdown-write", "--expect", "echo",
                     "--timeout", "2", NULL};
    long long t0 = proc_now_ms();
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 0);
    assert_true(proc_now_ms() - t0 < 2000); /* bounded by the client's own deadline */
    close(idle);
    proc_stop(&f.server);
    assert_int_equal(f.server.run.status, 0); /* SIGTERM: clean exit */
}

static void test_idle_connection_closed_at_deadline(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--service", "echo", "--timeout", "0.3", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    int idle = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(f.port))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(idle, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, ": timed out,"));
    close(idle);
}

static void udp_hello(const char *host)
{
    struct server_fixture f;
    char *sargs[] = {"--bind", (char *)host, "--port", "0", "--count", "1", NULL};
    start_server(&f, "udp-server", sargs);
    struct proc c;
    char *cargs[] = {"--host", (char *)host, "--port", f.port, NULL};
    assert_int_equal(proc_run(&c, "udp-client", cargs, WAIT_MS), 0);
    assert_non_null(strstr(c.out, "Sent: Hello UDP! to "));
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, "Received: Hello UDP! from "));
}

static void test_udp_hello_ipv4(void **state) { (void)state; udp_hello("127.0.0.1"); }
static void test_udp_hello_ipv6(void **state) { (void)state; udp_hello("::1"); }

static void test_udp_echo_and_escape(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--service", "echo", "--count", "1", NULL};
    start_server(&f, "udp-server", sargs);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--message", "\x1b[2J\xff\\ok", "--expect-reply", NULL};
    assert_int_equal(proc_run(&c, "udp-client", cargs, WAIT_MS), 0);
    assert_non_null(strstr(c.out, "Received: \\x1b[2J\\xff\\\\ok from "));
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, "Received: \\x1b[2J\\xff\\\\ok from 127.0.0.1:"));
    assert_null(strchr(f.server.out, '\x1b'));
}

static void test_udp_oversize_truncated(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--count", "1", NULL};
    start_server(&f, "udp-server", sargs);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--size", "3000", NULL};
    assert_int_equal(proc_run(&c, "udp-client", cargs, WAIT_MS), 0);
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, "Truncated: datagram of 3000 bytes from 127.0.0.1:"));
    assert_non_null(strstr(f.server.out, "exceeds --max 1024"));
}

/* UDP echo must never answer a privileged source port (reflection). */
static void test_udp_echo_refuses_low_port(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--service", "echo", "--count", "1", NULL};
    start_server(&f, "udp-server", sargs);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
    /* Any free port below 1024 (root may bind there). */
    int bound = -1;
    for (int port = 1023; port > 900 && bound != 0; port--) {
        me.sin_port = htons((uint16_t)port);
        bound = bind(s, (struct sockaddr *)&me, sizeof me);
    }
    assert_int_equal(bound, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(f.port))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    assert_int_equal(sendto(s, "spoof", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
    assert_int_equal(proc_wait(&f.server, WAIT_MS), 0);
    assert_non_null(strstr(f.server.out, "Echo refused"));
    char b[16];
    assert_int_equal(recv(s, b, sizeof b, MSG_DONTWAIT), -1); /* nothing came back */
    close(s);
}

static void test_udp_closed_port_refused(void **state)
{
    (void)state;
    /* Take a free port, then free it: nothing listens there. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(s, (struct sockaddr *)&a, &len);
    char port[16];
    snprintf(port, sizeof port, "%u", ntohs(a.sin_port));
    close(s);
    struct proc c;
    char *cargs[] = {"--port", port, "--expect-reply", "--timeout", "1", NULL};
    assert_int_equal(proc_run(&c, "udp-client", cargs, WAIT_MS), 1);
    assert_non_null(strstr(c.err, "connection refused"));
}

static void test_tcp_refused(void **state)
{
    (void)state;
    struct proc c;
    char *cargs[] = {"--port", "1", NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 1);
    assert_non_null(strstr(c.err, "connect 127.0.0.1:1: Connection refused"));
}

static void test_bad_options_exit_2(void **state)
{
    (void)state;
    static const char *const progs[] = {"tcp-time-server", "udp-server", "tcp-client", "udp-client"};
    for (size_t i = 0; i < 4; i++) {
        struct proc p;
        char *bad_port[] = {"--port", "70000", NULL};
        assert_int_equal(proc_run(&p, progs[i], bad_port, WAIT_MS), 2);
        assert_non_null(strstr(p.err, "invalid --port '70000'"));
        char *unknown[] = {"--frobnicate", NULL};
        assert_int_equal(proc_run(&p, progs[i], unknown, WAIT_MS), 2);
        assert_non_null(strstr(p.err, "unknown option '--frobnicate'"));
        char *missing[] = {"--port", NULL};
        assert_int_equal(proc_run(&p, progs[i], missing, WAIT_MS), 2);
        assert_non_null(strstr(p.err, "needs a value"));
    }
    struct proc p;
    char *bad_service[] = {"--service", "chargen", NULL};
    assert_int_equal(proc_run(&p, "tcp-time-server", bad_service, WAIT_MS), 2);
    char *bad_timeout[] = {"--timeout", "-1", NULL};
    assert_int_equal(proc_run(&p, "tcp-client", bad_timeout, WAIT_MS), 2);
}

static void test_port_in_use_and_bad_host_exit_1(void **state)
{
    (void)state;
    struct server_fixture f;
    char *sargs[] = {"--port", "0", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc p;
    char *same[] = {"--port", f.port, NULL};
    assert_int_equal(proc_run(&p, "tcp-time-server", same, WAIT_MS), 1);
    assert_non_null(strstr(p.err, "bind 127.0.0.1:"));
    assert_non_null(strstr(p.err, "Address already in use"));
    proc_stop(&f.server);
    assert_int_equal(f.server.run.status, 0);

    char *bad_host[] = {"--host", "no-such-host.invalid", NULL};
    assert_int_equal(proc_run(&p, "tcp-client", bad_host, WAIT_MS), 1);
    assert_non_null(strstr(p.err, "cannot resolve host 'no-such-host.invalid'"));
}

static void test_client_rejects_non_time_reply(void **state)
{
    (void)state;
    /* An echo server is not a time server: the strict check must say so. */
    struct server_fixture f;
    char *sargs[] = {"--port", "0", "--service", "echo", "--count", "1", NULL};
    start_server(&f, "tcp-time-server", sargs);
    struct proc c;
    char *cargs[] = {"--port", f.port, "--send", "Current time is soon", "--shutdown-write",
                     "--expect", "time", NULL};
    assert_int_equal(proc_run(&c, "tcp-client", cargs, WAIT_MS), 1);
    assert_non_null(strstr(c.err, "not a time message"));
    proc_wait(&f.server, WAIT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_ipv4),
        cmocka_unit_test(test_time_ipv6),
        cmocka_unit_test(test_time_client_sends_first_is_drained),
        cmocka_unit_test(test_echo_half_close_ipv4),
        cmocka_unit_test(test_echo_half_close_ipv6),
        cmocka_unit_test(test_echo_client_closes_first),
        cmocka_unit_test(test_time_client_closes_after_reply),
        cmocka_unit_test(test_discard),
        cmocka_unit_test(test_idle_client_does_not_block_others),
        cmocka_unit_test(test_idle_connection_closed_at_deadline),
        cmocka_unit_test(test_udp_hello_ipv4),
        cmocka_unit_test(test_udp_hello_ipv6),
        cmocka_unit_test(test_udp_echo_and_escape),
        cmocka_unit_test(test_udp_oversize_truncated),
        cmocka_unit_test(test_udp_echo_refuses_low_port),
        cmocka_unit_test(test_udp_closed_port_refused),
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_bad_options_exit_2),
        cmocka_unit_test(test_port_in_use_and_bad_host_exit_1),
        cmocka_unit_test(test_client_rejects_non_time_reply),
    };
    return cmocka_run_group_tests_name("programs", tests, NULL, NULL);
}
