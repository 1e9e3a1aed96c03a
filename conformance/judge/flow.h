/* flow: what one TCP connection or UDP flow did, as seen on the wire.
 *
 * The tracker only records facts (frames, sequence ranges, flags, options);
 * judging them is checks_*.c's job. Sequence numbers are kept relative to each
 * side's first data byte (ISN + 1, or the first seen sequence number when the
 * capture started mid-connection), like Wireshark's "relative sequence
 * numbers"; a stream longer than 4 GiB wraps and is not supported.
 *
 * Memory per flow is fixed except the optional payload copy (bounded by the
 * cap given at init) and the noted frames (FLOW_MAX_NOTED_FRAMES a list at
 * most, out of line: struct noted).
 *
 *   if (f->side[s].retransmits.count)                 // counts: in the tracker
 *       first = FLOW_FRAMES(f, f->side[s].retransmits)->frames[0];
 *   checks_add_frames(b, FLOW_FRAMES(f, f->side[s].retransmits)); */
#ifndef WIRECHECK_FLOW_H
#define WIRECHECK_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dissect.h"

#define FLOW_MAX_NOTED_FRAMES 8
/* Gaps in a side's sequence space remembered for out-of-order detection, and
 * how soon after the gap opened a segment filling it counts as overtaken on
 * the way rather than retransmitted (Wireshark's threshold; a real
 * retransmission waits an RTO, >= 200 ms on Linux, or 3 duplicate ACKs). */
#define TCP_MAX_HOLES 4
#define TCP_OOO_WINDOW_USEC 3000

/* Sequence number order modulo 2^32 (serial-number arithmetic, RFC 1982). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

/* Up to FLOW_MAX_NOTED_FRAMES frame numbers of some event, plus its count
 * (what the checks take; a tracker keeps its lists as struct noted). */
struct frame_list {
    uint32_t count;
    uint32_t frames[FLOW_MAX_NOTED_FRAMES];
};
void frame_list_add(struct frame_list *l, uint32_t frame);

/* How many frames of one kind (retransmissions, bad checksums...) a flow
 * noted. Most stay 0 for a whole connection: only the count is in the
 * tracker, the first FLOW_MAX_NOTED_FRAMES frame numbers of every list go
 * to one frame_store per flow, allocated with the first of them
 * (FLOW_FRAMES gives a list back whole). */
struct noted {
    uint32_t count;
};
/* A flow's noted frames, all lists together in the order noted, each
 * known by its list's place in the tracker (flow.c). */
struct frame_store;
/* `list`, one of tracker's (whose store is `store`), back whole in *out;
 * returns out. */
const struct frame_list *flow_noted_list(const struct frame_store *store, const void *tracker,
                                         const struct noted *list, struct frame_list *out);
/* What an empty list reads as (count 0, no frames). */
extern const struct frame_list frame_list_empty;
/* The frames of `list`, one of the lists of TCP or UDP flow f, as a
 * read-only frame_list: frame_list_empty (most lists), or a temporary of
 * the caller's block (filled only then). */
#define FLOW_FRAMES(f, list)                                                                      \
    ((list).count ? flow_noted_list((f)->noted_frames, (f), &(list), &(struct frame_list){ 0 })   \
                  : &frame_list_empty)

/* A bounded copy of one direction's byte stream, placed by relative
 * sequence number so out-of-order and retransmitted segments land right.
 * 32-bit sizes: relative sequence numbers wrap at 4 GiB anyway. */
struct stream_copy {
    uint8_t *bytes;       /* cap bytes once the first data arrives */
    uint8_t *have;        /* bitmap: which of them arrived */
    uint32_t cap;         /* 0: copying disabled */
    uint32_t contiguous;  /* bytes [0, contiguous) all arrived */
};
/* cap: at most UINT32_MAX (larger is cut to that). */
void stream_copy_init(struct stream_copy *s, size_t cap);
/* false on out of memory (the copy is then dropped, not the analysis). */
bool stream_copy_put(struct stream_copy *s, uint64_t at, const uint8_t *p, size_t n);
void stream_copy_free(struct stream_copy *s);

/* What the checks read of the options of a SYN (struct tcp_options
 * without the SACK blocks and timestamps no check asks of a SYN). */
struct tcp_syn_options {
    bool has_mss : 1;
    bool has_wscale : 1;
    bool sack_permitted : 1;
    bool has_timestamps : 1;
    bool has_tfo : 1;
    uint8_t wscale;
    uint16_t mss;
};

