/* install_paths: the built-in cases and the reference programs are found from
 * the environment, then from an install tree around the executable, then
 * from the build; each in a temporary tree this test makes. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "install_paths.h"

static char root[256]; /* the temporary tree, canonical */

static void path_of(char *out, const char *rel)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", root, rel);
    assert_true(n > 0 && n < PATH_MAX);
}

static void make_dir(const char *rel)
{
    char p[PATH_MAX];
    path_of(p, rel);
    for (char *s = p + strlen(root) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    mkdir(p, 0755);
}

static void make_file(const char *rel, mode_t mode)
{
    char p[PATH_MAX];
    path_of(p, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

/* An install under <root>/usr, a build tree inside a source tree under
 * <root>/src, and a loose binary in <root>/elsewhere. */
static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test_install_paths.XXXXXX", real[PATH_MAX];
    if (!mkdtemp(tmpl) || !realpath(tmpl, real) || strlen(real) >= sizeof root)
        return -1;
    memcpy(root, real, strlen(real) + 1);
    make_dir("usr/bin");
    make_dir("usr/share/wirecheck/cases");
    make_file("usr/bin/wirecheck", 0755);
    make_file("usr/bin/tcp-time-server", 0755);
    make_dir("src/conformance/cases");
    make_dir("src/build/bin");
    make_file("src/build/bin/wirecheck", 0755);
    make_file("src/build/bin/tcp-time-server", 0755);
    make_dir("elsewhere/bin");
    make_file("elsewhere/bin/wirecheck", 0755);
    make_file("elsewhere/bin/tcp-time-server", 0644); /* not executable: not a program */
    make_dir("env-cases");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[sizeof root + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void expect_cases(const char *exe_rel, const char *env, const char *built_rel, const char *want_rel)
{
    char exe[PATH_MAX], built[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
    path_of(exe, exe_rel);
    if (built_rel)
        path_of(built, built_rel);
    struct install_lookup l = { .exe = exe, .env = env, .built = built_rel ? built : NULL };
    bool ok = install_lookup_cases_dir(&l, got, sizeof got);
    if (!want_rel) {
        assert_false(ok);
        return;
    }
    path_of(want, want_rel);
    assert_true(ok);
    assert_string_equal(got, want);
}

static void cases_from_install_layout(void **state)
{
    (void)state;
    /* <prefix>/bin/wirecheck -> <prefix>/share/wirecheck/cases, even when the
     * compiled-in source path still exists (a package built here). */
    expect_cases("usr/bin/wirecheck", NULL, "src/conformance/cases", "usr/share/wirecheck/cases");
    expect_cases("usr/bin/wirecheck", "", "src/conformance/cases", "usr/share/wirecheck/cases");
    /* And with no compiled-in path at all (the source tree is gone). */
    expect_cases("usr/bin/wirecheck", NULL, NULL, "usr/share/wirecheck/cases");
    /* A path with ".." in it comes back canonical. */
    expect_cases("usr/bin/../bin/wirecheck", NULL, NULL, "usr/share/wirecheck/cases");
}

static void cases_environment_first(void **state)
{
    (void)state;
    char env[PATH_MAX], got[PATH_MAX], exe[PATH_MAX];
    path_of(env, "env-cases");
    path_of(exe, "usr/bin/wirecheck");
    struct install_lookup l = { .exe = exe, .env = env };
    assert_true(install_lookup_cases_dir(&l, got, sizeof got));
    assert_string_equal(got, env);
    /* Set but wrong is an error, not a silent fallback to the install. */
    path_of(env, "no-such-dir");
    assert_false(install_lookup_cases_dir(&l, got, sizeof got));
}

static void cases_from_build(void **state)
{
    (void)state;
    /* build/bin/wirecheck: no share/ beside it; the compiled-in source path. */
    expect_cases("src/build/bin/wirecheck", NULL, "src/conformance/cases", "src/conformance/cases");
    /* The source tree next to an in-tree build, without a compiled-in path. */
    expect_cases("src/build/bin/wirecheck", NULL, NULL, "src/conformance/cases");
    /* A compiled-in path that no longer exists is skipped. */
    expect_cases("src/build/bin/wirecheck", NULL, "gone/cases", "src/conformance/cases");
    /* Nothing anywhere. */
    expect_cases("elsewhere/bin/wirecheck", NULL, "gone/cases", NULL);
    expect_cases("elsewhere/bin/wirecheck", NULL, NULL, NULL);
}

static void programs_lookup(void **state)
{
    (void)state;
    char exe[PATH_MAX], built[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
    struct install_lookup l = { .exe = exe };

    /* Installed: beside the executable, whatever was compiled in. */
    path_of(exe, "usr/bin/wirecheck");
    path_of(built, "src/build/bin");
    l.built = built;
    path_of(want, "usr/bin");
    assert_true(install_lookup_programs_dir(&l, got, sizeof got));
    assert_string_equal(got, want);

    /* The environment wins, taken as given. */
    l.env = "/opt/mine/bin";
    assert_true(install_lookup_programs_dir(&l, got, sizeof got));
    assert_string_equal(got, "/opt/mine/bin");
    l.env = NULL;

    /* No reference program beside the executable: the compiled-in build. */
    path_of(exe, "elsewhere/bin/wirecheck");
    path_of(want, "src/build/bin");
    assert_true(install_lookup_programs_dir(&l, got, sizeof got));
    assert_string_equal(got, want);

    /* Neither: false, and the executable's directory for PATH anyway. */
    l.built = NULL;
    path_of(want, "elsewhere/bin");
    assert_false(install_lookup_programs_dir(&l, got, sizeof got));
    assert_string_equal(got, want);

    /* No usable executable path at all. */
    l.exe = NULL;
    assert_false(install_lookup_programs_dir(&l, got, sizeof got));
    assert_string_equal(got, "");
}

/* The real lookups, from this test's own executable (build/bin/). */
static void real_lookups(void **state)
{
    (void)state;
    char got[PATH_MAX], want[PATH_MAX];
    unsetenv("WIRECHECK_CASES_DIR");
    unsetenv("WIRECHECK_BIN_DIR");
    assert_true(wirecheck_cases_dir(got, sizeof got));
    assert_non_null(realpath(WIRECHECK_SOURCE_DIR "/conformance/cases", want));
    assert_string_equal(got, want);
    assert_true(wirecheck_programs_dir(got, sizeof got));
    assert_non_null(realpath(WIRECHECK_BIN_DIR, want));
    assert_string_equal(got, want);

    char env[PATH_MAX];
    path_of(env, "env-cases");
    setenv("WIRECHECK_CASES_DIR", env, 1);
    assert_true(wirecheck_cases_dir(got, sizeof got));
    assert_string_equal(got, env);
    unsetenv("WIRECHECK_CASES_DIR");

    /* A buffer too small is a failure, never a cut path. */
    char tiny[4];
    assert_false(wirecheck_cases_dir(tiny, sizeof tiny));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cases_from_install_layout),
        cmocka_unit_test(cases_environment_first),
        cmocka_unit_test(cases_from_build),
        cmocka_unit_test(programs_lookup),
        cmocka_unit_test(real_lookups),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
