/* netns: a private namespace really isolates (a port bound inside is not
 * reachable outside, an interface made inside is not visible outside), the
 * veth topology carries a fragmented datagram between its two hosts, the
 * slow class of the slow-teardown fault holds what is steered into it (and
 * nothing else), and the namespace is gone once its process is. Skipped
 * where namespaces cannot be made (the message says why). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "nft.h"
#include "tc.h"

/* What the namespace child tells the test. */
struct report {
    int ok;
    char err[512];
    unsigned port;
    unsigned long ns_inode;
};

static bool namespaces_available(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        char err[512];
        if (!netns_enter_private(err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            _exit(1);
        }
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Runs body in a forked child (which may enter namespaces of its own) and
 * returns what it reported; body's result is the report's ok. */
static struct report run_in_child(bool (*body)(struct report *))
{
    int up[2];
    assert_int_equal(pipe(up), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct report r = { 0 };
        r.ok = body(&r);
        (void)!write(up[1], &r, sizeof r);
        _exit(0);
    }
    struct report r;
    assert_int_equal(read(up[0], &r, sizeof r), (ssize_t)sizeof r);
    waitpid(pid, NULL, 0);
    close(up[0]);
    close(up[1]);
    return r;
}

static unsigned long current_netns_inode(void)
{
    struct stat st;
    return stat("/proc/self/ns/net", &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* Any process on the system still in network namespace `inode`? */
static bool netns_in_use(unsigned long inode)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char path[300];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%s/ns/net", e->d_name);
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && stat(path, &st) == 0)
            found = (unsigned long)st.st_ino == inode;
    }
    closedir(d);
    return found;
}

static int listen_loopback(unsigned *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

static void test_port_inside_is_invisible_outside(void **state)
{
    (void)state;
    if (!namespaces_available())
        skip();
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct report r = { 0 };
        if (netns_enter_private(r.err, sizeof r.err) && listen_loopback(&r.port) >= 0)
            r.ok = 1;
        r.ns_inode = current_netns_inode();
        (void)!write(up[1], &r, sizeof r);
        char c;
        (void)!read(down[0], &c, 1); /* hold the namespace until told */
        _exit(0);
    }
    struct report r;
    assert_int_equal(read(up[0], &r, sizeof r), (ssize_t)sizeof r);
    if (!r.ok)
        fail_msg("namespace child: %s", r.err);
    assert_int_not_equal(r.ns_inode, current_netns_inode());

    /* The port listening inside is closed out here. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(s);
    assert_true(netns_in_use(r.ns_inode));

    assert_int_equal(write(down[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_false(netns_in_use(r.ns_inode));
}

/* In the namespace child: a UDP datagram of 3000 bytes from the client host
 * to the server host over the 1500-byte veth. */
static bool veth_carries_fragmented_datagram(struct report *r)
{
    struct netns_env env;
    if (!netns_enter_private(r->err, sizeof r->err) ||
        !netns_build(&env, NETNS_VETH, r->err, sizeof r->err))
        return false;
    int srv = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5000) };
    inet_pton(AF_INET, NETNS_SERVER_IPV4, &a.sin_addr);
    if (srv < 0 || bind(srv, (struct sockaddr *)&a, sizeof a) < 0) {
        snprintf(r->err, sizeof r->err, "bind %s:5000: %s", NETNS_SERVER_IPV4, strerror(errno));
        return false;
    }
    if (!netns_enter_client(&env, r->err, sizeof r->err))
        return false;
    static char big[3000];
    int cli = socket(AF_INET, SOCK_DGRAM, 0);
    if (cli < 0 || sendto(cli, big, sizeof big, 0, (struct sockaddr *)&a, sizeof a) != sizeof big) {
        snprintf(r->err, sizeof r->err, "sendto %s:5000: %s", NETNS_SERVER_IPV4, strerror(errno));
        return false;
    }
    struct pollfd p = { .fd = srv, .events = POLLIN };
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    static char got[4000];
    if (poll(&p, 1, 2000) != 1 ||
        recvfrom(srv, got, sizeof got, 0, (struct sockaddr *)&from, &flen) != sizeof big) {
        snprintf(r->err, sizeof r->err, "no 3000-byte datagram at the server");
        return false;
    }
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from.sin_addr, text, sizeof text);
    if (strcmp(text, NETNS_CLIENT_IPV4) != 0) {
        snprintf(r->err, sizeof r->err, "datagram came from %s", text);
        return false;
    }
    return true;
}

