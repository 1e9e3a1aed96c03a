/* socktable: listening/bound sockets of this network namespace. See socktable.h. */
#include "socktable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCP_LISTEN_STATE 0x0A

/* "  0: 0100007F:0D6A 00000000:0000 0A ...": the local address ends in
 * ":PORT" (hex), then the remote address, then the state (hex). */
bool socktable_line_matches(const char *line, enum socktable_proto proto, unsigned port)
{
    char local[64], remote[64];
    unsigned state;
    if (sscanf(line, " %*[0-9]: %63s %63s %x", local, remote, &state) != 3)
        return false;
    const char *colon = strrchr(local, ':');
    if (!colon)
        return false;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 16);
    if (*end != '\0' || end == colon + 1 || p != port)
        return false;
    return proto == SOCKTABLE_UDP || state == TCP_LISTEN_STATE;
}

/* 1 found, 0 not, -1 unreadable (errno set). */
static int table_has(const char *path, enum socktable_proto proto, unsigned port)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = socktable_line_matches(line, proto, port);
    fclose(f);
    return found;
}

bool socktable_port_bound(enum socktable_proto proto, unsigned port, bool *found, char *err,
                          size_t errlen)
{
    const char *paths[2][2] = { { "/proc/net/tcp", "/proc/net/tcp6" },
                                { "/proc/net/udp", "/proc/net/udp6" } };
    int readable = 0;
    int saved = 0;
    *found = false;
    for (int i = 0; i < 2 && !*found; i++) {
        int rc = table_has(paths[proto][i], proto, port);
        if (rc < 0) {
            saved = errno;
            continue;
        }
        readable++;
        *found = rc == 1;
    }
    if (!readable && !*found) {
        snprintf(err, errlen, "read %s: %s", paths[proto][0], strerror(saved));
        return false;
    }
    return true;
}
