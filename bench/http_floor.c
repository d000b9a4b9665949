/* http_floor.c: the fastest "server" bench/60-serve.sh can measure on this machine: epoll
 * threads (one per core) that read each HTTP/1.1 request (headers, then Content-Length bytes
 * of body) and answer every one with the same 200 GetItem response, parsing, checking and
 * storing nothing. Run with the same client as tidemark and dynalite, it bounds what any
 * DynamoDB endpoint can reach with that client on these cores (the client's own CPU and the
 * kernel's loopback TCP are all that is left), so a goal above it cannot be met here.
 *
 *   http_floor PORT THREADS        (listens on 127.0.0.1:PORT until killed) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ITEM "{\"Item\":{\"pk\":{\"S\":\"c0-1\"},\"v\":{\"S\":\"" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}"

typedef struct conn {
    int fd;
    char in[16384];
    size_t have;
} conn;

static int lfd;
static char resp[1024];
static size_t resp_len;

/* Answers every whole request in c->in; -1 when the connection is done. */
static int serve_buffered(conn *c)
{
    for (;;) {
        char *end = memmem(c->in, c->have, "\r\n\r\n", 4);
        if (!end) return c->have == sizeof c->in ? -1 : 0;
        size_t head = (size_t)(end - c->in) + 4, body = 0;
        for (char *p = c->in; p < end; p++)
            if ((p == c->in || p[-1] == '\n') && !strncasecmp(p, "content-length:", 15)) body = strtoul(p + 15, NULL, 10);
        if (head + body > sizeof c->in) return -1;
        if (c->have < head + body) return 0;
        if (write(c->fd, resp, resp_len) != (ssize_t)resp_len) return -1;
        memmove(c->in, c->in + head + body, c->have - head - body);
        c->have -= head + body;
    }
}

static void *loop(void *arg)
{
    (void)arg;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL}, evs[64];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;
                if (fd < 0 || !(c = calloc(1, sizeof *c))) {
                    if (fd >= 0) close(fd);
                    continue;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c->fd = fd;
                struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                continue;
            }
            ssize_t r = read(c->fd, c->in + c->have, sizeof c->in - c->have);
            if (r > 0) c->have += (size_t)r;
            if (r <= 0 || serve_buffered(c) < 0) {
                close(c->fd);
                free(c);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: http_floor PORT THREADS\n");
        return 2;
    }
    int one = 1, threads = atoi(argv[2]);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 512)) {
        perror("http_floor: listen");
        return 1;
    }
    resp_len = (size_t)snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                                "Content-Length: %zu\r\n\r\n%s", strlen(ITEM), ITEM);
    pthread_t t;
    for (int i = 1; i < threads; i++) pthread_create(&t, NULL, loop, NULL);
    loop(NULL);
    return 0;
}
