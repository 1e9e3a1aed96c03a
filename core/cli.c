#include "cli.h"

#include "netsock.h"
#include "wirecheck_version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((format(printf, 2, 0)))
static void vreport(const char *prog, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_usage_error(const char *prog, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(prog, fmt, ap);
    va_end(ap);
    fputs(usage, stderr);
    exit(EXIT_USAGE);
}

void cli_fail(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(prog, fmt, ap);
    va_end(ap);
    exit(EXIT_RUNTIME);
}

void cli_option_error(const char *prog, const char *usage, int ch, char **argv)
{
    if (ch == ':')
        cli_usage_error(prog, usage, "option %s needs a value", argv[optind - 1]);
    cli_usage_error(prog, usage, "unknown option '%s'", argv[optind - 1]);
}

void cli_no_operands(const char *prog, const char *usage, int argc, char **argv)
{
    if (optind < argc)
        cli_usage_error(prog, usage, "unexpected argument '%s'", argv[optind]);
}

uint16_t cli_port(const char *prog, const char *usage, const char *opt, const char *value)
{
    uint16_t port;
    if (!net_parse_port(value, &port))
        cli_usage_error(prog, usage, "invalid %s '%s': expected a port number 0-65535", opt,
                        value);
    return port;
}

unsigned long cli_uint(const char *prog, const char *usage, const char *opt, const char *value,
                       unsigned long min, unsigned long max)
{
    unsigned long v;
    if (!net_parse_uint(value, max, &v) || v < min)
        cli_usage_error(prog, usage, "invalid %s '%s': expected a whole number %lu-%lu", opt,
                        value, min, max);
    return v;
}

int64_t cli_seconds(const char *prog, const char *usage, const char *opt, const char *value)
{
    int64_t ms;
    if (!net_parse_seconds(value, &ms))
        cli_usage_error(prog, usage, "invalid %s '%s': expected seconds > 0, e.g. 2 or 0.5",
                        opt, value);
    return ms;
}

void cli_resolve(const char *prog, const char *host, uint16_t port, int socktype,
                 struct net_addr *out)
{
    char err[NET_ERR_LEN];
    if (net_resolve(host, port, socktype, out, err) != 0)
        cli_fail(prog, "%s", err);
}

void cli_ignore_sigpipe(void)
{
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

static int stop_pipe_write_end = -1;

static void on_stop_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char b = 1;
    /* Non-blocking: a second signal with the pipe full is already noted. */
    if (write(stop_pipe_write_end, &b, 1) < 0) {
    }
    errno = saved;
}

int cli_stop_signal_fd(const char *prog)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        cli_fail(prog, "pipe: %s", strerror(errno));
    stop_pipe_write_end = p[1];
    /* SA_RESTART: a write of the log blocked on a slow reader must not fail
     * with EINTR (stdio would mark stdout broken and lines would be lost);
     * the event loop still wakes up, as Linux never restarts poll(). */
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return p[0];
}

static const char *stdout_owner = "wirecheck";

_Noreturn static void stdout_failed(int e)
{
    fprintf(stderr, "%s: write to standard output: %s\n", stdout_owner,
            strerror(e ? e : EIO));
    _exit(EXIT_RUNTIME);
}

void cli_flush_stdout(const char *prog)
{
    stdout_owner = prog;
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout))
        stdout_failed(errno);
}

static void close_stdout(void)
{
    errno = 0;
    /* ferror: an earlier write failed even if this flush has nothing left. */
    bool failed = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = true;
        e = errno;
    }
    if (failed)
        stdout_failed(e);
}

void cli_check_stdout_at_exit(const char *prog)
{
    stdout_owner = prog;
    atexit(close_stdout);
}

const char *cli_version_string(void)
{
    return WIRECHECK_VERSION;
}

void cli_version(const char *prog)
{
    printf("%s %s\n", prog, WIRECHECK_VERSION);
}
