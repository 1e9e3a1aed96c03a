/* checks_tcp: the TCP rules, one small function each, reading the facts
 * flow.c kept about a connection and writing one verdict. See checks.h. */
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "checks_common.h"
#include "flow.h"
#include "proto.h"

static void rule_syn(const struct tcp_flow *f, struct verdict_builder *b)
{
    const struct tcp_side *C = &f->side[0];
    if (!C->syn_seen) {
        verdict_init(b, RULE_TCP_HANDSHAKE_SYN, VERDICT_NA, "no client SYN in the capture");
        return;
    }
    if (C->syn_flags & (TCP_FIN | TCP_RST)) {
        verdict_init(b, RULE_TCP_HANDSHAKE_SYN, VERDICT_FAIL, "client SYN carries FIN or RST");
        verdict_expect(b, "SYN alone");
        verdict_seen(b, "flags 0x%02x", C->syn_flags);
    } else {
        verdict_init(b, RULE_TCP_HANDSHAKE_SYN, VERDICT_PASS, "client SYN without ACK");
    }
    verdict_add_frame(&b->v, C->syn_frame);
}

/* RFC 9293 figure 8: SYN, SYN, then each side's SYN,ACK acknowledges the
 * other's ISN + 1. */
static void rule_synack_simultaneous(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_HANDSHAKE_SYNACK_ACKS_ISN;
    for (int s = 0; s < 2; s++) {
        const struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
        if (!S->simopen_synack_frame || S->simopen_synack_ack != O->isn + 1) {
            verdict_init(b, r, VERDICT_FAIL, "simultaneous open: the %s's SYN,ACK does not ack "
                         "the %s's ISN+1", checks_side_name[s], checks_side_name[1 - s]);
            verdict_expect(b, "SYN,ACK with ack %u", O->isn + 1);
            if (S->simopen_synack_frame)
                verdict_seen(b, "ack %u", S->simopen_synack_ack);
            else
                verdict_seen(b, "no SYN,ACK from the %s", checks_side_name[s]);
            verdict_add_frame(&b->v, O->syn_frame);
            verdict_add_frame(&b->v, S->simopen_synack_frame);
            return;
        }
    }
    verdict_init(b, r, VERDICT_PASS, "simultaneous open: each SYN,ACK acks the other's ISN+1");
    for (int s = 0; s < 2; s++) {
        verdict_add_frame(&b->v, f->side[s].syn_frame);
        verdict_add_frame(&b->v, f->side[s].simopen_synack_frame);
    }
}

static void rule_synack(const struct tcp_flow *f, struct verdict_builder *b)
{
    const struct tcp_side *C = &f->side[0], *S = &f->side[1];
    if (!C->syn_seen || !S->syn_seen) {
        verdict_init(b, RULE_TCP_HANDSHAKE_SYNACK_ACKS_ISN, VERDICT_NA, "no SYN/ACK answering a SYN");
        return;
    }
    if (f->simultaneous_open) {
        rule_synack_simultaneous(f, b);
        return;
    }
    bool has_ack = S->syn_flags & TCP_ACK;
    if (has_ack && S->syn_ack == C->isn + 1) {
        verdict_init(b, RULE_TCP_HANDSHAKE_SYNACK_ACKS_ISN, VERDICT_PASS, "SYN/ACK acks ISN+1");
    } else if (has_ack && C->syn_payload && S->syn_ack == C->isn + 1 + C->syn_payload) {
        /* The SYN's data was accepted with it (RFC 7413 4.2.2, RFC 9293 3.10.7.3). */
        verdict_init(b, RULE_TCP_HANDSHAKE_SYNACK_ACKS_ISN, VERDICT_PASS,
                     "SYN/ACK acks ISN+1+%u (the SYN's data)", C->syn_payload);
    } else {
        verdict_init(b, RULE_TCP_HANDSHAKE_SYNACK_ACKS_ISN, VERDICT_FAIL, "SYN/ACK does not ack ISN+1");
        verdict_expect(b, "SYN/ACK with ack %u (client ISN+1)", C->isn + 1);
        if (has_ack)
            verdict_seen(b, "ack %u", S->syn_ack);
        else
            verdict_seen(b, "SYN without ACK flag");
    }
    verdict_add_frame(&b->v, C->syn_frame);
    verdict_add_frame(&b->v, S->syn_frame);
}

