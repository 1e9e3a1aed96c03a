/* nft: loads an nftables ruleset with the nft binary (nftables has no C API
 * in the base system), in the calling process's network namespace.
 *
 *   char rules[4096];
 *   case_fault_ruleset(spec, port, rules, sizeof rules);   // faults.h
 *   if (rules[0] && !nft_load_ruleset(rules, err, sizeof err))
 *       ... err: "nft -f - rejected the fault rules: <what nft said>",
 *           or "nft not found: install nftables to use faults" ...
 */
#ifndef WIRECHECK_NFT_H
#define WIRECHECK_NFT_H

#include <stdbool.h>
#include <stddef.h>

/* Runs `nft -f -` with `ruleset` (nft -f syntax) on its stdin. */
bool nft_load_ruleset(const char *ruleset, char *err, size_t errlen);

#endif
