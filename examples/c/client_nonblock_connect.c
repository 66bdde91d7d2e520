/* client_nonblock_connect.c: connect without blocking. connect on a
 * non-blocking socket sends the SYN and returns EINPROGRESS at once; poll
 * for POLLOUT says the handshake is over, and SO_ERROR says how it ended
 * (0, or ECONNREFUSED for a RST, ETIMEDOUT...). Then one line out, and its
 * echo back. Exits 1 with the errno's name on failure.
 * Linux: inet_stream_connect -> tcp_v4_connect; the result is sk->sk_err,
 * which getsockopt(SO_ERROR) reads (sock_error).
 *
 *   client_nonblock_connect PORT [HOST]      (HOST: 10.0.0.1, the host)
 *   synack run -- ./client_nonblock_connect 7000   # with nc -l 10.0.0.1 7000 on the host
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *errno_name(int e)
{
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    default: return strerror(e);
    }
}

static int fail(const char *what, int e)
{
    printf("%s: %s\n", what, errno_name(e));
    return 1;
}

/* Wait up to 5 s for `events` on fd; 0 when ready, else an errno. */
static int wait_for(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };
    int n = poll(&p, 1, 5000);
    return n > 0 ? 0 : n == 0 ? ETIMEDOUT : errno;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [HOST]\n", argv[0]);
        return 2;
    }
    const char *host = argc > 2 ? argv[2] : "10.0.0.1";
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "not an IPv4 address: %s\n", host);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        printf("connect: done at once\n");
    } else if (errno == EINPROGRESS) {
        printf("connect: EINPROGRESS, waiting for POLLOUT\n");
        int e = wait_for(fd, POLLOUT);
        if (e)
            return fail("poll", e);
        socklen_t len = sizeof e;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);   /* reads and clears sk_err */
        if (e)
            return fail("connect", e);
        printf("connected\n");
    } else {
        return fail("connect", errno);
    }
    const char line[] = "hello from a non-blocking connect\n";
    int e = wait_for(fd, POLLOUT);
    if (e)
        return fail("poll", e);
    if (write(fd, line, sizeof line - 1) != sizeof line - 1)    /* 34 bytes fit at once */
        return fail("write", errno);
    char buf[256];
    size_t got = 0;
    while (got < sizeof line - 1) {                       /* the echo may come in pieces */
        if ((e = wait_for(fd, POLLIN)))
            return fail("poll", e);
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n == 0) {
            printf("read: end of file before the echo\n");
            return 1;
        }
        if (n < 0 && errno != EAGAIN)
            return fail("read", errno);
        if (n > 0)
            got += n;
    }
    buf[got] = '\0';
    printf("echo: %s", buf);
    close(fd);
    return 0;
}