static void rule_handshake_ack(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_HANDSHAKE_ACK_ACKS_SERVER_ISN;
    if (f->simultaneous_open) {
        /* Both SYN,ACKs complete it: no third segment (RFC 9293 figure 8). */
        if (f->established) {
            verdict_init(b, r, VERDICT_PASS, "simultaneous open: completed by the two SYN,ACKs");
            verdict_add_frame(&b->v, f->side[0].simopen_synack_frame);
            verdict_add_frame(&b->v, f->side[1].simopen_synack_frame);
        } else {
            verdict_init(b, r, VERDICT_NA, "simultaneous open not completed (see synack_acks_isn)");
        }
        return;
    }
    if (!f->synack_frame) {
        verdict_init(b, r, VERDICT_NA, "no SYN/ACK to acknowledge");
        return;
    }
    if (!f->handshake_ack_frame) {
        verdict_init(b, r, VERDICT_FAIL, "client never acknowledged the SYN/ACK");
        verdict_expect(b, "ACK %u (server ISN+1)", f->side[1].isn + 1);
        verdict_seen(b, "no ACK from the client");
        verdict_add_frame(&b->v, f->synack_frame);
        return;
    }
    if (f->handshake_ack_ok) {
        verdict_init(b, r, VERDICT_PASS, "final ACK acks server ISN+1");
    } else {
        verdict_init(b, r, VERDICT_FAIL, "final ACK does not ack server ISN+1");
        verdict_expect(b, "ack %u", f->side[1].isn + 1);
        verdict_seen(b, "ack %u", f->handshake_ack_value);
    }
    verdict_add_frame(&b->v, f->handshake_ack_frame);
}

static void rule_mss(const struct tcp_flow *f, struct verdict_builder *b)
{
    const struct tcp_side *C = &f->side[0], *S = &f->side[1];
    if (!C->syn_seen) {
        verdict_init(b, RULE_TCP_HANDSHAKE_MSS, VERDICT_NA, "no SYN in the capture");
        return;
    }
    bool syn_ok = C->syn_opt.has_mss;
    bool synack_ok = !S->syn_seen || S->syn_opt.has_mss;
    if (syn_ok && synack_ok) {
        if (S->syn_seen)
            verdict_init(b, RULE_TCP_HANDSHAKE_MSS, VERDICT_PASS,
                         "MSS in SYN (%u) and SYN/ACK (%u)", C->syn_opt.mss, S->syn_opt.mss);
        else
            verdict_init(b, RULE_TCP_HANDSHAKE_MSS, VERDICT_PASS, "MSS in SYN (%u)",
                         C->syn_opt.mss);
    } else {
        /* RFC 9293 3.7.1 (SHLD-5): SHOULD send it; the peer then assumes
         * 536 (IPv4) / 1220 (IPv6). Not a MUST: warn. */
        verdict_init(b, RULE_TCP_HANDSHAKE_MSS, VERDICT_WARN, "MSS option missing from the %s",
                     syn_ok ? "SYN/ACK" : "SYN");
        verdict_expect(b, "MSS option in SYN and SYN/ACK");
        verdict_seen(b, "SYN %s MSS, SYN/ACK %s MSS", syn_ok ? "with" : "without",
                     !S->syn_seen ? "absent," : synack_ok ? "with" : "without");
    }
    verdict_add_frame(&b->v, C->syn_frame);
    verdict_add_frame(&b->v, S->syn_frame);
}

static void rule_options(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_HANDSHAKE_OPTIONS_NEGOTIATED;
    const struct tcp_syn_options *c = &f->side[0].syn_opt, *s = &f->side[1].syn_opt;
    if (!f->side[0].syn_seen || !f->side[1].syn_seen) {
        verdict_init(b, r, VERDICT_NA, "no SYN and SYN/ACK pair");
        return;
    }
    char unasked[64] = "";
    /* In a simultaneous open both SYNs are offers: nothing answers the other. */
    if (f->simultaneous_open)
        ;
    else if (s->has_wscale && !c->has_wscale)
        strcat(unasked, " wscale");
    if (s->sack_permitted && !c->sack_permitted)
        strcat(unasked, " sackOK");
    if (s->has_timestamps && !c->has_timestamps)
        strcat(unasked, " TS");
    if (unasked[0]) {
        verdict_init(b, r, VERDICT_FAIL, "SYN/ACK has options the SYN did not offer:%s", unasked);
        verdict_expect(b, "only options offered in the SYN");
        verdict_seen(b, "SYN/ACK adds%s", unasked);
    } else {
        char wscale[32] = "";
        if (c->has_wscale && s->has_wscale && !(b->textless_kinds & (1u << VERDICT_PASS)))
            snprintf(wscale, sizeof wscale, " wscale %u/%u", c->wscale, s->wscale);
        verdict_init(b, r, VERDICT_PASS, "negotiated:%s%s%s%s", wscale,
                     c->sack_permitted && s->sack_permitted ? " sackOK" : "",
                     c->has_timestamps && s->has_timestamps ? " TS" : "",
                     wscale[0] || (c->sack_permitted && s->sack_permitted) ||
                             (c->has_timestamps && s->has_timestamps) ? "" : " none");
    }
    verdict_add_frame(&b->v, f->side[0].syn_frame);
    verdict_add_frame(&b->v, f->side[1].syn_frame);
}

