/* gen_capture: writes a large, deterministic, valid Ethernet/IPv4 capture
 * for the `wirecheck check` throughput bench (bench-check-throughput) and
 * the bench-gen-capture tool.
 *
 *   struct gen_config cfg = {.packets = 1000000, .concurrency = 4000, .seed = 1};
 *   struct gen_stats st;
 *   if (!gen_capture_write("/tmp/big.pcap", &cfg, &st))
 *       return 1;                          // the reason is on stderr
 *   printf("%llu frames\n", (unsigned long long)st.packets);
 *
 * The traffic: `concurrency` slots, each holding one flow at a time; every
 * packet comes from a slot drawn at random, so a few thousand flows are open
 * at once and their packets interleave. When a flow ends its slot starts a
 * new one, so the number of open flows stays the same however many packets
 * are written (which is what lets the bench show that wirecheck's memory
 * follows open flows, not the file).
 *   - TCP (90% of slots): SYN / SYN-ACK / ACK with MSS, SACK-permitted,
 *     timestamps and window scale; 1-3 request/response rounds (requests of
 *     up to 3 segments, responses of up to 14), the receiver ACKing every
 *     second segment and the end of each response; then a FIN teardown,
 *     closed by either side, as FIN / FIN-ACK / ACK or FIN / ACK / FIN / ACK.
 *     Timestamps on every segment, no loss, no retransmission, no RST.
 *   - UDP (10% of slots): DNS query/answer exchanges (1-4), or one-way
 *     media-like streams of 20-60 datagrams.
 * After PACKETS frames no new flow starts and the open ones finish, so the
 * file holds a little more than PACKETS frames (about 8% more with 4000
 * flows open) and every flow in it is complete.
 * IPv4 header, TCP and UDP checksums are all valid (testsupport's packet
 * builder writes the headers). A fixed seed makes the file byte-for-byte the
 * same on every run. */
#ifndef WIRECHECK_GEN_CAPTURE_H
#define WIRECHECK_GEN_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

struct gen_config {
    uint64_t packets;     /* frames to write (at least; see above) */
    unsigned concurrency; /* flows open at once */
    uint64_t seed;
    /* Not 0: the connection-heavy shape instead (a busy time server):
     * exactly this many TCP connections of 8 small frames each (SYN,
     * SYN/ACK, ACK, the server's 26-byte time message, its ACK, the
     * server's FIN, the client's FIN, the last ACK), `concurrency` of them
     * interleaved, packets 1 us apart; `packets` is ignored. */
    uint64_t connections;
    /* With connections: SYN-only flows instead (a SYN flood, one frame each). */
    bool syn_only;
};

struct gen_stats {
    uint64_t packets, tcp_conns, udp_flows, tcp_completed, udp_completed;
    uint64_t bytes;       /* captured bytes (frames) */
    int64_t duration_usec;/* capture time from first to last frame */
};

/* Writes the capture to `path`; false (with a message on stderr) on error. */
bool gen_capture_write(const char *path, const struct gen_config *cfg, struct gen_stats *st);

#endif
