/* echo_select.c: one process, many clients, with select(2). The read set
 * holds the listener and every client; select returns when one of them is
 * readable (for the listener: the accept queue is not empty). An fd at or
 * above FD_SETSIZE cannot go into an fd_set: such a client is refused.
 * Linux: select -> core_sys_select -> do_select, which calls each file's
 * poll (tcp_poll for a TCP socket).
 *
 *   synack run -- ./echo_select 7000         # then: nc 10.0.0.2 7000
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0) {
        perror("bind/listen");
        return 1;
    }
    if (lfd >= FD_SETSIZE) {             /* the listener must fit in the set too */
        fprintf(stderr, "listener fd %d >= FD_SETSIZE\n", lfd);
        return 1;
    }
    printf("listening on port %s\n", argv[1]);
    fflush(stdout);
    fd_set clients;                      /* every open client */
    FD_ZERO(&clients);
    int maxfd = lfd;
    for (;;) {
        fd_set rd = clients;             /* select overwrites its sets: copy */
        FD_SET(lfd, &rd);
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
            perror("select");
            return 1;
        }
        if (FD_ISSET(lfd, &rd)) {
            int c = accept(lfd, NULL, NULL);
            if (c >= FD_SETSIZE) {       /* FD_SET would write past the set */
                fprintf(stderr, "fd %d >= FD_SETSIZE: refused\n", c);
                close(c);
            } else if (c >= 0) {
                FD_SET(c, &clients);
                if (c > maxfd)
                    maxfd = c;
            }
        }
        for (int fd = 0; fd <= maxfd; fd++) {
            if (fd == lfd || !FD_ISSET(fd, &rd))
                continue;
            char buf[4096];
            ssize_t n = read(fd, buf, sizeof buf);
            /* Readable means read will not block; the write below may, if
             * the client does not read its echo (a blocking server's risk). */
            for (ssize_t off = 0; n > 0 && off < n;) {
                ssize_t w = write(fd, buf + off, n - off);
                if (w < 0)
                    n = -1;
                else
                    off += w;
            }
            if (n <= 0) {                /* end of file or error */
                close(fd);
                FD_CLR(fd, &clients);
            }
        }
    }
}