static void rule_early_data(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_HANDSHAKE_NO_EARLY_DATA;
    if (!f->side[0].syn_seen) {
        verdict_init(b, r, VERDICT_NA, "handshake not in the capture");
        return;
    }
    uint32_t n = f->side[0].early_data.count + f->side[1].early_data.count;
    if (n == 1 && f->side[0].syn_payload &&
        FLOW_FRAMES(f, f->side[0].early_data)->frames[0] == f->side[0].syn_frame) {
        /* RFC 9293 3.10.7.2 lets a SYN carry data (queued until
         * established); without TFO most stacks drop it: a warning. */
        verdict_init(b, r, VERDICT_WARN, "the SYN carries %u data byte(s) without TCP Fast Open",
                     f->side[0].syn_payload);
        verdict_expect(b, "no data on the SYN without a TFO option");
        verdict_seen(b, "%u byte(s) on the SYN in frame %u", f->side[0].syn_payload,
                     f->side[0].syn_frame);
        verdict_add_frame(&b->v, f->side[0].syn_frame);
    } else if (n) {
        verdict_init(b, r, VERDICT_FAIL, "%u segment(s) carry data before the handshake completed", n);
        verdict_expect(b, "data only after the client's ACK of the SYN/ACK");
        verdict_seen(b, "data from the %s in frame %u",
                     f->side[0].early_data.count ? "client" : "server",
                     f->side[0].early_data.count ? FLOW_FRAMES(f, f->side[0].early_data)->frames[0]
                                                 : FLOW_FRAMES(f, f->side[1].early_data)->frames[0]);
        checks_add_frames(b, FLOW_FRAMES(f, f->side[0].early_data));
        checks_add_frames(b, FLOW_FRAMES(f, f->side[1].early_data));
    } else if (f->side[0].syn_opt.has_tfo && f->side[0].syn_payload) {
        verdict_init(b, r, VERDICT_PASS, "data on the SYN with TCP Fast Open");
        verdict_add_frame(&b->v, f->side[0].syn_frame);
    } else {
        verdict_init(b, r, VERDICT_PASS, "no data before the handshake completed");
    }
}

static void rule_refused(const struct tcp_flow *f, struct verdict_builder *b)
{
    if (f->refused) {
        verdict_init(b, RULE_TCP_REFUSED, VERDICT_INFO, "SYN answered by RST/ACK: connection refused");
        verdict_add_frame(&b->v, f->side[0].syn_frame);
        verdict_add_frame(&b->v, f->refused_frame);
    } else if (f->side[0].syn_seen && !f->side[1].syn_seen && !f->side[1].packets) {
        verdict_init(b, RULE_TCP_REFUSED, VERDICT_NA, "SYN never answered (no RST either)");
        verdict_add_frame(&b->v, f->side[0].syn_frame);
    } else {
        verdict_init(b, RULE_TCP_REFUSED, VERDICT_NA, "not refused");
    }
}

/* "destination unreachable, port unreachable" for the usual errors. */
static void icmp_error_text(bool v6, uint8_t type, uint8_t code, char *buf, size_t size)
{
    static const char *const unreach4[16] = {
        "net unreachable", "host unreachable", "protocol unreachable", "port unreachable",
        "fragmentation needed", "source route failed", NULL, NULL, NULL,
        "net administratively prohibited", "host administratively prohibited", NULL, NULL,
        "communication administratively prohibited", NULL, NULL,
    };
    static const char *const unreach6[8] = {
        "no route", "administratively prohibited", "beyond scope of source address",
        "address unreachable", "port unreachable", "source address failed policy",
        "reject route", NULL,
    };
    const char *what = NULL, *detail = NULL;
    if (!v6) {
        switch (type) {
        case WC_ICMP_DEST_UNREACH:
            what = "destination unreachable";
            detail = code < 16 ? unreach4[code] : NULL;
            break;
        case WC_ICMP_SOURCE_QUENCH: what = "source quench"; break;
        case WC_ICMP_REDIRECT: what = "redirect"; break;
        case WC_ICMP_TIME_EXCEEDED: what = "time exceeded"; break;
        case WC_ICMP_PARAM_PROBLEM: what = "parameter problem"; break;
        }
    } else {
        switch (type) {
        case WC_ICMP6_DEST_UNREACH:
            what = "destination unreachable";
            detail = code < 8 ? unreach6[code] : NULL;
            break;
        case WC_ICMP6_PACKET_TOO_BIG: what = "packet too big"; break;
        case WC_ICMP6_TIME_EXCEEDED: what = "time exceeded"; break;
        case WC_ICMP6_PARAM_PROBLEM: what = "parameter problem"; break;
        }
    }
    snprintf(buf, size, "%s %s%s%s (type %u code %u)", v6 ? "ICMPv6" : "ICMP",
             what ? what : "error", detail ? ", " : "", detail ? detail : "", type, code);
}

