/* rules: the rule table. conformance/RULES.md documents the same table for
 * users. See rules.h. */
#include "rules.h"

#include <string.h>

const struct rule_info rules_table[RULE_COUNT] = {
    [RULE_TCP_HANDSHAKE_SYN] = {"tcp.handshake.syn", RULE_SCOPE_TCP,
        "the client opens with a SYN without ACK (no FIN/RST on it)"},
    [RULE_TCP_HANDSHAKE_SYNACK_ACKS_ISN] = {"tcp.handshake.synack_acks_isn", RULE_SCOPE_TCP,
        "the SYN/ACK acknowledges the client's ISN + 1"},
    [RULE_TCP_HANDSHAKE_ACK_ACKS_SERVER_ISN] = {"tcp.handshake.ack_acks_server_isn", RULE_SCOPE_TCP,
        "the client's third segment acknowledges the server's ISN + 1"},
    [RULE_TCP_HANDSHAKE_MSS] = {"tcp.handshake.mss", RULE_SCOPE_TCP,
        "the SYN carries an MSS option, and so does the SYN/ACK if there is one"},
    [RULE_TCP_HANDSHAKE_OPTIONS_NEGOTIATED] = {"tcp.handshake.options_negotiated", RULE_SCOPE_TCP,
        "window scale, SACK-permitted and timestamps appear in the SYN/ACK only if the SYN offered them"},
    [RULE_TCP_HANDSHAKE_NO_EARLY_DATA] = {"tcp.handshake.no_early_data", RULE_SCOPE_TCP,
        "no payload before the handshake completes (unless TCP Fast Open was offered)"},
    [RULE_TCP_REFUSED] = {"tcp.refused", RULE_SCOPE_TCP,
        "info: the SYN was answered by RST/ACK (connection refused)"},
    [RULE_TCP_ICMP_ERROR] = {"tcp.icmp_error", RULE_SCOPE_TCP,
        "info: an ICMP/ICMPv6 error quoting one of the connection's segments was seen (reported only then)"},
    [RULE_TCP_NO_RST] = {"tcp.no_rst", RULE_SCOPE_TCP,
        "no RST on an accepted connection"},
    [RULE_TCP_DATA_ALL_ACKED] = {"tcp.data.all_acked", RULE_SCOPE_TCP,
        "every data byte each side sent is acknowledged"},
    [RULE_TCP_DATA_NO_RETRANSMISSION] = {"tcp.data.no_retransmission", RULE_SCOPE_TCP,
        "no segment (SYN, data, FIN) is sent twice"},
    [RULE_TCP_TEARDOWN_FIRST_FIN] = {"tcp.teardown.first_fin", RULE_SCOPE_TCP,
        "info: which side sent the first FIN, and whether the FINs crossed (simultaneous close)"},
    [RULE_TCP_TEARDOWN_FIN_ACKED] = {"tcp.teardown.fin_acked", RULE_SCOPE_TCP,
        "each FIN consumes one sequence number and is acknowledged (ack = FIN seq + 1)"},
    [RULE_TCP_TEARDOWN_NO_DATA_AFTER_FIN] = {"tcp.teardown.no_data_after_fin", RULE_SCOPE_TCP,
        "no side sends data beyond its own FIN"},
    [RULE_TCP_TEARDOWN_HALF_CLOSE] = {"tcp.teardown.half_close", RULE_SCOPE_TCP,
        "info: one side FIN'd and the other kept sending data (shutdown SHUT_WR)"},
    [RULE_TCP_TEARDOWN_ABORTIVE] = {"tcp.teardown.abortive", RULE_SCOPE_TCP,
        "an abortive close is one RST with an in-window sequence number"},
    [RULE_TCP_TEARDOWN_RST_UNREAD_DATA] = {"tcp.teardown.rst_unread_data", RULE_SCOPE_TCP,
        "info: a side reset after the peer's last data and without a FIN (closed with unread data, RFC 2525 2.17)"},
    [RULE_TCP_TEARDOWN_TIME_WAIT_SIDE] = {"tcp.teardown.time_wait_side", RULE_SCOPE_TCP,
        "info: the side that ends in TIME_WAIT (the active closer; both on a simultaneous close)"},
    [RULE_TCP_CHECKSUM] = {"tcp.checksum", RULE_SCOPE_TCP,
        "TCP checksums are valid where they can be verified"},
    [RULE_UDP_DATAGRAM_LENGTH] = {"udp.datagram.length", RULE_SCOPE_UDP,
        "the UDP length field equals the IP payload length"},
    [RULE_UDP_CHECKSUM] = {"udp.checksum", RULE_SCOPE_UDP,
        "UDP checksums are valid where used and verifiable"},
    [RULE_UDP_PORT_UNREACHABLE] = {"udp.port_unreachable", RULE_SCOPE_UDP,
        "info: an ICMP/ICMPv6 port unreachable quoting this flow's datagram was seen"},
    [RULE_IP_REASSEMBLY] = {"ip.reassembly", RULE_SCOPE_UDP | RULE_SCOPE_CAPTURE,
        "fragmented datagrams reassemble completely, without overlaps"},
    [RULE_IP_CHECKSUM] = {"ip.checksum", RULE_SCOPE_TCP | RULE_SCOPE_UDP,
        "IPv4 header checksums are valid"},
    [RULE_CHECKSUM_OFFLOADED] = {"checksum.offloaded", RULE_SCOPE_TCP | RULE_SCOPE_UDP,
        "info: checksums left to offload (normal on loopback/veth), not judged"},
    [RULE_PACKET_WELL_FORMED] = {"packet.well_formed", RULE_SCOPE_CAPTURE,
        "every IP frame dissects without a malformed header"},
};

int rule_lookup(const char *id)
{
    for (int r = 0; r < RULE_COUNT; r++)
        if (strcmp(rules_table[r].id, id) == 0)
            return r;
    return -1;
}
