/* flow: record what each side of a TCP connection / UDP flow did.
 * Judgements live in checks_*.c; this file only keeps facts. */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

void frame_list_add(struct frame_list *l, uint32_t frame)
{
    if (l->count < FLOW_MAX_NOTED_FRAMES)
        l->frames[l->count] = frame;
    l->count++;
}

/* ---- noted frames --------------------------------------------------------- */

/* One noted frame, with the byte offset of its list's count in the tracker
 * (the lists are told apart by where they are). */
struct noted_frame {
    uint32_t frame;
    uint16_t list;
};

struct frame_store {
    uint16_t n, cap;
    struct noted_frame at[];
};

_Static_assert(sizeof(struct tcp_flow) <= UINT16_MAX && sizeof(struct udp_flow) <= UINT16_MAX,
               "a list's offset fits noted_frame.list");

static uint16_t list_offset(const void *tracker, const struct noted *list)
{
    return (uint16_t)((const char *)list - (const char *)tracker);
}

/* Counts a frame in `list`, one of the lists of `tracker` (whose store is
 * *store), and keeps its number while the list has fewer than
 * FLOW_MAX_NOTED_FRAMES. Without memory for it only the number is lost. */
static void note_frame(struct frame_store **store, const void *tracker, struct noted *list,
                       uint32_t frame)
{
    if (list->count++ >= FLOW_MAX_NOTED_FRAMES)
        return;
    struct frame_store *s = *store;
    if (!s || s->n == s->cap) {
        uint16_t cap = s ? (uint16_t)(2 * s->cap) : 4;
        s = realloc(s, sizeof *s + cap * sizeof s->at[0]);
        if (!s)
            return;
        if (!*store)
            s->n = 0;
        s->cap = cap;
        *store = s;
    }
    s->at[s->n++] = (struct noted_frame){ frame, list_offset(tracker, list) };
}

const struct frame_list frame_list_empty;

/* Its frames in the order noted, zeros after them (as a frame_list filled
 * by frame_list_add has). */
const struct frame_list *flow_noted_list(const struct frame_store *store, const void *tracker,
                                         const struct noted *list, struct frame_list *out)
{
    uint16_t offset = list_offset(tracker, list);
    unsigned k = 0;
    out->count = list->count;
    for (unsigned i = 0; store && i < store->n && k < FLOW_MAX_NOTED_FRAMES; i++)
        if (store->at[i].list == offset)
            out->frames[k++] = store->at[i].frame;
    for (; k < FLOW_MAX_NOTED_FRAMES; k++)
        out->frames[k] = 0;
    return out;
}

/* ---- bounded stream copy ------------------------------------------------ */

void stream_copy_init(struct stream_copy *s, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->cap = cap < UINT32_MAX ? (uint32_t)cap : UINT32_MAX;
}

static bool bit_get(const uint8_t *map, size_t i) { return map[i / 8] >> (i % 8) & 1; }
static void bit_set(uint8_t *map, size_t i) { map[i / 8] |= (uint8_t)(1u << (i % 8)); }

bool stream_copy_put(struct stream_copy *s, uint64_t at, const uint8_t *p, size_t n)
{
    if (s->cap == 0 || at >= s->cap || n == 0)
        return true;
    if (n > s->cap - at)
        n = (size_t)(s->cap - at);
    if (!s->bytes) {
        s->bytes = malloc(s->cap);
        s->have = calloc(((size_t)s->cap + 7) / 8, 1);
        if (!s->bytes || !s->have) {
            stream_copy_free(s); /* give up on the copy, keep analysing */
            return false;
        }
    }
    memcpy(s->bytes + at, p, n);
    for (size_t i = 0; i < n; i++)
        bit_set(s->have, (size_t)at + i);
    while (s->contiguous < s->cap && bit_get(s->have, s->contiguous))
        s->contiguous++;
    return true;
}

void stream_copy_free(struct stream_copy *s)
{
    free(s->bytes);
    free(s->have);
    s->bytes = s->have = NULL;
    s->cap = 0;
    s->contiguous = 0;
}

/* ---- TCP ------------------------------------------------------------------ */

static struct endpoint packet_src(const struct packet *p)
{
    struct endpoint e = { p->src, p->sport };
    return e;
}