/* Only called when the connection drew an ICMP error (the rule is not
 * reported otherwise: see RULES.md). */
static void rule_icmp_error(const struct tcp_flow *f, struct verdict_builder *b)
{
    char what[96];
    icmp_error_text(f->icmp_v6, f->icmp_type, f->icmp_code, what, sizeof what);
    int s = f->icmp_quoted_side;
    const struct tcp_side *S = &f->side[s];
    bool syn = S->syn_seen && f->icmp_quoted_seq == S->isn;
    char more[48] = "";
    if (f->icmp_errors.count > 1)
        snprintf(more, sizeof more, "; %u ICMP error(s) in all", f->icmp_errors.count);
    verdict_init(b, RULE_TCP_ICMP_ERROR, VERDICT_INFO, "%s answering the %s's %s%s", what,
                 checks_side_name[s], syn ? (s == 0 ? "SYN" : "SYN/ACK") : "segment", more);
    if (syn)
        verdict_add_frame(&b->v, S->syn_frame);
    checks_add_frames(b, FLOW_FRAMES(f, f->icmp_errors));
}

static void rule_no_rst(const struct tcp_flow *f, struct verdict_builder *b)
{
    const struct frame_list *c = FLOW_FRAMES(f, f->side[0].rsts);
    const struct frame_list *s = FLOW_FRAMES(f, f->side[1].rsts);
    if (f->refused && c->count == 0 && s->count == 1) {
        verdict_init(b, RULE_TCP_NO_RST, VERDICT_NA, "the only RST is the refusal (see tcp.refused)");
        return;
    }
    if (c->count + s->count == 0) {
        verdict_init(b, RULE_TCP_NO_RST, VERDICT_PASS, "no RST");
        return;
    }
    if (tcp_side_aborting_rsts(&f->side[0]) + tcp_side_aborting_rsts(&f->side[1]) == 0) {
        verdict_init(b, RULE_TCP_NO_RST, VERDICT_INFO, "%u RST(s), each answering a segment that "
                     "arrived after the orderly close (CLOSED, RFC 9293 3.10.7.1)", c->count + s->count);
        checks_add_frames(b, c);
        checks_add_frames(b, s);
        return;
    }
    int first = !c->count ? 1 : !s->count ? 0 : c->frames[0] < s->frames[0] ? 0 : 1;
    verdict_init(b, RULE_TCP_NO_RST, VERDICT_FAIL, "%u RST(s), first from the %s",
                 c->count + s->count, checks_side_name[first]);
    verdict_expect(b, "no RST");
    verdict_seen(b, "RST from the %s in frame %u", checks_side_name[first],
                 FLOW_FRAMES(f, f->side[first].rsts)->frames[0]);
    checks_add_frames(b, c);
    checks_add_frames(b, s);
}

