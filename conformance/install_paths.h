/* Where `wirecheck run` and `wirecheck list` find the built-in cases and the
 * reference programs, from a build tree or from an install, with no
 * environment variable needed. Each lookup tries, in order:
 *
 *   1. the environment variable (WIRECHECK_CASES_DIR, WIRECHECK_BIN_DIR):
 *      when set and not empty it is the answer, right or wrong;
 *   2. the install layout relative to the running executable
 *      (/proc/self/exe): <prefix>/bin/wirecheck finds
 *      <prefix>/share/wirecheck/cases, and the programs beside itself;
 *   3. the paths compiled in from the build (the source tree's
 *      conformance/cases, the build's bin/), and the source tree next to a
 *      build directory inside it (build/bin -> ../../conformance/cases).
 *
 * A directory found is canonical (realpath), so messages and capture
 * comments show a clean path. Functions return false when nothing fits. */
#ifndef WIRECHECK_INSTALL_PATHS_H
#define WIRECHECK_INSTALL_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* The built-in case directory (size: PATH_MAX or more). */
bool wirecheck_cases_dir(char *buf, size_t size);

/* The directory of the reference programs (tcp-time-server, udp-server,
 * tcp-client, udp-client). On false, buf still holds the executable's own
 * directory (or "" if even that is unknown), which callers may put first in
 * PATH anyway. */
bool wirecheck_programs_dir(char *buf, size_t size);

/* The same lookups with their inputs given, for tests: exe is the running
 * executable's path, env the variable's value (NULL: unset), built the
 * compiled-in directory (NULL: none). */
struct install_lookup {
    const char *exe;
    const char *env;
    const char *built;
};
bool install_lookup_cases_dir(const struct install_lookup *l, char *buf, size_t size);
bool install_lookup_programs_dir(const struct install_lookup *l, char *buf, size_t size);

#endif
