/* Shell helpers the four reference programs share: usage errors, option
 * values, signals. The only part of core/ that prints or exits. */
#ifndef WIRECHECK_CLI_H
#define WIRECHECK_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "netaddr.h"

/* Exit codes of every program: 0 ok, 1 runtime failure, 2 usage. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* "PROG: <message>" and the usage text on stderr, then exit 2. */
_Noreturn void cli_usage_error(const char *prog, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "PROG: <message>" on stderr, then exit 1. */
_Noreturn void cli_fail(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* getopt_long (optstring starting with ':') returned ':' (a value is
 * missing) or '?' (unknown option): say which, with the usage, exit 2. */
_Noreturn void cli_option_error(const char *prog, const char *usage, int ch, char **argv);
/* Exit 2 naming the first operand if any remain after the options. */
void cli_no_operands(const char *prog, const char *usage, int argc, char **argv);

/* Parse an option value or exit 2 naming the option and the bad value. */
uint16_t cli_port(const char *prog, const char *usage, const char *opt, const char *value);
unsigned long cli_uint(const char *prog, const char *usage, const char *opt, const char *value,
                       unsigned long min, unsigned long max);
int64_t cli_seconds(const char *prog, const char *usage, const char *opt, const char *value);

/* Resolves host:port or exits 1 with the resolver's message. */
void cli_resolve(const char *prog, const char *host, uint16_t port, int socktype,
                 struct net_addr *out);

/* SIGPIPE ignored: a write to a closed peer is an EPIPE to handle, not death. */
void cli_ignore_sigpipe(void);

/* SIGTERM and SIGINT write one byte to a self-pipe, so an event loop polls
 * the returned fd and sees a stop request without races (SA_RESTART: other
 * blocking calls, such as a write to a full stdout pipe, just go on). */
int cli_stop_signal_fd(const char *prog);

/* Nothing is lost silently on standard output. cli_check_stdout_at_exit
 * (call once, first thing in main) makes every exit flush and close stdout
 * and, if that fails (a full disk, /dev/full, a closed pipe), print
 * "PROG: write to standard output: <reason>" on stderr and exit 1.
 * cli_flush_stdout flushes now (a log line that must be seen while the
 * program runs) and exits 1 the same way on failure. */
void cli_check_stdout_at_exit(const char *prog);
void cli_flush_stdout(const char *prog);

/* --version: "PROG 0.1.0 (g1234abc)" on stdout (the project version and, when
 * built from a git checkout, `git describe --always --dirty`); the caller
 * then returns 0. cli_version_string() is the part after "PROG ". */
void cli_version(const char *prog);
const char *cli_version_string(void);

#endif
