/* serve_client.c: the load client of bench/60-serve.sh: C client threads, each with one
 * keep-alive HTTP/1.1 connection, the same program against every DynamoDB endpoint.
 *
 *   serve_client URL create TABLE
 *   serve_client URL put|get TABLE CLIENTS SECONDS [KEYS]
 *
 * create: CreateTable (pk S), then DescribeTable until ACTIVE. put: each client writes items
 * {"pk":"c<client>-<n>", "v": 100 bytes} for SECONDS; get: each client reads random keys among
 * c0-0 .. c0-(KEYS-1) (written by a one-client put). Prints one JSON line: ops, seconds, ops/s,
 * p50/p99/max latency in ms, errors. With SIGV4=1 in the environment, requests are signed
 * (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, us-east-1, AWS Signature Version 4) here, with the
 * signing key derived once per day as the AWS SDKs do (the JavaScript SDK caches it): libcurl's
 * CURLOPT_AWS_SIGV4 derived it for every request and took more CPU than either server, on the
 * cores they share, so it measured the client. For the same reason the HTTP is written by hand
 * (conn below): with libcurl the client took 54% of both cores in an 8-client GetItem run. URL:
 * http://IPv4:PORT/. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ================================================================ SigV4 */

typedef struct signer {
    const char *id, *secret;
    char host[256], day[9];
    unsigned char key[32];
} signer;

static void hexs(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void hmac(const void *key, size_t kn, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)msg, strlen(msg), out, &len);
}

static void sha_hex(const char *p, size_t n, char out[65])
{
    unsigned char d[32];
    SHA256((const unsigned char *)p, n, d);
    hexs(d, 32, out);
}

/* The signed headers of one request (date, authorization), each line ending in CRLF. */
static int sign(signer *g, const char *target, const char *body, char *out, size_t cap)
{
    char date[17], creq[1024], sts[512], bh[65], ch[65], sig[65], first[300];
    unsigned char k[32], mac[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    if (strncmp(g->day, date, 8)) {
        memcpy(g->day, date, 8);
        g->day[8] = '\0';
        snprintf(first, sizeof first, "AWS4%s", g->secret);
        hmac(first, strlen(first), g->day, k);
        hmac(k, 32, "us-east-1", k);
        hmac(k, 32, "dynamodb", k);
        hmac(k, 32, "aws4_request", g->key);
    }
    sha_hex(body, strlen(body), bh);
    int n = snprintf(creq, sizeof creq, "POST\n/\n\ncontent-type:application/x-amz-json-1.0\nhost:%s\n"
                     "x-amz-date:%s\nx-amz-target:%s\n\ncontent-type;host;x-amz-date;x-amz-target\n%s",
                     g->host, date, target, bh);
    sha_hex(creq, (size_t)n, ch);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/us-east-1/dynamodb/aws4_request\n%s", date, g->day, ch);
    hmac(g->key, 32, sts, mac);
    hexs(mac, 32, sig);
    return snprintf(out, cap, "X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/"
                    "dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                    "Signature=%s\r\n", date, g->id, g->day, sig);
}

/* ================================================================ clients */

typedef struct client {
    int id;
    const char *url, *table, *op;
    double seconds;
    long keys;
    double *lat;            /* ms */
    size_t n, cap;
    long errors;
    char last_error[256];
} client;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct sink {
    char data[4096];
    size_t len;
} sink;

/* One keep-alive connection, HTTP/1.1 by hand: a load generator's few lines (as wrk's) where
 * libcurl's per-request work was the larger part of the client's CPU, on the cores the server
 * under test shares. Responses with Content-Length or chunked bodies. */
typedef struct conn {
    int fd;                         /* -1: connect at the next request */
    struct sockaddr_in addr;
    char host[256];                 /* host:port, as the Host header and the signature have it */
    char target[128];
    signer *g;                      /* NULL: unsigned */
    char in[65536];
    size_t have, used;              /* bytes read into in, bytes of them consumed */
} conn;

static void conn_open(conn *k, const char *url, const char *op)
{
    memset(k, 0, sizeof *k);
    k->fd = -1;
    const char *p = strstr(url, "://");
    snprintf(k->host, sizeof k->host, "%s", p ? p + 3 : url);
    k->host[strcspn(k->host, "/")] = '\0';
    char name[256];
    snprintf(name, sizeof name, "%s", k->host);
    char *colon = strrchr(name, ':');
    int port = 80;
    if (colon) {
        *colon = '\0';
        port = atoi(colon + 1);
    }
    k->addr.sin_family = AF_INET;
    k->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, !strcmp(name, "localhost") ? "127.0.0.1" : name, &k->addr.sin_addr) != 1) {
        fprintf(stderr, "serve_client: %s: an IPv4 address is wanted\n", url);
        exit(2);
    }
    snprintf(k->target, sizeof k->target, "DynamoDB_20120810.%s", op);
    if (getenv("SIGV4") && getenv("AWS_ACCESS_KEY_ID") && (k->g = calloc(1, sizeof *k->g))) {
        k->g->id = getenv("AWS_ACCESS_KEY_ID");
        k->g->secret = getenv("AWS_SECRET_ACCESS_KEY") ? getenv("AWS_SECRET_ACCESS_KEY") : "";
        snprintf(k->g->host, sizeof k->g->host, "%s", k->host);
    }
}

