/* Feeds a capture file's packets on every interface and section into an
 * analysis through the judge's own block reader (capfile.h), which takes
 * what libpcap 1.10 refuses: a pcapng whose interfaces differ in link type.
 * `check --write` reads every file this way; plain `check` reads with
 * libpcap and comes here only to go on where libpcap stopped at an
 * interface of another link type.
 *
 *   struct check_feed f = { .path = "in.pcapng", .header = true, .out = stdout, .err = stderr };
 *   int rc = check_feed_interfaces(&f, a);  // 0 read to the end, 2 unreadable, 3 not opened
 *   // f.frames: the last frame read; f.fed: judged; f.skipped: on unsupported link types
 *
 * Resuming: with resume_after = N the first N packets are only counted (the
 * analysis already has them), and resume_on_link_change makes the call feed
 * nothing and return CHECK_FEED_NOT_A_LINK_CHANGE unless an interface of a
 * new link type comes between packet N and packet N + 1, which is where
 * libpcap stops on such a file. */
#ifndef WIRECHECK_CHECK_FEED_H
#define WIRECHECK_CHECK_FEED_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis.h"

#define CHECK_FEED_NOT_A_LINK_CHANGE 4

struct check_feed {
    const char *path;
    bool header;                 /* print "FILE: link type X", and a line per other type */
    FILE *out, *err;
    uint32_t resume_after;       /* packets 1..resume_after already judged */
    bool resume_on_link_change;
    /* Results. */
    uint32_t frames;             /* the number of the last frame read */
    uint64_t fed, skipped;       /* frames judged, frames on unsupported link types */
};

/* 0 read to the end, 2 unreadable record (message on err, frames fed up to
 * it), 3 not opened (message on err), CHECK_FEED_NOT_A_LINK_CHANGE. */
int check_feed_interfaces(struct check_feed *f, struct analysis *a);

#endif
