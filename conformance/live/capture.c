/* capture: libpcap live capture of one case. See capture.h. */
#include "capture.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

/* Enough for every packet of a burst on loopback between two polls. */
#define CAPTURE_BUFFER_BYTES (4 * 1024 * 1024)

/* libpcap hands back DLT_ values; files store LINKTYPE_ values. They are the
 * same number except for the few DLTs whose value differs between systems,
 * of which only DLT_RAW can come from a Linux interface. */
static int linktype_of_dlt(int dlt)
{
#ifdef DLT_RAW
    if (dlt == DLT_RAW)
        return 101; /* LINKTYPE_RAW */
#endif
    return dlt;
}

void capture_filter_for_port(uint16_t port, char *buf, size_t size)
{
    snprintf(buf, size,
             "tcp port %u or udp port %u"
             " or (ip and ip[6:2] & 0x1fff != 0)"      /* IPv4 non-first fragments */
             " or (ip6 and ip6[6] == 44)"              /* IPv6 fragment header */
             " or (icmp and icmp[0] == 3)"             /* destination unreachable */
             " or (icmp6 and ip6[40] == 1)",           /* ICMPv6 unreachable */
             (unsigned)port, (unsigned)port);
}

static void fail_pcap(struct capture *c, const char *op, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s on %s: %s", op, c->ifname, pcap_geterr(c->pcap));
}

/* pcap_activate's status, turned into a message and a permission flag. */
static bool check_activate(struct capture *c, int status, bool *permission,
                           char *err, size_t errlen)
{
    if (status >= 0)
        return true; /* warnings (>0) do not stop a capture */
    *permission = status == PCAP_ERROR_PERM_DENIED;
    const char *detail = pcap_geterr(c->pcap);
    snprintf(err, errlen, "pcap_activate on %s: %s%s%s%s", c->ifname,
             pcap_statustostr(status), detail && *detail ? " (" : "",
             detail ? detail : "", detail && *detail ? ")" : "");
    if (*permission) {
        size_t used = strlen(err);
        snprintf(err + used, errlen > used ? errlen - used : 0,
                 "; capturing needs CAP_NET_RAW in the case's namespace");
    }
    return false;
}

static bool configure_handle(struct capture *c, char *err, size_t errlen)
{
    if (pcap_set_snaplen(c->pcap, (int)c->snaplen) != 0 ||
        pcap_set_promisc(c->pcap, 0) != 0 ||
        pcap_set_immediate_mode(c->pcap, 1) != 0 ||
        pcap_set_buffer_size(c->pcap, CAPTURE_BUFFER_BYTES) != 0 ||
        pcap_set_timeout(c->pcap, 1) != 0) {
        fail_pcap(c, "pcap_set_* before activation", err, errlen);
        return false;
    }
    return true;
}

bool capture_start(struct capture *c, const char *ifname, const char *filter,
                   bool *permission, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    memset(c, 0, sizeof *c);
    *permission = false;
    snprintf(c->ifname, sizeof c->ifname, "%s", ifname);
    c->snaplen = CAPTURE_SNAPLEN;

    c->pcap = pcap_create(ifname, pcap_err);
    if (!c->pcap) {
        snprintf(err, errlen, "pcap_create %s: %s", ifname, pcap_err);
        return false;
    }
    bool ok = configure_handle(c, err, errlen) &&
              check_activate(c, pcap_activate(c->pcap), permission, err, errlen);
    if (ok && pcap_setnonblock(c->pcap, 1, pcap_err) != 0) {
        snprintf(err, errlen, "pcap_setnonblock on %s: %s", ifname, pcap_err);
        ok = false;
    }
    if (ok && pcap_get_selectable_fd(c->pcap) < 0) {
        snprintf(err, errlen, "pcap_get_selectable_fd on %s: no descriptor to poll", ifname);
        ok = false;
    }
    ok = ok && capture_set_filter(c, filter, err, errlen);
    if (!ok) {
        pcap_close(c->pcap);
        c->pcap = NULL;
        return false;
    }
    c->linktype = linktype_of_dlt(pcap_datalink(c->pcap));
    return true;
}

bool capture_set_filter(struct capture *c, const char *filter, char *err, size_t errlen)
{
    struct bpf_program prog;
    if (pcap_compile(c->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "pcap_compile '%s' on %s: %s", filter, c->ifname, pcap_geterr(c->pcap));
        return false;
    }
    int rc = pcap_setfilter(c->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        fail_pcap(c, "pcap_setfilter", err, errlen);
        return false;
    }
    return true;
}

int capture_fd(const struct capture *c)
{
    return c->pcap ? pcap_get_selectable_fd(c->pcap) : -1;
}

static bool grow(struct capture *c)
{
    if (c->count < c->cap)
        return true;
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct captured_packet *p = realloc(c->packets, cap * sizeof *p);
    if (!p)
        return false;
    c->packets = p;
    c->cap = cap;
    return true;
}

static void store_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct capture *c = (struct capture *)user;
    if (c->out_of_memory)
        return;
    uint8_t *copy = malloc(h->caplen ? h->caplen : 1);
    if (!copy || !grow(c)) {
        free(copy);
        c->out_of_memory = true;
        return;
    }
    memcpy(copy, bytes, h->caplen);
    struct captured_packet *p = &c->packets[c->count++];
    p->ts_usec = analysis_timestamp((int64_t)h->ts.tv_sec, (int64_t)h->ts.tv_usec);
    p->caplen = h->caplen;
    p->wirelen = h->len;
    p->data = copy;
    if (c->on_packet)
        c->on_packet(p, (uint32_t)c->count, c->ctx);
}

int capture_read(struct capture *c, char *err, size_t errlen)
{
    if (!c->pcap)
        return 0;
    size_t before = c->count;
    /* -1: everything in the buffer; non-blocking, so returns 0 when empty. */
    int n = pcap_dispatch(c->pcap, -1, store_packet, (u_char *)c);
    if (n == PCAP_ERROR) {
        fail_pcap(c, "pcap_dispatch", err, errlen);
        return -1;
    }
    if (c->out_of_memory) {
        snprintf(err, errlen, "out of memory storing packets from %s", c->ifname);
        return -1;
    }
    return (int)(c->count - before);
}

void capture_stop(struct capture *c)
{
    if (!c->pcap)
        return;
    char ignored[256];
    (void)capture_read(c, ignored, sizeof ignored);
    struct pcap_stat st;
    if (pcap_stats(c->pcap, &st) == 0)
        c->kernel_drops = st.ps_drop;
    pcap_close(c->pcap);
    c->pcap = NULL;
}

void capture_free(struct capture *c)
{
    capture_stop(c);
    for (size_t i = 0; i < c->count; i++)
        free(c->packets[i].data);
    free(c->packets);
    c->packets = NULL;
    c->count = c->cap = 0;
}
