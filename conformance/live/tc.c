/* tc: the slow HTB class of the slow-teardown fault. See tc.h. */
#include "tc.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "netlink.h"

bool tc_add_slow_class(const char *ifname, uint16_t minor, uint32_t bytes_per_s,
                          char *err, size_t errlen)
{
    unsigned index = if_nametoindex(ifname);
    if (index == 0) {
        snprintf(err, errlen, "if_nametoindex %s: %s", ifname, strerror(errno));
        return false;
    }
    const uint32_t root = TC_H_MAKE(1U << 16, 0); /* handle 1: */
    char what[128];

    /* HTB as the root qdisc; unclassified packets (defcls 0) go to its direct
     * queue, which is never shaped. */
    struct nl_request r;
    struct tcmsg tc = { .tcm_family = AF_UNSPEC, .tcm_ifindex = (int)index,
                        .tcm_handle = root, .tcm_parent = TC_H_ROOT };
    struct tc_htb_glob glob = { .version = 3, .rate2quantum = 10, .defcls = 0 };
    nl_request_init(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL);
    nl_append(&r, &tc, sizeof tc);
    nl_attr(&r, TCA_KIND, "htb", sizeof "htb");
    struct rtattr *opts = nl_nest_begin(&r, TCA_OPTIONS);
    nl_attr(&r, TCA_HTB_INIT, &glob, sizeof glob);
    nl_nest_end(&r, opts);
    snprintf(what, sizeof what, "add htb root qdisc to %s", ifname);
    if (!nl_transact(&r, what, err, errlen))
        return false;

    /* The class: rate = ceil = bytes_per_s and no burst (buffer 0), so a
     * packet waits until the bytes of the one before it have "left" at that
     * rate; its default leaf qdisc is a FIFO (pfifo, txqueuelen packets).
     * linklayer ethernet: the kernel computes the rate itself, no rate table. */
    struct tc_htb_opt opt = {
        .rate = { .linklayer = TC_LINKLAYER_ETHERNET, .rate = bytes_per_s },
        .ceil = { .linklayer = TC_LINKLAYER_ETHERNET, .rate = bytes_per_s },
        .buffer = 0,
        .cbuffer = 0,
        .quantum = 1514, /* one class: only set to silence the "quantum is small" warning */
    };
    tc.tcm_handle = TC_H_MAKE(root, minor);
    tc.tcm_parent = root;
    nl_request_init(&r, RTM_NEWTCLASS, NLM_F_CREATE | NLM_F_EXCL);
    nl_append(&r, &tc, sizeof tc);
    nl_attr(&r, TCA_KIND, "htb", sizeof "htb");
    opts = nl_nest_begin(&r, TCA_OPTIONS);
    nl_attr(&r, TCA_HTB_PARMS, &opt, sizeof opt);
    nl_nest_end(&r, opts);
    snprintf(what, sizeof what, "add htb class 1:%u (%u bytes/s) to %s", (unsigned)minor,
             (unsigned)bytes_per_s, ifname);
    return nl_transact(&r, what, err, errlen);
}
