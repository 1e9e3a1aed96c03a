/* command: the text of a case's server/client command, made runnable.
 *
 * A case writes its commands with placeholders; the runner fills them in for
 * the family, address and port of one run, then runs the result without a
 * shell when it needs none:
 *
 *   char cmd[CASE_COMMAND_MAX + 256], words[sizeof cmd], *argv[64];
 *   if (!command_substitute("tcp-client --host {host} --port {port}", "::1", 3434, 6,
 *                           bin_dir, cmd, sizeof cmd))
 *       ... too long ...
 *   if (command_split_plain(cmd, words, sizeof words, argv, 64))
 *       execvp(argv[0], argv);                 // no shell needed
 *   else
 *       execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
 *
 * Both are pure: text in, text out. */
#ifndef WIRECHECK_COMMAND_H
#define WIRECHECK_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

/* Replaces {host} {port} {family} {bin} in `template` (bin_dir NULL: ".")
 * and {{ by a literal {; other braces are left alone. False if it does not
 * fit in `size`. Check the template with command_check_placeholders first:
 * a mistyped placeholder is an error, not text. */
bool command_substitute(const char *template, const char *host, unsigned port, int family,
                        const char *bin_dir, char *out, size_t size);

/* The placeholders command_substitute knows, for messages. */
#define COMMAND_PLACEHOLDERS "{host} {port} {family} {bin}"

/* False if `template` has a placeholder-like {WORD} (a letter or '_', then
 * letters, digits, '_' or '-') that is not one of COMMAND_PLACEHOLDERS;
 * `bad` gets it ("{hots}"). ${WORD} (the shell's) and {{ are not
 * placeholders: write {{x} for a literal {x}. */
bool command_check_placeholders(const char *template, char *bad, size_t badlen);

/* Splits a command that needs no shell (words, '…' and "…" quotes,
 * backslash escapes) into argv (NULL-terminated, at most max - 1 words),
 * the words stored in buf, so the common case skips a /bin/sh exec.
 * False when anything a shell would expand or redirect is there, or when
 * it does not fit: then run it with sh -c. */
bool command_split_plain(const char *cmd, char *buf, size_t cap, char **argv, size_t max);

#endif
