/* Security defaults, tested on the built programs:
 *
 *   - `wirecheck run` with a veth case and nftables faults leaves the host
 *     as it found it: links, addresses, routes (IPv4 and IPv6) and the
 *     nftables ruleset are identical before and after;
 *   - when it cannot make its own namespace, `wirecheck run` refuses (exit
 *     2, a message naming what is missing) and runs nothing on the host:
 *     provoked with a seccomp filter that denies unshare/setns and clone
 *     with namespace flags, inherited by the exec'd wirecheck;
 *   - the reference servers bind loopback when not told otherwise;
 *   - `wirecheck run` writes nothing outside --out: a case name with "../"
 *     is refused with its line, a symlink planted in --out (or as --junit)
 *     is replaced, never written through, and a full --out is exit 2 with
 *     no capture left half-written.
 *
 * The first two need root (or user namespaces) and the reference programs;
 * without them they are skipped, not failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define WIRECHECK WIRECHECK_BIN_DIR "/wirecheck"
#define WAIT_MS 10000

static char work_dir[128];

static int setup(void **state)
{
    (void)state;
    snprintf(work_dir, sizeof work_dir, "/tmp/wirecheck-test-security-%d", (int)getpid());
    return mkdir(work_dir, 0700) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char command[256];
    snprintf(command, sizeof command, "rm -rf %s", work_dir);
    return system(command) == 0 ? 0 : -1;
}

static bool have(const char *program)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", WIRECHECK_BIN_DIR, program);
    return access(path, X_OK) == 0;
}

static void require_programs(void)
{
    if (!have("wirecheck") || !have("tcp-time-server") || !have("tcp-client"))
        skip();
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Output of a shell command (stdout and stderr), NUL-terminated, or NULL if
 * the command is not there (exit 127). */
static char *command_output(const char *command)
{
    char full[512];
    snprintf(full, sizeof full, "%s 2>&1", command);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - 1 - n, p)) > 0;) {
        n += got;
        if (n == cap - 1) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Runs wirecheck (argv without argv[0]) with its output in `out`; `before_exec`
 * runs in the child just before the exec. Returns the exit status, or 128 +
 * the signal. */
static int run_wirecheck(char *const args[], void (*before_exec)(void), char *out, size_t size)
{
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        char cases[600];
        snprintf(cases, sizeof cases, "%s/conformance/cases", WIRECHECK_SOURCE_DIR);
        setenv("WIRECHECK_CASES_DIR", cases, 1);
        char *argv[32] = {"wirecheck"};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        if (before_exec)
            before_exec();
        execv(WIRECHECK, argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    long long end = proc_now_ms() + 60000;
    for (;;) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        long long left = end - proc_now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(pfd[0], out + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == size - 1)
            break;
    }
    out[n] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- (a) the host is left untouched ----------------------------------- */

static const char *const host_state_commands[] = {
    "ip -o link", "ip -o addr", "ip route", "ip -6 route", "nft list ruleset",
};
#define NSTATE (sizeof host_state_commands / sizeof host_state_commands[0])

static void snapshot(char *out[NSTATE])
{
    for (size_t i = 0; i < NSTATE; i++) {
        out[i] = command_output(host_state_commands[i]);
        if (!out[i]) {
            print_message("%s not available: skipped\n", host_state_commands[i]);
            skip();
        }
    }
}

static void test_run_leaves_host_untouched(void **state)
{
    (void)state;
    require_programs();
    char path[256];
    snprintf(path, sizeof path, "%s/veth-faults.case", work_dir);
    /* veth (two namespaces, a veth pair, addresses, routes) and nftables
     * faults: a dropped first data segment and a rule of our own. */
    write_text(path,
               "name        security-veth-faults\n"
               "topology    veth\n"
               "family      both\n"
               "timeout     4000\n"
               "fault       drop-first-data client\n"
               "fault       nft \"meta l4proto tcp counter\"\n"
               "server      tcp-time-server --bind {host} --port {port} --service echo --count 1\n"
               "client      tcp-client --host {host} --port {port} --send hello --shutdown-write "
               "--expect echo --timeout 3\n"
               "expect      client-exit 0\n"
               "expect      client-output \"Received: hello\"\n"
               "expect      tcp.data.no_retransmission info \"after injected loss\"\n");
    char *before[NSTATE], *after[NSTATE];
    snapshot(before);
    char out_dir[200];
    snprintf(out_dir, sizeof out_dir, "%s/out", work_dir);
    char *args[] = {"run", "--out", out_dir, path, NULL};
    static char output[65536];
    int rc = run_wirecheck(args, NULL, output, sizeof output);
    snapshot(after);
    print_message("%s", output);
    if (rc == 2 && strstr(output, "namespace"))
        skip(); /* no namespaces here at all: nothing to compare */
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < NSTATE; i++) {
        if (strcmp(before[i], after[i]) != 0)
            fail_msg("`%s` changed on the host:\n--- before\n%s--- after\n%s",
                     host_state_commands[i], before[i], after[i]);
        free(before[i]);
        free(after[i]);
    }
}

/* ---- (b) no namespace, no run ------------------------------------------ */

/* Denies what makes or joins a namespace: unshare and setns fail with
 * EPERM, clone with CLONE_NEWNET/CLONE_NEWUSER too; clone3 says ENOSYS so
 * libc falls back to clone (its flags live in memory a filter cannot read). */
static void deny_namespaces(void)
{
#if defined(__x86_64__)
    const uint32_t arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const uint32_t arch = AUDIT_ARCH_AARCH64;
#else
    const uint32_t arch = 0;
    _exit(77);
#endif
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setns, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWNET | CLONE_NEWUSER, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        dprintf(2, "seccomp: %s\n", strerror(errno));
        _exit(77);
    }
}

