/* Address parsing/formatting and the socket helpers of core/netaddr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"

/* ------------------------------------------------------------- parsing */

static void test_parse_port(void **state)
{
    (void)state;
    static const struct { const char *s; long want; } ok[] = {
        {"0", 0}, {"1", 1}, {"80", 80}, {"3434", 3434}, {"65535", 65535}, {"00080", 80},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint16_t p = 12345;
        if (!net_parse_port(ok[i].s, &p))
            fail_msg("\"%s\" refused", ok[i].s);
        assert_int_equal(p, ok[i].want);
    }
    static const char *bad[] = {
        "", " ", "65536", "65537", "99999", "100000", "4294967296", "18446744073709551616",
        "-1", "+1", "-0", " 80", "80 ", "8 0", "80\n", "0x50", "1.5", ".5", "1.", "abc",
        "80a", "a80", "1e3", "\t1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint16_t p = 12345;
        if (net_parse_port(bad[i], &p))
            fail_msg("\"%s\" accepted as %u", bad[i], p);
        assert_int_equal(p, 12345); /* untouched */
    }
    uint16_t p = 1;
    assert_false(net_parse_port(NULL, &p));
}

static void test_parse_uint(void **state)
{
    (void)state;
    unsigned long v = 7;
    assert_true(net_parse_uint("0", 10, &v));
    assert_int_equal(v, 0);
    assert_true(net_parse_uint("10", 10, &v));
    assert_int_equal(v, 10);
    assert_false(net_parse_uint("11", 10, &v));
    assert_true(net_parse_uint("1000", 1000, &v));
    assert_false(net_parse_uint("1001", 1000, &v));
    assert_true(net_parse_uint("18446744073709551615", ULONG_MAX, &v));
    assert_true(v == ULONG_MAX);
    assert_false(net_parse_uint("18446744073709551616", ULONG_MAX, &v));
    assert_false(net_parse_uint("99999999999999999999999", ULONG_MAX, &v));
    v = 7;
    static const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1.5", ".5", "1.", "abc", "1a", "0x1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(net_parse_uint(bad[i], 100, &v));
    assert_false(net_parse_uint(NULL, 100, &v));
    assert_int_equal(v, 7);
    /* a bound with more digits than the value: every digit counts */
    assert_false(net_parse_uint("65536", 65535, &v));
    assert_true(net_parse_uint("65535", 65535, &v));
}

/* Regression (fixed): netaddr.c net_parse_uint() checks `v > (max - digit) / 10` with
 * unsigned arithmetic; when digit > max, max - digit wraps to a huge value
 * and the check passes, so a single digit above a bound below 9 is
 * accepted: net_parse_uint("7", 5, &v) returns true with v = 7, and
 * net_parse_uint("9", 0, &v) returns true with v = 9. Expected false. */
static void test_parse_uint_small_bound(void **state)
{
    (void)state;
    unsigned long v = 42;
    assert_true(net_parse_uint("5", 5, &v));
    assert_int_equal(v, 5);
    v = 42;
    bool accepted = net_parse_uint("7", 5, &v);
    if (accepted)
        fail_msg("net_parse_uint(\"7\", max 5) accepted, v = %lu", v);
    accepted = net_parse_uint("9", 0, &v);
    if (accepted)
        fail_msg("net_parse_uint(\"9\", max 0) accepted, v = %lu", v);
    assert_false(net_parse_uint("1", 0, &v));
}

static void test_parse_seconds(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t ms; } ok[] = {
        {"2", 2000}, {"0.25", 250}, {"1.5", 1500}, {".5", 500}, {"1.", 1000},
        {"0.001", 1}, {"0.0019", 1}, {"10", 10000}, {"31536000", 31536000000LL},
        {"3.14159", 3141},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -5;
        if (!net_parse_seconds(ok[i].s, &ms))
            fail_msg("\"%s\" refused", ok[i].s);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *bad[] = {
        "", ".", "0", "0.0", "0.0001", "-1", "+1", " 1", "1 ", "1..5", "1.5.", "abc", "1s",
        "1e3", "31536001", "99999999999999999999", "1,5", "inf", "nan",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -5;
        if (net_parse_seconds(bad[i], &ms))
            fail_msg("\"%s\" accepted as %lld ms", bad[i], (long long)ms);
        assert_int_equal(ms, -5);
    }
    int64_t ms;
    assert_false(net_parse_seconds(NULL, &ms));
}