static void rule_all_acked(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_DATA_ALL_ACKED;
    for (int s = 0; s < 2; s++) {
        const struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
        if (!S->syn_seen || !O->ack_seen) /* the stream's start is not in the capture */
            continue;
        uint32_t sent = S->any_data ? S->hi : 0;
        if (S->any_probe && seq_gt(S->probe_end, sent))
            sent = S->probe_end;
        uint32_t end = S->base + sent + (S->fin_seen ? 1 : 0);
        if (seq_gt(O->max_ack, end)) {
            /* RFC 9293 3.3.1/3.10.7.4: an acceptable ACK is SND.UNA <
             * SEG.ACK =< SND.NXT; one beyond SND.NXT acknowledges data
             * never sent, and the receiver drops it. */
            verdict_init(b, r, VERDICT_FAIL, "the %s acknowledges %s data never sent",
                         checks_side_name[1 - s], checks_side_name[s]);
            verdict_expect(b, "ack at most relative %u (what the %s sent)", end - S->base,
                           checks_side_name[s]);
            verdict_seen(b, "ack relative %u (frame %u)", O->max_ack - S->base, O->max_ack_frame);
            verdict_add_frame(&b->v, O->max_ack_frame);
            return;
        }
    }
    if (!f->side[0].any_data && !f->side[1].any_data) {
        verdict_init(b, r, VERDICT_NA, "no data sent");
        return;
    }
    for (int s = 0; s < 2; s++) {
        const struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
        if (!S->any_data)
            continue;
        uint32_t end = S->base + S->hi;
        if (!O->ack_seen || !seq_ge(O->max_ack, end)) {
            verdict_init(b, r, VERDICT_FAIL, "%s data not all acknowledged", checks_side_name[s]);
            verdict_expect(b, "ack of relative seq %u (%u bytes)", S->hi, S->hi);
            if (O->ack_seen)
                verdict_seen(b, "highest ack relative %u (frame %u)", O->max_ack - S->base,
                             O->max_ack_frame);
            else
                verdict_seen(b, "no ACK from the %s", checks_side_name[1 - s]);
            verdict_add_frame(&b->v, S->last_data_seq_frame);
            verdict_add_frame(&b->v, O->max_ack_frame);
            return;
        }
    }
    verdict_init(b, r, VERDICT_PASS, "all data acked (client %u bytes, server %u bytes)",
                 f->side[0].any_data ? f->side[0].hi : 0, f->side[1].any_data ? f->side[1].hi : 0);
    for (int s = 0; s < 2; s++)
        if (f->side[s].any_data)
            verdict_add_frame(&b->v, f->side[1 - s].max_ack_frame);
}

/* What RFC 9293 sends below SND.NXT without resending anything:
 * " (2 keep-alive(s), 1 zero-window probe(s) not counted)", or "". */
static void not_resends(const struct tcp_flow *f, char *buf, size_t size)
{
    uint32_t ka = f->side[0].keepalives.count + f->side[1].keepalives.count;
    uint32_t zwp = f->side[0].window_probes.count + f->side[1].window_probes.count;
    uint32_t tfo = (f->side[0].tfo_resend_frame != 0) + (f->side[1].tfo_resend_frame != 0);
    buf[0] = '\0';
    if (!ka && !zwp && !tfo)
        return;
    char ka_s[40] = "", zwp_s[40] = "", tfo_s[48] = "";
    if (ka)
        snprintf(ka_s, sizeof ka_s, "%u keep-alive(s)", ka);
    if (zwp)
        snprintf(zwp_s, sizeof zwp_s, "%s%u zero-window probe(s)", ka ? ", " : "", zwp);
    if (tfo)
        snprintf(tfo_s, sizeof tfo_s, "%sSYN data resent after the SYN/ACK", ka || zwp ? ", " : "");
    snprintf(buf, size, " (%s%s%s not counted)", ka_s, zwp_s, tfo_s);
}

static void add_not_resend_frames(const struct tcp_flow *f, struct verdict_builder *b)
{
    for (int s = 0; s < 2; s++) {
        checks_add_frames(b, FLOW_FRAMES(f, f->side[s].keepalives));
        checks_add_frames(b, FLOW_FRAMES(f, f->side[s].window_probes));
        verdict_add_frame(&b->v, f->side[s].tfo_resend_frame);
    }
}

