/* echo_epoll_et.c: an event loop with edge-triggered epoll. An edge is
 * reported once per change, so every handler works until EAGAIN: accept
 * until the accept queue is empty, read until the socket is empty. What a
 * write could not take (the peer reads slowly) is kept and sent when
 * EPOLLOUT reports room; meanwhile we stop reading that client.
 * Linux: epoll_ctl -> ep_insert, epoll_wait -> ep_poll; a socket's
 * sk_data_ready / sk_write_space wake it (ep_poll_callback).
 *
 *   synack run -- ./echo_epoll_et 7000       # then: nc 10.0.0.2 7000
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t len;                  /* bytes read and not yet written */
    char buf[16384];
};

/* Echo as much as the socket allows; returns -1 when the connection is over. */
static int serve(struct conn *c)
{
    for (;;) {
        while (c->len > 0) {     /* first what is left from last time */
            ssize_t w = write(c->fd, c->buf, c->len);
            if (w < 0)
                return errno == EAGAIN ? 0 : -1; /* EPOLLOUT will call us again */
            memmove(c->buf, c->buf + w, c->len - w);
            c->len -= w;
        }
        ssize_t n = read(c->fd, c->buf, sizeof c->buf);
        if (n == 0)
            return -1;           /* end of file: the client's FIN */
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;     /* empty: wait for the next edge */
        c->len = n;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 256) < 0) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = NULL }; /* NULL: the listener */
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    printf("listening on port %s\n", argv[1]);
    fflush(stdout);
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {     /* the listener: accept until EAGAIN */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct conn *nc = malloc(sizeof *nc);
                    if (nc == NULL) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    nc->len = 0;
                    struct epoll_event cev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = nc };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    /* Data may have come before EPOLL_CTL_ADD: that edge is
                     * past, so look now. */
                    if (serve(nc) < 0) {
                        close(fd);   /* close also takes it out of the epoll set */
                        free(nc);
                    }
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    perror("accept4");
            } else if (serve(c) < 0) {
                close(c->fd);
                free(c);
            }
        }
    }
}