/* ------------------------------------------------------ format, resolve */

static void test_format(void **state)
{
    (void)state;
    char out[NET_ADDRSTR_LEN];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(3434)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    net_format((struct sockaddr *)&sin, sizeof sin, out);
    assert_string_equal(out, "127.0.0.1:3434");
    sin.sin_port = 0;
    inet_pton(AF_INET, "255.255.255.255", &sin.sin_addr);
    net_format((struct sockaddr *)&sin, sizeof sin, out);
    assert_string_equal(out, "255.255.255.255:0");

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(65535)};
    inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
    net_format((struct sockaddr *)&sin6, sizeof sin6, out);
    assert_string_equal(out, "[::1]:65535");
    inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", &sin6.sin6_addr);
    net_format((struct sockaddr *)&sin6, sizeof sin6, out);
    assert_string_equal(out, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
    sin6.sin6_port = htons(80);
    net_format((struct sockaddr *)&sin6, sizeof sin6, out);
    assert_string_equal(out, "[::ffff:192.0.2.7]:80");

    /* a length too short for the family is not read past */
    net_format((struct sockaddr *)&sin6, sizeof sin, out);
    assert_string_equal(out, "(address family 10)");
    struct sockaddr sa = {.sa_family = AF_UNIX};
    net_format(&sa, sizeof sa, out);
    assert_string_equal(out, "(address family 1)");
}

/* net_put_addr writes what net_format writes, whatever the address. */
static void expect_put_same(const struct sockaddr *sa, socklen_t len)
{
    char want[NET_ADDRSTR_LEN], got[NET_ADDRSTR_LEN + 8];
    net_format(sa, len, want);
    char *end = net_put_addr(got, sa, len);
    *end = '\0';
    assert_string_equal(got, want);
    assert_true((size_t)(end - got) < NET_ADDRSTR_LEN);
}

static void test_put_addr_matches_format(void **state)
{
    (void)state;
    static const char *const v4[] = {"0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255",
                                     "192.0.2.7"};
    static const uint16_t ports[] = {0, 7, 80, 3434, 65535};
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
        for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++) {
            struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(ports[k])};
            assert_int_equal(inet_pton(AF_INET, v4[i], &sin.sin_addr), 1);
            expect_put_same((struct sockaddr *)&sin, sizeof sin);
            expect_put_same((struct sockaddr *)&sin, sizeof sin - 1); /* too short: as net_format */
        }
    }
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(65535)};
    assert_int_equal(inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &sin6.sin6_addr), 1);
    expect_put_same((struct sockaddr *)&sin6, sizeof sin6);
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr), 1);
    expect_put_same((struct sockaddr *)&sin6, sizeof sin6);
    struct sockaddr sa = {.sa_family = AF_UNIX};
    expect_put_same(&sa, sizeof sa);
}

static void test_port_of_and_same_endpoint(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};
    struct sockaddr_in b = a;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
    assert_int_equal(net_port_of((struct sockaddr *)&a), 40000);
    assert_true(net_same_endpoint((struct sockaddr *)&a, (struct sockaddr *)&b));
    b.sin_port = htons(40001);
    assert_false(net_same_endpoint((struct sockaddr *)&a, (struct sockaddr *)&b));
    b.sin_port = a.sin_port;
    inet_pton(AF_INET, "127.0.0.2", &b.sin_addr);
    assert_false(net_same_endpoint((struct sockaddr *)&a, (struct sockaddr *)&b));

    struct sockaddr_in6 x = {.sin6_family = AF_INET6, .sin6_port = htons(53)};
    struct sockaddr_in6 y = x;
    inet_pton(AF_INET6, "::1", &x.sin6_addr);
    inet_pton(AF_INET6, "::1", &y.sin6_addr);
    assert_int_equal(net_port_of((struct sockaddr *)&x), 53);
    assert_true(net_same_endpoint((struct sockaddr *)&x, (struct sockaddr *)&y));
    inet_pton(AF_INET6, "::2", &y.sin6_addr);
    assert_false(net_same_endpoint((struct sockaddr *)&x, (struct sockaddr *)&y));
    assert_false(net_same_endpoint((struct sockaddr *)&a, (struct sockaddr *)&x));

    struct sockaddr u = {.sa_family = AF_UNIX};
    assert_int_equal(net_port_of(&u), 0);
    assert_false(net_same_endpoint(&u, &u));
}