static void conn_drop(conn *k)
{
    if (k->fd >= 0) close(k->fd);
    k->fd = -1;
    k->have = k->used = 0;
}

static void conn_close(conn *k)
{
    conn_drop(k);
    free(k->g);
}

/* More bytes into k->in (compacting what was consumed); 0, or -1 at EOF or an error. */
static int conn_fill(conn *k)
{
    if (k->used) {
        memmove(k->in, k->in + k->used, k->have - k->used);
        k->have -= k->used;
        k->used = 0;
    }
    if (k->have == sizeof k->in) return -1;
    ssize_t n = read(k->fd, k->in + k->have, sizeof k->in - k->have);
    if (n <= 0) return -1;
    k->have += (size_t)n;
    return 0;
}

/* The end of the line starting at k->in + at, reading more as needed: its offset, or -1. */
static long conn_line(conn *k, size_t at)
{
    for (;;) {
        char *e = memmem(k->in + k->used + at, k->have - k->used - at, "\r\n", 2);
        if (e) return e - (k->in + k->used);
        if (conn_fill(k)) return -1;
    }
}

/* Appends n body bytes (what fits) to s, reading more as needed. */
static int conn_body(conn *k, size_t n, sink *s)
{
    while (n) {
        if (k->used == k->have && conn_fill(k)) return -1;
        size_t m = k->have - k->used < n ? k->have - k->used : n;
        size_t room = sizeof s->data - 1 - s->len, c = m < room ? m : room;
        memcpy(s->data + s->len, k->in + k->used, c);
        s->len += c;
        s->data[s->len] = '\0';
        k->used += m;
        n -= m;
    }
    return 0;
}

/* One request; 0 on HTTP 200. */
static int call(conn *k, const char *body, sink *s)
{
    char req[8192], sig[1024] = "";
    s->len = 0;
    s->data[0] = '\0';
    if (k->fd < 0) {
        int one = 1;
        if ((k->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) return -1;
        setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(k->fd, (struct sockaddr *)&k->addr, sizeof k->addr)) {
            conn_drop(k);
            return -1;
        }
    }
    if (k->g) sign(k->g, k->target, body, sig, sizeof sig);
    size_t bn = strlen(body);
    int n = snprintf(req, sizeof req, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\n"
                     "X-Amz-Target: %s\r\n%sContent-Length: %zu\r\n\r\n%s", k->host, k->target, sig, bn, body);
    for (int off = 0; off < n;) {
        ssize_t w = write(k->fd, req + off, (size_t)(n - off));
        if (w <= 0) {
            conn_drop(k);
            return -1;
        }
        off += (int)w;
    }
    /* status line, headers, body */
    long e = conn_line(k, 0);
    if (e < 12 || strncmp(k->in + k->used, "HTTP/1.", 7)) goto fail;
    int code = atoi(k->in + k->used + 9);
    long clen = -1;
    int chunked = 0, closing = 0;
    k->used += (size_t)e + 2;
    for (;;) {
        if ((e = conn_line(k, 0)) < 0) goto fail;
        char *h = k->in + k->used;
        h[e] = '\0';
        k->used += (size_t)e + 2;
        if (e == 0) break;
        if (!strncasecmp(h, "content-length:", 15)) clen = atol(h + 15);
        else if (!strncasecmp(h, "transfer-encoding:", 18) && strcasestr(h, "chunked")) chunked = 1;
        else if (!strncasecmp(h, "connection:", 11) && strcasestr(h, "close")) closing = 1;
    }
    if (chunked) {
        for (;;) {
            if ((e = conn_line(k, 0)) < 0) goto fail;
            size_t cn = strtoul(k->in + k->used, NULL, 16);
            k->used += (size_t)e + 2;
            if (cn == 0) {
                if (conn_line(k, 0) < 0) goto fail;   /* the empty line after the last chunk */
                k->used += 2;
                break;
            }
            if (conn_body(k, cn, s) || conn_line(k, 0) < 0) goto fail;
            k->used += 2;
        }
    } else if (clen >= 0) {
        if (conn_body(k, (size_t)clen, s)) goto fail;
    } else {
        goto fail;
    }
    if (closing) conn_drop(k);
    return code == 200 ? 0 : -1;
fail:
    conn_drop(k);
    return -1;
}