static void rule_retransmission(const struct tcp_flow *f, bool loss_injected,
                                struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_DATA_NO_RETRANSMISSION;
    uint32_t n = 0, ooo = 0;
    for (int s = 0; s < 2; s++) {
        n += f->side[s].retransmits.count + f->side[s].syn_retransmits.count;
        ooo += f->side[s].out_of_order.count;
    }
    char extra[128];
    not_resends(f, extra, sizeof extra);
    if (n == 0 && ooo == 0) {
        verdict_init(b, r, VERDICT_PASS, "no retransmission%s", extra);
        add_not_resend_frames(f, b);
        return;
    }
    if (n == 0) {
        /* Sent once, overtaken on the way: reordering, not TCP's doing. */
        verdict_init(b, r, VERDICT_WARN, "no retransmission; %u segment(s) out of order%s", ooo, extra);
        verdict_expect(b, "segments in sequence order");
        verdict_seen(b, "client %u, server %u segment(s) filling a gap within %d ms",
                     f->side[0].out_of_order.count, f->side[1].out_of_order.count,
                     TCP_OOO_WINDOW_USEC / 1000);
        for (int s = 0; s < 2; s++)
            checks_add_frames(b, FLOW_FRAMES(f, f->side[s].out_of_order));
        return;
    }
    if (loss_injected) {
        /* The loss was the test's doing; the retransmission is TCP repairing it. */
        verdict_init(b, r, VERDICT_INFO,
                     "%u retransmitted segment(s): retransmission after injected loss (client %u, server %u)%s",
                     n, f->side[0].retransmits.count + f->side[0].syn_retransmits.count,
                     f->side[1].retransmits.count + f->side[1].syn_retransmits.count, extra);
    } else {
        verdict_init(b, r, VERDICT_FAIL, "%u retransmitted segment(s)%s", n, extra);
        verdict_expect(b, "each segment sent once");
        verdict_seen(b, "client %u, server %u retransmission(s)",
                     f->side[0].retransmits.count + f->side[0].syn_retransmits.count,
                     f->side[1].retransmits.count + f->side[1].syn_retransmits.count);
    }
    for (int s = 0; s < 2; s++) {
        checks_add_frames(b, FLOW_FRAMES(f, f->side[s].syn_retransmits));
        checks_add_frames(b, FLOW_FRAMES(f, f->side[s].retransmits));
    }
}

static void rule_first_fin(const struct tcp_flow *f, struct verdict_builder *b)
{
    if (f->first_fin_side < 0) {
        verdict_init(b, RULE_TCP_TEARDOWN_FIRST_FIN, VERDICT_NA, "no FIN");
        return;
    }
    int s = f->first_fin_side;
    verdict_init(b, RULE_TCP_TEARDOWN_FIRST_FIN, VERDICT_INFO, "%s sent the first FIN%s",
                 checks_side_name[s], f->simultaneous_close ? " (simultaneous close)" : "");
    verdict_add_frame(&b->v, f->side[s].fin_frame);
    if (f->simultaneous_close)
        verdict_add_frame(&b->v, f->side[1 - s].fin_frame); /* the FIN that crossed it */
}

static void rule_fin_acked(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_TEARDOWN_FIN_ACKED;
    if (!f->side[0].fin_seen && !f->side[1].fin_seen) {
        verdict_init(b, r, VERDICT_NA, "no FIN");
        return;
    }
    for (int s = 0; s < 2; s++) {
        const struct tcp_side *S = &f->side[s], *O = &f->side[1 - s];
        if (S->fin_seen && !O->fin_ack_frame) {
            verdict_init(b, r, VERDICT_FAIL, "%s FIN not acknowledged", checks_side_name[s]);
            verdict_expect(b, "ack of FIN seq + 1 (relative %u)", S->fin_rel + 1);
            if (O->ack_seen && seq_gt(O->max_ack, S->base + S->fin_rel + 1))
                verdict_seen(b, "ack relative %u, beyond the FIN (frame %u)", O->max_ack - S->base,
                             O->max_ack_frame);
            else if (O->ack_seen)
                verdict_seen(b, "highest ack relative %u", O->max_ack - S->base);
            else
                verdict_seen(b, "no ACK from the %s", checks_side_name[1 - s]);
            verdict_add_frame(&b->v, S->fin_frame);
            return;
        }
    }
    verdict_init(b, r, VERDICT_PASS, "%s acknowledged (FIN + 1)",
                 f->side[0].fin_seen && f->side[1].fin_seen ? "both FINs" : "the FIN");
    for (int s = 0; s < 2; s++) {
        if (f->side[s].fin_seen) {
            verdict_add_frame(&b->v, f->side[s].fin_frame);
            verdict_add_frame(&b->v, f->side[1 - s].fin_ack_frame);
        }
    }
}

static void rule_no_data_after_fin(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_TEARDOWN_NO_DATA_AFTER_FIN;
    if (!f->side[0].fin_seen && !f->side[1].fin_seen) {
        verdict_init(b, r, VERDICT_NA, "no FIN");
        return;
    }
    for (int s = 0; s < 2; s++) {
        const struct tcp_side *S = &f->side[s];
        if (S->data_after_fin.count) {
            verdict_init(b, r, VERDICT_FAIL, "%s sent data after its FIN", checks_side_name[s]);
            verdict_expect(b, "nothing beyond relative seq %u", S->fin_rel);
            verdict_seen(b, "data in frame %u", FLOW_FRAMES(f, S->data_after_fin)->frames[0]);
            verdict_add_frame(&b->v, S->fin_frame);
            checks_add_frames(b, FLOW_FRAMES(f, S->data_after_fin));
            return;
        }
    }
    verdict_init(b, r, VERDICT_PASS, "no data after FIN");
}