static void test_resolve(void **state)
{
    (void)state;
    struct net_addr a;
    char err[NET_ERR_LEN] = "";
    char out[NET_ADDRSTR_LEN];
    assert_int_equal(net_resolve("127.0.0.1", 3434, SOCK_STREAM, &a, err), 0);
    assert_int_equal(a.ss.ss_family, AF_INET);
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
    net_format((struct sockaddr *)&a.ss, a.len, out);
    assert_string_equal(out, "127.0.0.1:3434");

    assert_int_equal(net_resolve("::1", 0, SOCK_DGRAM, &a, err), 0);
    assert_int_equal(a.ss.ss_family, AF_INET6);
    assert_int_equal(a.len, sizeof(struct sockaddr_in6));
    net_format((struct sockaddr *)&a.ss, a.len, out);
    assert_string_equal(out, "[::1]:0");

    /* a name from /etc/hosts (no DNS needed) */
    assert_int_equal(net_resolve("localhost", 80, SOCK_STREAM, &a, err), 0);
    assert_int_equal(net_port_of((struct sockaddr *)&a.ss), 80);

    /* a failure (here an unsupported socket type, so no DNS is asked):
     * -1 and a message naming the host */
    memset(err, 0, sizeof err);
    assert_int_equal(net_resolve("127.0.0.1", 80, 12345, &a, err), -1);
    assert_non_null(strstr(err, "cannot resolve host '127.0.0.1': "));
    assert_int_equal(net_resolve("127.0.0.1", 80, 12345, &a, NULL), -1);
}

/* ------------------------------------------------------------- sockets */

static void loopback(struct net_addr *a, uint16_t port)
{
    char err[NET_ERR_LEN];
    assert_int_equal(net_resolve("127.0.0.1", port, SOCK_STREAM, a, err), 0);
}

static void test_tcp_listen_ephemeral(void **state)
{
    (void)state;
    struct net_addr a, bound;
    char err[NET_ERR_LEN] = "";
    loopback(&a, 0);
    int fd = net_tcp_listen(&a, 16, &bound, err);
    assert_true(fd >= 0);
    assert_int_equal(bound.ss.ss_family, AF_INET);
    uint16_t port = net_port_of((struct sockaddr *)&bound.ss);
    assert_true(port != 0);
    /* non-blocking, close-on-exec, really listening */
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int listening = 0;
    socklen_t len = sizeof listening;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
    assert_int_equal(listening, 1);

    /* a client connects to it */
    int e = -1;
    int c = net_tcp_connect(&bound, 2000, &e, err);
    assert_true(c >= 0);
    assert_int_equal(e, 0);
    close(c);
    close(fd);

    /* bound may be NULL */
    fd = net_tcp_listen(&a, 1, NULL, err);
    assert_true(fd >= 0);
    close(fd);
}

static void test_tcp_listen_same_port_twice(void **state)
{
    (void)state;
    struct net_addr a, bound;
    char err[NET_ERR_LEN] = "";
    loopback(&a, 0);
    int fd = net_tcp_listen(&a, 16, &bound, err);
    assert_true(fd >= 0);
    uint16_t port = net_port_of((struct sockaddr *)&bound.ss);

    struct net_addr again;
    loopback(&again, port);
    memset(err, 0, sizeof err);
    assert_int_equal(net_tcp_listen(&again, 16, NULL, err), -1);
    char want[NET_ERR_LEN];
    snprintf(want, sizeof want, "bind 127.0.0.1:%u: %s", port, strerror(EADDRINUSE));
    assert_string_equal(err, want);
    /* err may be NULL */
    assert_int_equal(net_tcp_listen(&again, 16, NULL, NULL), -1);
    close(fd);
}

