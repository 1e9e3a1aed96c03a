/* count_segments FILE: what our dissector and flow tracker count in a
 * capture, for captures/tshark-crosscheck to compare with tshark.
 *
 * Every frame goes through analysis_feed() (so IP fragments are reassembled
 * and tunnels decapsulated exactly as `wirecheck check` does) and is counted
 * in the on_packet callback (a tunnel's inner packet too: a VXLAN frame is
 * one UDP datagram and one TCP segment). The file is read with the judge's
 * own block reader (capfile_open), so a pcapng whose interfaces have
 * different link types is counted whole, as Wireshark shows it (libpcap
 * refuses such a file); frames of an interface whose link type is not
 * judged are skipped and counted on stderr. Output, one "key value" per line, in this order:
 *
 *   tcp_streams N       TCP connections the flow tracker saw
 *   tcp_segments N      TCP segments (not ones quoted inside ICMP errors)
 *   syn N               segments with SYN set (SYN and SYN/ACK)
 *   fin N               segments with FIN set
 *   rst N               segments with RST set
 *   tcp_retransmissions N  segments tcp.data.no_retransmission counted as
 *                       retransmitted (SYN and data/FIN segments; not
 *                       keep-alives, window probes or out-of-order ones)
 *   udp_datagrams N     UDP datagrams (a fragmented one counts once, when
 *                       complete, as Wireshark shows it on its last fragment)
 *   icmp_unreachable N  ICMP port unreachable / ICMPv6 port unreachable
 *
 * Exit: 0, or 2 if the file cannot be read. */
#include <inttypes.h>
#include <stdio.h>

#include "analysis.h"
#include "capfile.h"
#include "dissect.h"
#include "flow.h"

struct counts {
    uint64_t tcp_segments, syn, fin, rst, udp_datagrams, icmp_unreachable;
    uint64_t retransmissions;
};

/* The count is in the verdict's text ("3 retransmitted segment(s)", the same
 * with "retransmission after injected loss", or "no retransmission"). */
static void count_flow(const struct flow_report *r, void *ctx)
{
    struct counts *c = ctx;
    const struct verdict *v = flow_report_find(r, "tcp.data.no_retransmission");
    unsigned n;
    if (v && sscanf(v->text, "%u retransmitted", &n) == 1)
        c->retransmissions += n;
}

static void count_packet(const struct packet *p, void *ctx)
{
    struct counts *c = ctx;
    if (p->is_fragment) /* an incomplete datagram: no transport header yet */
        return;
    if (packet_is_tcp(p)) {
        c->tcp_segments++;
        c->syn += (p->tcp_flags & TCP_SYN) != 0;
        c->fin += (p->tcp_flags & TCP_FIN) != 0;
        c->rst += (p->tcp_flags & TCP_RST) != 0;
    } else if (packet_is_udp(p)) {
        c->udp_datagrams++;
    } else if (p->error == DISSECT_OK) {
        c->icmp_unreachable += packet_is_port_unreachable(p);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: count_segments FILE.pcap[ng]\n");
        return 2;
    }
    char err[600];
    struct capfile_reader *rd = capfile_open(argv[1], err, sizeof err);
    if (!rd) {
        fprintf(stderr, "count_segments: cannot read capture: %s\n", err);
        return 2;
    }

    struct counts c = { 0 };
    struct analysis_options opt;
    analysis_options_default(&opt);
    opt.payload_cap = 0;
    opt.on_packet = count_packet;
    opt.on_flow_done = count_flow;
    opt.ctx = &c;
    struct analysis *a = analysis_create(&opt);
    if (!a) {
        fprintf(stderr, "count_segments: out of memory\n");
        capfile_close(rd);
        return 2;
    }

    int status = 0, rc;
    uint64_t fed = 0, skipped = 0;
    struct capfile_record rec;
    while ((rc = capfile_next(rd, &rec)) == 1) {
        if (rec.kind != CAPFILE_PACKET)
            continue;
        if (!dissect_linktype_supported(rec.iface->linktype)) {
            skipped++;
            continue;
        }
        analysis_feed(a, rec.frame, rec.ts_usec, rec.iface->linktype, rec.caplen, rec.wirelen,
                      rec.data);
        fed++;
    }
    if (rc < 0) {
        fprintf(stderr, "count_segments: %s\n", capfile_error(rd));
        status = 2;
    } else if (skipped && !fed) {
        fprintf(stderr, "count_segments: %s: unsupported link type: no frame judged\n", argv[1]);
        status = 2;
    } else if (skipped) {
        fprintf(stderr, "count_segments: %s: %" PRIu64 " frame(s) on interfaces of unsupported "
                "link types skipped\n", argv[1], skipped);
    }
    analysis_finish(a);
    struct analysis_summary sum;
    analysis_get_summary(a, &sum);
    analysis_destroy(a);
    capfile_close(rd);
    if (status != 0)
        return status;

    printf("tcp_streams %" PRIu64 "\n", sum.tcp_flows);
    printf("tcp_segments %" PRIu64 "\n", c.tcp_segments);
    printf("syn %" PRIu64 "\n", c.syn);
    printf("fin %" PRIu64 "\n", c.fin);
    printf("rst %" PRIu64 "\n", c.rst);
    printf("tcp_retransmissions %" PRIu64 "\n", c.retransmissions);
    printf("udp_datagrams %" PRIu64 "\n", c.udp_datagrams);
    printf("icmp_unreachable %" PRIu64 "\n", c.icmp_unreachable);
    return 0;
}
