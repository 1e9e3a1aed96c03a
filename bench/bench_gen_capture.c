/* bench-gen-capture: writes the throughput bench's capture (gen_capture.h)
 * to a file, for looking at it or feeding it to other tools.
 *
 *   bench-gen-capture FILE [PACKETS [CONCURRENCY [SEED]]]
 * PACKETS written as Nc (125000c): the connection-heavy shape, N
 * connections of 8 frames (gen_config.connections); Ns: N SYN-only flows. */
#include <stdio.h>
#include <stdlib.h>

#include "gen_capture.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5 || argv[1][0] == '-') {
        fprintf(stderr, "usage: bench-gen-capture FILE [PACKETS [CONCURRENCY [SEED]]]\n"
                        "defaults: 1000000 packets, 4000 concurrent flows, seed 1\n");
        return 2;
    }
    struct gen_config cfg = {1000000, 4000, 1, 0, false};
    if (argc > 2) {
        char *end;
        cfg.packets = strtoull(argv[2], &end, 10);
        if (*end == 'c' || *end == 's') {
            cfg.syn_only = *end == 's';
            cfg.connections = cfg.packets;
            cfg.concurrency = 16;
        }
    }
    if (argc > 3)
        cfg.concurrency = (unsigned)strtoul(argv[3], NULL, 10);
    if (argc > 4)
        cfg.seed = strtoull(argv[4], NULL, 10);
    struct gen_stats st;
    if (!gen_capture_write(argv[1], &cfg, &st))
        return 1;
    printf("%s: %llu packets (%.1f MB), %llu TCP connections, %llu UDP flows, "
           "%.1f s of capture time\n",
           argv[1], (unsigned long long)st.packets, st.bytes / 1e6,
           (unsigned long long)st.tcp_conns, (unsigned long long)st.udp_flows,
           st.duration_usec / 1e6);
    return 0;
}
