/* checks_common: the rules TCP and UDP flows share (IPv4 header checksum,
 * L4 checksum, offload), the capture pseudo-flow's rules, and the helpers
 * every rule file uses. See checks.h and checks_common.h. */
#include "checks_common.h"

#include "checks.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

const char *const checks_side_name[2] = {"client", "server"};

void checks_add_frames(struct verdict_builder *b, const struct frame_list *l)
{
    for (uint32_t i = 0; i < l->count && i < FLOW_MAX_NOTED_FRAMES; i++)
        verdict_add_frame(&b->v, l->frames[i]);
}

struct verdict_list verdict_list_start(const struct checks_options *o, struct verdict *out,
                                       size_t cap, uint32_t kinds[VERDICT_KINDS],
                                       struct verdict_builder *b)
{
    bool policy = o && (o->strict || o->waived || o->only);
    /* The policy reads the rule and may keep what it changes. */
    b->counted_kinds = o && !policy ? o->unkept_kinds : 0;
    return (struct verdict_list){ .out = out, .cap = cap, .kinds = kinds,
                                  .policy = policy ? o : NULL,
                                  .unkept_kinds = o ? o->unkept_kinds : 0 };
}

/* o's strict / waived / only on one verdict, in place: false if --only
 * leaves it out. */
static bool apply_policy(const struct checks_options *o, struct verdict *v)
{
    uint64_t bit = UINT64_C(1) << v->rule;
    if (o->only && !(o->only & bit))
        return false;
    if (o->waived & bit) {
        if (v->kind != VERDICT_NA) {
            char was[sizeof v->text];
            memcpy(was, v->text, sizeof was);
            /* A long text is cut: the rule id and the waiver stay readable. */
            if (snprintf(v->text, sizeof v->text, "waived (was %s): %s", verdict_name(v->kind),
                         was) < 0)
                v->text[0] = '\0';
            v->kind = VERDICT_WAIVED;
        }
    } else if (o->strict && v->kind == VERDICT_WARN) {
        v->kind = VERDICT_FAIL;
    }
    return true;
}

/* verdict_list_add's slow way: through the policy, then kept unless unkept. */
void verdict_list_keep(struct verdict_list *l, struct verdict_builder *b)
{
    struct verdict *v = &b->v;
    if (l->policy && !apply_policy(l->policy, v))
        return;
    l->kinds[v->kind]++;
    if (l->unkept_kinds >> v->kind & 1u)
        return;
    if (l->n < l->cap) {
        struct verdict *o = &l->out[l->n];
        /* A verdict of a textless kind has its strings empty (never
         * formatted): copied without their 416 bytes. */
        if (v->text[0] || v->expected[0] || v->seen[0]) {
            *o = *v;
        } else {
            memcpy(o, v, offsetof(struct verdict, text));
            o->text[0] = o->expected[0] = o->seen[0] = '\0';
        }
    }
    l->n++;
}

size_t verdict_list_count(const struct verdict_list *l)
{
    return l->n < l->cap ? l->n : l->cap;
}

static void rule_ip_checksum(const struct frame_list *bad0, const struct frame_list *bad1,
                             bool ipv4, struct verdict_builder *b)
{
    if (!ipv4) {
        verdict_init(b, RULE_IP_CHECKSUM, VERDICT_NA, "IPv6 has no header checksum");
    } else if (bad0->count + bad1->count) {
        verdict_init(b, RULE_IP_CHECKSUM, VERDICT_FAIL, "%u bad IPv4 header checksum(s)",
                     bad0->count + bad1->count);
        verdict_expect(b, "valid IPv4 header checksums");
        verdict_seen(b, "bad checksum in frame %u", bad0->count ? bad0->frames[0] : bad1->frames[0]);
        checks_add_frames(b, bad0);
        checks_add_frames(b, bad1);
    } else {
        verdict_init(b, RULE_IP_CHECKSUM, VERDICT_PASS, "IPv4 header checksums valid");
    }
}

static void rule_offloaded(const struct frame_list *o0, const struct frame_list *o1,
                           struct verdict_builder *b)
{
    uint32_t n = o0->count + o1->count;
    if (n == 0) {
        verdict_init(b, RULE_CHECKSUM_OFFLOADED, VERDICT_NA, "no checksum left to offload");
        return;
    }
    verdict_init(b, RULE_CHECKSUM_OFFLOADED, VERDICT_INFO,
                 "%u checksum(s) left to offload (normal on loopback/veth): not judged", n);
    checks_add_frames(b, o0);
    checks_add_frames(b, o1);
}

void rule_l4_checksum(enum rule_id r, const char *proto, const struct frame_list *bad0,
                             const struct frame_list *bad1, uint32_t good, uint32_t offloaded,
                             uint32_t other, struct verdict_builder *b)
{
    if (bad0->count + bad1->count) {
        verdict_init(b, r, VERDICT_FAIL, "%u bad %s checksum(s)", bad0->count + bad1->count, proto);
        verdict_expect(b, "valid %s checksums", proto);
        verdict_seen(b, "bad checksum in frame %u", bad0->count ? bad0->frames[0] : bad1->frames[0]);
        checks_add_frames(b, bad0);
        checks_add_frames(b, bad1);
    } else if (good) {
        verdict_init(b, r, VERDICT_PASS, "%u %s checksum(s) verified%s", good, proto,
                     offloaded ? ", others offloaded" : "");
    } else if (offloaded || other) {
        verdict_init(b, r, VERDICT_INFO, "%s checksums not verifiable (%s)", proto,
                     offloaded ? "left to offload" : "unused or truncated");
    } else {
        verdict_init(b, r, VERDICT_NA, "no %s checksum seen", proto);
    }
}

void checks_add_ip_rules(struct verdict_list *l, struct verdict_builder *b, bool ipv4,
                         const struct frame_list *bad_ip0, const struct frame_list *bad_ip1,
                         const struct frame_list *offloaded0, const struct frame_list *offloaded1)
{
    rule_ip_checksum(bad_ip0, bad_ip1, ipv4, b);
    verdict_list_add(l, b);
    rule_offloaded(offloaded0, offloaded1, b);
    verdict_list_add(l, b);
}

size_t checks_capture(const struct frame_list *malformed, const char *first_reason,
                      const struct frame_list *reassembly_failed,
                      const struct checks_options *o, struct verdict *out, size_t cap,
                      uint32_t kinds[VERDICT_KINDS])
{
    struct verdict_builder b;
    verdict_builder_start(&b, 0); /* failures: always read */
    struct verdict_list l = verdict_list_start(o, out, cap, kinds, &b);
    if (malformed->count) {
        verdict_init(&b, RULE_PACKET_WELL_FORMED, VERDICT_FAIL, "%u malformed frame(s)", malformed->count);
        verdict_expect(&b, "well-formed IP/TCP/UDP/ICMP headers");
        verdict_seen(&b, "frame %u: %s", malformed->frames[0], first_reason ? first_reason : "malformed");
        checks_add_frames(&b, malformed);
        verdict_list_add(&l, &b);
    }
    if (reassembly_failed->count) {
        verdict_init(&b, RULE_IP_REASSEMBLY, VERDICT_FAIL, "%u datagram(s) never fully reassembled",
                     reassembly_failed->count);
        verdict_expect(&b, "all fragments, no overlaps");
        verdict_seen(&b, "incomplete or overlapping fragments ending at frame %u",
                     reassembly_failed->frames[0]);
        checks_add_frames(&b, reassembly_failed);
        verdict_list_add(&l, &b);
    }
    return verdict_list_count(&l);
}
