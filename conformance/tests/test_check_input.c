/* `wirecheck check` inputs that are not plain files: "-" (standard input),
 * a FIFO that a writer feeds, a FIFO nobody writes to (a bounded wait, then
 * exit 2: before, open() blocked forever), a directory. In process, through
 * check_command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

#define GOLDEN WIRECHECK_SOURCE_DIR "/captures/golden/time-ipv4.pcapng"

static char out[65536], err[4096];

/* check_command with its output in out/err; returns the exit status. */
static int check(const char *arg)
{
    FILE *o = fmemopen(out, sizeof out, "w"), *e = fmemopen(err, sizeof err, "w");
    assert_non_null(o);
    assert_non_null(e);
    char *argv[] = {"check", "--quiet", (char *)arg, NULL};
    int rc = check_command(3, argv, o, e);
    fclose(o);
    fclose(e);
    return rc;
}

static void make_fifo(char *path, size_t size)
{
    snprintf(path, size, "/tmp/wirecheck-test-fifo-%d", (int)getpid());
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
}

static void test_dash_reads_stdin(void **state)
{
    (void)state;
    assert_int_equal(check(GOLDEN), 0);
    char from_file[sizeof out];
    snprintf(from_file, sizeof from_file, "%s", out);
    /* The same capture on stdin: the same summary, named "-". */
    int saved = dup(0);
    int fd = open(GOLDEN, O_RDONLY);
    assert_true(fd >= 0 && saved >= 0);
    assert_int_equal(dup2(fd, 0), 0);
    close(fd);
    int rc = check("-");
    dup2(saved, 0);
    close(saved);
    assert_int_equal(rc, 0);
    const char *colon = strchr(from_file, ':');
    assert_non_null(colon);
    assert_int_equal(strncmp(out, "-:", 2), 0);
    assert_string_equal(out + 1, colon); /* everything after the name agrees */
}

static void test_fifo_with_a_writer(void **state)
{
    (void)state;
    char fifo[128];
    make_fifo(fifo, sizeof fifo);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "cat %s > %s", GOLDEN, fifo);
        _exit(system(cmd) == 0 ? 0 : 1);
    }
    int rc = check(fifo);
    int st;
    waitpid(writer, &st, 0);
    unlink(fifo);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, ": 8 frames, 1 TCP connection(s)"));
}

static void test_fifo_without_a_writer_is_refused(void **state)
{
    (void)state;
    char fifo[128];
    make_fifo(fifo, sizeof fifo);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    alarm(30); /* the old open() blocked forever: fail loudly instead */
    int rc = check(fifo);
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    unlink(fifo);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "a FIFO with nothing written to it within"));
    assert_true(t1.tv_sec - t0.tv_sec < 20);
}

static void test_directory_is_refused(void **state)
{
    (void)state;
    assert_int_equal(check("/"), 2);
    assert_non_null(strstr(err, "wirecheck check: /: cannot read capture: Is a directory"));
}

/* Several files: a last line sums them up, and a failed check in one file
 * with another that cannot be read is exit 3, told apart from either. */
static void test_several_files_summed_up(void **state)
{
    (void)state;
    FILE *o = fmemopen(out, sizeof out, "w"), *e = fmemopen(err, sizeof err, "w");
    char *argv[] = {"check", "--quiet", GOLDEN, WIRECHECK_SOURCE_DIR "/captures/golden/reset-injected-ipv4.pcapng",
                    "/nonexistent.pcap", NULL};
    int rc = check_command(5, argv, o, e);
    fclose(o);
    fclose(e);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(out, "all 3 files (1 passed, 1 failed, 1 not judged): 15 frames, "
                                "2 TCP connection(s), 0 UDP flow(s); 23 pass, 3 fail, 7 info\n"));
    /* Two good files: 0, and the sum of both. */
    o = fmemopen(out, sizeof out, "w");
    e = fmemopen(err, sizeof err, "w");
    char *good[] = {"check", "--quiet", GOLDEN, GOLDEN, NULL};
    rc = check_command(4, good, o, e);
    fclose(o);
    fclose(e);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "all 2 files (2 passed, 0 failed, 0 not judged): 16 frames"));
    /* A failed check and a missing file alone keep their codes. */
    assert_int_equal(check(WIRECHECK_SOURCE_DIR "/captures/golden/reset-injected-ipv4.pcapng"), 1);
    assert_int_equal(check("/nonexistent.pcap"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dash_reads_stdin),
        cmocka_unit_test(test_fifo_with_a_writer),
        cmocka_unit_test(test_fifo_without_a_writer_is_refused),
        cmocka_unit_test(test_directory_is_refused),
        cmocka_unit_test(test_several_files_summed_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
