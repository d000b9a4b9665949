/* http_floor.c: the fastest "server" bench/60-serve.sh can measure on this machine: a thread
 * per connection (as tidemark serve and the fastest design measured here: with 8 and 32
 * clients it beat epoll threads by 4-30%) that reads each HTTP/1.1 request (headers, then
 * Content-Length bytes of body) and answers every one with the same 200 GetItem response,
 * parsing, checking and storing nothing. Run with the same client as tidemark and dynalite,
 * it bounds what any DynamoDB endpoint can reach with that client on these cores (the
 * client's own CPU and the kernel's loopback TCP are all that is left), so a goal above it
 * cannot be met here.
 *
 *   http_floor PORT        (listens on 127.0.0.1:PORT until killed) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define ITEM "{\"Item\":{\"pk\":{\"S\":\"c0-1\"},\"v\":{\"S\":\"" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}"

static char resp[1024];
static size_t resp_len;

/* One connection: answers every whole request it has read, until EOF or an error. */
static void *serve_conn(void *arg)
{
    int fd = (int)(long)arg;
    char in[16384];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, in + have, sizeof in - have);
        if (r <= 0) break;
        have += (size_t)r;
        char *end;
        while ((end = memmem(in, have, "\r\n\r\n", 4))) {
            size_t head = (size_t)(end - in) + 4, body = 0;
            for (char *p = in; p < end; p++)
                if ((p == in || p[-1] == '\n') && !strncasecmp(p, "content-length:", 15))
                    body = strtoul(p + 15, NULL, 10);
            if (head + body > sizeof in) goto out;
            if (have < head + body) break;
            if (write(fd, resp, resp_len) != (ssize_t)resp_len) goto out;
            memmove(in, in + head + body, have - head - body);
            have -= head + body;
        }
        if (have == sizeof in) break;
    }
out:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: http_floor PORT\n");
        return 2;
    }
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 512)) {
        perror("http_floor: listen");
        return 1;
    }
    resp_len = (size_t)snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                                "Content-Length: %zu\r\n\r\n%s", strlen(ITEM), ITEM);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(long)fd)) close(fd);
        else pthread_detach(t);
    }
}
