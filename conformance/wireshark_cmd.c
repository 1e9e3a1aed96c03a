/* `wirecheck wireshark --install`: puts the Lua plugin where Wireshark
 * looks for it and a profile "wirecheck" with the verdict column and
 * colors, then says how to open a capture with them.
 *
 * Where: Wireshark's own answer (`tshark -G folders`: "Personal Lua
 * Plugins", "Personal configuration", or the "Global" ones) when tshark is
 * installed, else ~/.local/lib/wireshark/plugins and
 * $XDG_CONFIG_HOME/wireshark (~/.config/wireshark). As root the global
 * folders are the default (every user gets the plugin), --personal and
 * --global choose. The files come from the install (share/wirecheck/
 * wireshark, beside the cases) or the source tree (conformance/wireshark);
 * $WIRECHECK_WIRESHARK_DIR overrides. Each file is written atomically. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "commands.h"
#include "install_paths.h"

struct folders {
    char plugins[PATH_MAX];
    char config[PATH_MAX];
};

static void usage(FILE *to)
{
    fputs("usage: wirecheck wireshark --install [--personal|--global]\n"
          "Installs the Wireshark plugin (wirecheck.lua: the verdict comments of\n"
          "`wirecheck run` and `wirecheck check --write` as wirecheck.* fields, expert\n"
          "info and a tree) and a profile \"wirecheck\" (a verdict column, failures in red).\n"
          "  --personal  into your own folders (default unless run as root)\n"
          "  --global    into Wireshark's global folders, for every user (default as root)\n"
          "Exit status: 0 installed, 2 usage or write error.\n",
          to);
}

/* The value of "Label:<tabs>value" in `tshark -G folders`, if tshark runs. */
static bool tshark_folder(const char *label, char *buf, size_t size)
{
    FILE *p = popen("tshark -G folders 2>/dev/null", "r");
    if (!p)
        return false;
    char line[PATH_MAX + 64];
    bool found = false;
    size_t n = strlen(label);
    while (fgets(line, sizeof line, p)) {
        if (found || strncmp(line, label, n) != 0 || line[n] != ':')
            continue;
        char *v = line + n + 1;
        v += strspn(v, " \t");
        v[strcspn(v, "\r\n")] = '\0';
        if (*v && strlen(v) < size) {
            snprintf(buf, size, "%s", v);
            found = true;
        }
    }
    pclose(p);
    return found;
}

static bool find_folders(bool global, struct folders *f, FILE *err)
{
    const char *plugins = global ? "Global Lua Plugins" : "Personal Lua Plugins";
    const char *config = global ? "Global configuration" : "Personal configuration";
    bool have_plugins = tshark_folder(plugins, f->plugins, sizeof f->plugins);
    bool have_config = tshark_folder(config, f->config, sizeof f->config);
    if (have_plugins && have_config)
        return true;
    if (global) {
        fprintf(err, "wirecheck wireshark: cannot ask Wireshark for its global folders "
                "(`tshark -G folders` failed): install tshark, or use --personal\n");
        return false;
    }
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (!home || !*home) {
        fprintf(err, "wirecheck wireshark: HOME is not set\n");
        return false;
    }
    if (!have_plugins)
        snprintf(f->plugins, sizeof f->plugins, "%s/.local/lib/wireshark/plugins", home);
    if (!have_config) {
        if (xdg && *xdg)
            snprintf(f->config, sizeof f->config, "%s/wireshark", xdg);
        else
            snprintf(f->config, sizeof f->config, "%s/.config/wireshark", home);
    }
    return true;
}

/* mkdir -p, 0755. */
static bool make_dirs(const char *path, FILE *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                fprintf(err, "wirecheck wireshark: mkdir %s: %s\n", p, strerror(errno));
                return false;
            }
            *s = c;
            if (c == '\0')
                return true;
        }
    }
}