static struct endpoint packet_dst(const struct packet *p)
{
    struct endpoint e = { p->dst, p->dport };
    return e;
}

void tcp_flow_init(struct tcp_flow *f, const struct packet *first, size_t payload_cap)
{
    memset(f, 0, sizeof *f);
    bool syn = first->tcp_flags & TCP_SYN, ack = first->tcp_flags & TCP_ACK;
    bool sender_is_client;
    if (syn) {
        sender_is_client = !ack;       /* SYN from client, SYN/ACK from server */
    } else {
        /* Mid-stream: the ephemeral (higher) port is most likely the client. */
        sender_is_client = first->sport >= first->dport;
    }
    f->ep[0] = sender_is_client ? packet_src(first) : packet_dst(first);
    f->ep[1] = sender_is_client ? packet_dst(first) : packet_src(first);
    f->first_frame = first->frame;
    f->first_ts = first->ts_usec;
    f->first_fin_side = -1;
    f->half_close_side = -1;
    stream_copy_init(&f->side[0].copy, payload_cap);
    stream_copy_init(&f->side[1].copy, payload_cap);
}

/* endpoint_equal(packet_src(p), e) inline, with fixed-size compares:
 * every packet of a flow asks it. */
static bool sent_from(const struct packet *p, const struct endpoint *e)
{
    if (p->sport != e->port || p->src.family != e->ip.family)
        return false;
    if (p->src.family == 4)
        return memcmp(p->src.bytes, e->ip.bytes, 4) == 0;
    return memcmp(p->src.bytes, e->ip.bytes, 16) == 0;
}

int tcp_flow_sender(const struct tcp_flow *f, const struct packet *p)
{
    return sent_from(p, &f->ep[0]) ? 0 : 1;
}

uint64_t tcp_flow_bytes(const struct tcp_flow *f, int s)
{
    return f->side[s].any_data ? f->side[s].hi : 0;
}

static void tcp_note(struct tcp_flow *f, struct noted *list, uint32_t frame)
{
    note_frame(&f->noted_frames, f, list, frame);
}

void tcp_flow_free(struct tcp_flow *f)
{
    stream_copy_free(&f->side[0].copy);
    stream_copy_free(&f->side[1].copy);
    free(f->noted_frames);
    f->noted_frames = NULL;
}

static void note_checksums(struct tcp_flow *f, struct tcp_side *S, const struct packet *p)
{
    if (p->ip_checksum == CSUM_BAD)
        tcp_note(f, &S->bad_ip_checksum, p->frame);
    if (p->l4_checksum == CSUM_BAD)
        tcp_note(f, &S->bad_checksum, p->frame);
    else if (p->l4_checksum == CSUM_OFFLOADED)
        tcp_note(f, &S->offloaded_checksum, p->frame);
    else if (p->l4_checksum == CSUM_GOOD)
        S->good_checksums++;
}

static struct tcp_syn_options syn_options(const struct tcp_options *o)
{
    return (struct tcp_syn_options){ .has_mss = o->has_mss, .has_wscale = o->has_wscale,
                                     .sack_permitted = o->sack_permitted,
                                     .has_timestamps = o->has_timestamps, .has_tfo = o->has_tfo,
                                     .wscale = o->wscale, .mss = o->mss };
}

static void note_syn(struct tcp_flow *f, int s, const struct packet *p)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    if (S->syn_seen) {
        if (p->seq != S->isn)
            return;
        /* Simultaneous open: after its bare SYN each side sends SYN,ACK
         * with the same ISN (RFC 9293 figure 8); that is not a resend. */
        if (f->simultaneous_open && (p->tcp_flags & TCP_ACK) && !(S->syn_flags & TCP_ACK) &&
            !S->simopen_synack_frame) {
            S->simopen_synack_frame = p->frame;
            S->simopen_synack_ack = p->ack;
            if (O->simopen_synack_frame)
                f->established = true;
        } else {
            tcp_note(f, &S->syn_retransmits, p->frame);
        }
        return;
    }
    S->syn_seen = true;
    S->syn_frame = p->frame;
    S->isn = p->seq;
    S->syn_flags = p->tcp_flags;
    S->syn_ack = p->ack;
    S->syn_payload = p->payload_len;
    S->syn_opt = syn_options(&p->opt);
    S->base = p->seq + 1;
    S->base_known = true;
    if ((p->tcp_flags & TCP_ACK) && s == 1)
        f->synack_frame = p->frame;
    if (s == 1 && !(p->tcp_flags & TCP_ACK) && O->syn_seen)
        f->simultaneous_open = true;
}

