/* faults: a case's faults as one nftables ruleset. See faults.h. */
#include "faults.h"

#include <stdarg.h>
#include <stdio.h>

static size_t append(char *buf, size_t size, size_t used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t append(char *buf, size_t size, size_t used, const char *fmt, ...)
{
    if (used >= size)
        return used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
    return n < 0 ? used : used + (size_t)n;
}

/* Faults act on the server's input hook: a packet dropped there was already
 * captured (taps run before netfilter on receive, and on lo the capture sees
 * the packet as it is sent), so the capture shows the loss and the retry.
 * slow-teardown acts on the way out instead (output hook, then lo's qdisc):
 * lo's tap sees a packet when the qdisc lets it go, so the capture shows
 * the segments when and in the order the receiver gets them. */
void case_fault_ruleset(const struct case_spec *c, uint16_t port, char *buf, size_t size)
{
    buf[0] = '\0';
    if (c->nfaults == 0 || size == 0)
        return;
    size_t used = append(buf, size, 0,
                         "table inet wirecheck {\n"
                         "  set syn_seen {\n    type inet_service\n    flags dynamic\n    timeout 1m\n  }\n");
    /* One set per drop-first-data/-fin fault: the client ports whose first
     * such segment was already dropped, so the retransmission goes through. */
    for (size_t i = 0; i < c->nfaults; i++)
        if (c->faults[i].kind == FAULT_DROP_FIRST_DATA || c->faults[i].kind == FAULT_DROP_FIRST_FIN)
            used = append(buf, size, used,
                          "  set seen%zu {\n    type inet_service\n    flags dynamic\n    timeout 1m\n  }\n", i);
    used = append(buf, size, used,
                  "  chain input {\n    type filter hook input priority filter; policy accept;\n");
    for (size_t i = 0; i < c->nfaults; i++) {
        const struct case_fault *f = &c->faults[i];
        /* Segments from the server: sport = port, keyed by the client port
         * (dport); from the client: the other way round. */
        const char *own = f->from == FAULT_FROM_SERVER ? "sport" : "dport";
        const char *peer = f->from == FAULT_FROM_SERVER ? "dport" : "sport";
        switch (f->kind) {
        case FAULT_DROP_FIRST_SYN:
            /* The set remembers each client port's first SYN, so its
             * retransmission goes through. */
            used = append(buf, size, used,
                          "    tcp dport %u tcp flags & (syn | ack) == syn tcp sport != @syn_seen "
                          "add @syn_seen { tcp sport } drop\n", port);
            break;
        case FAULT_DROP_FIRST_DATA:
            /* PSH marks the end of a write: for a message that fits in one
             * segment (the time message), the first data segment. */
            used = append(buf, size, used,
                          "    tcp %s %u tcp flags & (syn | rst | psh) == psh tcp %s != @seen%zu "
                          "add @seen%zu { tcp %s } drop\n", own, port, peer, i, i, peer);
            break;
        case FAULT_DROP_FIRST_FIN:
            used = append(buf, size, used,
                          "    tcp %s %u tcp flags & (syn | rst | fin) == fin tcp %s != @seen%zu "
                          "add @seen%zu { tcp %s } drop\n", own, port, peer, i, i, peer);
            break;
        case FAULT_DROP_PERCENT:
            used = append(buf, size, used,
                          "    meta l4proto { tcp, udp } th dport %u numgen random mod 100 < %u drop\n",
                          port, f->percent);
            break;
        case FAULT_RESET:
            used = append(buf, size, used,
                          "    tcp dport %u tcp flags & (syn | ack) == syn reject with tcp reset\n", port);
            break;
        case FAULT_NFT:
            used = append(buf, size, used, "    %s\n", f->rule);
            break;
        case FAULT_SLOW_TEARDOWN:
            break; /* output chain, below */
        }
    }
    used = append(buf, size, used, "  }\n");
    /* slow-teardown: on the way out (before lo's qdisc), segments with data
     * (PSH) and, from a connection's first FIN on, all its segments get the
     * slow class as priority. The class sends nothing before the bytes ahead
     * of it have left at its rate, in order: a FIN that follows a data
     * segment waits behind it, long enough for the peer to send its own FIN
     * (the FINs cross), and what either side sends after a FIN keeps its
     * place behind that FIN. Pure ACKs before any FIN are not delayed. */
    if (case_needs_slow_class(c)) {
        used = append(buf, size, used,
                      "  set closing {\n    type inet_service\n    flags dynamic\n    timeout 1m\n  }\n"
                      "  chain output {\n    type filter hook output priority filter; policy accept;\n"
                      "    tcp sport %u tcp flags & fin == fin add @closing { tcp dport }\n"
                      "    tcp dport %u tcp flags & fin == fin add @closing { tcp sport }\n"
                      "    tcp sport %u tcp dport @closing meta priority set 1:%u\n"
                      "    tcp dport %u tcp sport @closing meta priority set 1:%u\n"
                      "    tcp sport %u tcp flags & (syn | rst | psh) == psh meta priority set 1:%u\n"
                      "    tcp dport %u tcp flags & (syn | rst | psh) == psh meta priority set 1:%u\n"
                      "  }\n",
                      port, port, port, CASE_SLOW_CLASS_MINOR, port, CASE_SLOW_CLASS_MINOR,
                      port, CASE_SLOW_CLASS_MINOR, port, CASE_SLOW_CLASS_MINOR);
    }
    append(buf, size, used, "}\n");
}

bool case_needs_slow_class(const struct case_spec *c)
{
    for (size_t i = 0; i < c->nfaults; i++)
        if (c->faults[i].kind == FAULT_SLOW_TEARDOWN)
            return true;
    return false;
}