static void test_udp_bind(void **state)
{
    (void)state;
    struct net_addr a, bound;
    char err[NET_ERR_LEN] = "";
    assert_int_equal(net_resolve("127.0.0.1", 0, SOCK_DGRAM, &a, err), 0);
    int fd = net_udp_bind(&a, &bound, err);
    assert_true(fd >= 0);
    uint16_t port = net_port_of((struct sockaddr *)&bound.ss);
    assert_true(port != 0);
    int type = 0;
    socklen_t len = sizeof type;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
    assert_int_equal(type, SOCK_DGRAM);
    struct net_addr again;
    assert_int_equal(net_resolve("127.0.0.1", port, SOCK_DGRAM, &again, err), 0);
    assert_int_equal(net_udp_bind(&again, NULL, err), -1);
    char want[NET_ERR_LEN];
    snprintf(want, sizeof want, "bind 127.0.0.1:%u: %s", port, strerror(EADDRINUSE));
    assert_string_equal(err, want);

    /* a connected UDP socket to it */
    int c = net_udp_connect(&bound, err);
    assert_true(c >= 0);
    assert_int_equal(send(c, "hi", 2, 0), 2);
    close(c);
    close(fd);
}

static void test_tcp_connect_refused(void **state)
{
    (void)state;
    /* a port bound but not listening: nobody else can take it meanwhile */
    struct net_addr a;
    char err[NET_ERR_LEN] = "";
    loopback(&a, 0);
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(holder >= 0);
    assert_int_equal(bind(holder, (struct sockaddr *)&a.ss, a.len), 0);
    struct net_addr closed;
    closed.len = sizeof closed.ss;
    assert_int_equal(getsockname(holder, (struct sockaddr *)&closed.ss, &closed.len), 0);
    uint16_t port = net_port_of((struct sockaddr *)&closed.ss);

    int e = 0;
    assert_int_equal(net_tcp_connect(&closed, 2000, &e, err), -1);
    assert_int_equal(e, ECONNREFUSED);
    char want[NET_ERR_LEN];
    snprintf(want, sizeof want, "connect 127.0.0.1:%u: %s", port, strerror(ECONNREFUSED));
    assert_string_equal(err, want);
    close(holder);
}

static void test_tcp_listen_v6(void **state)
{
    (void)state;
    struct net_addr a, bound;
    char err[NET_ERR_LEN] = "";
    assert_int_equal(net_resolve("::1", 0, SOCK_STREAM, &a, err), 0);
    int fd = net_tcp_listen(&a, 4, &bound, err);
    if (fd < 0)
        skip(); /* no IPv6 loopback in this environment */
    assert_int_equal(bound.ss.ss_family, AF_INET6);
    char out[NET_ADDRSTR_LEN], want[NET_ADDRSTR_LEN];
    net_format((struct sockaddr *)&bound.ss, bound.len, out);
    snprintf(want, sizeof want, "[::1]:%u", net_port_of((struct sockaddr *)&bound.ss));
    assert_string_equal(out, want);
    int v6only = 0;
    socklen_t len = sizeof v6only;
    assert_int_equal(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
    assert_int_equal(v6only, 1);
    int e;
    int c = net_tcp_connect(&bound, 2000, &e, err);
    assert_true(c >= 0);
    close(c);
    close(fd);
}

static void test_abortive_close(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(net_set_abortive_close(fd), 0);
    struct linger lg;
    socklen_t len = sizeof lg;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len), 0);
    assert_int_equal(lg.l_onoff, 1);
    assert_int_equal(lg.l_linger, 0);
    close(fd);
    assert_int_equal(net_set_abortive_close(-1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_port),
        cmocka_unit_test(test_parse_uint),
        cmocka_unit_test(test_parse_uint_small_bound),
        cmocka_unit_test(test_parse_seconds),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_put_addr_matches_format),
        cmocka_unit_test(test_port_of_and_same_endpoint),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_tcp_listen_ephemeral),
        cmocka_unit_test(test_tcp_listen_same_port_twice),
        cmocka_unit_test(test_udp_bind),
        cmocka_unit_test(test_tcp_connect_refused),
        cmocka_unit_test(test_tcp_listen_v6),
        cmocka_unit_test(test_abortive_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
