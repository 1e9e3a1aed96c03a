/* checks: the rules a flow is judged by.
 *
 * Every rule has a stable id ("tcp.handshake.synack_acks_isn"), documented in
 * conformance/RULES.md; case files and scripts name rules by these ids, so
 * never rename one. Each evaluation yields a verdict:
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

enum verdict_kind { VERDICT_NA = 0, VERDICT_PASS, VERDICT_INFO, VERDICT_FAIL };

/* "n/a", "pass", "info", "fail". */
const char *verdict_name(enum verdict_kind v);
/* Accepts the names above plus "na", "not-applicable", "seen" (= info). */
bool verdict_parse(const char *s, enum verdict_kind *out);

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

enum rule_scope { RULE_SCOPE_TCP = 1, RULE_SCOPE_UDP = 2, RULE_SCOPE_CAPTURE = 4 };

struct rule_info {
    const char *id;       /* stable, e.g. "tcp.no_rst" */
    unsigned scope;       /* RULE_SCOPE_* bits: which flows it is evaluated on */
    const char *summary;  /* one line for `wirecheck list` and RULES.md */
};

const struct rule_info *rule_get(enum rule_id r);
/* -1 if `id` names no rule. */
int rule_lookup(const char *id);

#define VERDICT_MAX_FRAMES 8

struct verdict {
    enum rule_id rule;
    const char *id;       /* == rule_get(rule)->id */
    enum verdict_kind kind;
    char text[160];       /* one line: what was checked and what was seen */
    char expected[96];    /* failures only */
    char seen[160];       /* failures only */
    uint32_t frames[VERDICT_MAX_FRAMES];
    unsigned nframes;
    /* Kinds (bit 1u << kind) whose text nobody will read
     * (checks_options.textless_kinds): a verdict of one of them has text,
     * expected and seen left empty. Set before verdict_init, which keeps it. */
    unsigned textless_kinds;
};

/* Builders used by the rule functions (and by tests). Text is printf-style,
 * silently truncated to fit, and skipped for the verdict's textless_kinds:
 * verdict_init resets everything else, so `v` must be zeroed or a verdict
 * already. */
void verdict_init(struct verdict *v, enum rule_id r, enum verdict_kind kind,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void verdict_expect(struct verdict *v, const char *expected_fmt, ...)
    __attribute__((format(printf, 2, 3)));
void verdict_seen(struct verdict *v, const char *seen_fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a frame number (0 ignored, duplicates ignored, extra ones dropped). */
void verdict_add_frame(struct verdict *v, uint32_t frame);

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
};

/* Evaluates every TCP rule over a finished flow into out[], in rule order.
 * Returns the number written (<= RULE_COUNT). checks_tcp judges with default
 * options (no injected loss); o may be NULL. */
size_t checks_tcp(const struct tcp_flow *f, struct verdict *out, size_t cap);
size_t checks_tcp_with(const struct tcp_flow *f, const struct checks_options *o,
                       struct verdict *out, size_t cap);
/* The same for the UDP rules (o only for textless_kinds: UDP has no
 * retransmissions). */
size_t checks_udp(const struct udp_flow *f, struct verdict *out, size_t cap);
size_t checks_udp_with(const struct udp_flow *f, const struct checks_options *o,
                       struct verdict *out, size_t cap);
/* Rules about the capture as a whole: frames that failed to dissect (the
 * first one's reason given) and IP datagrams whose fragments never all
 * arrived. Returns the number written (0 if there is nothing to say). */
size_t checks_capture(const struct frame_list *malformed, const char *first_reason,
                      const struct frame_list *reassembly_failed, struct verdict *out,
                      size_t cap);

#endif
