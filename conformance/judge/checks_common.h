/* checks_common: what the rule files (checks_tcp.c, checks_udp.c,
 * checks_common.c) share; not part of the API, see checks.h.
 *
 *   struct verdict_builder b;
 *   verdict_builder_start(&b, o ? o->textless_kinds : 0);
 *   struct verdict_list l = verdict_list_start(o, out, cap, kinds, &b);
 *   rule_l4_checksum(RULE_UDP_CHECKSUM, "UDP", &c->bad_checksum, ..., &b);
 *   verdict_list_add(&l, &b);          // one verdict per rule, in rule order
 *   return verdict_list_count(&l);     // what fit in out[cap]
 */
#ifndef WIRECHECK_CHECKS_COMMON_H
#define WIRECHECK_CHECKS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checks.h"
#include "flow.h"
#include "rules.h"
#include "verdict.h"

/* "client", "server": by enum flow_side. */
extern const char *const checks_side_name[2];

/* The frames of a frame_list (as many as it noted) into the verdict. */
void checks_add_frames(struct verdict_builder *b, const struct frame_list *l);

/* The caller's out[cap], filled in order, and its kinds[VERDICT_KINDS]
 * counted as each verdict is added (checks.h): what a flow's readers
 * would otherwise count in a loop over its verdicts, each. A verdict goes
 * through o's policy first (waived, strict, only), then is counted, then
 * written unless its kind is unkept or out[] is full (past cap: counted in
 * n, not written). */
struct verdict_list {
    struct verdict *out;
    size_t cap, n;
    uint32_t *kinds;
    const struct checks_options *policy; /* NULL: no strict, waived or only */
    unsigned unkept_kinds;
};
/* b: the builder whose verdicts are added, started (told which it need not
 * fill in). */
struct verdict_list verdict_list_start(const struct checks_options *o, struct verdict *out,
                                       size_t cap, uint32_t kinds[VERDICT_KINDS],
                                       struct verdict_builder *b);
/* b's verdict, the policy applied to it in place. Inline for what most
 * verdicts of `check` come to, counted, not kept. */
void verdict_list_keep(struct verdict_list *l, struct verdict_builder *b);
static inline void verdict_list_add(struct verdict_list *l, struct verdict_builder *b)
{
    if (l->policy || !(l->unkept_kinds >> b->v.kind & 1u))
        verdict_list_keep(l, b);
    else
        l->kinds[b->v.kind]++;
}
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
