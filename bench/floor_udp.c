/* floor-udp: the smallest UDP receiver, the yardstick for udp-server's
 * lossless rate: recvmmsg batches, counted and discarded, nothing logged.
 * On SIGTERM prints "Received: N" and exits.
 *   floor-udp PORT   (127.0.0.1, 4 MiB receive queue like udp-server) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

enum { BATCH = 64, MAX = 1024 };

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 3434;
    struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "floor-udp: bind 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    int rcvbuf = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    static char bufs[BATCH][MAX];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    static struct sockaddr_in from[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){bufs[i], MAX};
        msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i],
                                          .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    printf("Listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    unsigned long received = 0;
    while (!stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0)
            continue;
        int n;
        while ((n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL)) > 0)
            received += (unsigned long)n;
    }
    printf("Received: %lu\n", received);
    return 0;
}
