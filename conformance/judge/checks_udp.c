/* checks_udp: the UDP rules over a flow of datagrams. See checks.h. */
#include "checks.h"
#include "checks_common.h"
#include "flow.h"

size_t checks_udp_with(const struct udp_flow *f, const struct checks_options *o,
                       struct verdict *out, size_t cap, uint32_t kinds[VERDICT_KINDS])
{
    const struct udp_side *c = &f->side[0], *s = &f->side[1];
    struct verdict_builder b;
    verdict_builder_start(&b, o ? o->textless_kinds : 0);
    struct verdict_list l = verdict_list_start(o, out, cap, kinds, &b);

    if (c->bad_length.count + s->bad_length.count) {
        verdict_init(&b, RULE_UDP_DATAGRAM_LENGTH, VERDICT_FAIL, "%u datagram(s) with a wrong UDP length",
                     c->bad_length.count + s->bad_length.count);
        verdict_expect(&b, "UDP length = IP payload length");
        verdict_seen(&b, "mismatch in frame %u",
                     c->bad_length.count ? FLOW_FRAMES(f, c->bad_length)->frames[0]
                                         : FLOW_FRAMES(f, s->bad_length)->frames[0]);
        checks_add_frames(&b, FLOW_FRAMES(f, c->bad_length));
        checks_add_frames(&b, FLOW_FRAMES(f, s->bad_length));
    } else {
        verdict_init(&b, RULE_UDP_DATAGRAM_LENGTH, VERDICT_PASS,
                     "%u+%u datagram(s), lengths consistent", c->datagrams, s->datagrams);
    }
    verdict_list_add(&l, &b);

    rule_l4_checksum(RULE_UDP_CHECKSUM, "UDP", FLOW_FRAMES(f, c->bad_checksum),
                     FLOW_FRAMES(f, s->bad_checksum),
                     c->good_checksums + s->good_checksums,
                     c->offloaded_checksum.count + s->offloaded_checksum.count,
                     c->unused_checksums + s->unused_checksums + c->unverifiable_checksums +
                         s->unverifiable_checksums, &b);
    verdict_list_add(&l, &b);

    if (f->port_unreachable.count) {
        verdict_init(&b, RULE_UDP_PORT_UNREACHABLE, VERDICT_INFO,
                     "%u ICMP port unreachable for the client's datagrams", f->port_unreachable.count);
        checks_add_frames(&b, FLOW_FRAMES(f, f->port_unreachable));
    } else {
        verdict_init(&b, RULE_UDP_PORT_UNREACHABLE, VERDICT_NA, "no ICMP port unreachable");
    }
    verdict_list_add(&l, &b);

    if (c->reassembled.count + s->reassembled.count) {
        verdict_init(&b, RULE_IP_REASSEMBLY, VERDICT_PASS, "%u datagram(s) reassembled from fragments",
                     c->reassembled.count + s->reassembled.count);
        checks_add_frames(&b, FLOW_FRAMES(f, c->reassembled));
        checks_add_frames(&b, FLOW_FRAMES(f, s->reassembled));
    } else {
        verdict_init(&b, RULE_IP_REASSEMBLY, VERDICT_NA, "no fragmented datagram");
    }
    verdict_list_add(&l, &b);

    checks_add_ip_rules(&l, &b, f->ep[0].ip.family == 4, FLOW_FRAMES(f, c->bad_ip_checksum),
                        FLOW_FRAMES(f, s->bad_ip_checksum), FLOW_FRAMES(f, c->offloaded_checksum),
                        FLOW_FRAMES(f, s->offloaded_checksum));
    return verdict_list_count(&l);
}

