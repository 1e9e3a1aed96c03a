/* `wirecheck run` end to end: the built binary runs real cases in private
 * namespaces with the reference programs, and the exit status, the console,
 * the JUnit file and the commented pcapng say what they should. Needs the
 * reference programs and namespaces; skipped (not failed) without them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WIRECHECK WIRECHECK_BIN_DIR "/wirecheck"

static char out_dir[128];
static char output[16384];

/* Runs `wirecheck ARGS` and returns its exit status, output in `output`. */
static int run_wirecheck(const char *args)
{
    char command[1024];
    /* Name the case directory: the build dir need not sit in the source tree. */
    snprintf(command, sizeof command, "WIRECHECK_CASES_DIR=%s/conformance/cases %s %s 2>&1",
             WIRECHECK_SOURCE_DIR, WIRECHECK, args);
    FILE *p = popen(command, "r");
    assert_non_null(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool have(const char *program)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", WIRECHECK_BIN_DIR, program);
    return access(path, X_OK) == 0;
}

static void require_environment(void)
{
    if (!have("wirecheck") || !have("tcp-time-server") || !have("tcp-client") ||
        !have("udp-server") || !have("udp-client"))
        skip();
}

static int setup(void **state)
{
    (void)state;
    snprintf(out_dir, sizeof out_dir, "/tmp/wirecheck-test-run-%d", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char command[256];
    snprintf(command, sizeof command, "rm -rf %s", out_dir);
    return system(command) == 0 ? 0 : -1;
}

static unsigned count_packets(const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p)
        fail_msg("pcap_open_offline %s: %s", path, err);
    unsigned n = 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(p, &h, &d) == 1)
        n++;
    pcap_close(p);
    return n;
}

static void test_passing_cases(void **state)
{
    (void)state;
    require_environment();
    char args[512];
    snprintf(args, sizeof args, "run time udp-closed-port-ipv4 --out %s --junit %s/junit.xml",
             out_dir, out_dir);
    int status = run_wirecheck(args);
    if (status == 2 && strstr(output, "namespace"))
        skip(); /* no namespaces here: the message says what is missing */
    if (status != 0)
        fail_msg("wirecheck run exited %d:\n%s", status, output);
    assert_non_null(strstr(output, "time-ipv4"));
    assert_non_null(strstr(output, "time-ipv6"));
    assert_non_null(strstr(output, "udp-closed-port-ipv4"));
    assert_null(strstr(output, "udp-closed-port-ipv6"));
    assert_non_null(strstr(output, "3 cases: 3 passed, 0 failed"));

    char path[256];
    snprintf(path, sizeof path, "%s/time-ipv4.pcapng", out_dir);
    /* SYN, SYN/ACK, ACK, data, ACK, FIN, FIN, ACK at least. */
    assert_true(count_packets(path) >= 7);

    if (system("command -v tshark >/dev/null 2>&1") == 0) {
        char command[512];
        snprintf(command, sizeof command,
                 "tshark -r %s -Y frame.comment -T fields -e frame.comment 2>/dev/null", path);
        FILE *p = popen(command, "r");
        assert_non_null(p);
        size_t n = fread(output, 1, sizeof output - 1, p);
        output[n] = '\0';
        pclose(p);
        assert_non_null(strstr(output, "wirecheck case time-ipv4"));
        assert_non_null(strstr(output, "tcp.handshake.synack_acks_isn"));
    }

    snprintf(path, sizeof path, "%s/junit.xml", out_dir);
    FILE *j = fopen(path, "r");
    assert_non_null(j);
    size_t n = fread(output, 1, sizeof output - 1, j);
    output[n] = '\0';
    fclose(j);
    assert_non_null(strstr(output, "tests=\"3\" failures=\"0\" errors=\"0\""));
    assert_non_null(strstr(output, "name=\"udp-closed-port-ipv4\""));
}

