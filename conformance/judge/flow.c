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

/* ---- bounded stream copy ------------------------------------------------ */

void stream_copy_init(struct stream_copy *s, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->cap = cap;
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
        s->have = calloc((s->cap + 7) / 8, 1);
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

int tcp_flow_sender(const struct tcp_flow *f, const struct packet *p)
{
    struct endpoint src = packet_src(p);
    return endpoint_equal(&src, &f->ep[0]) ? 0 : 1;
}

uint64_t tcp_flow_bytes(const struct tcp_flow *f, int s)
{
    return f->side[s].any_data ? f->side[s].hi : 0;
}

void tcp_flow_free(struct tcp_flow *f)
{
    stream_copy_free(&f->side[0].copy);
    stream_copy_free(&f->side[1].copy);
}

static void note_checksums(struct tcp_side *S, const struct packet *p)
{
    if (p->ip_checksum == CSUM_BAD)
        frame_list_add(&S->bad_ip_checksum, p->frame);
    if (p->l4_checksum == CSUM_BAD)
        frame_list_add(&S->bad_checksum, p->frame);
    else if (p->l4_checksum == CSUM_OFFLOADED)
        frame_list_add(&S->offloaded_checksum, p->frame);
    else if (p->l4_checksum == CSUM_GOOD)
        S->good_checksums++;
}

static void note_syn(struct tcp_flow *f, int s, const struct packet *p)
{
    struct tcp_side *S = &f->side[s];
    if (S->syn_seen) {
        if (p->seq == S->isn)
            frame_list_add(&S->syn_retransmits, p->frame);
        return;
    }
    S->syn_seen = true;
    S->syn_frame = p->frame;
    S->isn = p->seq;
    S->syn_flags = p->tcp_flags;
    S->syn_ack = p->ack;
    S->syn_payload = p->payload_len;
    S->syn_opt = p->opt;
    S->base = p->seq + 1;
    S->base_known = true;
    if ((p->tcp_flags & TCP_ACK) && s == 1)
        f->synack_frame = p->frame;
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
    if (O->fin_seen && !S->fin_ack_frame && seq_ge(p->ack, O->base + O->fin_rel + 1))
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
        frame_list_add(&S->early_data, p->frame);
    if (before_stream || (S->any_data && seq_lt(start, S->hi)))
        frame_list_add(&S->retransmits, p->frame);
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
        frame_list_add(&S->data_after_fin, p->frame);
    if (!before_stream)
        stream_copy_put(&S->copy, start, p->payload, p->payload_caplen);
}

static void note_fin(struct tcp_flow *f, int s, const struct packet *p, uint32_t start)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    uint32_t fin_rel = start + p->payload_len;
    if (S->fin_seen) {
        if (fin_rel == S->fin_rel && p->payload_len == 0)
            frame_list_add(&S->retransmits, p->frame);
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

/* RFC 9293 3.10.7.4: a RST is acceptable if RCV.NXT <= SEG.SEQ <
 * RCV.NXT + RCV.WND, exactly RCV.NXT if the window is zero. The receiver's
 * RCV.NXT is the highest ack it sent; if it never acked, our own SND.NXT. */
static void note_rst(struct tcp_flow *f, int s, const struct packet *p)
{
    struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
    frame_list_add(&S->rsts, p->frame);
    if (!f->closed) {
        f->closed = true;
        f->closed_ts = p->ts_usec;
    }
    if (S->rsts.count > 1)
        return;
    S->rst_seq = p->seq;
    S->rst_before_fin = !S->fin_seen;
    /* The wire cannot show what an application read (Linux acks unread
     * bytes too), so any peer data before a FIN-less RST is the sign. */
    S->rst_after_unanswered_data = O->any_data;
    if (f->refused && f->refused_frame == p->frame) {
        S->rst_in_window = S->rst_exact = true; /* SYN-SENT: acceptable if it acks the SYN */
        return;
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
    S->rst_exact = p->seq == rcv_nxt;
    S->rst_in_window = p->seq - rcv_nxt < wnd;
}

void tcp_flow_update(struct tcp_flow *f, const struct packet *p)
{
    int s = tcp_flow_sender(f, p);
    struct tcp_side *S = &f->side[s];
    uint8_t flags = p->tcp_flags;
    f->last_frame = p->frame;
    f->last_ts = p->ts_usec;
    S->packets++;
    note_checksums(S, p);
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
    if (flags & TCP_RST)
        note_rst(f, s, p);
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
    frame_list_add(&f->icmp_errors, p->frame);
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
    struct endpoint src = packet_src(p);
    return endpoint_equal(&src, &f->ep[0]) ? 0 : 1;
}

void udp_flow_update(struct udp_flow *f, const struct packet *p)
{
    struct udp_side *S = &f->side[udp_flow_sender(f, p)];
    f->last_frame = p->frame;
    f->last_ts = p->ts_usec;
    S->datagrams++;
    S->bytes += p->payload_len;
    if (p->udp_len != p->ip_payload_len)
        frame_list_add(&S->bad_length, p->frame);
    if (p->ip_checksum == CSUM_BAD)
        frame_list_add(&S->bad_ip_checksum, p->frame);
    switch (p->l4_checksum) {
    case CSUM_GOOD: S->good_checksums++; break;
    case CSUM_BAD: frame_list_add(&S->bad_checksum, p->frame); break;
    case CSUM_OFFLOADED: frame_list_add(&S->offloaded_checksum, p->frame); break;
    case CSUM_UNUSED: S->unused_checksums++; break;
    case CSUM_UNVERIFIABLE: S->unverifiable_checksums++; break;
    case CSUM_ABSENT: break;
    }
    if (p->reassembled)
        frame_list_add(&S->reassembled, p->frame);
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
        frame_list_add(&f->port_unreachable, p->frame);
}

void udp_flow_free(struct udp_flow *f)
{
    stream_copy_free(&f->side[0].copy);
    stream_copy_free(&f->side[1].copy);
}
