/* Fuzz target: `wirecheck check` on a whole capture file
 * (conformance/analysis.h), through libpcap's reader as the CLI does.
 *
 * Input: a pcap or pcapng file. It is read from memory (fmemopen +
 * pcap_fopen_offline), every frame (at most MAX_FRAMES) is fed to the
 * analysis with the file's link type, then the analysis is finished and every
 * retained report, payload and frame comment is read back.
 *
 * Invariants: the summary counts every frame fed; reports are numbered in
 * order and their verdicts carry their rule ids; payloads stay within
 * payload_cap; frame comments are NUL-terminated and never longer than they
 * say; no leak (libFuzzer's leak checker) once the analysis is destroyed. */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "capfile.h"
#include "fuzz_common.h"
#include "verdict.h"

/* The brief form stays in its buffer; the JSON line is one line of
 * printable bytes, whatever the verdict holds. */
static void check_renderers(const struct verdict *v)
{
    char brief[64];
    memset(brief, 'x', sizeof brief);
    verdict_format_brief(v, brief, sizeof brief);
    FUZZ_CHECK(memchr(brief, '\0', sizeof brief) != NULL, "brief form not terminated");
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    FUZZ_CHECK(f != NULL, "out of memory");
    verdict_print_json(f, v, "fuzz", "flow");
    fclose(f);
    FUZZ_CHECK(len > 2 && json[0] == '{' && json[len - 1] == '\n', "JSON line malformed: %s", json);
    for (size_t i = 0; i + 1 < len; i++)
        FUZZ_CHECK((unsigned char)json[i] >= 0x20 && json[i] != 0x7f, "raw control byte in JSON");
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 4096
#define PAYLOAD_CAP 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_fopen_offline(f, errbuf); /* owns f from here */
    if (!pc) {
        fclose(f);
        return 0;
    }
    struct analysis_options o;
    analysis_options_default(&o);
    o.retain_reports = true;
    o.payload_cap = PAYLOAD_CAP;
    struct analysis *a = analysis_create(&o);
    FUZZ_CHECK(a != NULL, "out of memory");

    uint32_t frames;
    capfile_feed(pc, a, MAX_FRAMES, &frames);
    analysis_finish(a);

    struct analysis_summary sum;
    analysis_get_summary(a, &sum);
    FUZZ_CHECK(sum.frames == frames, "summary counts %llu frames, fed %u",
               (unsigned long long)sum.frames, frames);
    FUZZ_CHECK(sum.not_ip + sum.malformed <= sum.frames, "more bad frames than frames");
    size_t n = analysis_report_count(a);
    for (size_t i = 0; i < n; i++) {
        const struct flow_report *r = analysis_report(a, i);
        FUZZ_CHECK(r != NULL && r->index == i, "report %zu out of order", i);
        for (size_t v = 0; v < r->nverdicts; v++) {
            FUZZ_CHECK(r->verdicts[v].id != NULL, "verdict without an id");
            FUZZ_CHECK(flow_report_find(r, r->verdicts[v].id) != NULL, "verdict %s not found",
                       r->verdicts[v].id);
            FUZZ_CHECK(memchr(r->verdicts[v].text, '\0', sizeof r->verdicts[v].text) != NULL,
                       "verdict text not terminated");
            check_renderers(&r->verdicts[v]);
        }
        for (int side = SIDE_CLIENT; side <= SIDE_SERVER; side++) {
            const uint8_t *p;
            size_t len;
            if (flow_report_payload(r, (enum flow_side)side, &p, &len))
                FUZZ_CHECK(len <= PAYLOAD_CAP && (len == 0 || p != NULL), "payload of %zu", len);
        }
    }
    char comment[256];
    for (uint32_t fr = 1; fr <= frames; fr++) {
        memset(comment, 'x', sizeof comment);
        size_t need = analysis_frame_comment(a, fr, comment, sizeof comment);
        FUZZ_CHECK(memchr(comment, '\0', sizeof comment) != NULL || need == 0,
                   "comment of frame %u not terminated", fr);
        if (need < sizeof comment)
            FUZZ_CHECK(strlen(comment) == need, "comment of frame %u: %zu bytes, said %zu", fr,
                       strlen(comment), need);
    }
    analysis_destroy(a);
    pcap_close(pc);
    return 0;
}