/* Acknowledgement fields: highest ack, the handshake's third segment, FIN
 * acknowledgement, refusal. */
static void note_ack(struct tcp_flow *f, int s, const struct packet *p)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    uint8_t flags = p->tcp_flags;
    if (!(flags & TCP_ACK))
        return;
    if (!S->ack_seen || seq_gt(p->ack, S->max_ack)) {
        S->max_ack = p->ack;
        S->max_ack_frame = p->frame;
    }
    S->ack_seen = true;
    /* A FIN is acknowledged by exactly FIN + 1 (RFC 9293 3.10.7.4): an ack
     * beyond it acknowledges bytes never sent. */
    if (O->fin_seen && !S->fin_ack_frame && p->ack == O->base + O->fin_rel + 1)
        S->fin_ack_frame = p->frame;
    if (s == 0 && f->synack_frame && !f->handshake_ack_frame &&
        !(flags & (TCP_SYN | TCP_RST))) {
        f->handshake_ack_frame = p->frame;
        f->handshake_ack_value = p->ack;
        f->handshake_ack_ok = p->ack == f->side[1].isn + 1;
        f->established = true;
    }
    if (s == 1 && (flags & TCP_RST) && f->side[0].syn_seen && !S->syn_seen &&
        p->ack == f->side[0].isn + 1) {
        f->refused = true;
        f->refused_frame = p->frame;
    }
}

/* Is [start, end) inside a gap of S's sequence space that opened at most
 * TCP_OOO_WINDOW_USEC before ts? Then it was overtaken on the way, not
 * sent twice: the gap shrinks by it. */
static bool fills_hole(struct tcp_side *S, uint32_t start, uint32_t end, int64_t ts)
{
    for (unsigned i = 0; i < S->nholes; i++) {
        struct seq_hole *h = &S->holes[i];
        if (seq_lt(start, h->start) || seq_gt(end, h->end) || ts - h->ts > TCP_OOO_WINDOW_USEC)
            continue;
        if (start == h->start && end == h->end) {
            *h = S->holes[--S->nholes];
        } else if (start == h->start) {
            h->start = end;
        } else if (end == h->end) {
            h->end = start;
        } else {
            struct seq_hole rest = { end, h->end, h->ts };
            h->end = start;
            if (S->nholes < TCP_MAX_HOLES)
                S->holes[S->nholes++] = rest;
        }
        return true;
    }
    return false;
}

static void note_hole(struct tcp_side *S, uint32_t start, uint32_t end, int64_t ts)
{
    if (S->nholes == TCP_MAX_HOLES) /* forget the oldest */
        memmove(&S->holes[0], &S->holes[1], (TCP_MAX_HOLES - 1) * sizeof S->holes[0]);
    else
        S->nholes++;
    S->holes[S->nholes - 1] = (struct seq_hole){ start, end, ts };
}

/* A segment below the highest byte sent: a keep-alive (RFC 9293 3.8.4: one
 * garbage byte at SND.NXT - 1 once everything is acknowledged), resent SYN
 * data the SYN/ACK did not acknowledge (RFC 7413 4.2.2), a segment that
 * overtook another on the way, or a retransmission. True for a keep-alive
 * (its byte is garbage). */
static bool note_old_data(struct tcp_flow *f, int s, const struct packet *p, uint32_t start,
                          uint32_t end)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    if (p->payload_len == 1 && end == S->hi && !(p->tcp_flags & TCP_FIN) && O->ack_seen &&
        O->max_ack == S->base + S->hi) {
        tcp_note(f, &S->keepalives, p->frame);
        return true;
    }
    if (start == 0 && S->syn_payload && !S->tfo_resend_frame && O->syn_seen &&
             O->syn_ack == S->isn + 1 && end <= S->syn_payload)
        S->tfo_resend_frame = p->frame;
    else if (fills_hole(S, start, end, p->ts_usec))
        tcp_note(f, &S->out_of_order, p->frame);
    else
        tcp_note(f, &S->retransmits, p->frame);
    return false;
}

