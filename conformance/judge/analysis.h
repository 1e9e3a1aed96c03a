/* analysis: the streaming judge of a capture, used by `wirecheck check` and
 * by the live runner.
 *
 *   struct analysis_options o;
 *   analysis_options_default(&o);
 *   o.retain_reports = true;                  // runner: keep results
 *   struct analysis *a = analysis_create(&o);
 *   for each captured frame:
 *       analysis_feed(a, frame_no, ts_usec, linktype, caplen, wirelen, bytes);
 *   analysis_finish(a);                       // judges flows still open
 *   for (size_t i = 0; i < analysis_report_count(a); i++) {
 *       const struct flow_report *r = analysis_report(a, i);
 *       const struct verdict *v = flow_report_find(r, "tcp.teardown.abortive");
 *       ...
 *   }
 *   analysis_frame_comment(a, 3, buf, sizeof buf); // pcapng comment of frame 3
 *   analysis_destroy(a);
 *
 * Memory grows with the flows open at the same time, not with the file: a
 * TCP flow is judged and freed shortly after it closes (both FINs acked, or a
 * RST) and any flow after an idle timeout, both measured in capture time.
 * Each judged flow is handed to on_flow_done; it is kept for iteration only
 * if retain_reports is set (the runner wants that, `check` does not).
 *
 * Nothing here does I/O; packets come from the caller. The pipeline is
 * analysis.c; its steps are modules of their own: dissect_* (frame ->
 * packet), capdup (capture duplicates), reasm (fragments), flow_table and
 * flow (routing and facts per flow), checks (rules), flow_report (the
 * report of a judged flow), annotate (frame comments), verdict (rendering).
 * Running out of memory never drops a flow silently: it is counted in
 * analysis_summary (untracked_frames, lost_reports). */
#ifndef WIRECHECK_ANALYSIS_H
#define WIRECHECK_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checks.h"
#include "dissect.h"

enum flow_proto { FLOW_CAPTURE = 0, FLOW_TCP, FLOW_UDP };

/* The client is the side that sent the SYN (TCP) or the first datagram
 * (UDP); for a TCP flow caught mid-stream, the side with the higher port. */
enum flow_side { SIDE_CLIENT = 0, SIDE_SERVER = 1 };

/* How a TCP connection ended, as seen on the wire. */
enum teardown_kind {
    TEARDOWN_NONE = 0,    /* still open at the end of the capture/timeout */
    TEARDOWN_FIN,         /* both sides FIN'd (orderly) */
    TEARDOWN_HALF,        /* only one side FIN'd */
    TEARDOWN_RST,         /* reset after being established */
    TEARDOWN_REFUSED,     /* SYN answered by RST */
    TEARDOWN_NO_ANSWER,   /* SYN(s) never answered */
};
const char *teardown_kind_name(enum teardown_kind k);

/* Everything known about one judged flow. The pseudo-flow FLOW_CAPTURE holds
 * rules about the capture as a whole (malformed packets). */
struct flow_report {
    unsigned index;           /* 0-based, in order of judgement */
    enum flow_proto proto;
    struct endpoint client, server;
    uint32_t first_frame, last_frame;
    int64_t first_ts_usec, last_ts_usec;
    uint32_t packets[2];      /* per side */
    uint64_t bytes[2];        /* payload bytes per side (TCP: unique stream
                                 bytes; UDP: sum of datagram payloads) */
    /* TCP */
    bool handshake_seen;      /* SYN, SYN/ACK and ACK all seen */
    enum teardown_kind teardown;
    int first_fin_side;       /* -1 none, else enum flow_side */
    bool simultaneous_close;  /* the FINs crossed: each sent before the other was seen */
    /* UDP */
    uint32_t datagrams[2];
    uint32_t icmp_unreachable; /* ICMP port unreachable matched to the flow */
    /* Verdicts, in rule order (but those of analysis_options'
     * verdict_unkept_kinds), and how many of each kind there were, kept or
     * not (what the summary and a failure check read). */
    struct verdict *verdicts;
    size_t nverdicts;
    uint32_t verdict_counts[VERDICT_KINDS];
    /* Every frame of the flow whose TCP/UDP checksum was left to offload,
     * ascending (retain_reports only; a verdict names at most
     * VERDICT_MAX_FRAMES): each gets the checksum.offloaded comment. */
    uint32_t *offloaded_frames;
    size_t noffloaded;
    /* Payload each side sent, in sequence order from the first byte, up to
     * options.payload_cap bytes. payload_complete: it is all of it, gapless. */
    uint8_t *payload[2];
    size_t payload_len[2];
    bool payload_complete[2];
};