static void rule_half_close(const struct tcp_flow *f, struct verdict_builder *b)
{
    if (f->half_close_side < 0) {
        verdict_init(b, RULE_TCP_TEARDOWN_HALF_CLOSE, VERDICT_NA, "no data after a peer's FIN");
        return;
    }
    int s = f->half_close_side;
    verdict_init(b, RULE_TCP_TEARDOWN_HALF_CLOSE, VERDICT_INFO,
                 "half-close: %s FIN'd, %s kept sending", checks_side_name[s], checks_side_name[1 - s]);
    verdict_add_frame(&b->v, f->side[s].fin_frame);
    verdict_add_frame(&b->v, f->half_close_data_frame);
}

static void rule_abortive(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_TEARDOWN_ABORTIVE;
    const struct frame_list *c = FLOW_FRAMES(f, f->side[0].rsts);
    const struct frame_list *s = FLOW_FRAMES(f, f->side[1].rsts);
    if ((c->count + s->count == 0) || (f->refused && s->count == 1 && c->count == 0)) {
        verdict_init(b, r, VERDICT_NA, "no abortive close");
        return;
    }
    if (tcp_side_aborting_rsts(&f->side[0]) + tcp_side_aborting_rsts(&f->side[1]) == 0) {
        verdict_init(b, r, VERDICT_NA, "no abortive close: the RSTs answer segments that arrived "
                     "after the orderly close");
        return;
    }
    int x = !c->count ? 1 : !s->count ? 0 : c->frames[0] < s->frames[0] ? 0 : 1;
    const struct tcp_side *X = &f->side[x];
    if (!X->rst_in_window) {
        verdict_init(b, r, VERDICT_FAIL, "%s RST is outside the receive window", checks_side_name[x]);
        verdict_expect(b, "RST seq within the %s's window", checks_side_name[1 - x]);
        verdict_seen(b, "seq %u (relative %u)", X->rst_seq, X->rst_seq - X->base);
    } else if (X->rsts.count - X->rst_answers > 1) {
        verdict_init(b, r, VERDICT_FAIL, "%s sent %u RSTs", checks_side_name[x], X->rsts.count);
        verdict_expect(b, "one RST (and one per segment arriving after it)");
        verdict_seen(b, "%u RSTs, %u answering a segment that arrived after the close",
                     X->rsts.count, X->rst_answers);
    } else if (X->rst_answers) {
        /* RFC 9293 3.10.7.1: the closed socket answers each segment still
         * in flight with <SEQ=SEG.ACK><CTL=RST>. */
        verdict_init(b, r, VERDICT_PASS, "abortive close: one RST from the %s, in window%s; "
                     "%u more answering segments in flight (CLOSED, RFC 9293 3.10.7.1)",
                     checks_side_name[x], X->rst_exact ? " (= RCV.NXT)" : "", X->rst_answers);
    } else {
        verdict_init(b, r, VERDICT_PASS, "abortive close: one RST from the %s, in window%s",
                     checks_side_name[x], X->rst_exact ? " (= RCV.NXT)" : "");
    }
    checks_add_frames(b, FLOW_FRAMES(f, X->rsts));
}

static void rule_rst_unread(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_TEARDOWN_RST_UNREAD_DATA;
    for (int s = 0; s < 2; s++) {
        const struct tcp_side *S = &f->side[s];
        if (S->rsts.count && !(f->refused && s == 1) && S->rst_before_fin &&
            S->rst_after_unanswered_data) {
            verdict_init(b, r, VERDICT_INFO,
                         "%s reset instead of FIN after the %s sent data: likely closed with unread data",
                         checks_side_name[s], checks_side_name[1 - s]);
            verdict_add_frame(&b->v, f->side[1 - s].last_data_frame);
            verdict_add_frame(&b->v, FLOW_FRAMES(f, S->rsts)->frames[0]);
            return;
        }
    }
    verdict_init(b, r, VERDICT_NA, "no RST after unanswered data");
}

