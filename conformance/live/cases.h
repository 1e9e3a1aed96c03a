/* cases: the conformance matrix as small text files (see CASES.md).
 *
 * A case names a server command, a client command, the network it runs in,
 * the faults injected there and what must be seen: verdicts per rule id,
 * exit statuses, words in the programs' output. One line per statement:
 *
 *   # the server closes first
 *   family   both
 *   server   tcp-time-server --bind {host} --port {port} --count 1
 *   client   tcp-client --host {host} --port {port} --expect time
 *   expect   tcp.teardown.first_fin info "server"
 *   expect   client-exit 0
 *
 * Parsing is separate from running so that a bad file is reported with its
 * line number before any namespace is made. */
#ifndef WIRECHECK_CASES_H
#define WIRECHECK_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checks.h"
#include "netns.h"

#define CASE_NAME_MAX 64
#define CASE_COMMAND_MAX 1024
#define CASE_TEXT_MAX 256
#define CASE_MAX_FAULTS 8
#define CASE_MAX_EXPECTS 40
#define CASE_DEFAULT_PORT 3434
#define CASE_DEFAULT_TIMEOUT_MS 5000

enum case_fault_kind {
    FAULT_DROP_FIRST_SYN, /* the first SYN to the port is dropped */
    FAULT_DROP_PERCENT,   /* N% of the packets to the port are dropped */
    FAULT_RESET,          /* SYNs to the port are answered with a RST */
    FAULT_NFT,            /* a user's rule, put in the input chain */
    FAULT_DROP_FIRST_DATA, /* the first data segment (PSH) from one side is dropped */
    FAULT_DROP_FIRST_FIN, /* the first FIN from one side is dropped */
    FAULT_SLOW_TEARDOWN,  /* data and teardown segments leave lo through a slow FIFO */
};

/* slow-teardown: the HTB class (1:CASE_SLOW_CLASS_MINOR on lo) that nft
 * steers the segments into, and its rate. At 2500 bytes/s a segment waits
 * 26-51 ms behind the one before it (66-byte FIN/ACK over IPv4 to the
 * 128-byte time message over IPv6, link header included). */
#define CASE_SLOW_CLASS_MINOR 2
#define CASE_SLOW_BYTES_PER_S 2500

/* Whose segment a drop-first-data/-fin fault drops. */
enum case_fault_side { FAULT_FROM_CLIENT, FAULT_FROM_SERVER };

struct case_fault {
    enum case_fault_kind kind;
    unsigned percent;
    enum case_fault_side from;
    char rule[CASE_TEXT_MAX];
};

enum case_expect_kind {
    EXPECT_RULE,          /* a rule's verdict (and optionally words in its text) */
    EXPECT_CLIENT_EXIT,
    EXPECT_SERVER_EXIT,
    EXPECT_CLIENT_OUTPUT, /* words in the client's stdout or stderr */
    EXPECT_SERVER_OUTPUT,
    /* On the wire, judged from the capture whatever program ran: */
    EXPECT_SERVER_SENDS,  /* each flow's server bytes match a regex (POSIX ERE) */
    EXPECT_CLIENT_SENDS,  /* each flow's client bytes match a regex */
    EXPECT_SERVER_ECHOES, /* each flow's server bytes equal its client bytes (and,
                             for UDP, the echo met no ICMP port unreachable) */
};

/* What a case needs of its server (`serves ROLE`): a program that does this
 * fits the case (`wirecheck run --server CMD --serves ROLE`). */
enum case_service {
    SERVES_UNSET = 0,   /* not declared */
    SERVES_NONE,        /* nothing listens */
    SERVES_TIME,        /* TCP: sends the time message and closes */
    SERVES_ECHO,        /* TCP: returns every byte until the client's FIN */
    SERVES_DISCARD,     /* TCP: reads and drops */
    SERVES_UDP_RECEIVE, /* UDP: receives datagrams */
    SERVES_UDP_ECHO,    /* UDP: returns each datagram to its sender */
};
#define CASE_SERVICES "none, time, echo, discard, udp-receive, udp-echo"
const char *case_service_name(enum case_service s);
bool case_service_parse(const char *name, enum case_service *out);

struct case_expect {
    enum case_expect_kind kind;
    unsigned line;                /* where it was written, for messages */
    char rule_id[64];
    enum verdict_kind verdict;
    int exit_status;
    char text[CASE_TEXT_MAX];     /* EXPECT_RULE: optional, "" = any */
};

struct case_spec {
    char name[CASE_NAME_MAX];
    char origin[512];             /* file the case came from */
    char description[CASE_TEXT_MAX];
    bool ipv4, ipv6;              /* families to run it on */
    enum netns_topology topology;
    uint16_t port;
    unsigned timeout_ms;          /* bound on the whole case */
    char server[CASE_COMMAND_MAX];  /* "" = no server (closed port) */
    char client[CASE_COMMAND_MAX];
    struct case_fault faults[CASE_MAX_FAULTS];
    size_t nfaults;
    /* Packets are dropped on purpose: set by `loss-injected` and implied by
     * the drop faults; the analysis then reports retransmissions as info. */
    bool loss_injected;
    enum case_service serves;     /* `serves ROLE` */
    /* `reference server|client`: the case relies on the reference program
     * of that side (a misbehaviour flag, its timeout, its close timing):
     * with that side replaced (--server/--client) it is skipped. */
    bool reference_server, reference_client;
    struct case_expect expects[CASE_MAX_EXPECTS];
    size_t nexpects;
};

/* A case name becomes a file name (OUT/NAME-ipv4.pcapng) and is printed:
 * 1..CASE_NAME_SAFE_MAX letters, digits, '.', '_', '+', '-', not starting
 * with '.' or '-' (no "..", no "/", no control bytes, no option look-alike). */
#define CASE_NAME_SAFE_MAX (CASE_NAME_MAX - 1)
#define CASE_NAME_RULE "1 to 63 letters, digits, '.', '_', '+' or '-', not starting with '.' or '-'"
bool case_name_is_safe(const char *name);

/* Parses case text. `origin` names it in messages ("cases/time.case") and
 * gives the default name (its base name without ".case"). On failure err is
 * "ORIGIN:LINE: what is wrong". */
bool case_parse_text(const char *text, const char *origin, struct case_spec *out,
                     char *err, size_t errlen);
bool case_parse_file(const char *path, struct case_spec *out, char *err, size_t errlen);

const char *case_expect_kind_name(enum case_expect_kind k);

#endif