struct analysis_options {
    /* Bytes of payload kept per direction for payload assertions (0: none). */
    size_t payload_cap;
    /* Capture-time timeouts, microseconds. */
    int64_t tcp_idle_usec;    /* open TCP flow with no packets */
    int64_t udp_idle_usec;    /* UDP flow with no packets */
    int64_t closed_linger_usec; /* closed TCP flow kept for late packets */
    /* ...but no longer than this many frames after its close and twice as
     * many after its first frame (0: no bound): in a capture of more than
     * a few 10k frames a second the frames bound what lingers, not the
     * seconds. Looked at every closed_linger_frames / 4 frames. The second
     * bound keeps reports in the order of the flows' first frames when
     * every connection is short. */
    uint32_t closed_linger_frames;
    /* Keep judged flows (and their payloads) for analysis_report(). */
    bool retain_reports;
    /* Record what frame comments need without retaining reports: every
     * offloaded-checksum frame of a flow (flow_report.offloaded_frames) and
     * the capture duplicates (for analysis_frame_comment, which then gives
     * only the duplicates' comments). `check --write` annotates each report
     * in on_flow_done. Implied by retain_reports. */
    bool annotate;
    /* The capture comes from a run that dropped packets on purpose (the
     * runner sets it for a case with loss faults): retransmissions are
     * reported as info, not fail (see checks_options). */
    bool loss_injected;
    /* Verdict kinds (bit 1u << kind) whose text nobody will read: their
     * text, expected and seen stay empty (see checks_options). `check`
     * leaves out what its report level does not print; a caller that
     * wants frame comments or logs every verdict leaves it 0. */
    unsigned verdict_textless_kinds;
    /* Verdict kinds (bit 1u << kind, after strict / waived) only counted in
     * flow_report.verdict_counts and the summary, not kept in the report's
     * verdicts: `check` leaves out what its report level does not print.
     * 0: every verdict kept. */
    unsigned verdict_unkept_kinds;
    /* `check --strict`, `--ignore`, `--only` (see checks_options): warn
     * becomes fail; waived rules (bit 1 << rule_id) are reported "waived";
     * only != 0: just these rules are reported. */
    bool strict;
    uint64_t waived_rules;
    uint64_t only_rules;
    /* At most this many flows open at once (0: no bound); opening one more
     * judges the flow nearest its deadline (the oldest idle) first, as
     * incomplete, counted in summary.evicted_flows. Default 512Ki (a SYN
     * flood then stays within 256 MiB: ~400 bytes a half-open flow). */
    size_t max_flows;
    /* Threads in all (0 or 1: one, the caller's). With more, the caller
     * of analysis_feed (the reader) only copies frames into chunks of a
     * thousand; the other jobs - 1 threads, the shards, dissect each
     * chunk in slices, a
     * few chunks later the reader drops capture duplicates, reassembles and
     * routes it in frame order while they go on; the flows are sharded
     * over them by a symmetric hash of their addresses and ports (an ICMP
     * error by the tuple it quotes), and the reports are handed to
     * on_flow_done (on the reader's thread) in the very order one thread
     * gives. The reader is a thread of its own because reading is a third
     * of the work or more (the pcap read floor): on 2 cores the reader and
     * one shard judge a capture with large payloads 1.3x as fast as one
     * thread, the reader and two shards 1.05x. Only for a caller that
     * wants neither payloads, retained reports, annotations nor on_packet
     * (`check` without --verbose/--write): otherwise 1. With more flows
     * open than max_flows and more than one shard, each holds
     * max_flows / (jobs - 1), so which flows are judged early may differ
     * from one thread. */
    unsigned jobs;
    /* Called once per judged flow, in judgement order; `r` lives only for
     * the call unless retain_reports is set. May be NULL. */
    void (*on_flow_done)(const struct flow_report *r, void *ctx);
    /* Called for every fed frame after dissecting (for --verbose). May be NULL. */
    void (*on_packet)(const struct packet *p, void *ctx);
    void *ctx;
};

#define ANALYSIS_DEFAULT_MAX_FLOWS ((size_t)1 << 19)

#define ANALYSIS_DEFAULT_LINGER_FRAMES 65536u

/* Defaults: payload_cap 64 KiB, tcp idle 300 s, udp idle 60 s, linger 2 s
 * and ANALYSIS_DEFAULT_LINGER_FRAMES, max_flows ANALYSIS_DEFAULT_MAX_FLOWS, retain_reports false, loss_injected false, no callbacks. */
void analysis_options_default(struct analysis_options *o);

/* NULL on out of memory. */
struct analysis *analysis_create(const struct analysis_options *o);
void analysis_destroy(struct analysis *a);

/* Capture timestamps are kept within +-ANALYSIS_TS_LIMIT microseconds (some
 * 73,000 years) so that differences and timeouts never overflow;
 * analysis_feed clamps what is outside. */