static void rule_time_wait(const struct tcp_flow *f, struct verdict_builder *b)
{
    const enum rule_id r = RULE_TCP_TEARDOWN_TIME_WAIT_SIDE;
    if (!f->side[0].fin_seen || !f->side[1].fin_seen ||
        tcp_side_aborting_rsts(&f->side[0]) + tcp_side_aborting_rsts(&f->side[1])) {
        verdict_init(b, r, VERDICT_NA, "no complete FIN exchange");
        return;
    }
    if (f->simultaneous_close) {
        /* Both sent a FIN before they had the other's, so neither passes
         * through CLOSE-WAIT: each enters TIME-WAIT once it has the peer's FIN
         * and its own FIN is acknowledged (RFC 9293 3.10.7.4, FIN-WAIT-1:
         * CLOSING, then TIME-WAIT on the ACK). A FIN never acknowledged
         * leaves its sender short of TIME-WAIT, and the peer short of that
         * FIN: neither side is seen getting there. */
        for (int s = 0; s < 2; s++) {
            if (!f->side[1 - s].fin_ack_frame) {
                verdict_init(b, r, VERDICT_NA, "simultaneous close, but the %s's FIN was never "
                             "acknowledged: neither side is seen reaching TIME_WAIT", checks_side_name[s]);
                verdict_add_frame(&b->v, f->side[s].fin_frame);
                return;
            }
        }
        verdict_init(b, r, VERDICT_INFO, "simultaneous close: both sides end in TIME_WAIT");
        /* Where each side's own FIN is acknowledged: its way into TIME_WAIT. */
        verdict_add_frame(&b->v, f->side[1].fin_ack_frame);
        verdict_add_frame(&b->v, f->side[0].fin_ack_frame);
        return;
    }
    int s = f->first_fin_side;
    const struct tcp_side *A = &f->side[s];
    if (!A->fin_ack_frame) {
        verdict_init(b, r, VERDICT_NA, "the %s (active closer) never acked the %s's FIN",
                     checks_side_name[s], checks_side_name[1 - s]);
        return;
    }
    verdict_init(b, r, VERDICT_INFO, "%s (active closer) ends in TIME_WAIT", checks_side_name[s]);
    verdict_add_frame(&b->v, A->fin_ack_frame);
}

size_t checks_tcp_with(const struct tcp_flow *f, const struct checks_options *o,
                       struct verdict *out, size_t cap, uint32_t kinds[VERDICT_KINDS])
{
    struct verdict_builder b;
    verdict_builder_start(&b, o ? o->textless_kinds : 0);
    struct verdict_list l = verdict_list_start(o, out, cap, kinds, &b);
    /* handshake */
    rule_syn(f, &b);                  verdict_list_add(&l, &b);
    rule_synack(f, &b);               verdict_list_add(&l, &b);
    rule_handshake_ack(f, &b);        verdict_list_add(&l, &b);
    rule_mss(f, &b);                  verdict_list_add(&l, &b);
    rule_options(f, &b);              verdict_list_add(&l, &b);
    rule_early_data(f, &b);           verdict_list_add(&l, &b);
    rule_refused(f, &b);              verdict_list_add(&l, &b);
    if (f->icmp_errors.count) {       /* reported only when there was one */
        rule_icmp_error(f, &b);       verdict_list_add(&l, &b);
    }
    rule_no_rst(f, &b);               verdict_list_add(&l, &b);
    /* data */
    rule_all_acked(f, &b);            verdict_list_add(&l, &b);
    rule_retransmission(f, o && o->loss_injected, &b);
                                      verdict_list_add(&l, &b);
    /* teardown */
    rule_first_fin(f, &b);            verdict_list_add(&l, &b);
    rule_fin_acked(f, &b);            verdict_list_add(&l, &b);
    rule_no_data_after_fin(f, &b);    verdict_list_add(&l, &b);
    rule_half_close(f, &b);           verdict_list_add(&l, &b);
    rule_abortive(f, &b);             verdict_list_add(&l, &b);
    rule_rst_unread(f, &b);           verdict_list_add(&l, &b);
    rule_time_wait(f, &b);            verdict_list_add(&l, &b);
    /* checksums */
    const struct tcp_side *c = &f->side[0], *s = &f->side[1];
    rule_l4_checksum(RULE_TCP_CHECKSUM, "TCP", FLOW_FRAMES(f, c->bad_checksum),
                     FLOW_FRAMES(f, s->bad_checksum),
                     c->good_checksums + s->good_checksums,
                     c->offloaded_checksum.count + s->offloaded_checksum.count, 0, &b);
    verdict_list_add(&l, &b);
    checks_add_ip_rules(&l, &b, f->ep[0].ip.family == 4, FLOW_FRAMES(f, c->bad_ip_checksum),
                        FLOW_FRAMES(f, s->bad_ip_checksum), FLOW_FRAMES(f, c->offloaded_checksum),
                        FLOW_FRAMES(f, s->offloaded_checksum));
    return verdict_list_count(&l);
}