static void test_refuses_without_namespace(void **state)
{
    (void)state;
    require_programs();
    char path[256], marker[256];
    snprintf(path, sizeof path, "%s/host-marker.case", work_dir);
    snprintf(marker, sizeof marker, "%s/ran-on-the-host", work_dir);
    /* A server and client that leave a mark if they ever run. */
    char text[2048];
    snprintf(text, sizeof text,
             "name     security-no-namespace\n"
             "family   ipv4\n"
             "timeout  3000\n"
             "fault    drop-first-syn\n"
             "server   sh -c 'touch %s; exec tcp-time-server --bind {host} --port {port} --count 1'\n"
             "client   sh -c 'touch %s; exec tcp-client --host {host} --port {port}'\n"
             "expect   client-exit 0\n",
             marker, marker);
    write_text(path, text);
    char out_dir[200];
    snprintf(out_dir, sizeof out_dir, "%s/out-denied", work_dir);
    char *args[] = {"run", "--out", out_dir, path, NULL};
    static char output[65536];
    int rc = run_wirecheck(args, deny_namespaces, output, sizeof output);
    print_message("%s", output);
    if (rc == 77)
        skip(); /* seccomp not available here */
    assert_int_equal(rc, 2);
    /* The message names what is missing and how to get it. */
    assert_non_null(strstr(output, "cannot create a private network namespace"));
    assert_non_null(strstr(output, "unshare(CLONE_NEWNET)"));
    assert_non_null(strstr(output, "Operation not permitted"));
    assert_non_null(strstr(output, "root"));
    /* Nothing ran in the host's namespace instead. */
    assert_int_equal(access(marker, F_OK), -1);
    assert_int_equal(errno, ENOENT);
}

/* ---- (c) loopback by default ------------------------------------------- */

static void expect_loopback_default(const char *program)
{
    if (!have(program))
        skip();
    struct proc p;
    char *args[] = {"--port", "0", "--count", "1", NULL};
    assert_true(proc_start(&p, program, args));
    bool listening = proc_wait_output(&p, "\n", WAIT_MS);
    const char *line = strstr(p.out, "Listening on ");
    char copy[256];
    size_t keep = strcspn(line ? line : p.out, "\n");
    if (keep >= sizeof copy)
        keep = sizeof copy - 1;
    memcpy(copy, line ? line : p.out, keep);
    copy[keep] = '\0';
    proc_stop(&p);
    assert_true(listening);
    if (!line || strncmp(line, "Listening on 127.0.0.1:", 23) != 0)
        fail_msg("%s without --bind printed \"%s\", not \"Listening on 127.0.0.1:PORT\"", program,
                 copy);
}

static void test_tcp_server_binds_loopback_by_default(void **state)
{
    (void)state;
    expect_loopback_default("tcp-time-server");
}

static void test_udp_server_binds_loopback_by_default(void **state)
{
    (void)state;
    expect_loopback_default("udp-server");
}

/* ---- (d) nothing written outside --out -------------------------------- */

