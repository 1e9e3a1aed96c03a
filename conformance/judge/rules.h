/* rules: the table of rules a flow is judged by, and their stable ids.
 *
 *   const struct rule_info *info = rule_get(RULE_TCP_NO_RST);
 *   printf("%s: %s\n", info->id, info->summary);   // "tcp.no_rst: no RST on an accepted connection"
 *   int r = rule_lookup("tcp.teardown.abortive");   // RULE_TCP_TEARDOWN_ABORTIVE, -1 if unknown
 *
 * Every rule has a stable id ("tcp.handshake.synack_acks_isn"), documented
 * in conformance/RULES.md; case files and scripts name rules by these ids,
 * so never rename one. The table (rules.c) is the single source of the ids;
 * test_checks fails if RULES.md and the table disagree. How each rule is
 * evaluated is checks_tcp.c's, checks_udp.c's and checks_common.c's business. */
#ifndef WIRECHECK_RULES_H
#define WIRECHECK_RULES_H

#include <stddef.h>

enum rule_id {
    /* TCP handshake */
    RULE_TCP_HANDSHAKE_SYN,
    RULE_TCP_HANDSHAKE_SYNACK_ACKS_ISN,
    RULE_TCP_HANDSHAKE_ACK_ACKS_SERVER_ISN,
    RULE_TCP_HANDSHAKE_MSS,
    RULE_TCP_HANDSHAKE_OPTIONS_NEGOTIATED,
    RULE_TCP_HANDSHAKE_NO_EARLY_DATA,
    RULE_TCP_REFUSED,
    RULE_TCP_ICMP_ERROR,      /* evaluated only when an ICMP error was seen */
    RULE_TCP_NO_RST,
    /* TCP data */
    RULE_TCP_DATA_ALL_ACKED,
    RULE_TCP_DATA_NO_RETRANSMISSION,
    /* TCP teardown */
    RULE_TCP_TEARDOWN_FIRST_FIN,
    RULE_TCP_TEARDOWN_FIN_ACKED,
    RULE_TCP_TEARDOWN_NO_DATA_AFTER_FIN,
    RULE_TCP_TEARDOWN_HALF_CLOSE,
    RULE_TCP_TEARDOWN_ABORTIVE,
    RULE_TCP_TEARDOWN_RST_UNREAD_DATA,
    RULE_TCP_TEARDOWN_TIME_WAIT_SIDE,
    RULE_TCP_CHECKSUM,
    /* UDP */
    RULE_UDP_DATAGRAM_LENGTH,
    RULE_UDP_CHECKSUM,
    RULE_UDP_PORT_UNREACHABLE,
    RULE_IP_REASSEMBLY,
    /* Both */
    RULE_IP_CHECKSUM,
    RULE_CHECKSUM_OFFLOADED,
    /* The capture as a whole (the "capture" pseudo-flow) */
    RULE_PACKET_WELL_FORMED,
    RULE_COUNT
};
_Static_assert(RULE_COUNT <= 64, "checks_options keeps rule sets in 64-bit masks");

enum rule_scope { RULE_SCOPE_TCP = 1, RULE_SCOPE_UDP = 2, RULE_SCOPE_CAPTURE = 4 };

struct rule_info {
    const char *id;       /* stable, e.g. "tcp.no_rst" */
    unsigned scope;       /* RULE_SCOPE_* bits: which flows it is evaluated on */
    const char *summary;  /* one line for `wirecheck list` and RULES.md */
};

/* The table (rules.c), read through rule_get: inline, as every verdict
 * built names its rule (verdict_start). */
extern const struct rule_info rules_table[RULE_COUNT];

static inline const struct rule_info *rule_get(enum rule_id r)
{
    return (unsigned)r < RULE_COUNT ? &rules_table[r] : NULL;
}
/* -1 if `id` names no rule. */
int rule_lookup(const char *id);

#endif
