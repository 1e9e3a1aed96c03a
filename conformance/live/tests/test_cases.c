/* The .case parser: good files, bad files with the line of the mistake, the
 * built-in matrix, fault rulesets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cases.h"
#include "faults.h"

static struct case_spec spec;
static char err[512];

static void test_good_case(void **state)
{
    (void)state;
    const char *text =
        "# a comment\n"
        "description  the server closes first  \n"
        "family ipv6\n"
        "topology veth\n"
        "port 4000\n"
        "timeout 1500\n"
        "server tcp-time-server --bind {host} --port {port} --count 1\n"
        "client python3 -c 'print(\"x\")'\n"
        "fault drop-first-syn\n"
        "fault drop-percent 25\n"
        "fault nft \"udp dport 4000 drop\"\n"
        "expect tcp.teardown.first_fin info \"server \\\"quoted\\\"\"\n"
        "expect tcp.no_rst pass\n"
        "expect client-exit 0\n"
        "expect server-output \"Listening on\"\r\n";
    assert_true(case_parse_text(text, "dir/my-case.case", &spec, err, sizeof err));
    assert_string_equal(spec.name, "my-case");
    assert_string_equal(spec.description, "the server closes first");
    assert_false(spec.ipv4);
    assert_true(spec.ipv6);
    assert_int_equal(spec.topology, NETNS_VETH);
    assert_int_equal(spec.port, 4000);
    assert_int_equal(spec.timeout_ms, 1500);
    assert_string_equal(spec.server, "tcp-time-server --bind {host} --port {port} --count 1");
    assert_string_equal(spec.client, "python3 -c 'print(\"x\")'");
    assert_int_equal(spec.nfaults, 3);
    assert_int_equal(spec.faults[1].kind, FAULT_DROP_PERCENT);
    assert_int_equal(spec.faults[1].percent, 25);
    assert_string_equal(spec.faults[2].rule, "udp dport 4000 drop");
    assert_int_equal(spec.nexpects, 4);
    assert_int_equal(spec.expects[0].kind, EXPECT_RULE);
    assert_int_equal(spec.expects[0].line, 12);
    assert_string_equal(spec.expects[0].rule_id, "tcp.teardown.first_fin");
    assert_int_equal(spec.expects[0].verdict, VERDICT_INFO);
    assert_string_equal(spec.expects[0].text, "server \"quoted\"");
    assert_int_equal(spec.expects[2].kind, EXPECT_CLIENT_EXIT);
    assert_int_equal(spec.expects[3].kind, EXPECT_SERVER_OUTPUT);
    assert_string_equal(spec.expects[3].text, "Listening on");
}

static void test_defaults_and_no_server(void **state)
{
    (void)state;
    assert_true(case_parse_text("server none\nclient true\n", "x.case", &spec, err, sizeof err));
    assert_true(spec.ipv4 && spec.ipv6);
    assert_int_equal(spec.topology, NETNS_LOOPBACK);
    assert_int_equal(spec.port, CASE_DEFAULT_PORT);
    assert_string_equal(spec.server, "");
    assert_string_equal(spec.client, "true");
}

/* Each bad text must fail with "origin:LINE:" and the given words. */
static void expect_error(const char *text, const char *where, const char *words)
{
    err[0] = '\0';
    assert_false(case_parse_text(text, "bad.case", &spec, err, sizeof err));
    if (!strstr(err, where) || !strstr(err, words))
        fail_msg("error '%s' lacks '%s' or '%s'", err, where, words);
}

static void test_case_names(void **state)
{
    (void)state;
    assert_true(case_name_is_safe("time"));
    assert_true(case_name_is_safe("my_case.v2+tls-1"));
    assert_true(case_name_is_safe("A"));
    static const char long63[] = "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc";
    assert_true(case_name_is_safe(long63));
    assert_false(case_name_is_safe(""));
    assert_false(case_name_is_safe(".."));
    assert_false(case_name_is_safe("a b"));
    assert_false(case_name_is_safe("a\\b"));
    char long64[65];
    memset(long64, 'a', 64);
    long64[64] = '\0';
    assert_false(case_name_is_safe(long64));
    /* No `name` line: the file's name is the case's, and must be as safe. */
    assert_false(case_parse_text("client x\n", "dir/bad name.case", &spec, err, sizeof err));
    assert_non_null(strstr(err, "dir/bad name.case: the file's name does not make a case name"));
    assert_true(case_parse_text("client x\nname good\n", "dir/bad name.case", &spec, err, sizeof err));
    assert_string_equal(spec.name, "good");
}

