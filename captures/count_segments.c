/* count_segments FILE: what our dissector and flow tracker count in a
 * capture, for captures/tshark-crosscheck to compare with tshark.
 *
 * Every frame goes through analysis_feed() (so IP fragments are reassembled
 * exactly as `wirecheck check` does) and is counted in the on_packet
 * callback. Output, one "key value" per line, in this order:
 *
 *   tcp_streams N       TCP connections the flow tracker saw
 *   tcp_segments N      TCP segments (not ones quoted inside ICMP errors)
 *   syn N               segments with SYN set (SYN and SYN/ACK)
 *   fin N               segments with FIN set
 *   rst N               segments with RST set
 *   udp_datagrams N     UDP datagrams (a fragmented one counts once, when
 *                       complete, as Wireshark shows it on its last fragment)
 *   icmp_unreachable N  ICMP port unreachable / ICMPv6 port unreachable
 *
 * Exit: 0, or 2 if the file cannot be read. */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>

#include "analysis.h"
#include "capfile.h"
#include "dissect.h"
#include "flow.h"

struct counts {
    uint64_t tcp_segments, syn, fin, rst, udp_datagrams, icmp_unreachable;
};

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
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_open_offline(argv[1], errbuf);
    if (!pc) {
        fprintf(stderr, "count_segments: %s: cannot read capture: %s\n", argv[1], errbuf);
        return 2;
    }
    int linktype = pcap_datalink(pc);
    if (!dissect_linktype_supported(linktype)) {
        fprintf(stderr, "count_segments: %s: unsupported link type %d\n", argv[1], linktype);
        pcap_close(pc);
        return 2;
    }

    struct counts c = { 0 };
    struct analysis_options opt;
    analysis_options_default(&opt);
    opt.payload_cap = 0;
    opt.on_packet = count_packet;
    opt.ctx = &c;
    struct analysis *a = analysis_create(&opt);
    if (!a) {
        fprintf(stderr, "count_segments: out of memory\n");
        pcap_close(pc);
        return 2;
    }

    int status = 0;
    uint32_t frame;
    int rc = capfile_feed(pc, a, 0, &frame);
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "count_segments: %s: unreadable after frame %" PRIu32 ": %s\n", argv[1],
                frame, pcap_geterr(pc));
        status = 2;
    }
    analysis_finish(a);
    struct analysis_summary sum;
    analysis_get_summary(a, &sum);
    analysis_destroy(a);
    pcap_close(pc);
    if (status != 0)
        return status;

    printf("tcp_streams %" PRIu64 "\n", sum.tcp_flows);
    printf("tcp_segments %" PRIu64 "\n", c.tcp_segments);
    printf("syn %" PRIu64 "\n", c.syn);
    printf("fin %" PRIu64 "\n", c.fin);
    printf("rst %" PRIu64 "\n", c.rst);
    printf("udp_datagrams %" PRIu64 "\n", c.udp_datagrams);
    printf("icmp_unreachable %" PRIu64 "\n", c.icmp_unreachable);
    return 0;
}
