/* echo_iterative.c: the simplest TCP echo server. One client at a time:
 * accept, echo until the client closes, close, accept the next.
 * The kernel's side of each call on Linux: socket -> __sys_socket,
 * bind -> inet_bind, listen -> inet_listen, accept -> inet_csk_accept,
 * read -> tcp_recvmsg, write -> tcp_sendmsg, close -> tcp_close.
 *
 *   cc -Wall -Wextra -O2 -o echo_iterative echo_iterative.c
 *   synack run -- ./echo_iterative 7000      # then: nc 10.0.0.2 7000
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
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
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0) {
        perror("bind/listen");
        return 1;
    }
    printf("listening on port %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int c = accept(lfd, (struct sockaddr *)&peer, &len); /* takes one from the accept queue */
        if (c < 0) {
            perror("accept");
            continue;
        }
        char buf[4096];
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) {          /* 0: the client sent FIN */
            for (ssize_t off = 0; off < n;) {                 /* write may be partial */
                ssize_t w = write(c, buf + off, n - off);
                if (w < 0) {
                    perror("write");
                    n = -1;
                    break;
                }
                off += w;
            }
            if (n < 0)
                break;
        }
        close(c);                                             /* our FIN */
    }
}
