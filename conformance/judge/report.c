/* report: text rendering only; no judgement happens here. */
#include "report.h"

#include "flow.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

/* Appends printf output to buf[*len..size), never overflowing. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

static void tcp_flags_text(uint8_t f, char *out)
{
    /* tcpdump's letters: S F P R U E W and "." for ACK. */
    static const struct { uint8_t bit; char c; } letters[] = {
        {TCP_SYN, 'S'}, {TCP_FIN, 'F'}, {TCP_PSH, 'P'}, {TCP_RST, 'R'},
        {TCP_URG, 'U'}, {TCP_ECE, 'E'}, {TCP_CWR, 'W'}, {TCP_ACK, '.'},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof letters / sizeof letters[0]; i++)
        if (f & letters[i].bit)
            out[n++] = letters[i].c;
    if (n == 0)
        out[n++] = '-';
    out[n] = '\0';
}

static void tcp_options_text(const struct tcp_options *o, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    if (o->has_mss)
        append(buf, size, &len, "%smss %u", len ? "," : "", o->mss);
    if (o->sack_permitted)
        append(buf, size, &len, "%ssackOK", len ? "," : "");
    if (o->has_timestamps)
        append(buf, size, &len, "%sTS val %" PRIu32 " ecr %" PRIu32, len ? "," : "", o->tsval, o->tsecr);
    if (o->has_wscale)
        append(buf, size, &len, "%swscale %u", len ? "," : "", o->wscale);
    for (unsigned i = 0; i < o->sack_blocks; i++)
        append(buf, size, &len, "%ssack %" PRIu32 ":%" PRIu32, len ? "," : "", o->sack[i][0], o->sack[i][1]);
    if (o->has_tfo)
        append(buf, size, &len, "%stfo cookie %u", len ? "," : "", o->tfo_cookie_len);
}

void report_packet_line(const struct packet *p, char *buf, size_t size)
{
    size_t len = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    append(buf, size, &len, "%u %" PRId64 ".%06" PRId64 " ", p->frame, p->ts_usec / 1000000,
           p->ts_usec % 1000000);
    if (p->error == DISSECT_NOT_IP) {
        append(buf, size, &len, "not IP");
        return;
    }
    if (p->ip_version == 0) {
        append(buf, size, &len, "[%s at byte %zu]", dissect_error_name(p->error), p->error_offset);
        return;
    }
    struct endpoint src = { p->src, p->sport }, dst = { p->dst, p->dport };
    char s[64], d[64];
    bool ports = p->l4 == L4_TCP || p->l4 == L4_UDP;
    if (ports) {
        endpoint_format(&src, s, sizeof s);
        endpoint_format(&dst, d, sizeof d);
    } else {
        ip_addr_format(&p->src, s, sizeof s);
        ip_addr_format(&p->dst, d, sizeof d);
    }
    append(buf, size, &len, "%s %s > %s: ", p->ip_version == 4 ? "IP" : "IP6", s, d);
    if (p->is_fragment) {
        append(buf, size, &len, "frag (id %" PRIu32 ", offset %u%s, proto %u), length %" PRIu32,
               p->frag_id, p->frag_offset, p->more_fragments ? ", MF" : "", p->proto,
               p->ip_payload_len);
        return;
    }
    if (p->error != DISSECT_OK) {
        append(buf, size, &len, "[%s at byte %zu%s]", dissect_error_name(p->error), p->error_offset,
               p->snap_truncated ? ", snapshot length" : "");
        return;
    }
    switch (p->l4) {
    case L4_TCP: {
        char flags[12], opts[160];
        tcp_flags_text(p->tcp_flags, flags);
        append(buf, size, &len, "Flags [%s], seq %" PRIu32, flags, p->seq);
        if (p->payload_len)
            append(buf, size, &len, ":%" PRIu32, p->seq + p->payload_len);
        if (p->tcp_flags & TCP_ACK)
            append(buf, size, &len, ", ack %" PRIu32, p->ack);
        append(buf, size, &len, ", win %u", p->window);
        tcp_options_text(&p->opt, opts, sizeof opts);
        if (opts[0])
            append(buf, size, &len, ", options [%s]", opts);
        append(buf, size, &len, ", length %" PRIu32, p->payload_len);
        break;
    }
    case L4_UDP:
        append(buf, size, &len, "UDP, length %" PRIu32, p->payload_len);
        break;
    case L4_ICMP:
    case L4_ICMPV6:
        if (packet_is_port_unreachable(p) && p->quote.present) {
            char qd[64];
            ip_addr_format(&p->quote.dst.ip, qd, sizeof qd);
            append(buf, size, &len, "%s %s %s port %u unreachable, length %" PRIu32,
                   p->l4 == L4_ICMP ? "ICMP" : "ICMP6", qd, p->quote.proto == WC_IPPROTO_TCP ? "tcp" : "udp",
                   p->quote.dst.port, p->payload_len + 8);
        } else {
            append(buf, size, &len, "%s type %u code %u, length %" PRIu32,
                   p->l4 == L4_ICMP ? "ICMP" : "ICMP6", p->icmp_type, p->icmp_code,
                   p->payload_len + 8);
        }
        break;
    default:
        append(buf, size, &len, "proto %u, length %" PRIu32, p->proto, p->ip_payload_len);
        break;
    }
    if (p->l4_checksum == CSUM_BAD)
        append(buf, size, &len, " [bad %s checksum]", p->l4 == L4_UDP ? "udp" : p->l4 == L4_TCP ? "tcp" : "icmp");
    if (p->ip_checksum == CSUM_BAD)
        append(buf, size, &len, " [bad ip checksum]");
    if (p->snap_truncated)
        append(buf, size, &len, " [truncated by snapshot length]");
    if (p->duplicate_of)
        append(buf, size, &len, " [capture duplicate of frame %u: not judged]", p->duplicate_of);
}