static void note_data(struct tcp_flow *f, int s, const struct packet *p, uint32_t start)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    uint32_t len = p->payload_len;
    if (len == 0)
        return;
    bool before_stream = (int32_t)start < 0; /* data sent before the capture began */
    uint32_t end = start + len;
    /* Early data: before the handshake's third segment, unless TCP Fast Open
     * was offered on the SYN (then the SYN itself may carry data). */
    if (f->side[0].syn_seen && !f->established && !f->side[0].syn_opt.has_tfo)
        tcp_note(f, &S->early_data, p->frame);
    /* A zero-window probe: one byte at SND.NXT while the peer's window is 0
     * (RFC 9293 3.8.6.1). Like Wireshark, the probe does not move SND.NXT,
     * so the byte sent again once the window opens is not a resend. */
    if (len == 1 && O->ack_seen && O->last_window == 0 && S->any_data && start == S->hi &&
        !(p->tcp_flags & (TCP_SYN | TCP_FIN))) {
        tcp_note(f, &S->window_probes, p->frame);
        S->any_probe = true;
        S->probe_end = end;
        stream_copy_put(&S->copy, start, p->payload, p->payload_caplen);
        return;
    }
    bool keepalive = false;
    if (before_stream) {
        tcp_note(f, &S->retransmits, p->frame);
    } else if (S->any_data && seq_lt(start, S->hi)) {
        /* A resent data SYN is counted once, as a SYN retransmission. */
        if (!(p->tcp_flags & TCP_SYN))
            keepalive = note_old_data(f, s, p, start, end);
    } else if ((S->any_data || S->syn_seen) && seq_gt(start, S->any_data ? S->hi : 0)) {
        note_hole(S, S->any_data ? S->hi : 0, start, p->ts_usec);
    }
    if (!S->any_data || seq_gt(end, S->hi)) {
        if (O->fin_seen && O->fin_frame < p->frame && f->half_close_side < 0) {
            f->half_close_side = 1 - s;
            f->half_close_data_frame = p->frame;
        }
        S->hi = end;
        S->last_data_seq_frame = p->frame;
    }
    S->any_data = true;
    S->last_data_frame = p->frame;
    if (S->fin_seen && seq_gt(end, S->fin_rel))
        tcp_note(f, &S->data_after_fin, p->frame);
    if (!before_stream && !keepalive) /* a keep-alive's byte is garbage */
        stream_copy_put(&S->copy, start, p->payload, p->payload_caplen);
}

static void note_fin(struct tcp_flow *f, int s, const struct packet *p, uint32_t start)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    uint32_t fin_rel = start + p->payload_len;
    if (S->fin_seen) {
        if (fin_rel == S->fin_rel && p->payload_len == 0)
            tcp_note(f, &S->retransmits, p->frame);
        return;
    }
    S->fin_seen = true;
    S->fin_frame = p->frame;
    S->fin_rel = fin_rel;
    if (f->first_fin_side < 0)
        f->first_fin_side = s;
    else if (O->fin_seen && !S->fin_ack_frame)
        f->simultaneous_close = true; /* FINs crossed: both end in TIME_WAIT */
}

/* Would the receiver accept this RST from side s (and close)?
 * SYN-SENT (the client's SYN not yet answered by a SYN): only with an ACK
 * of something the SYN sent, ISS < SEG.ACK =< SND.NXT (RFC 9293 3.10.7.3);
 * otherwise it is dropped. Synchronized: RFC 9293 3.10.7.4, RCV.NXT <=
 * SEG.SEQ < RCV.NXT + RCV.WND, exactly RCV.NXT if the window is zero. The
 * receiver's RCV.NXT is the highest ack it sent; if it never acked, our own
 * SND.NXT. *exact: SEG.SEQ = RCV.NXT (RFC 5961). */