static void *run(void *arg)
{
    client *k = arg;
    conn c;
    conn_open(&c, k->url, !strcmp(k->op, "put") ? "PutItem" : "GetItem");
    char body[512], pad[101];
    sink s;
    unsigned seed = (unsigned)k->id * 7919u + 1;
    memset(pad, 'x', 100);
    pad[100] = '\0';
    double end = now_s() + k->seconds;
    for (long i = 0;; i++) {
        double t0 = now_s();
        if (t0 >= end) break;
        if (!strcmp(k->op, "put"))
            snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"c%d-%ld\"},"
                     "\"v\":{\"S\":\"%s\"}}}", k->table, k->id, i, pad);
        else
            snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"c0-%ld\"}}}",
                     k->table, (long)(rand_r(&seed) % (k->keys > 0 ? k->keys : 1)));
        int rc = call(&c, body, &s);
        double ms = (now_s() - t0) * 1e3;
        if (rc || (!strcmp(k->op, "get") && !strstr(s.data, "\"Item\""))) {
            k->errors++;
            snprintf(k->last_error, sizeof k->last_error, "%.200s", s.data);
            continue;
        }
        if (k->n == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 65536;
            k->lat = realloc(k->lat, k->cap * sizeof *k->lat);
        }
        k->lat[k->n++] = ms;
    }
    conn_close(&c);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int create(const char *url, const char *table)
{
    conn c, d;
    conn_open(&c, url, "CreateTable");
    conn_open(&d, url, "DescribeTable");
    char body[512];
    sink s;
    snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
             "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
             "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]}", table);
    int rc = call(&c, body, &s);
    if (rc) fprintf(stderr, "CreateTable: %s\n", s.data);
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", table);
    for (int i = 0; !rc && i < 200; i++) {
        if (!call(&d, body, &s) && strstr(s.data, "\"ACTIVE\"")) break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    conn_close(&c);
    conn_close(&d);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: serve_client URL create TABLE | URL put|get TABLE CLIENTS SECONDS [KEYS]\n");
        return 2;
    }
    if (!strcmp(argv[2], "create")) return create(argv[1], argv[3]);
    if (argc < 6) return 2;
    int nc = atoi(argv[4]);
    double secs = atof(argv[5]);
    long keys = argc > 6 ? atol(argv[6]) : 1;
    client *k = calloc((size_t)nc, sizeof *k);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < nc; i++) {
        k[i] = (client){i, argv[1], argv[3], argv[2], secs, keys, NULL, 0, 0, 0, ""};
        pthread_create(&th[i], NULL, run, &k[i]);
    }
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < nc; i++) {
        pthread_join(th[i], NULL);
        total += k[i].n;
        errors += k[i].errors;
    }
    double el = now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t j = 0;
    for (int i = 0; i < nc; i++) {
        memcpy(all + j, k[i].lat, k[i].n * sizeof *all);
        j += k[i].n;
    }
    qsort(all, total, sizeof *all, cmp_d);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)(total * 0.99)] : 0;
    double mx = total ? all[total - 1] : 0;
    printf("{\"op\":\"%s\",\"clients\":%d,\"ops\":%zu,\"seconds\":%.3f,\"ops_per_s\":%.0f,"
           "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%ld}\n", argv[2], nc, total, el,
           total / el, p50, p99, mx, errors);
    for (int i = 0; i < nc && errors; i++)
        if (k[i].errors) {
            fprintf(stderr, "serve_client: client %d: %ld errors, last: %s\n", i, k[i].errors, k[i].last_error);
            break;
        }
    return errors ? 1 : 0;
}
