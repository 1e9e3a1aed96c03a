/* bench-fuzz-throughput: the same inputs through the tcp-client receive path
 * (a) in process, through the scripted sockio seam, as the fuzz harness runs
 * it, and (b) over a real loopback TCP connection per input to a server
 * process that sends the input's bytes, the way network fuzzers (AFLNet and
 * kin) feed a target. Rounds alternate; prints execs/s of each and the ratio. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "bench_util.h"
#include "netsock.h"
#include "script.h"
#include "session.h"
#include "sockio.h"
#include "timemsg.h"

#define INPUTS 256

struct input {
    uint8_t schedule[512];
    size_t schedule_len;
    uint8_t bytes[256]; /* what the peer sends in all, for the real server */
    size_t bytes_len;
};

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* A time message (sometimes mangled) cut into random chunks, with EINTR and
 * EAGAIN between some of them: the shape of the fuzz corpus. */
static void make_input(struct input *in)
{
    char msg[TIMEMSG_LEN + 1];
    struct timemsg t = {.year = 2026, .month = 11, .day = 25, .hour = 16, .minute = 28,
                        .second = 21, .microsecond = 123456};
    timemsg_format(&t, msg);
    in->bytes_len = TIMEMSG_LEN;
    memcpy(in->bytes, msg, TIMEMSG_LEN);
    if (rng() % 4 == 0)
        in->bytes[rng() % TIMEMSG_LEN] ^= (uint8_t)(1 + rng() % 255);
    struct script_builder b = {.buf = in->schedule, .cap = sizeof in->schedule};
    for (size_t off = 0; off < in->bytes_len;) {
        size_t chunk = 1 + rng() % 16;
        if (chunk > in->bytes_len - off)
            chunk = in->bytes_len - off;
        script_add_data(&b, in->bytes + off, chunk);
        if (rng() % 3 == 0)
            script_add_op(&b, rng() % 2 ? SCRIPT_EINTR : SCRIPT_EAGAIN);
        off += chunk;
    }
    script_add_op(&b, SCRIPT_EOF);
    in->schedule_len = b.len;
}

static uint8_t reply_buf[65536];

static double run_in_process(const struct input *inputs, int n, int reps, long *ok_count)
{
    static struct script s;
    double t0 = bench_now_s();
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < n; i++) {
            script_init(&s, inputs[i].schedule, inputs[i].schedule_len, true);
            struct sockio io = script_sockio(&s);
            struct tcp_client_opts o = {.expect = EXPECT_TIME, .deadline = sockio_deadline_in(&io, 5000)};
            struct tcp_client_result res;
            *ok_count += tcp_client_session(&io, 3, &o, reply_buf, sizeof reply_buf, &res);
        }
    }
    return (double)(n * reps) / (bench_now_s() - t0);
}

/* The peer: per connection, sends the next input's bytes and closes. */
static pid_t start_peer(const struct input *inputs, int n, struct net_addr *addr)
{
    char err[NET_ERR_LEN];
    struct net_addr want;
    net_resolve("127.0.0.1", 0, SOCK_STREAM, &want, err);
    int ls = net_tcp_listen(&want, 128, addr, err);
    if (ls < 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(ls, F_SETFL, 0);
        for (unsigned long k = 0;; k++) {
            int c = accept(ls, NULL, NULL);
            if (c < 0)
                continue;
            const struct input *in = &inputs[k % (unsigned long)n];
            if (send(c, in->bytes, in->bytes_len, MSG_NOSIGNAL) < 0) {
            }
            close(c);
        }
    }
    close(ls);
    return pid;
}

static double run_over_loopback(const struct net_addr *addr, int n, long *ok_count)
{
    double t0 = bench_now_s();
    for (int i = 0; i < n; i++) {
        char err[NET_ERR_LEN];
        int connect_errno;
        int fd = net_tcp_connect(addr, 5000, &connect_errno, err);
        if (fd < 0) {
            fprintf(stderr, "bench: %s\n", err);
            exit(2);
        }
        struct tcp_client_opts o = {.expect = EXPECT_TIME,
                                    .deadline = sockio_deadline_in(&sockio_system, 5000)};
        struct tcp_client_result res;
        *ok_count += tcp_client_session(&sockio_system, fd, &o, reply_buf, sizeof reply_buf, &res);
        close(fd);
    }
    return (double)n / (bench_now_s() - t0);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || rounds > 64) {
        fprintf(stderr, "usage: bench-fuzz-throughput [ROUNDS 1-64]\n");
        return 2;
    }
    if (!bench_private_netns())
        return 2;
    static struct input inputs[INPUTS];
    for (int i = 0; i < INPUTS; i++)
        make_input(&inputs[i]);
    struct net_addr addr;
    pid_t peer = start_peer(inputs, INPUTS, &addr);

    double inproc[64], loop[64];
    long ok_in = 0, ok_loop = 0;
    for (int r = 0; r < rounds; r++) {
        ok_in = ok_loop = 0;
        inproc[r] = run_in_process(inputs, INPUTS, 200, &ok_in);
        loop[r] = run_over_loopback(&addr, INPUTS * 4, &ok_loop);
        printf("round %d: in-process %.0f execs/s, loopback TCP %.0f execs/s\n", r + 1, inproc[r], loop[r]);
        fflush(stdout);
    }
    kill(peer, SIGKILL);
    waitpid(peer, NULL, 0);
    /* Both paths must judge the inputs alike, or the comparison is void. */
    printf("accepted replies: in-process %ld of %d, loopback %ld of %d\n", ok_in, INPUTS * 200,
           ok_loop, INPUTS * 4);
    double a = bench_median(inproc, rounds), b = bench_median(loop, rounds);
    printf("in-process (fuzz harness path): median %.0f execs/s\n", a);
    printf("loopback TCP per input:          median %.0f execs/s\n", b);
    printf("ratio: %.1f\n", a / b);
    return 0;
}