/* The fields nearly every connection sets come first, next to each other,
 * and the ones most leave zero after them: a tracker is packed to its
 * nonzero 64-bit words while it lingers (flow_table.h), and the fewer
 * there are, the cheaper packing and unpacking it. 256 bytes, no padding:
 * f->side[s] is then a shift away (272 took three instructions each time,
 * and tcp_flow_update asks it often). */
struct tcp_side {
    uint32_t packets;
    uint32_t good_checksums;
    /* SYN this side sent (client SYN, or server SYN/ACK). */
    uint32_t syn_frame;
    uint32_t isn;
    uint32_t syn_ack;         /* its ack field (SYN/ACK) */

    uint32_t base;            /* sequence number of stream byte 0 */
    uint32_t hi;              /* end of the highest data byte seen (relative) */
    uint32_t last_data_frame;
    uint32_t last_data_seq_frame; /* frame of the data segment ending at hi */

    /* Acknowledgements this side sent about the OTHER side's stream. */
    uint32_t max_ack;         /* absolute, serial maximum */
    uint32_t max_ack_frame;
    uint32_t fin_ack_frame;   /* first frame acking the other side's FIN */

    uint32_t fin_frame;
    uint32_t fin_rel;         /* relative seq the FIN occupies */

    /* The last segment this side sent: what a closed peer's RST answers
     * (RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN>). */
    uint32_t last_seg_frame;
    uint32_t last_seg_ack;
    uint32_t last_seg_end;    /* absolute SEG.SEQ + SEG.LEN (SYN/FIN counted) */

    uint16_t last_window;     /* raw window field of the last segment */
    uint8_t syn_flags;        /* all flags of the first SYN */
    bool syn_seen;
    bool base_known;          /* relative numbering anchored */
    bool any_data;
    bool ack_seen;
    bool fin_seen;
    bool last_seg_had_ack;
    bool any_probe;
    struct tcp_syn_options syn_opt;
    uint8_t nholes;
    bool rst_acceptable;      /* first RST: the receiver would accept it (closes the connection) */

    /* Zero for most connections from here on. */
    uint32_t syn_payload;     /* data carried on the SYN */
    /* Simultaneous open (RFC 9293 figure 8): this side's SYN,ACK that
     * followed its own bare SYN; not a retransmission. */
    uint32_t simopen_synack_frame;
    uint32_t simopen_synack_ack;
    uint32_t tfo_resend_frame; /* SYN data sent again because the SYN/ACK acked only ISN+1
                                  (RFC 7413 4.2.2: the client MUST) */
    uint32_t probe_end;       /* end of the highest probe byte (relative) */

    /* Resets this side sent (the frames: rsts). */
    uint32_t rst_seq;         /* of the first RST */
    uint32_t last_rst_frame;
    uint32_t rst_answers;     /* later RSTs answering the peer's in-flight segments (3.10.7.1) */
    uint32_t rsts_after_close; /* RSTs answering a peer segment that came after the orderly
                                  close: a CLOSED socket's reply (3.10.7.1), not an abort */
    bool rst_in_window;       /* first RST acceptable per RFC 9293 3.10.7.4 */
    bool rst_exact;           /* ... and exactly at RCV.NXT (RFC 5961) */
    bool rst_before_fin;      /* first RST came while this side had not FIN'd */
    bool rst_after_unanswered_data; /* the other side had sent data before our RST */

    struct noted syn_retransmits;
    struct noted retransmits;  /* data or FIN segments already seen */
    /* Segments below hi that are not retransmissions (RFC 9293):
     * keep-alives with one garbage byte at SND.NXT - 1 (3.8.4), zero-window
     * probes while the peer advertises window 0 (3.8.6.1), and segments that
     * fill a gap within TCP_OOO_WINDOW_USEC of the gap opening (out of order
     * on the way: sent once, overtaken). */
    struct noted keepalives;
    struct noted window_probes;
    struct noted out_of_order;
    struct noted early_data;   /* payload before the handshake completed */
    struct noted data_after_fin;
    struct noted rsts;
    struct noted bad_checksum;
    struct noted offloaded_checksum;
    struct noted bad_ip_checksum;

    struct seq_hole { uint32_t start, end; int64_t ts; } holes[TCP_MAX_HOLES];
    struct stream_copy copy;
};
_Static_assert(sizeof(struct tcp_side) == 256, "see above");