static void test_veth_topology(void **state)
{
    (void)state;
    if (!namespaces_available())
        skip();
    struct report r = run_in_child(veth_carries_fragmented_datagram);
    if (!r.ok)
        fail_msg("veth: %s", r.err);
    /* Nothing of it leaked to the namespace the test runs in. */
    assert_int_equal(if_nametoindex(NETNS_SERVER_IF), 0);
    assert_int_equal(if_nametoindex(NETNS_CLIENT_IF), 0);
}

/* A good ruleset loads; a bad one fails with nft's own message in r->err. */
static bool nft_loads_good_and_reports_bad(struct report *r)
{
    char ignored[512];
    bool ok = netns_enter_private(r->err, sizeof r->err) &&
              nft_load_ruleset("table inet t {\n chain c {\n  type filter hook input priority 0;\n"
                             "  udp dport 9 drop\n }\n}\n", r->err, sizeof r->err) &&
              !nft_load_ruleset("table inet t { nonsense }\n", ignored, sizeof ignored);
    if (ok)
        snprintf(r->err, sizeof r->err, "%s", ignored);
    return ok;
}

static void test_nft_errors_are_reported(void **state)
{
    (void)state;
    if (!namespaces_available() || system("command -v nft >/dev/null 2>&1") != 0)
        skip();
    struct report r = run_in_child(nft_loads_good_and_reports_bad);
    if (!r.ok)
        fail_msg("nft: %s", r.err);
    assert_non_null(strstr(r.err, "nft"));
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int udp_bound(uint16_t port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        close(s);
        s = -1;
    }
    return s;
}

static bool send_to(int s, uint16_t port, size_t len)
{
    static const char bytes[200];
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    return sendto(s, bytes, len, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)len;
}

/* In the namespace child: datagrams A then B to port 5001 are steered into
 * the slow class (2500 bytes/s), C to port 5002 right after them is not.
 * A (100 bytes: 142 on the wire with the link header) leaves at once; B waits
 * the 57 ms A takes at that rate; C overtakes B. */
static bool slow_class_holds_what_is_steered(struct report *r)
{
    if (!netns_enter_private(r->err, sizeof r->err) ||
        !tc_add_slow_class("lo", 2, 2500, r->err, sizeof r->err) ||
        !nft_load_ruleset("table inet t {\n chain out {\n  type filter hook output priority 0;\n"
                        "  udp dport 5001 meta priority set 1:2\n }\n}\n", r->err, sizeof r->err))
        return false;
    int slow = udp_bound(5001), fast = udp_bound(5002), out = socket(AF_INET, SOCK_DGRAM, 0);
    if (slow < 0 || fast < 0 || out < 0) {
        snprintf(r->err, sizeof r->err, "UDP sockets on 127.0.0.1: %s", strerror(errno));
        return false;
    }
    int64_t sent = now_us();
    if (!send_to(out, 5001, 100) || !send_to(out, 5001, 10) || !send_to(out, 5002, 10)) {
        snprintf(r->err, sizeof r->err, "sendto: %s", strerror(errno));
        return false;
    }
    char order[4] = "", buf[256];
    int64_t b_after_us = 0;
    for (size_t got = 0; got < 3;) {
        struct pollfd p[2] = { { .fd = slow, .events = POLLIN }, { .fd = fast, .events = POLLIN } };
        if (poll(p, 2, 2000) <= 0) {
            snprintf(r->err, sizeof r->err, "datagrams missing after 2 s (got '%s')", order);
            return false;
        }
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
            order[got++] = n == 100 ? 'A' : i == 0 ? 'B' : 'C';
            if (n == 10 && i == 0)
                b_after_us = now_us() - sent;
        }
    }
    if (strcmp(order, "ACB") != 0 || b_after_us < 45000) {
        snprintf(r->err, sizeof r->err, "order %s (expected ACB), B after %lld us (expected >= 45 ms)",
                 order, (long long)b_after_us);
        return false;
    }
    return true;
}

static void test_slow_class(void **state)
{
    (void)state;
    if (!namespaces_available() || system("command -v nft >/dev/null 2>&1") != 0)
        skip();
    struct report r = run_in_child(slow_class_holds_what_is_steered);
    if (!r.ok)
        fail_msg("slow class: %s", r.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_inside_is_invisible_outside),
        cmocka_unit_test(test_veth_topology),
        cmocka_unit_test(test_nft_errors_are_reported),
        cmocka_unit_test(test_slow_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