static void test_bad_cases_name_the_line(void **state)
{
    (void)state;
    expect_error("client x\n\nbogus 1\n", "bad.case:3:", "unknown keyword 'bogus'");
    expect_error("client x\nexpect tcp.no_such_rule pass\n", "bad.case:2:", "unknown rule id");
    expect_error("client x\nexpect tcp.no_rst maybe\n", "bad.case:2:", "unknown verdict 'maybe'");
    expect_error("client x\nexpect client-exit 300\n", "bad.case:2:", "bad exit status");
    expect_error("client x\nexpect client-output \"open\n", "bad.case:2:", "unterminated quote");
    expect_error("# c\nfamily ipv5\nclient x\n", "bad.case:2:", "unknown family");
    expect_error("port 70000\nclient x\n", "bad.case:1:", "bad port");
    expect_error("client x\nfault drop-percent 101\n", "bad.case:2:", "bad percentage");
    expect_error("client x\nfault nft \"a } b\"\n", "bad.case:2:", "one rule");
    expect_error("client x\nfault explode\n", "bad.case:2:", "unknown fault");
    expect_error("client x\ntopology star\n", "bad.case:2:", "unknown topology");
    expect_error("client x\nexpect whatever 1\n", "bad.case:2:", "unknown expectation");
    expect_error("client\n", "bad.case:1:", "needs a value");
    /* A name becomes OUT/NAME-ipv4.pcapng: nothing that leaves OUT or hides. */
    expect_error("client x\nname ../escaped\n", "bad.case:2:", "name: 1 to 63 letters");
    expect_error("name a/b\nclient x\n", "bad.case:1:", "name: 1 to 63 letters");
    expect_error("name .hidden\nclient x\n", "bad.case:1:", "not starting with '.' or '-'");
    expect_error("name -rf\nclient x\n", "bad.case:1:", "name:");
    expect_error("name x\x1b[2Jy\nclient x\n", "bad.case:1:", "name:");
    expect_error("name \xe2\x80\xae" "evil\nclient x\n", "bad.case:1:", "name:");
    expect_error("server x\n", "bad.case", "no client command");
    expect_error("client x {hots}\n", "bad.case:1:", "unknown placeholder '{hots}'");
    expect_error("client x\nserves chargen\n", "bad.case:2:", "unknown service 'chargen'");
    expect_error("client x\nreference both\n", "bad.case:2:", "reference: 'server' or 'client'");
    expect_error("client x\nexpect server-sends \"a(\"\n", "bad.case:2:", "bad regular expression");
    expect_error("client x\nexpect server-echoes 1\n", "bad.case:2:", "usage: expect server-echoes");
}

/* Roles and wire expectations. */
static void test_roles_and_wire_expectations(void **state)
{
    (void)state;
    assert_true(case_parse_text("serves udp-echo\nreference server\nclient c\n"
                                "expect server-echoes\nexpect client-sends \"^Hello\"\n",
                                "r.case", &spec, err, sizeof err));
    assert_int_equal(spec.serves, SERVES_UDP_ECHO);
    assert_true(spec.reference_server);
    assert_false(spec.reference_client);
    assert_int_equal(spec.expects[0].kind, EXPECT_SERVER_ECHOES);
    assert_int_equal(spec.expects[1].kind, EXPECT_CLIENT_SENDS);
    assert_string_equal(spec.expects[1].text, "^Hello");
    assert_string_equal(case_service_name(SERVES_UDP_RECEIVE), "udp-receive");
}

static void test_builtin_matrix_parses(void **state)
{
    (void)state;
    const char *dir = WIRECHECK_SOURCE_DIR "/conformance/cases";
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t parsed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".case") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!case_parse_file(path, &spec, err, sizeof err))
            fail_msg("%s", err);
        assert_true(spec.nexpects > 0);
        parsed++;
    }
    closedir(d);
    assert_true(parsed >= 12);
}