static void read_small(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void test_case_name_cannot_leave_out_dir(void **state)
{
    (void)state;
    require_programs();
    char dir[256], out[300], casefile[300], escaped[300];
    snprintf(dir, sizeof dir, "%s/names", work_dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(casefile, sizeof casefile, "%s/evil.case", dir);
    snprintf(escaped, sizeof escaped, "%s/escaped-ipv4.pcapng", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(out, 0700), 0);
    static const char *const names[] = {"../escaped", "../../../tmp/escaped", "a/b", "\x1b[2Jx", ".hidden", "-rf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "# line 1\nname %s\nserver tcp-time-server --port {port}\n"
                                    "client tcp-client --host {host} --port {port}\n", names[i]);
        write_text(casefile, text);
        char output[8192];
        char *args[] = {"run", casefile, "--ipv4", "--out", out, NULL};
        int rc = run_wirecheck(args, NULL, output, sizeof output);
        if (rc != 2 || !strstr(output, "evil.case:2: name: 1 to 63 letters"))
            fail_msg("name '%s': exit %d, output:\n%s", names[i], rc, output);
        assert_null(strchr(output, '\x1b')); /* the bad name is not echoed raw */
        assert_int_equal(access(escaped, F_OK), -1);
    }
}

/* A symlink planted where the capture and the report go (a world-writable
 * --out, say) is replaced by the real file; its target is never written. */
static void test_run_never_writes_through_a_planted_link(void **state)
{
    (void)state;
    require_programs();
    char out[300], victim[300], victim2[300], link1[400], link2[400];
    snprintf(out, sizeof out, "%s/links", work_dir);
    snprintf(victim, sizeof victim, "%s/precious", work_dir);
    snprintf(victim2, sizeof victim2, "%s/precious2", work_dir);
    snprintf(link1, sizeof link1, "%s/time-ipv4.pcapng", out);
    snprintf(link2, sizeof link2, "%s/report.xml", out);
    assert_int_equal(mkdir(out, 0777), 0);
    write_text(victim, "precious\n");
    write_text(victim2, "precious too\n");
    assert_int_equal(symlink(victim, link1), 0);
    assert_int_equal(symlink(victim2, link2), 0);
    char output[8192];
    char *args[] = {"run", "time", "--ipv4", "--out", out, "--junit", link2, NULL};
    int rc = run_wirecheck(args, NULL, output, sizeof output);
    if (rc != 0)
        fail_msg("exit %d:\n%s", rc, output);
    char text[64];
    read_small(victim, text, sizeof text);
    assert_string_equal(text, "precious\n");
    read_small(victim2, text, sizeof text);
    assert_string_equal(text, "precious too\n");
    struct stat st;
    assert_int_equal(lstat(link1, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(lstat(link2, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    read_small(link1, text, 5);
    assert_memory_equal(text, "\x0a\x0d\x0d\x0a", 4); /* a pcapng section header */
    /* No temporary left beside them. */
    char *listing = command_output("ls -A /tmp/wirecheck-test-security-*/links");
    assert_non_null(listing);
    assert_string_equal(listing, "report.xml\ntime-ipv4.pcapng\n");
    free(listing);
}

static const char *full_dir;

/* In the child: its own mount namespace with a small tmpfs over --out,
 * filled up but for a few bytes (a disk that is full). */
static void mount_full_tmpfs(void)
{
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", full_dir, "tmpfs", 0, "size=64k") != 0) {
        fprintf(stderr, "tiny tmpfs: %s\n", strerror(errno));
        _exit(77);
    }
    char filler[400];
    snprintf(filler, sizeof filler, "%s/filler", full_dir);
    int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    static const char block[4096];
    while (fd >= 0 && write(fd, block, sizeof block) > 0) {
    }
    while (fd >= 0 && write(fd, block, 1) > 0) {
    }
    if (fd >= 0)
        close(fd);
}

static void test_run_out_of_space_is_an_error(void **state)
{
    (void)state;
    require_programs();
    char out[300];
    snprintf(out, sizeof out, "%s/full", work_dir);
    assert_int_equal(mkdir(out, 0700), 0);
    full_dir = out;
    char output[8192];
    char *args[] = {"run", "time", "--ipv4", "--out", out, NULL};
    int rc = run_wirecheck(args, mount_full_tmpfs, output, sizeof output);
    if (rc == 77)
        skip();
    if (rc != 2 || !strstr(output, "No space left on device") || strstr(output, " pass "))
        fail_msg("exit %d:\n%s", rc, output);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_server_binds_loopback_by_default),
        cmocka_unit_test(test_udp_server_binds_loopback_by_default),
        cmocka_unit_test(test_refuses_without_namespace),
        cmocka_unit_test(test_run_leaves_host_untouched),
        cmocka_unit_test(test_case_name_cannot_leave_out_dir),
        cmocka_unit_test(test_run_never_writes_through_a_planted_link),
        cmocka_unit_test(test_run_out_of_space_is_an_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
