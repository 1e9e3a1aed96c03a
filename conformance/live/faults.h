/* faults: compiles a case's `fault` lines into the nftables ruleset that
 * injects them in the server's namespace (one table, inet wirecheck).
 *
 *   char rules[4096];
 *   case_fault_ruleset(spec, 3434, rules, sizeof rules);
 *   // "table inet wirecheck {\n  set syn_seen {...}\n  chain input {\n"
 *   // "    tcp dport 3434 tcp flags & (syn | ack) == syn ... drop\n  }\n}\n"
 *   if (rules[0] && !nft_load_ruleset(rules, err, sizeof err)) ...       // nft.h
 *   if (case_needs_slow_class(spec))
 *       tc_add_slow_class(capture_if, CASE_SLOW_CLASS_MINOR, CASE_SLOW_BYTES_PER_S, ...); // tc.h
 *
 * Pure: text out, no I/O. */
#ifndef WIRECHECK_FAULTS_H
#define WIRECHECK_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cases.h"

/* The nft ruleset the case's faults need (port filled in), or "" if none. */
void case_fault_ruleset(const struct case_spec *c, uint16_t port, char *buf, size_t size);

/* The case has a slow-teardown fault: the runner must add the slow class
 * (tc_add_slow_class) its nft rules steer into. */
bool case_needs_slow_class(const struct case_spec *c);

#endif
