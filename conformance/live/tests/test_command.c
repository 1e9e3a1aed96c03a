/* command: placeholders and the shell-free split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "command.h"

static void test_placeholders(void **state)
{
    (void)state;
    char out[256];
    assert_true(command_substitute("srv --bind {host} --port {port} -{family} {bin}/x {other}",
                                   "::1", 3434, 6, "/b", out, sizeof out));
    assert_string_equal(out, "srv --bind ::1 --port 3434 -6 /b/x {other}");
    /* No bin dir: the current one. */
    assert_true(command_substitute("{bin}/srv", "127.0.0.1", 1, 4, NULL, out, sizeof out));
    assert_string_equal(out, "./srv");
    /* Too long for the buffer, and exactly the size that no longer fits. */
    assert_false(command_substitute("{host}{host}{host}", "127.0.0.1", 1, 4, NULL, out, 20));
    assert_false(command_substitute("abc", "h", 1, 4, NULL, out, 3));
    assert_true(command_substitute("ab", "h", 1, 4, NULL, out, 3));
    assert_false(command_substitute("", "h", 1, 4, NULL, out, 0));
}

/* A mistyped placeholder is left as it is written; the program (or the
 * shell) sees the braces. */
static void test_mistyped_placeholder_stays(void **state)
{
    (void)state;
    char out[256];
    assert_true(command_substitute("c --port {prot} --host {host", "h", 7, 4, NULL, out,
                                   sizeof out));
    assert_string_equal(out, "c --port {prot} --host {host");
    /* Its braces need a shell: it is not split. */
    char words[256], *argv[8];
    assert_false(command_split_plain(out, words, sizeof words, argv, 8));
}

/* The runner refuses it before running anything: the check names it. */
static void test_unknown_placeholder_named(void **state)
{
    (void)state;
    char bad[64];
    assert_false(command_check_placeholders("nc -l -s {hots} -p {port}", bad, sizeof bad));
    assert_string_equal(bad, "{hots}");
    assert_false(command_check_placeholders("x {Port}", bad, sizeof bad));
    assert_string_equal(bad, "{Port}");
    assert_true(command_check_placeholders("x {host} {port} {family} {bin}", bad, sizeof bad));
    /* Not placeholders: the shell's ${x}, {{x}, awk's { print }, a lone brace. */
    assert_true(command_check_placeholders("sh -c 'echo ${HOME}' {{x} { print } {1} {", bad,
                                           sizeof bad));
    char out[128];
    assert_true(command_substitute("printf '{{x}' {port}", "h", 7, 4, NULL, out, sizeof out));
    assert_string_equal(out, "printf '{x}' 7");
}

static void test_plain_words_and_quotes(void **state)
{
    (void)state;
    char words[256], *argv[8];
    assert_true(command_split_plain("  tcp-client --host ::1\t--port 3434 ", words, sizeof words,
                                    argv, 8));
    assert_string_equal(argv[0], "tcp-client");
    assert_string_equal(argv[1], "--host");
    assert_string_equal(argv[2], "::1");
    assert_string_equal(argv[3], "--port");
    assert_string_equal(argv[4], "3434");
    assert_null(argv[5]);

    assert_true(command_split_plain("echo 'a b' \"c \\\"d\\\" \\\\\" e\\ f 'g'h", words,
                                    sizeof words, argv, 8));
    assert_string_equal(argv[0], "echo");
    assert_string_equal(argv[1], "a b");
    assert_string_equal(argv[2], "c \"d\" \\");
    assert_string_equal(argv[3], "e f");
    assert_string_equal(argv[4], "gh");
    assert_null(argv[5]);
    /* Inside single quotes nothing is special, not even what a shell expands. */
    assert_true(command_split_plain("python3 -c 'print(\"$x {y}\")'", words, sizeof words, argv, 8));
    assert_string_equal(argv[2], "print(\"$x {y}\")");
}

static void test_shell_needed(void **state)
{
    (void)state;
    char words[256], *argv[8];
    const char *shell[] = {
        "a | b", "a && b", "a; b", "a > f", "a < f", "$HOME/x", "echo `x`", "ls *.c",
        "X=1 prog", "~/prog", "prog # comment", "echo \"$x\"", "echo 'open", "echo \"open",
        "echo trailing\\", "", "   ",
    };
    for (size_t i = 0; i < sizeof shell / sizeof shell[0]; i++) {
        if (command_split_plain(shell[i], words, sizeof words, argv, 8))
            fail_msg("split without a shell: %s", shell[i]);
    }
}

static void test_limits(void **state)
{
    (void)state;
    char words[8], *argv[3];
    /* Two words and the NULL fit in argv[3]; a third word does not. */
    assert_true(command_split_plain("a b", words, sizeof words, argv, 3));
    assert_false(command_split_plain("a b c", words, sizeof words, argv, 3));
    /* The words and their NULs must fit in buf. */
    assert_true(command_split_plain("abc def", words, sizeof words, argv, 3));
    assert_false(command_split_plain("abcd efgh", words, sizeof words, argv, 3));
    assert_false(command_split_plain("'abcdefghij'", words, sizeof words, argv, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_mistyped_placeholder_stays),
        cmocka_unit_test(test_unknown_placeholder_named),
        cmocka_unit_test(test_plain_words_and_quotes),
        cmocka_unit_test(test_shell_needed),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
