/* flow_report: the facts and verdicts of a judged flow, gathered from its
 * tracker. See flow_report.h; the struct is in analysis.h. */
#include "flow_report.h"

#include <stdlib.h>
#include <string.h>

const char *teardown_kind_name(enum teardown_kind k)
{
    switch (k) {
    case TEARDOWN_NONE: return "open";
    case TEARDOWN_FIN: return "orderly (FIN both ways)";
    case TEARDOWN_HALF: return "half (FIN one way)";
    case TEARDOWN_RST: return "reset";
    case TEARDOWN_REFUSED: return "refused";
    case TEARDOWN_NO_ANSWER: return "SYN not answered";
    }
    return "?";
}

static struct flow_report *new_report(void)
{
    struct flow_report *r = calloc(1, sizeof *r);
    /* Not zeroed (23 KB a flow): every verdict below nverdicts is written
     * whole by the checks, none above is read. */
    if (r)
        r->verdicts = malloc(RULE_COUNT * sizeof *r->verdicts);
    if (r && !r->verdicts) {
        free(r);
        r = NULL;
    }
    return r;
}

static void free_owned(struct flow_report *r)
{
    free(r->offloaded_frames);
    free(r->payload[0]);
    free(r->payload[1]);
}

void flow_report_free(struct flow_report *r)
{
    if (!r)
        return;
    free(r->verdicts);
    free_owned(r);
    free(r);
}

/* A report emptied but for its verdict array (RULE_COUNT long). */
static struct flow_report *reused_report(struct flow_report *r)
{
    struct verdict *verdicts = r->verdicts;
    free_owned(r);
    memset(r, 0, sizeof *r);
    r->verdicts = verdicts;
    return r;
}

static enum teardown_kind tcp_teardown(const struct tcp_flow *f)
{
    if (f->refused)
        return TEARDOWN_REFUSED;
    if (tcp_side_aborting_rsts(&f->side[0]) + tcp_side_aborting_rsts(&f->side[1]))
        return TEARDOWN_RST;
    if (f->side[0].fin_seen && f->side[1].fin_seen)
        return TEARDOWN_FIN;
    if (f->side[0].fin_seen || f->side[1].fin_seen)
        return TEARDOWN_HALF;
    if (f->side[0].syn_seen && !f->side[1].packets)
        return TEARDOWN_NO_ANSWER;
    return TEARDOWN_NONE;
}

/* Takes the stream copy's bytes into the report (no second copy). */
static void take_payload(struct flow_report *r, int s, struct stream_copy *c, uint64_t stream_len)
{
    r->payload[s] = c->bytes;
    r->payload_len[s] = c->contiguous;
    r->payload_complete[s] = c->bytes ? c->contiguous == stream_len : stream_len == 0;
    c->bytes = NULL;
}

/* What TCP and UDP trackers both know: who is who, and when. */
#define FILL_COMMON(r, proto_, f)              \
    do {                                       \
        (r)->proto = (proto_);                 \
        (r)->client = (f)->ep[SIDE_CLIENT];    \
        (r)->server = (f)->ep[SIDE_SERVER];    \
        (r)->first_frame = (f)->first_frame;   \
        (r)->last_frame = (f)->last_frame;     \
        (r)->first_ts_usec = (f)->first_ts;    \
        (r)->last_ts_usec = (f)->last_ts;      \
    } while (0)

static void fill_tcp_report(struct flow_report *r, struct tcp_flow *f,
                            const struct checks_options *co)
{
    FILL_COMMON(r, FLOW_TCP, f);
    r->handshake_seen = f->side[0].syn_seen && f->side[1].syn_seen &&
                        (f->handshake_ack_frame || (f->simultaneous_open && f->established));
    r->teardown = tcp_teardown(f);
    r->first_fin_side = f->first_fin_side;
    r->simultaneous_close = f->simultaneous_close;
    for (int s = 0; s < 2; s++) {
        r->packets[s] = f->side[s].packets;
        r->bytes[s] = tcp_flow_bytes(f, s);
    }
    r->nverdicts = checks_tcp_with(f, co, r->verdicts, RULE_COUNT, r->verdict_counts);
    for (int s = 0; s < 2; s++)
        take_payload(r, s, &f->side[s].copy, r->bytes[s]);
}

static void fill_udp_report(struct flow_report *r, struct udp_flow *f,
                            const struct checks_options *co)
{
    FILL_COMMON(r, FLOW_UDP, f);
    r->first_fin_side = -1;
    r->icmp_unreachable = f->port_unreachable.count;
    for (int s = 0; s < 2; s++) {
        r->packets[s] = f->side[s].datagrams;
        r->datagrams[s] = f->side[s].datagrams;
        r->bytes[s] = f->side[s].bytes;
    }
    r->nverdicts = checks_udp_with(f, co, r->verdicts, RULE_COUNT, r->verdict_counts);
    for (int s = 0; s < 2; s++)
        take_payload(r, s, &f->side[s].copy, r->bytes[s]);
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

struct flow_report *flow_report_build(struct flow_entry *e, const struct checks_options *co,
                                      struct flow_report *reuse)
{
    struct flow_report *r = reuse ? reused_report(reuse) : new_report();
    if (!r)
        return NULL;
    if (e->proto == FLOW_TCP)
        fill_tcp_report(r, &e->u->tcp, co);
    else
        fill_udp_report(r, &e->u->udp, co);
    /* Hand the offloaded frames over, ascending (bisected later). */
    r->offloaded_frames = e->offloaded;
    r->noffloaded = e->noffloaded;
    e->offloaded = NULL;
    e->noffloaded = e->offloaded_cap = 0;
    for (size_t i = 1; i < r->noffloaded; i++) {
        if (r->offloaded_frames[i - 1] > r->offloaded_frames[i]) {
            qsort(r->offloaded_frames, r->noffloaded, sizeof *r->offloaded_frames, cmp_u32);
            break;
        }
    }
    return r;
}

struct flow_report *flow_report_build_capture(const struct frame_list *malformed,
                                              const char *first_reason,
                                              const struct frame_list *reassembly_failed,
                                              const struct checks_options *co)
{
    struct flow_report *r = new_report();
    if (!r)
        return NULL;
    r->proto = FLOW_CAPTURE;
    r->first_fin_side = -1;
    r->first_frame = malformed->count ? malformed->frames[0] : reassembly_failed->frames[0];
    r->nverdicts = checks_capture(malformed, first_reason, reassembly_failed, co, r->verdicts,
                                  RULE_COUNT, r->verdict_counts);
    return r;
}

const struct verdict *flow_report_find(const struct flow_report *r, const char *rule_id)
{
    for (size_t i = 0; i < r->nverdicts; i++)
        if (strcmp(r->verdicts[i].id, rule_id) == 0)
            return &r->verdicts[i];
    return NULL;
}

bool flow_report_payload(const struct flow_report *r, enum flow_side side,
                         const uint8_t **bytes, size_t *len)
{
    if ((unsigned)side > 1) {
        *bytes = NULL;
        *len = 0;
        return false;
    }
    *bytes = r->payload[side];
    *len = r->payload_len[side];
    return r->payload_complete[side];
}
