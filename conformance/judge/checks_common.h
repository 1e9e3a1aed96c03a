/* checks_common: what the rule files (checks_tcp.c, checks_udp.c,
 * checks_common.c) share; not part of the API, see checks.h.
 *
 *   struct verdict_builder b;
 *   verdict_builder_start(&b, o ? o->textless_kinds : 0);
 *   struct verdict_list l = { out, cap, 0 };
 *   rule_l4_checksum(RULE_UDP_CHECKSUM, "UDP", &c->bad_checksum, ..., &b);
 *   verdict_list_add(&l, &b);          // one verdict per rule, in rule order
 *   return verdict_list_count(&l);     // what fit in out[cap]
 */
#ifndef WIRECHECK_CHECKS_COMMON_H
#define WIRECHECK_CHECKS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "rules.h"
#include "verdict.h"

/* "client", "server": by enum flow_side. */
extern const char *const checks_side_name[2];

/* The frames of a frame_list (as many as it noted) into the verdict. */
void checks_add_frames(struct verdict_builder *b, const struct frame_list *l);

/* The caller's out[cap], filled in order; verdicts past cap are counted,
 * not written. */
struct verdict_list {
    struct verdict *out;
    size_t cap, n;
};
void verdict_list_add(struct verdict_list *l, const struct verdict_builder *b);
size_t verdict_list_count(const struct verdict_list *l);

/* The last two rules of every TCP and UDP flow, into l: ip.checksum over
 * both sides' bad IPv4 header checksums (n/a over IPv6), then
 * checksum.offloaded (the checksums left to the NIC, not judged). */
void checks_add_ip_rules(struct verdict_list *l, struct verdict_builder *b, bool ipv4,
                         const struct frame_list *bad_ip0, const struct frame_list *bad_ip1,
                         const struct frame_list *offloaded0, const struct frame_list *offloaded1);
/* tcp.checksum / udp.checksum (rule r, "TCP"/"UDP"): bad ones fail, good
 * ones pass, only offloaded or unverifiable ones (`other`) are info. */
void rule_l4_checksum(enum rule_id r, const char *proto, const struct frame_list *bad0,
                      const struct frame_list *bad1, uint32_t good, uint32_t offloaded,
                      uint32_t other, struct verdict_builder *b);

#endif
