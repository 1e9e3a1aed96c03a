/* checks: the rules a flow is judged by, evaluated.
 *
 *   struct checks_options o = { .loss_injected = false };
 *   struct verdict out[RULE_COUNT];
 *   uint32_t kinds[VERDICT_KINDS] = {0};
 *   size_t n = checks_tcp_with(&flow, &o, out, RULE_COUNT, kinds);  // a finished tcp_flow
 *   for (size_t i = 0; i < n; i++)
 *       verdict_print(stdout, &out[i]);
 *   // kinds[VERDICT_FAIL]: how many rules failed
 *
 * The rules and their stable ids are in rules.h, the verdict and its
 * renderers in verdict.h. Each evaluation yields a verdict:
 *   pass  the behaviour the rule asks for was seen
 *   fail  it was not; `expected` and `seen` say how
 *   info  an observation, not a judgement ("client sent the first FIN");
 *         for event rules (tcp.refused, tcp.teardown.abortive's cousins)
 *         "info" means "this happened"
 *   n/a   the rule does not apply (no handshake in the capture, no FIN...)
 * and the 1-based frame numbers (as Wireshark counts) it is about. */
#ifndef WIRECHECK_CHECKS_H
#define WIRECHECK_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "verdict.h"


struct tcp_flow;
struct udp_flow;
struct frame_list;

/* What the judge knows from outside the capture. */
struct checks_options {
    /* The run dropped packets on purpose (a case's loss faults): the
     * retransmissions that repair the loss are the expected answer, so
     * tcp.data.no_retransmission reports them as info ("retransmission
     * after injected loss") instead of fail. Never set for a plain file. */
    bool loss_injected;
    /* Verdict kinds (bit 1u << kind) whose text, expected and seen nobody
     * will read, so they are not formatted (`wirecheck check --quiet`
     * prints failures only). 0: every verdict in full. Kind, rule and
     * frames are the same either way. */
    unsigned textless_kinds;
    /* What the user asked of the verdicts (`wirecheck check --strict,
     * --ignore, --only`), applied to each verdict as it is built:
     * strict: a warn (a SHOULD-level finding) becomes a fail;
     * waived: rules (bit 1 << rule_id) whose verdict becomes "waived", its
     *   text kept after the kind it had ("waived (was fail): ...");
     * only: if not 0, the rules (bit 1 << rule_id) that are reported at all. */
    bool strict;
    uint64_t waived;
    uint64_t only;
    /* Verdict kinds (bit 1u << kind, the kind after the policy above) that
     * are only counted, not written out: nobody reads them but as a number
     * (`wirecheck check` prints neither n/a verdicts, nor passes with
     * --quiet). 0: every verdict written. */
    unsigned unkept_kinds;
};

/* Evaluates every TCP rule over a finished flow into out[], in rule order
 * (checks_tcp.c), o's policy (strict, waived, only) applied and its
 * unkept kinds left out. Returns the number written (<= cap); adds each
 * verdict, written or unkept, to kinds[its kind] (not those --only leaves
 * out). o may be NULL (no injected loss, no policy, every text formatted,
 * every verdict written). */
size_t checks_tcp_with(const struct tcp_flow *f, const struct checks_options *o,
                       struct verdict *out, size_t cap, uint32_t kinds[VERDICT_KINDS]);
/* The same for the UDP rules (checks_udp.c; UDP has no retransmissions:
 * o's loss_injected is not read). */
size_t checks_udp_with(const struct udp_flow *f, const struct checks_options *o,
                       struct verdict *out, size_t cap, uint32_t kinds[VERDICT_KINDS]);
/* Rules about the capture as a whole: frames that failed to dissect (the
 * first one's reason given) and IP datagrams whose fragments never all
 * arrived, the same way (their text always formatted: failures). Returns
 * the number written (0 if there is nothing to say). */
size_t checks_capture(const struct frame_list *malformed, const char *first_reason,
                      const struct frame_list *reassembly_failed,
                      const struct checks_options *o, struct verdict *out, size_t cap,
                      uint32_t kinds[VERDICT_KINDS]);

#endif
