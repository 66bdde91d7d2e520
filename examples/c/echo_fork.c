/* echo_fork.c: a process per connection. The parent accepts and forks;
 * the child inherits the connected socket and echoes; the parent closes
 * its copy at once, so the connection ends when the child closes (a
 * socket is closed when its last descriptor is: __fput -> sock_close).
 * SIGCHLD tells the parent a child ended; it reaps it with waitpid, or it
 * stays a zombie.
 *
 *   synack run -- ./echo_fork 7000           # then: nc 10.0.0.2 7000
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void reap(int sig)
{
    (void)sig;
    int saved = errno;           /* a handler must not change errno */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;                        /* several children may end per signal */
    errno = saved;
}

static void echo(int c)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
        for (ssize_t off = 0, w; off < n; off += w)
            if ((w = write(c, buf + off, n - off)) < 0)
                return;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    struct sigaction sa = { .sa_handler = reap, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 256) < 0) {
        perror("bind/listen");
        return 1;
    }
    printf("listening on port %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno != EINTR)
                perror("accept");
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {          /* the child: it needs no listener */
            close(lfd);
            echo(c);
            close(c);            /* the last descriptor: FIN */
            _exit(0);
        }
        if (pid < 0)
            perror("fork");
        close(c);                /* the parent's copy: the child's lives on */
    }
}
