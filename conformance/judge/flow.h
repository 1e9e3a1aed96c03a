/* flow: what one TCP connection or UDP flow did, as seen on the wire.
 *
 * The tracker only records facts (frames, sequence ranges, flags, options);
 * judging them is checks_*.c's job. Sequence numbers are kept relative to each
 * side's first data byte (ISN + 1, or the first seen sequence number when the
 * capture started mid-connection), like Wireshark's "relative sequence
 * numbers"; a stream longer than 4 GiB wraps and is not supported.
 *
 * Memory per flow is fixed except the optional payload copy (bounded by the
 * cap given at init). */
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

/* Up to FLOW_MAX_NOTED_FRAMES frame numbers of some event, plus its count. */
struct frame_list {
    uint32_t count;
    uint32_t frames[FLOW_MAX_NOTED_FRAMES];
};
void frame_list_add(struct frame_list *l, uint32_t frame);

/* A bounded copy of one direction's byte stream, placed by relative
 * sequence number so out-of-order and retransmitted segments land right. */
struct stream_copy {
    size_t cap;           /* 0: copying disabled */
    uint8_t *bytes;       /* cap bytes once the first data arrives */
    uint8_t *have;        /* bitmap: which of them arrived */
    size_t contiguous;    /* bytes [0, contiguous) all arrived */
};
void stream_copy_init(struct stream_copy *s, size_t cap);
/* false on out of memory (the copy is then dropped, not the analysis). */
bool stream_copy_put(struct stream_copy *s, uint64_t at, const uint8_t *p, size_t n);
void stream_copy_free(struct stream_copy *s);

struct tcp_side {
    uint32_t packets;
    /* SYN this side sent (client SYN, or server SYN/ACK). */
    bool syn_seen;
    uint32_t syn_frame;
    uint32_t isn;
    uint8_t syn_flags;        /* all flags of the first SYN */
    uint32_t syn_ack;         /* its ack field (SYN/ACK) */
    uint32_t syn_payload;     /* data carried on the SYN */
    struct tcp_options syn_opt;
    struct frame_list syn_retransmits;
    /* Simultaneous open (RFC 9293 figure 8): this side's SYN,ACK that
     * followed its own bare SYN; not a retransmission. */
    uint32_t simopen_synack_frame;
    uint32_t simopen_synack_ack;

    bool base_known;          /* relative numbering anchored */
    uint32_t base;            /* sequence number of stream byte 0 */
    uint32_t hi;              /* end of the highest data byte seen (relative) */
    bool any_data;
    uint32_t last_data_frame;
    uint32_t last_data_seq_frame; /* frame of the data segment ending at hi */
    struct frame_list retransmits;  /* data or FIN segments already seen */
    /* Segments below hi that are not retransmissions (RFC 9293):
     * keep-alives with one garbage byte at SND.NXT - 1 (3.8.4), zero-window
     * probes while the peer advertises window 0 (3.8.6.1), and segments that
     * fill a gap within TCP_OOO_WINDOW_USEC of the gap opening (out of order
     * on the way: sent once, overtaken). */
    struct frame_list keepalives;
    struct frame_list window_probes;
    struct frame_list out_of_order;
    uint32_t tfo_resend_frame; /* SYN data sent again because the SYN/ACK acked only ISN+1
                                  (RFC 7413 4.2.2: the client MUST) */
    bool any_probe;
    uint32_t probe_end;       /* end of the highest probe byte (relative) */
    struct seq_hole { uint32_t start, end; int64_t ts; } holes[TCP_MAX_HOLES];
    unsigned nholes;
    struct frame_list early_data;   /* payload before the handshake completed */

    bool fin_seen;
    uint32_t fin_frame;
    uint32_t fin_rel;         /* relative seq the FIN occupies */
    struct frame_list data_after_fin;

    /* Acknowledgements this side sent about the OTHER side's stream. */
    bool ack_seen;
    uint32_t max_ack;         /* absolute, serial maximum */
    uint32_t max_ack_frame;
    uint16_t last_window;     /* raw window field of the last segment */
    uint32_t fin_ack_frame;   /* first frame acking the other side's FIN */

