/* socktable: rows of /proc/net/{tcp,udp}[6] and a real listening socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socktable.h"

static void test_rows(void **state)
{
    (void)state;
    const char *listen4 = "   0: 0100007F:0D6A 00000000:0000 0A 00000000:00000000 00:00000000 "
                          "00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";
    const char *est4 = "   1: 0100007F:0D6A 0100007F:B1C2 01 00000000:00000000 00:00000000 "
                       "00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1";
    const char *listen6 = "   0: 00000000000000000000000000000000:0D6A "
                          "00000000000000000000000000000000:0000 0A 00000000:00000000 "
                          "00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0";
    const char *udp = "  12: 00000000:0D6A 00000000:0000 07 00000000:00000000 00:00000000 "
                      "00000000     0        0 999 2 0000000000000000 0";
    const char *header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when";
    assert_true(socktable_line_matches(listen4, SOCKTABLE_TCP, 3434));
    assert_false(socktable_line_matches(listen4, SOCKTABLE_TCP, 3435));
    assert_false(socktable_line_matches(est4, SOCKTABLE_TCP, 3434)); /* connected, not listening */
    assert_true(socktable_line_matches(listen6, SOCKTABLE_TCP, 3434));
    assert_true(socktable_line_matches(udp, SOCKTABLE_UDP, 3434));
    assert_false(socktable_line_matches(header, SOCKTABLE_TCP, 3434));
    assert_false(socktable_line_matches("", SOCKTABLE_UDP, 3434));
}

static void test_live_socket(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    unsigned port = ntohs(a.sin_port);
    char err[256];
    bool found = true;
    assert_true(socktable_port_bound(SOCKTABLE_TCP, port, &found, err, sizeof err));
    assert_false(found); /* bound, not yet listening */
    assert_int_equal(listen(s, 1), 0);
    assert_true(socktable_port_bound(SOCKTABLE_TCP, port, &found, err, sizeof err));
    assert_true(found);
    close(s);

    int u = socket(AF_INET6, SOCK_DGRAM, 0);
    assert_true(u >= 0);
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    len = sizeof a6;
    assert_int_equal(bind(u, (struct sockaddr *)&a6, sizeof a6), 0);
    assert_int_equal(getsockname(u, (struct sockaddr *)&a6, &len), 0);
    assert_true(socktable_port_bound(SOCKTABLE_UDP, ntohs(a6.sin6_port), &found, err, sizeof err));
    assert_true(found);
    close(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_live_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