static bool rst_acceptable(const struct tcp_flow *f, int s, const struct packet *p, bool *exact)
{
    const struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    if (s == 1 && O->syn_seen && !S->syn_seen) {
        bool ok = (p->tcp_flags & TCP_ACK) && seq_gt(p->ack, O->isn) &&
                  !seq_gt(p->ack, O->isn + 1 + O->syn_payload);
        *exact = ok;
        return ok;
    }
    uint32_t rcv_nxt;
    uint32_t wnd = 1;
    if (O->ack_seen) {
        rcv_nxt = O->max_ack;
        unsigned scale = f->side[0].syn_opt.has_wscale && f->side[1].syn_opt.has_wscale
                             ? O->syn_opt.wscale : 0;
        if (scale > 14)
            scale = 14;
        wnd = (uint32_t)O->last_window << scale;
        if (wnd == 0)
            wnd = 1;
    } else {
        rcv_nxt = S->base + (S->any_data ? S->hi : 0) + (S->fin_seen ? 1 : 0);
    }
    *exact = p->seq == rcv_nxt;
    return p->seq - rcv_nxt < wnd;
}

/* A closed socket answers each segment that still arrives with a RST
 * (RFC 9293 3.10.7.1): <SEQ=SEG.ACK><CTL=RST>, or without an ACK on the
 * segment <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Does p answer the
 * peer's last segment, sent after our previous RST? */
static bool rst_answers_peer(const struct tcp_side *S, const struct tcp_side *O,
                             const struct packet *p)
{
    if (O->last_seg_frame <= S->last_rst_frame)
        return false;
    if (O->last_seg_had_ack)
        return p->seq == O->last_seg_ack;
    return (p->tcp_flags & TCP_ACK) && p->ack == O->last_seg_end;
}

static void note_rst(struct tcp_flow *f, int s, const struct packet *p)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    /* Both FINs acknowledged before this RST: the sender is CLOSED (or in
     * TIME-WAIT), and a segment still arriving from the peer, such as a FIN
     * resent because its ACK came late, gets <SEQ=SEG.ACK><CTL=RST>. The
     * peer drops it (out of window) and nothing is aborted. */
    bool orderly_closed = f->closed && O->fin_ack_frame && S->fin_ack_frame && !f->refused &&
                          tcp_side_aborting_rsts(S) + tcp_side_aborting_rsts(O) == 0;
    if (orderly_closed && rst_answers_peer(S, O, p))
        S->rsts_after_close++;
    tcp_note(f, &S->rsts, p->frame);
    bool exact = false;
    bool acceptable = (f->refused && f->refused_frame == p->frame) ||
                      rst_acceptable(f, s, p, &exact);
    /* Only a RST the receiver accepts ends the connection: a resent SYN
     * after a bogus one still belongs to it. */
    if (acceptable && !f->closed) {
        f->closed = true;
        f->closed_ts = p->ts_usec;
    }
    if (S->rsts.count > 1) {
        if (rst_answers_peer(S, O, p))
            S->rst_answers++;
        S->last_rst_frame = p->frame;
        return;
    }
    S->last_rst_frame = p->frame;
    S->rst_seq = p->seq;
    S->rst_before_fin = !S->fin_seen;
    /* The wire cannot show what an application read (Linux acks unread
     * bytes too), so any peer data before a FIN-less RST is the sign. */
    S->rst_after_unanswered_data = O->any_data;
    if (f->refused && f->refused_frame == p->frame) {
        S->rst_in_window = S->rst_exact = S->rst_acceptable = true; /* SYN-SENT: acceptable if it acks the SYN */
        return;
    }
    S->rst_acceptable = acceptable;
    S->rst_in_window = acceptable;
    S->rst_exact = exact;
}

void tcp_flow_update(struct tcp_flow *f, const struct packet *p)
{
    int s = tcp_flow_sender(f, p);
    struct tcp_side *S = &f->side[s];
    uint8_t flags = p->tcp_flags;
    f->last_frame = p->frame;
    f->last_ts = p->ts_usec;
    S->packets++;
    note_checksums(f, S, p);
    if (flags & TCP_SYN)
        note_syn(f, s, p);
    else if (!S->base_known) {
        S->base = p->seq; /* joined mid-stream: anchor at the first segment */
        S->base_known = true;
    }
    S->last_window = p->window;
    note_ack(f, s, p);
    uint32_t start = (flags & TCP_SYN) ? 0 : p->seq - S->base;
    note_data(f, s, p, start);
    if (flags & TCP_FIN)
        note_fin(f, s, p, start);
    if (flags & TCP_RST) {
        note_rst(f, s, p);
    } else {
        S->last_seg_frame = p->frame;
        S->last_seg_ack = p->ack;
        S->last_seg_had_ack = flags & TCP_ACK;
        S->last_seg_end = p->seq + p->payload_len + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
    }
    if (!f->closed && f->side[0].fin_seen && f->side[1].fin_seen &&
        f->side[0].fin_ack_frame && f->side[1].fin_ack_frame) {
        f->closed = true;
        f->closed_ts = p->ts_usec;
    }
}