static void test_missing_file(void **state)
{
    (void)state;
    assert_false(case_parse_file("/nonexistent/x.case", &spec, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x.case"));
}

static void test_fault_ruleset(void **state)
{
    (void)state;
    char rules[2048];
    assert_true(case_parse_text("client x\n", "x.case", &spec, err, sizeof err));
    case_fault_ruleset(&spec, 3434, rules, sizeof rules);
    assert_string_equal(rules, "");
    assert_true(case_parse_text("client x\nfault drop-first-syn\nfault reset\n", "x.case", &spec,
                                err, sizeof err));
    case_fault_ruleset(&spec, 4242, rules, sizeof rules);
    assert_non_null(strstr(rules, "table inet wirecheck"));
    assert_non_null(strstr(rules, "tcp dport 4242 tcp flags & (syn | ack) == syn tcp sport != @syn_seen"));
    assert_non_null(strstr(rules, "reject with tcp reset"));
}

static void test_slow_teardown_fault(void **state)
{
    (void)state;
    char rules[4096];
    assert_true(case_parse_text("client x\n", "x.case", &spec, err, sizeof err));
    assert_false(case_needs_slow_class(&spec));
    assert_true(case_parse_text("client x\nfault slow-teardown\n", "x.case", &spec, err, sizeof err));
    assert_int_equal(spec.nfaults, 1);
    assert_int_equal(spec.faults[0].kind, FAULT_SLOW_TEARDOWN);
    assert_true(case_needs_slow_class(&spec));
    assert_false(spec.loss_injected); /* it delays, it drops nothing */
    case_fault_ruleset(&spec, 4242, rules, sizeof rules);
    /* On the way out, with the port filled in: the connection's first FIN
     * (either side) puts its client port in the set ... */
    assert_non_null(strstr(rules, "chain output {\n    type filter hook output priority filter;"));
    assert_non_null(strstr(rules, "set closing {"));
    assert_non_null(strstr(rules, "tcp sport 4242 tcp flags & fin == fin add @closing { tcp dport }"));
    assert_non_null(strstr(rules, "tcp dport 4242 tcp flags & fin == fin add @closing { tcp sport }"));
    /* ... and from then on all its segments, and before that the ones with
     * data, go into the slow class; nothing is dropped. */
    assert_non_null(strstr(rules, "tcp sport 4242 tcp dport @closing meta priority set 1:2\n"));
    assert_non_null(strstr(rules, "tcp dport 4242 tcp sport @closing meta priority set 1:2\n"));
    assert_non_null(strstr(rules, "tcp sport 4242 tcp flags & (syn | rst | psh) == psh "
                                  "meta priority set 1:2\n"));
    assert_non_null(strstr(rules, "tcp dport 4242 tcp flags & (syn | rst | psh) == psh "
                                  "meta priority set 1:2\n"));
    assert_null(strstr(rules, "drop"));
    assert_int_equal(CASE_SLOW_CLASS_MINOR, 2);
    /* The table closes after the output chain. */
    size_t len = strlen(rules);
    assert_true(len > 6);
    assert_string_equal(rules + len - 6, "  }\n}\n");
    /* Without the fault there is no output chain. */
    assert_true(case_parse_text("client x\nfault drop-first-syn\n", "x.case", &spec, err, sizeof err));
    case_fault_ruleset(&spec, 3434, rules, sizeof rules);
    assert_null(strstr(rules, "chain output"));
    assert_null(strstr(rules, "meta priority"));
    /* It takes no argument, and it shapes lo: loopback only. */
    expect_error("client x\nfault slow-teardown 10\n", "bad.case:2:", "unknown fault");
    expect_error("topology veth\nclient x\nfault slow-teardown\n", "bad.case", "needs topology loopback");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_case),
        cmocka_unit_test(test_defaults_and_no_server),
        cmocka_unit_test(test_bad_cases_name_the_line),
        cmocka_unit_test(test_roles_and_wire_expectations),
        cmocka_unit_test(test_case_names),
        cmocka_unit_test(test_builtin_matrix_parses),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_fault_ruleset),
        cmocka_unit_test(test_slow_teardown_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