    /* The last segment this side sent: what a closed peer's RST answers
     * (RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN>). */
    uint32_t last_seg_frame;
    uint32_t last_seg_ack;
    uint32_t last_seg_end;    /* absolute SEG.SEQ + SEG.LEN (SYN/FIN counted) */
    bool last_seg_had_ack;

    /* Resets this side sent. */
    struct frame_list rsts;
    uint32_t last_rst_frame;
    uint32_t rst_answers;     /* later RSTs answering the peer's in-flight segments (3.10.7.1) */
    uint32_t rsts_after_close; /* RSTs answering a peer segment that came after the orderly
                                  close: a CLOSED socket's reply (3.10.7.1), not an abort */
    bool rst_acceptable;      /* first RST: the receiver would accept it (closes the connection) */
    uint32_t rst_seq;         /* of the first RST */
    bool rst_in_window;       /* first RST acceptable per RFC 9293 3.10.7.4 */
    bool rst_exact;           /* ... and exactly at RCV.NXT (RFC 5961) */
    bool rst_before_fin;      /* first RST came while this side had not FIN'd */
    bool rst_after_unanswered_data; /* the other side had sent data before our RST */

    struct frame_list bad_checksum;
    struct frame_list offloaded_checksum;
    struct frame_list bad_ip_checksum;
    uint32_t good_checksums;

    struct stream_copy copy;
};

/* RSTs of a side that abort (or try to): all but the replies of a closed
 * socket to segments that arrived after the orderly close. */
static inline uint32_t tcp_side_aborting_rsts(const struct tcp_side *S)
{
    return S->rsts.count - S->rsts_after_close;
}

struct tcp_flow {
    struct endpoint ep[2];    /* [SIDE_CLIENT], [SIDE_SERVER] */
    uint32_t first_frame, last_frame;
    int64_t first_ts, last_ts;
    struct tcp_side side[2];

    uint32_t synack_frame;    /* SYN/ACK (server side's SYN) */
    uint32_t handshake_ack_frame; /* the client's ACK completing it */
    bool handshake_ack_ok;    /* ...acks server ISN + 1 */
    uint32_t handshake_ack_value;
    bool established;         /* handshake completed on the wire */
    bool simultaneous_open;   /* both sides sent a bare SYN (RFC 9293 figure 8) */

    bool refused;             /* client SYN answered by RST/ACK of ISN+1 */
    uint32_t refused_frame;

    /* ICMP/ICMPv6 errors quoting one of this connection's segments
     * (destination unreachable, admin prohibited, packet too big...). */
    struct frame_list icmp_errors;
    bool icmp_v6;             /* of the first one: ICMPv6 */
    uint8_t icmp_type, icmp_code;
    int icmp_quoted_side;     /* side whose segment it quotes */
    uint32_t icmp_quoted_seq; /* that segment's sequence number (absolute) */

    int first_fin_side;       /* -1 none */
    int half_close_side;      /* side whose FIN was followed by data from the other, -1 none */
    uint32_t half_close_data_frame;
    bool simultaneous_close;

    bool closed;              /* RST seen, or both FINs seen and acked */
    int64_t closed_ts;
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
    uint64_t bytes;
    struct frame_list bad_length;   /* UDP length != IP payload length */
    struct frame_list bad_checksum;
    struct frame_list offloaded_checksum;
    struct frame_list bad_ip_checksum;
    uint32_t good_checksums, unused_checksums, unverifiable_checksums;
    struct frame_list reassembled;  /* datagrams rebuilt from fragments */
    struct stream_copy copy;        /* the datagrams' payloads, concatenated */
    uint64_t copy_at;
};

struct udp_flow {
    struct endpoint ep[2];    /* [SIDE_CLIENT] sent the first datagram */
    uint32_t first_frame, last_frame;
    int64_t first_ts, last_ts;
    struct udp_side side[2];
    struct frame_list port_unreachable; /* ICMP errors quoting a client datagram */
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
