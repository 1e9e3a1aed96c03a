/* capture: libpcap live capture of one case, kept in memory.
 *
 * The runner starts the capture inside the case's namespace before the
 * server exists, so the whole conversation is in it from the first SYN; it
 * polls capture_fd() together with the programs' pipes and calls
 * capture_read() when it is readable. Immediate mode makes every packet
 * available as soon as the kernel has it, so the runner can decide to stop
 * the moment the analysis has seen the teardown instead of waiting out a
 * buffer timeout. */
#ifndef WIRECHECK_CAPTURE_H
#define WIRECHECK_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPTURE_SNAPLEN 262144u

struct captured_packet {
    int64_t ts_usec;
    uint32_t caplen, wirelen;
    uint8_t *data;
};

/* Called for every packet as it is stored; `frame` is 1-based. */
typedef void capture_packet_fn(const struct captured_packet *p, uint32_t frame, void *ctx);

struct capture {
    struct pcap *pcap;          /* NULL once stopped */
    char ifname[32];
    int linktype;               /* LINKTYPE_* as pcap(ng) files store it */
    uint32_t snaplen;
    struct captured_packet *packets;
    size_t count, cap;
    uint32_t kernel_drops;      /* from pcap_stats at stop */
    bool out_of_memory;
    capture_packet_fn *on_packet;
    void *ctx;
};

/* Builds the BPF filter for a case on `port`: its TCP and UDP packets, the
 * ICMP/ICMPv6 errors about them (port unreachable) and IP fragments (only the
 * first fragment of a datagram carries the port). */
void capture_filter_for_port(uint16_t port, char *buf, size_t size);

/* Opens `ifname` (in the calling process's namespace) in immediate,
 * non-blocking mode with `filter`. On failure err names the interface and
 * the reason; *permission is set when the failure is a missing privilege. */
bool capture_start(struct capture *c, const char *ifname, const char *filter,
                   bool *permission, char *err, size_t errlen);

/* Replaces the filter (the server may report another port than asked). */
bool capture_set_filter(struct capture *c, const char *filter, char *err, size_t errlen);

/* Descriptor to poll for readability; -1 when stopped. */
int capture_fd(const struct capture *c);

/* Stores every packet available now, without blocking. Returns the number
 * stored, or -1 with err set. */
int capture_read(struct capture *c, char *err, size_t errlen);

/* Reads what is left, records the kernel's drop count and closes the handle.
 * The stored packets stay until capture_free. */
void capture_stop(struct capture *c);
void capture_free(struct capture *c);

#endif