static bool copy_file(const char *from, const char *dir, const char *name, FILE *err)
{
    char to[PATH_MAX], msg[PATH_MAX + 200];
    if (snprintf(to, sizeof to, "%s/%s", dir, name) >= (int)sizeof to) {
        fprintf(err, "wirecheck wireshark: path too long: %s/%s\n", dir, name);
        return false;
    }
    FILE *in = fopen(from, "rb");
    if (!in) {
        fprintf(err, "wirecheck wireshark: open %s: %s\n", from, strerror(errno));
        return false;
    }
    struct atomic_file af;
    if (!atomic_file_create(&af, to, msg, sizeof msg)) {
        fprintf(err, "wirecheck wireshark: %s\n", msg);
        fclose(in);
        return false;
    }
    char buf[65536];
    size_t n;
    bool ok = true;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ok &= fwrite(buf, 1, n, af.file) == n;
    if (ferror(in) || !ok) {
        fprintf(err, "wirecheck wireshark: copy %s to %s: %s\n", from, to, strerror(errno));
        fclose(in);
        atomic_file_discard(&af);
        return false;
    }
    fclose(in);
    if (!atomic_file_commit(&af, msg, sizeof msg)) {
        fprintf(err, "wirecheck wireshark: %s\n", msg);
        return false;
    }
    return true;
}

/* The directory holding wirecheck.lua and profile/. */
static bool source_dir(char *buf, size_t size, FILE *err)
{
    const char *env = getenv("WIRECHECK_WIRESHARK_DIR");
    char cases[PATH_MAX];
    int n = -1;
    if (env && *env)
        n = snprintf(buf, size, "%s", env);
    else if (wirecheck_cases_dir(cases, sizeof cases))
        n = snprintf(buf, size, "%s/../wireshark", cases); /* share/wirecheck/{cases,wireshark} */
    if (n < 0 || (size_t)n >= size)
        buf[0] = '\0';
    char lua[PATH_MAX + 32];
    snprintf(lua, sizeof lua, "%s/wirecheck.lua", buf);
    if (buf[0] && access(lua, R_OK) == 0)
        return true;
    fprintf(err, "wirecheck wireshark: the plugin is not found (looked for %s); set "
            "WIRECHECK_WIRESHARK_DIR to the folder holding wirecheck.lua\n",
            buf[0] ? lua : "share/wirecheck/wireshark/wirecheck.lua");
    return false;
}

static int install(bool global, FILE *out, FILE *err)
{
    char src[PATH_MAX], from[PATH_MAX + 64], profile[PATH_MAX + 32];
    struct folders f;
    if (!source_dir(src, sizeof src, err) || !find_folders(global, &f, err))
        return 2;
    snprintf(profile, sizeof profile, "%s/profiles/wirecheck", f.config);
    if (!make_dirs(f.plugins, err) || !make_dirs(profile, err))
        return 2;
    snprintf(from, sizeof from, "%s/wirecheck.lua", src);
    if (!copy_file(from, f.plugins, "wirecheck.lua", err))
        return 2;
    static const char *const profile_files[] = { "preferences", "colorfilters" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/profile/%s", src, profile_files[i]);
        if (!copy_file(from, profile, profile_files[i], err))
            return 2;
    }
    fprintf(out,
            "Installed the Wireshark plugin: %s/wirecheck.lua\n"
            "Installed the profile \"wirecheck\" (a verdict column, failures in red): %s\n"
            "\n"
            "Open a capture with them (`wirecheck run` leaves captures/runs/<case>.pcapng,\n"
            "`wirecheck check --write OUT.pcapng FILE` annotates any capture):\n"
            "  wireshark -C wirecheck captures/runs/time-ipv4.pcapng\n"
            "Display filters: wirecheck.verdict == \"fail\", wirecheck.rule == \"tcp.no_rst\",\n"
            "wirecheck.case; Analyze > Expert Information lists failures as errors.\n"
            "  tshark -C wirecheck -r FILE -Y 'wirecheck.verdict == \"fail\"'\n",
            f.plugins, profile);
    return 0;
}

int wireshark_command(int argc, char **argv, FILE *out, FILE *err)
{
    bool do_install = false;
    int where = -1; /* -1 default, 0 personal, 1 global */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--install") == 0) {
            do_install = true;
        } else if (strcmp(argv[i], "--personal") == 0) {
            where = 0;
        } else if (strcmp(argv[i], "--global") == 0) {
            where = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(out);
            return 0;
        } else {
            fprintf(err, "wirecheck wireshark: unknown option '%s'\n", argv[i]);
            usage(err);
            return 2;
        }
    }
    if (!do_install) {
        usage(err);
        return 2;
    }
    return install(where < 0 ? geteuid() == 0 : where == 1, out, err);
}

int cmd_wireshark(int argc, char **argv)
{
    return wireshark_command(argc, argv, stdout, stderr);
}
