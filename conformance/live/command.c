/* command: placeholders and a shell-free split. See command.h. */
#include "command.h"

#include <stdio.h>
#include <string.h>

static bool append_text(char *out, size_t size, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (*used + n >= size)
        return false;
    memcpy(out + *used, s, n + 1);
    *used += n;
    return true;
}

bool command_substitute(const char *template, const char *host, unsigned port, int family,
                        const char *bin_dir, char *out, size_t size)
{
    char port_text[8], family_text[4];
    snprintf(port_text, sizeof port_text, "%u", port);
    snprintf(family_text, sizeof family_text, "%d", family);
    const struct { const char *key, *value; } vars[] = {
        { "{host}", host }, { "{port}", port_text },
        { "{family}", family_text }, { "{bin}", bin_dir ? bin_dir : "." },
    };
    size_t used = 0;
    if (size == 0)
        return false;
    out[0] = '\0';
    for (const char *s = template; *s;) {
        bool replaced = false;
        if (s[0] == '{' && s[1] == '{') {
            if (!append_text(out, size, &used, "{"))
                return false;
            s += 2;
            continue;
        }
        for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !replaced; i++) {
            size_t klen = strlen(vars[i].key);
            if (strncmp(s, vars[i].key, klen) == 0) {
                if (!append_text(out, size, &used, vars[i].value))
                    return false;
                s += klen;
                replaced = true;
            }
        }
        if (!replaced) {
            char one[2] = { *s++, '\0' };
            if (!append_text(out, size, &used, one))
                return false;
        }
    }
    return true;
}

static bool word_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && ((c >= '0' && c <= '9') || c == '-'));
}

bool command_check_placeholders(const char *template, char *bad, size_t badlen)
{
    static const char *const known[] = { "{host}", "{port}", "{family}", "{bin}" };
    for (const char *s = template; *s; s++) {
        if (s[0] == '{' && s[1] == '{') {
            s++;
            continue;
        }
        if (*s != '{' || (s > template && s[-1] == '$') || !word_char(s[1], true))
            continue;
        const char *e = s + 2;
        while (word_char(*e, false))
            e++;
        if (*e != '}')
            continue;
        size_t n = (size_t)(e - s) + 1;
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || (strlen(known[i]) == n && strncmp(known[i], s, n) == 0);
        if (!ok) {
            snprintf(bad, badlen, "%.*s", (int)n, s);
            return false;
        }
        s = e;
    }
    return true;
}

bool command_split_plain(const char *cmd, char *buf, size_t cap, char **argv, size_t max)
{
    static const char shell_only[] = "|&;<>()$`*?[]{}~#=!";
    size_t n = 0, w = 0;
    bool in_word = false;
    for (const char *p = cmd;; p++) {
        char ch = *p;
        if (ch == '\0' || ch == ' ' || ch == '\t' || ch == '\n') {
            if (in_word) {
                if (w >= cap)
                    return false;
                buf[w++] = '\0';
                in_word = false;
            }
            if (ch == '\0')
                break;
            continue;
        }
        if (!in_word) {
            if (n + 1 >= max)
                return false;
            argv[n++] = buf + w;
            in_word = true;
        }
        if (strchr(shell_only, ch))
            return false;
        if (ch == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end || w + (size_t)(end - p) >= cap)
                return false;
            memcpy(buf + w, p + 1, (size_t)(end - p - 1));
            w += (size_t)(end - p - 1);
            p = end;
            continue;
        }
        if (ch == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0' || *p == '$' || *p == '`')
                    return false;
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                if (w + 1 >= cap)
                    return false;
                buf[w++] = *p;
            }
            continue;
        }
        if (ch == '\\') {
            if (*++p == '\0')
                return false;
            ch = *p;
        }
        if (w + 1 >= cap)
            return false;
        buf[w++] = ch;
    }
    argv[n] = NULL;
    return n > 0;
}
