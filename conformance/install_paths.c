/* The built-in cases and the reference programs, from the environment, the
 * install layout or the build (see install_paths.h). */
#include "install_paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The program whose presence marks a directory of reference programs. */
#define REFERENCE_PROGRAM "tcp-time-server"

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_reference_program(const char *dir)
{
    char path[PATH_MAX + sizeof REFERENCE_PROGRAM + 1];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, REFERENCE_PROGRAM);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* dir + suffix, canonical, into buf, if that is a directory. */
static bool canonical_dir(const char *dir, const char *suffix, char *buf, size_t size)
{
    char candidate[2 * PATH_MAX];
    char resolved[PATH_MAX];
    int n = snprintf(candidate, sizeof candidate, "%s%s", dir, suffix);
    if (n < 0 || (size_t)n >= sizeof candidate || !is_dir(candidate) || !realpath(candidate, resolved))
        return false;
    if (strlen(resolved) >= size)
        return false;
    memcpy(buf, resolved, strlen(resolved) + 1);
    return true;
}

static bool set_text(char *buf, size_t size, const char *text)
{
    int n = snprintf(buf, size, "%s", text);
    return n >= 0 && (size_t)n < size;
}

/* The directory part of an executable's path (the path itself if it has no
 * slash is no directory: false). */
static bool dir_of(const char *exe, char *buf, size_t size)
{
    if (!exe || !set_text(buf, size, exe))
        return false;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return false;
    if (slash == buf)
        slash[1] = '\0'; /* "/wirecheck" -> "/" */
    else
        *slash = '\0';
    return true;
}

bool install_lookup_cases_dir(const struct install_lookup *l, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (l->env && *l->env)
        return set_text(buf, size, l->env) && is_dir(buf);
    char dir[PATH_MAX];
    bool have_exe_dir = dir_of(l->exe, dir, sizeof dir);
    /* <prefix>/bin/wirecheck -> <prefix>/share/wirecheck/cases */
    if (have_exe_dir && canonical_dir(dir, "/../share/wirecheck/cases", buf, size))
        return true;
    if (l->built && canonical_dir(l->built, "", buf, size))
        return true;
    /* A build directory inside the source tree: build/bin -> conformance/cases. */
    if (have_exe_dir && canonical_dir(dir, "/../../conformance/cases", buf, size))
        return true;
    if (size)
        buf[0] = '\0';
    return false;
}

bool install_lookup_programs_dir(const struct install_lookup *l, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (l->env && *l->env)
        return set_text(buf, size, l->env);
    char dir[PATH_MAX];
    bool have_exe_dir = dir_of(l->exe, dir, sizeof dir);
    /* Installed, or the build's bin/: the programs sit beside wirecheck. */
    if (have_exe_dir && has_reference_program(dir))
        return canonical_dir(dir, "", buf, size);
    if (l->built && has_reference_program(l->built))
        return canonical_dir(l->built, "", buf, size);
    if (!have_exe_dir || !set_text(buf, size, dir)) {
        if (size)
            buf[0] = '\0';
    }
    return false;
}

/* The running executable, or NULL. */
static const char *self_exe(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return NULL;
    buf[n] = '\0';
    return buf;
}

bool wirecheck_cases_dir(char *buf, size_t size)
{
    char exe[PATH_MAX];
    struct install_lookup l = { .exe = self_exe(exe, sizeof exe), .env = getenv("WIRECHECK_CASES_DIR") };
#ifdef WIRECHECK_CASES_DIR
    l.built = WIRECHECK_CASES_DIR;
#endif
    return install_lookup_cases_dir(&l, buf, size);
}

bool wirecheck_programs_dir(char *buf, size_t size)
{
    char exe[PATH_MAX];
    struct install_lookup l = { .exe = self_exe(exe, sizeof exe), .env = getenv("WIRECHECK_BIN_DIR") };
#ifdef WIRECHECK_BUILT_PROGRAMS_DIR
    l.built = WIRECHECK_BUILT_PROGRAMS_DIR;
#endif
    return install_lookup_programs_dir(&l, buf, size);
}
