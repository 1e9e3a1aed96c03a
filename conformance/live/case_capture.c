/* case_capture: a case's capture with its comments, as pcapng. See case_capture.h. */
#include "case_capture.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "atomic_file.h"
#include "pcapng.h"

#define COMMENT_MAX 4096

/* Splits a multi-line comment into one pcapng comment per line. */
static size_t split_lines(char *text, const char **lines, size_t max)
{
    size_t n = 0;
    for (char *s = text; *s && n < max;) {
        lines[n++] = s;
        char *nl = strchr(s, '\n');
        if (!nl)
            break;
        *nl = '\0';
        s = nl + 1;
    }
    return n;
}

bool case_capture_write(const char *path, const struct capture *cap, const char *ifname,
                   const char *summary, const struct analysis *a, char *err, size_t errlen)
{
    char why[600];
    struct atomic_file af;
    if (!atomic_file_create(&af, path, err, errlen))
        return false;
    struct pcapng_writer w;
    pcapng_writer_start(&w, af.file, "wirecheck run");
    int ifid = pcapng_add_interface(&w, (uint16_t)cap->linktype, cap->snaplen, ifname);
    static char comment[COMMENT_MAX];
    for (size_t i = 0; i < cap->count && ifid >= 0; i++) {
        const struct captured_packet *p = &cap->packets[i];
        const char *lines[32];
        size_t n = 0;
        if (i == 0)
            lines[n++] = summary;
        if (a && analysis_frame_comment(a, (uint32_t)(i + 1), comment, sizeof comment) > 0)
            n += split_lines(comment, lines + n, 32 - n);
        pcapng_write_packet(&w, (uint32_t)ifid, p->ts_usec, p->data, p->caplen, p->wirelen, lines, n);
    }
    if (!pcapng_writer_close(&w, why, sizeof why)) {
        snprintf(err, errlen, "write %s: %s", path, why);
        atomic_file_discard(&af);
        return false;
    }
    return atomic_file_commit(&af, err, errlen);
}