/* RSTs of a side that abort (or try to): all but the replies of a closed
 * socket to segments that arrived after the orderly close. */
static inline uint32_t tcp_side_aborting_rsts(const struct tcp_side *S)
{
    return S->rsts.count - S->rsts_after_close;
}

/* Hot fields first, as in tcp_side. */
struct tcp_flow {
    struct endpoint ep[2];    /* [SIDE_CLIENT], [SIDE_SERVER] */
    uint32_t first_frame, last_frame;
    int64_t first_ts, last_ts;
    int64_t closed_ts;

    uint32_t synack_frame;    /* SYN/ACK (server side's SYN) */
    uint32_t handshake_ack_frame; /* the client's ACK completing it */
    uint32_t handshake_ack_value;
    int8_t first_fin_side;    /* -1 none */
    int8_t half_close_side;   /* side whose FIN was followed by data from the other, -1 none */
    bool handshake_ack_ok;    /* ...acks server ISN + 1 */
    bool established;         /* handshake completed on the wire */
    bool closed;              /* RST seen, or both FINs seen and acked */
    bool simultaneous_open;   /* both sides sent a bare SYN (RFC 9293 figure 8) */
    bool simultaneous_close;
    bool refused;             /* client SYN answered by RST/ACK of ISN+1 */
    uint32_t refused_frame;

    struct tcp_side side[2];

    uint32_t half_close_data_frame;
    /* ICMP/ICMPv6 errors quoting one of this connection's segments
     * (destination unreachable, admin prohibited, packet too big...). */
    struct noted icmp_errors;
    bool icmp_v6;             /* of the first one: ICMPv6 */
    uint8_t icmp_type, icmp_code;
    int8_t icmp_quoted_side;  /* side whose segment it quotes */
    uint32_t icmp_quoted_seq; /* that segment's sequence number (absolute) */

    struct frame_store *noted_frames; /* NULL until a first frame is noted */
};

/* Starts tracking with its first packet (which the caller then feeds to
 * tcp_flow_update too). */
void tcp_flow_init(struct tcp_flow *f, const struct packet *first, size_t payload_cap);
/* Records one TCP packet of this flow (either direction). */
void tcp_flow_update(struct tcp_flow *f, const struct packet *p);
/* p is an ICMP/ICMPv6 error whose quote (a TCP segment) matches this flow. */
void tcp_flow_note_icmp(struct tcp_flow *f, const struct packet *p);
/* SIDE_CLIENT or SIDE_SERVER: which side sent p. */
int tcp_flow_sender(const struct tcp_flow *f, const struct packet *p);
void tcp_flow_free(struct tcp_flow *f);
/* Unique payload bytes side `s` sent (its stream length). */
uint64_t tcp_flow_bytes(const struct tcp_flow *f, int s);

struct udp_side {
    uint32_t datagrams;
    uint32_t good_checksums, unused_checksums, unverifiable_checksums;
    uint64_t bytes;
    uint64_t copy_at;
    struct noted bad_length;   /* UDP length != IP payload length */
    struct noted bad_checksum;
    struct noted offloaded_checksum;
    struct noted bad_ip_checksum;
    struct noted reassembled;  /* datagrams rebuilt from fragments */
    struct stream_copy copy;        /* the datagrams' payloads, concatenated */
};

struct udp_flow {
    struct endpoint ep[2];    /* [SIDE_CLIENT] sent the first datagram */
    uint32_t first_frame, last_frame;
    int64_t first_ts, last_ts;
    struct udp_side side[2];
    struct noted port_unreachable; /* ICMP errors quoting a client datagram */
    struct frame_store *noted_frames; /* NULL until a first frame is noted */
};

void udp_flow_init(struct udp_flow *f, const struct packet *first, size_t payload_cap);
void udp_flow_update(struct udp_flow *f, const struct packet *p);
/* p is an ICMP/ICMPv6 error whose quote matches this flow. */
void udp_flow_note_icmp(struct udp_flow *f, const struct packet *p);
int udp_flow_sender(const struct udp_flow *f, const struct packet *p);
void udp_flow_free(struct udp_flow *f);

/* True for ICMP destination unreachable / port unreachable (v4: 3/3,
 * v6: 1/4). */
bool packet_is_port_unreachable(const struct packet *p);

#endif