static void test_unmet_expectation_fails_with_expected_and_seen(void **state)
{
    (void)state;
    require_environment();
    char path[256], args[512];
    snprintf(path, sizeof path, "%s/wrong.case", out_dir);
    char mkdir_cmd[300];
    snprintf(mkdir_cmd, sizeof mkdir_cmd, "mkdir -p %s", out_dir);
    assert_int_equal(system(mkdir_cmd), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("family ipv4\n"
          "server tcp-time-server --bind {host} --port {port} --count 1\n"
          "client tcp-client --host {host} --port {port} --timeout 2\n"
          "expect client-exit 3\n"
          "expect tcp.teardown.first_fin info \"client\"\n", f);
    fclose(f);
    snprintf(args, sizeof args, "run %s --out %s", path, out_dir);
    int status = run_wirecheck(args);
    if (status == 2 && strstr(output, "namespace"))
        skip();
    if (status != 1)
        fail_msg("wirecheck run exited %d, wanted 1:\n%s", status, output);
    assert_non_null(strstr(output, "wrong-ipv4"));
    assert_non_null(strstr(output, "FAIL"));
    assert_non_null(strstr(output, "line 4: expected client-exit 3, seen status 0"));
    assert_non_null(strstr(output, "line 5: expected tcp.teardown.first_fin info \"client\", seen info"));
    snprintf(path, sizeof path, "%s/wrong-ipv4.pcapng", out_dir);
    assert_true(count_packets(path) > 0);
}

static void test_usage_and_bad_case_exit_2(void **state)
{
    (void)state;
    if (!have("wirecheck"))
        skip();
    assert_int_equal(run_wirecheck("run --bogus"), 2);
    assert_non_null(strstr(output, "unknown option '--bogus'"));
    assert_int_equal(run_wirecheck("run no-such-case"), 2);
    assert_non_null(strstr(output, "no case 'no-such-case'"));

    char path[256], args[512];
    snprintf(path, sizeof path, "/tmp/wirecheck-test-bad-%d.case", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("client true\nexpect tcp.no_rst sometimes\n", f);
    fclose(f);
    snprintf(args, sizeof args, "run %s", path);
    assert_int_equal(run_wirecheck(args), 2);
    assert_non_null(strstr(output, ".case:2: unknown verdict 'sometimes'"));
    unlink(path);
}

/* Drops each time ("  123 ms", "in 456 ms") and the JUnit time="..."
 * attributes: what stays must not depend on how many cases ran at once. */
static void without_times(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; in[i] && o + 1 < size; i++) {
        if (in[i] == ' ' && in[i + 1] >= '0' && in[i + 1] <= '9') {
            size_t j = i + 1;
            while (in[j] >= '0' && in[j] <= '9')
                j++;
            if (strncmp(in + j, " ms", 3) == 0) {
                while (o > 0 && out[o - 1] == ' ')
                    o--;
                i = j + 2;
                continue;
            }
        }
        if (strncmp(in + i, "time=\"", 6) == 0) {
            const char *end = strchr(in + i + 6, '"');
            if (end) {
                i = (size_t)(end - in);
                continue;
            }
        }
        out[o++] = in[i];
    }
    out[o] = '\0';
}

static void read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* --jobs 1 and --jobs 4 over the same cases: the same console lines in the
 * same (matrix) order and the same JUnit, apart from the times. */
static void test_jobs_same_report_in_matrix_order(void **state)
{
    (void)state;
    require_environment();
    static char console[2][16384], junit[2][16384], plain[16384];
    const char *jobs[2] = { "1", "4" };
    for (int k = 0; k < 2; k++) {
        char args[512], path[256];
        snprintf(path, sizeof path, "%s/junit-%s.xml", out_dir, jobs[k]);
        snprintf(args, sizeof args, "run time udp-closed-port echo-half-close syn-dropped-ipv4 "
                 "--jobs %s --out %s --junit %s", jobs[k], out_dir, path);
        int status = run_wirecheck(args);
        if (status == 2 && strstr(output, "namespace"))
            skip();
        if (status != 0)
            fail_msg("wirecheck run --jobs %s exited %d:\n%s", jobs[k], status, output);
        without_times(output, console[k], sizeof console[k]);
        read_file(path, plain, sizeof plain);
        without_times(plain, junit[k], sizeof junit[k]);
    }
    assert_string_equal(console[0], console[1]);
    assert_string_equal(junit[0], junit[1]);
    /* Matrix order, whatever finished first (syn-dropped, the slowest, is last). */
    const char *t4 = strstr(console[1], "time-ipv4"), *u4 = strstr(console[1], "udp-closed-port-ipv4");
    const char *e6 = strstr(console[1], "echo-half-close-ipv6"), *s4 = strstr(console[1], "syn-dropped-ipv4");
    assert_true(t4 && u4 && e6 && s4 && t4 < u4 && u4 < e6 && e6 < s4);
    assert_non_null(strstr(console[1], "7 cases: 7 passed, 0 failed"));
}

/* Runs `command`, its stdout into buf; returns its exit status. */
static int run_shell(const char *command, char *buf, size_t size)
{
    FILE *p = popen(command, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, size - 1, p);
    buf[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A client that prints invalid UTF-8, ESC, NUL, markup and a noncharacter:
 * the console shows them escaped (no ESC reaches the terminal, the NUL is
 * \x00), and the JUnit file validates with xmllint. */
static void test_hostile_output_junit_parses(void **state)
{
    (void)state;
    require_environment();
    char args[1024], junit[256];
    snprintf(junit, sizeof junit, "%s/hostile.xml", out_dir);
    snprintf(args, sizeof args, "run time-ipv4 --out %s --junit %s --client "
             "\"printf 'a\\377b\\033[2Jc\\000d<&>]]>\\357\\277\\276\\n'\"", out_dir, junit);
    int status = run_wirecheck(args);
    if (status == 2 && strstr(output, "namespace"))
        skip();
    if (status != 1)
        fail_msg("wirecheck run exited %d, wanted 1:\n%s", status, output);
    assert_null(strchr(output, '\033'));
    assert_non_null(strstr(output, "a\\xffb\\x1b[2Jc\\x00d<&>"));
    static char xml[16384];
    read_file(junit, xml, sizeof xml);
    assert_non_null(strstr(xml, "a\\xffb\\x1b[2Jc\\x00d&lt;&amp;&gt;]]&gt;\\xef\\xbf\\xbe"));
    assert_null(strchr(xml, '\033'));
    if (system("command -v xmllint >/dev/null 2>&1") != 0)
        fail_msg("xmllint not found (ci/install-deps installs libxml2-utils)");
    char command[512], out[4096];
    snprintf(command, sizeof command, "xmllint --noout %s 2>&1", junit);
    if (run_shell(command, out, sizeof out) != 0)
        fail_msg("xmllint rejects the JUnit file:\n%s\n%s", out, xml);
}

/* A bad case file: exit 2 and a JUnit file with an error testcase naming
 * the file and the line; an unwritable --junit: exit 2 before any case. */
static void test_junit_bad_case_and_unwritable_path(void **state)
{
    (void)state;
    if (!have("wirecheck"))
        skip();
    char path[256], junit[256], args[1024];
    snprintf(path, sizeof path, "/tmp/wirecheck-test-junit-bad-%d.case", (int)getpid());
    snprintf(junit, sizeof junit, "/tmp/wirecheck-test-junit-bad-%d.xml", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("client true\nexpect tcp.no_rst sometimes\n", f);
    fclose(f);
    snprintf(args, sizeof args, "run time %s --junit %s", path, junit);
    assert_int_equal(run_wirecheck(args), 2);
    static char xml[8192];
    read_file(junit, xml, sizeof xml);
    assert_non_null(strstr(xml, "errors=\"1\""));
    assert_non_null(strstr(xml, "<error message=\""));
    assert_non_null(strstr(xml, ".case:2: unknown verdict &apos;sometimes&apos;"));
    char command[512], out[4096];
    snprintf(command, sizeof command, "command -v xmllint >/dev/null || exit 0; "
             "xmllint --noout %s 2>&1", junit);
    assert_int_equal(run_shell(command, out, sizeof out), 0);
    unlink(path);
    unlink(junit);

    snprintf(args, sizeof args, "run time-ipv4 --out %s --junit /nonexistent-dir/j.xml", out_dir);
    assert_int_equal(run_wirecheck(args), 2);
    assert_non_null(strstr(output, "--junit"));
    assert_null(strstr(output, "time-ipv4 ")); /* no case ran */
    snprintf(args, sizeof args, "run time-ipv4 --out %s --junit %s", out_dir, out_dir);
    assert_int_equal(run_wirecheck(args), 2);
    assert_non_null(strstr(output, "is a directory"));
}

/* --format json: JSON lines only, a case object with its unmet
 * expectations and their frames, verdict objects, a summary; each line
 * parses (python3's json, when there is one). */
static void test_format_json(void **state)
{
    (void)state;
    require_environment();
    char args[1024];
    snprintf(args, sizeof args, "run time-ipv4 --out %s --format json --server "
             "'tcp-time-server --bind {host} --port {port} --close-mode rst'", out_dir);
    int status = run_wirecheck(args);
    if (status == 2 && strstr(output, "namespace"))
        skip();
    if (status != 1)
        fail_msg("wirecheck run exited %d, wanted 1:\n%s", status, output);
    assert_true(output[0] == '{');
    assert_non_null(strstr(output, "{\"case\":\"time-ipv4\",\"file\":\"time.case\",\"outcome\":\"fail\""));
    assert_non_null(strstr(output, "\"unmet_expectations\":[{\"line\":"));
    assert_non_null(strstr(output, "\"expect\":\"tcp.no_rst pass\",\"expected\":\"pass\""));
    assert_non_null(strstr(output, "\"rule\":\"tcp.no_rst\",\"verdict\":\"fail\""));
    assert_non_null(strstr(output, "{\"summary\":true,\"cases\":1,\"passed\":0,\"failed\":1"));
    assert_null(strstr(output, "1 cases:")); /* no console text */
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char path[256], command[512], out[4096];
        snprintf(path, sizeof path, "%s/run.jsonl", out_dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(output, f);
        fclose(f);
        snprintf(command, sizeof command, "python3 -c 'import json,sys\n"
                 "for l in open(sys.argv[1]): json.loads(l)' %s 2>&1", path);
        if (run_shell(command, out, sizeof out) != 0)
            fail_msg("a line is not JSON:\n%s", out);
    }
}

static void test_jobs_usage(void **state)
{
    (void)state;
    if (!have("wirecheck"))
        skip();
    assert_int_equal(run_wirecheck("run --jobs 0"), 2);
    assert_non_null(strstr(output, "--jobs '0': 1..256"));
    assert_int_equal(run_wirecheck("run --jobs x"), 2);
}

static void test_list(void **state)
{
    (void)state;
    if (!have("wirecheck"))
        skip();
    assert_int_equal(run_wirecheck("list"), 0);
    assert_non_null(strstr(output, "syn-dropped"));
    assert_non_null(strstr(output, "udp-fragmented"));
    assert_non_null(strstr(output, "tcp.teardown.abortive"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passing_cases),
        cmocka_unit_test(test_unmet_expectation_fails_with_expected_and_seen),
        cmocka_unit_test(test_usage_and_bad_case_exit_2),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_jobs_same_report_in_matrix_order),
        cmocka_unit_test(test_jobs_usage),
        cmocka_unit_test(test_hostile_output_junit_parses),
        cmocka_unit_test(test_junit_bad_case_and_unwritable_path),
        cmocka_unit_test(test_format_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
