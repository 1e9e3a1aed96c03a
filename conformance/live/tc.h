/* tc: traffic control through rtnetlink, for the slow-teardown fault.
 *
 *   // in the case's namespace, before the nft rules steer packets there:
 *   if (!tc_add_slow_class("lo", 2, 2500, err, sizeof err))
 *       ... err: "add htb root qdisc to lo: Operation not permitted" ...
 *   // nft: meta priority set 1:2  -> those packets leave at 2500 bytes/s
 */
#ifndef WIRECHECK_TC_H
#define WIRECHECK_TC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Makes HTB (handle 1:) the root qdisc of `ifname` in the current namespace,
 * with one class 1:MINOR shaped to bytes_per_s and no burst: a packet steered
 * there (skb->priority 1:MINOR, nft `meta priority set 1:MINOR`) leaves
 * only once the bytes queued before it have left at that rate, in order.
 * Everything else leaves at once (HTB's direct queue). */
bool tc_add_slow_class(const char *ifname, uint16_t minor, uint32_t bytes_per_s,
                       char *err, size_t errlen);

#endif