void tcp_flow_note_icmp(struct tcp_flow *f, const struct packet *p)
{
    f->last_frame = p->frame;
    f->last_ts = p->ts_usec;
    if (f->icmp_errors.count == 0) {
        f->icmp_v6 = p->l4 == L4_ICMPV6;
        f->icmp_type = p->icmp_type;
        f->icmp_code = p->icmp_code;
        f->icmp_quoted_side = endpoint_equal(&p->quote.src, &f->ep[0]) ? 0 : 1;
        f->icmp_quoted_seq = p->quote.tcp_seq;
    }
    tcp_note(f, &f->icmp_errors, p->frame);
}

/* ---- UDP ------------------------------------------------------------------ */

void udp_flow_init(struct udp_flow *f, const struct packet *first, size_t payload_cap)
{
    memset(f, 0, sizeof *f);
    f->ep[0] = packet_src(first);
    f->ep[1] = packet_dst(first);
    f->first_frame = first->frame;
    f->first_ts = first->ts_usec;
    stream_copy_init(&f->side[0].copy, payload_cap);
    stream_copy_init(&f->side[1].copy, payload_cap);
}

int udp_flow_sender(const struct udp_flow *f, const struct packet *p)
{
    return sent_from(p, &f->ep[0]) ? 0 : 1;
}

static void udp_note(struct udp_flow *f, struct noted *list, uint32_t frame)
{
    note_frame(&f->noted_frames, f, list, frame);
}

void udp_flow_update(struct udp_flow *f, const struct packet *p)
{
    struct udp_side *S = &f->side[udp_flow_sender(f, p)];
    f->last_frame = p->frame;
    f->last_ts = p->ts_usec;
    S->datagrams++;
    S->bytes += p->payload_len;
    if (p->udp_len != p->ip_payload_len)
        udp_note(f, &S->bad_length, p->frame);
    if (p->ip_checksum == CSUM_BAD)
        udp_note(f, &S->bad_ip_checksum, p->frame);
    switch (p->l4_checksum) {
    case CSUM_GOOD: S->good_checksums++; break;
    case CSUM_BAD: udp_note(f, &S->bad_checksum, p->frame); break;
    case CSUM_OFFLOADED: udp_note(f, &S->offloaded_checksum, p->frame); break;
    case CSUM_UNUSED: S->unused_checksums++; break;
    case CSUM_UNVERIFIABLE: S->unverifiable_checksums++; break;
    case CSUM_ABSENT: break;
    }
    if (p->reassembled)
        udp_note(f, &S->reassembled, p->frame);
    stream_copy_put(&S->copy, S->copy_at, p->payload, p->payload_caplen);
    S->copy_at += p->payload_len;
}

bool packet_is_port_unreachable(const struct packet *p)
{
    return (p->l4 == L4_ICMP && p->icmp_type == WC_ICMP_DEST_UNREACH &&
            p->icmp_code == WC_ICMP_UNREACH_PORT) ||
           (p->l4 == L4_ICMPV6 && p->icmp_type == WC_ICMP6_DEST_UNREACH &&
            p->icmp_code == WC_ICMP6_UNREACH_PORT);
}

void udp_flow_note_icmp(struct udp_flow *f, const struct packet *p)
{
    f->last_frame = p->frame;
    f->last_ts = p->ts_usec;
    if (packet_is_port_unreachable(p)) /* other errors only keep the flow alive */
        udp_note(f, &f->port_unreachable, p->frame);
}

void udp_flow_free(struct udp_flow *f)
{
    stream_copy_free(&f->side[0].copy);
    stream_copy_free(&f->side[1].copy);
    free(f->noted_frames);
    f->noted_frames = NULL;
}