void report_verdict(FILE *out, const struct verdict *v)
{
    verdict_print(out, v);
}

/* Whether report_flow prints a verdict of kind k at `level`. */
static bool verdict_printed(enum verdict_kind k, enum report_level level)
{
    switch (level) {
    case REPORT_QUIET: return k == VERDICT_FAIL || k == VERDICT_WARN;
    case REPORT_NORMAL: return k != VERDICT_NA;
    case REPORT_VERBOSE: return true;
    }
    return true;
}

unsigned report_unprinted_kinds(enum report_level level)
{
    static const enum verdict_kind kinds[] = { VERDICT_NA, VERDICT_PASS, VERDICT_INFO, VERDICT_FAIL,
                                               VERDICT_WARN, VERDICT_WAIVED };
    unsigned unprinted = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!verdict_printed(kinds[i], level))
            unprinted |= 1u << kinds[i];
    return unprinted;
}

static const char *proto_name(enum flow_proto p)
{
    return p == FLOW_TCP ? "TCP" : p == FLOW_UDP ? "UDP" : "capture";
}

void report_flow_name(const struct flow_report *r, char *buf, size_t size)
{
    if (r->proto == FLOW_CAPTURE) {
        snprintf(buf, size, "capture");
        return;
    }
    char c[64], s[64];
    endpoint_format(&r->client, c, sizeof c);
    endpoint_format(&r->server, s, sizeof s);
    snprintf(buf, size, "%s %s > %s (frames %u-%u)", proto_name(r->proto), c, s, r->first_frame,
             r->last_frame);
}

void report_flow_json(FILE *out, const struct flow_report *r, const char *case_name)
{
    char name[192];
    report_flow_name(r, name, sizeof name);
    for (size_t i = 0; i < r->nverdicts; i++)
        verdict_print_json(out, &r->verdicts[i], case_name, name);
}

void report_flow(FILE *out, const struct flow_report *r, enum report_level level)
{
    bool any_fail = r->verdict_counts[VERDICT_FAIL] || r->verdict_counts[VERDICT_WARN];
    if (level == REPORT_QUIET && !any_fail)
        return;
    char name[192];
    report_flow_name(r, name, sizeof name);
    fprintf(out, "%s%s\n", name, r->proto == FLOW_CAPTURE ? ":" : "");
    if (level != REPORT_QUIET && r->proto == FLOW_TCP) {
        fprintf(out, "  handshake: %s; data: client %" PRIu64 " bytes, server %" PRIu64
                     " bytes; teardown: %s%s%s\n",
                r->handshake_seen ? "complete" : "not seen",
                r->bytes[0], r->bytes[1], teardown_kind_name(r->teardown),
                r->first_fin_side < 0 ? "" : r->first_fin_side == SIDE_CLIENT ? ", client FIN first"
                                                                               : ", server FIN first",
                r->simultaneous_close ? ", FINs crossed (simultaneous close)" : "");
    } else if (level != REPORT_QUIET && r->proto == FLOW_UDP) {
        fprintf(out, "  datagrams: client %u (%" PRIu64 " bytes), server %u (%" PRIu64
                     " bytes); ICMP port unreachable: %u\n",
                r->datagrams[0], r->bytes[0], r->datagrams[1], r->bytes[1], r->icmp_unreachable);
    }
    for (size_t i = 0; i < r->nverdicts; i++) {
        const struct verdict *v = &r->verdicts[i];
        if (verdict_printed(v->kind, level))
            report_verdict(out, v);
    }
}

void report_summary(FILE *out, const char *name, const struct analysis_summary *s)
{
    fprintf(out,
            "%s: %" PRIu64 " frames, %" PRIu64 " TCP connection(s), %" PRIu64 " UDP flow(s); "
            "%" PRIu64 " pass, %" PRIu64 " fail, %" PRIu64 " info",
            name, s->frames, s->tcp_flows, s->udp_flows, s->verdicts[VERDICT_PASS],
            s->verdicts[VERDICT_FAIL], s->verdicts[VERDICT_INFO]);
    if (s->verdicts[VERDICT_WARN])
        fprintf(out, ", %" PRIu64 " warn", s->verdicts[VERDICT_WARN]);
    if (s->verdicts[VERDICT_WAIVED])
        fprintf(out, ", %" PRIu64 " waived", s->verdicts[VERDICT_WAIVED]);
    if (s->not_ip)
        fprintf(out, "; %" PRIu64 " non-IP frame(s) ignored", s->not_ip);
    if (s->truncated)
        fprintf(out, "; %" PRIu64 " frame(s) cut by the snapshot length", s->truncated);
    if (s->malformed)
        fprintf(out, "; %" PRIu64 " malformed frame(s)", s->malformed);
    if (s->duplicates)
        fprintf(out, "; %" PRIu64 " capture duplicate(s) not judged", s->duplicates);
    if (s->untracked_frames)
        fprintf(out, "; %" PRIu64 " frame(s) not judged: out of memory for their flow",
                s->untracked_frames);
    if (s->lost_reports)
        fprintf(out, "; %" PRIu64 " judged flow(s) not reported: out of memory", s->lost_reports);
    if (s->evicted_flows)
        fprintf(out, "; %" PRIu64 " flow(s) judged early, incomplete: too many open at once "
                "(--max-flows)", s->evicted_flows);
    fputc('\n', out);
}