#define ANALYSIS_TS_LIMIT (INT64_C(1) << 61)

/* sec * 1000000 + usec, saturated to +-ANALYSIS_TS_LIMIT: a capture file's
 * timestamp (a hostile pcapng can claim 2^64 - 1 ticks) without overflow. */
int64_t analysis_timestamp(int64_t sec, int64_t usec);

/* Feeds one frame. `frame` is the 1-based frame number, frames in capture
 * order. Returns the dissector's verdict on the frame (DISSECT_OK,
 * DISSECT_NOT_IP for frames that are simply not IP, or the malformation);
 * malformed frames are also recorded as packet.well_formed failures. With
 * jobs > 1 the frame is dissected later, on another thread: DISSECT_OK. */
enum dissect_error analysis_feed(struct analysis *a, uint32_t frame, int64_t ts_usec,
                                 int linktype, uint32_t caplen, uint32_t wirelen,
                                 const uint8_t *bytes);

/* Judges every flow still open. Call once after the last frame; feeding
 * after it is not allowed. */
void analysis_finish(struct analysis *a);

/* Retained reports (retain_reports), in judgement order. */
size_t analysis_report_count(const struct analysis *a);
const struct flow_report *analysis_report(const struct analysis *a, size_t i);

/* The verdict of rule `rule_id` on a flow, or NULL if not evaluated there. */
const struct verdict *flow_report_find(const struct flow_report *r, const char *rule_id);

/* Bytes `side` sent on the flow (see flow_report.payload). */
bool flow_report_payload(const struct flow_report *r, enum flow_side side,
                         const uint8_t **bytes, size_t *len);

/* The packet comment for frame `frame` from retained reports: one line per
 * verdict that names the frame, "rule.id: text: verdict", joined by '\n'.
 * checksum.offloaded's line goes to every frame of the flow with an
 * offloaded checksum, not only the few the verdict names. A capture
 * duplicate's comment is "capture duplicate of frame N: not judged".
 * The first call after analysis_finish builds an index of every frame's
 * verdicts (annotate.h); later calls look the frame up in it.
 * Writes a NUL-terminated string (truncated to size) and returns the length
 * it needed (0: no comment for the frame). */
size_t analysis_frame_comment(const struct analysis *a, uint32_t frame, char *buf, size_t size);

struct analysis_summary {
    uint64_t frames;          /* fed */
    uint64_t duplicates;      /* capture duplicates: not judged (see below) */
    uint64_t not_ip;          /* not IP (ARP...): ignored */
    uint64_t malformed;       /* failed to dissect: malformed */
    uint64_t truncated;       /* headers cut by the snapshot length: skipped */
    uint64_t tcp_flows, udp_flows;
    uint64_t verdicts[VERDICT_KINDS]; /* indexed by enum verdict_kind */
    size_t open_flows;        /* currently tracked (memory bound check) */
    size_t max_open_flows;    /* high-water mark */
    size_t open_tcp;          /* of open_flows, the TCP ones */
    size_t open_tcp_unclosed; /* of those, not yet torn down (both FINs acked, or RST) */
    /* Out of memory, never silent (report_summary prints them when not 0): */
    uint64_t untracked_frames; /* TCP/UDP frames whose flow could not be created: not judged */
    uint64_t lost_reports;     /* judged flows whose report could not be built or kept */
    uint32_t oom_frame;        /* the frame being fed when memory first ran out (0: never) */
    uint64_t evicted_flows;    /* judged early, incomplete, to stay within max_flows */
};

/* With jobs > 1, call it after analysis_finish (the shards' counts are
 * added then; max_open_flows is the sum of the shards' high-water marks). */
void analysis_get_summary(const struct analysis *a, struct analysis_summary *out);

/* Capture duplicates. A capture taken with `tcpdump -i any`, or on both ends
 * of a veth pair or bridge, shows the same IP packet twice (or more), a few
 * microseconds apart, possibly behind different link headers. A frame whose
 * IP packet (from the IP header on, every captured byte, TTL / hop limit and
 * the IPv4 header checksum excepted) equals one of the last
 * ANALYSIS_DUP_FRAMES IP packets fed, captured at most ANALYSIS_DUP_WINDOW_USEC
 * earlier (capture time), is a capture duplicate: counted in
 * summary.duplicates, given the frame comment "capture duplicate of frame N:
 * not judged" (N the first copy) and not fed to any flow or to reassembly.
 * A genuine retransmission differs (a new IPv4 id, a later TCP timestamp) or
 * comes later (Linux's RTO is at least 200 ms). Only frames that dissect
 * without error are compared. */
#define ANALYSIS_DUP_FRAMES 32
#define ANALYSIS_DUP_WINDOW_USEC 2000

#endif
