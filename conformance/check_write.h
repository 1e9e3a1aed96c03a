/* `wirecheck check --write OUT.pcapng FILE`: FILE's packets, with the verdict
 * comments `wirecheck run` writes, as a pcapng a user opens in Wireshark.
 *
 * Two passes over FILE (so it must be a file, not a pipe): the first judges
 * it as `check` does, streaming, and spills each judged flow's comments to a
 * temporary file (comment_spill.h); the second copies every section,
 * interface and packet (original timestamps and their resolution, link
 * types, interface names and the input's own comments kept; a comment line
 * in wirecheck's grammar from an earlier run is replaced, not doubled) and
 * adds the comments in frame order. Memory: the open flows of pass 1, 16
 * bytes per judged flow and 8 per capture duplicate. OUT appears whole or
 * not at all (atomic_file.h). */
#ifndef WIRECHECK_CHECK_WRITE_H
#define WIRECHECK_CHECK_WRITE_H

#include <stdbool.h>
#include <stdio.h>

#include "analysis.h"

struct check_write_options {
    const char *in_path, *out_path;
    /* As analysis_options: each judged flow (full texts), each frame. */
    void (*on_flow_done)(const struct flow_report *r, void *ctx);
    void (*on_packet)(const struct packet *p, void *ctx);
    void *ctx;
    bool header;   /* print "FILE: link type X" (and one per other interface type) */
    bool summary;  /* print the summary line */
    FILE *out, *err;
    /* The judging policy, as analysis_options (check --strict, --ignore,
     * --only, --max-flows). */
    bool strict;
    uint64_t waived_rules, only_rules;
    size_t max_flows;
};

/* 0 written (the caller's on_flow_done saw the verdicts), 2 usage, input or
 * output error (message on err). */
int check_write_file(const struct check_write_options *o);

#endif
