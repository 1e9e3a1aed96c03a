/* floor-tcp: the smallest correct server for tcp-time-server's exchange, the
 * yardstick bench-server measures it against. One epoll loop: accept4 a
 * batch, write the 42-byte time message, shutdown(SHUT_WR), read to the
 * peer's EOF, close. No logging, no deadlines, no options but the port;
 * never a program to deploy (a silent peer holds its slot forever).
 *   floor-tcp PORT   (127.0.0.1; prints "Listening on 127.0.0.1:PORT") */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

/* "Current time is YYYY-MM-DD HH:MM:SS.ffffff": 42 bytes. */
static void format_now(char out[64])
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    snprintf(out, 64, "Current time is %04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 3434;
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 511) != 0) {
        fprintf(stderr, "floor-tcp: listen 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    printf("Listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    unsigned long served = 0;
    while (!stop) {
        struct epoll_event evs[128];
        int n = epoll_wait(ep, evs, 128, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            char buf[4096];
            if (fd == lfd) {
                char msg[64];
                format_now(msg);
                for (int k = 0; k < 64; k++) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break;
                    if (send(c, msg, 42, MSG_NOSIGNAL) != 42 || shutdown(c, SHUT_WR) != 0) {
                        close(c);
                        continue;
                    }
                    ssize_t got;
                    while ((got = recv(c, buf, sizeof buf, 0)) > 0) {
                    }
                    if (got == 0) {
                        close(c);
                        served++;
                        continue;
                    }
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t got;
            while ((got = recv(fd, buf, sizeof buf, 0)) > 0) {
            }
            if (got == 0 || errno != EAGAIN) {
                close(fd); /* also leaves the epoll set */
                served++;
            }
        }
    }
    printf("Stopped: %lu served\n", served);
    return 0;
}
