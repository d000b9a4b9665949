/* serve_client.c: the load client of bench/60-serve.sh: C clients with libcurl keep-alive
 * (one connection per client thread), the same program against every DynamoDB endpoint.
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
 * cores they share, so it measured the client. */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The headers of one signed request (content type, target, date, authorization). */
static struct curl_slist *sign(signer *g, const char *target, const char *body)
{
    char date[17], creq[1024], sts[512], bh[65], ch[65], sig[65], line[768], first[300];
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
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
    snprintf(line, sizeof line, "X-Amz-Target: %s", target);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Amz-Date: %s", date);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/dynamodb/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s", g->id, g->day, sig);
    return curl_slist_append(h, line);
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

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
    sink *s = ctx;
    size_t m = sz * n, room = sizeof s->data - 1 - s->len;
    memcpy(s->data + s->len, p, m < room ? m : room);
    s->len += m < room ? m : room;
    s->data[s->len] = '\0';
    return sz * n;
}

/* One connection: a curl handle (keep-alive) and what each request's headers need. */
typedef struct conn {
    CURL *c;
    char target[128];
    struct curl_slist *h;           /* the current request's headers */
    signer *g;                      /* NULL: unsigned */
} conn;

static void conn_open(conn *k, const char *url, const char *op)
{
    memset(k, 0, sizeof *k);
    k->c = curl_easy_init();
    snprintf(k->target, sizeof k->target, "DynamoDB_20120810.%s", op);
    curl_easy_setopt(k->c, CURLOPT_URL, url);
    curl_easy_setopt(k->c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(k->c, CURLOPT_WRITEFUNCTION, on_data);
    if (getenv("SIGV4") && getenv("AWS_ACCESS_KEY_ID") && (k->g = calloc(1, sizeof *k->g))) {
        const char *p = strstr(url, "://");
        k->g->id = getenv("AWS_ACCESS_KEY_ID");
        k->g->secret = getenv("AWS_SECRET_ACCESS_KEY") ? getenv("AWS_SECRET_ACCESS_KEY") : "";
        snprintf(k->g->host, sizeof k->g->host, "%s", p ? p + 3 : url);
        k->g->host[strcspn(k->g->host, "/")] = '\0';
    } else {
        char line[160];
        k->h = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
        snprintf(line, sizeof line, "X-Amz-Target: %s", k->target);
        k->h = curl_slist_append(k->h, line);
        curl_easy_setopt(k->c, CURLOPT_HTTPHEADER, k->h);
    }
}

static void conn_close(conn *k)
{
    curl_easy_cleanup(k->c);
    curl_slist_free_all(k->h);
    free(k->g);
}

/* One request; 0 on HTTP 200. */
static int call(conn *k, const char *body, sink *s)
{
    long code = 0;
    s->len = 0;
    s->data[0] = '\0';
    if (k->g) {
        curl_slist_free_all(k->h);
        k->h = sign(k->g, k->target, body);
        curl_easy_setopt(k->c, CURLOPT_HTTPHEADER, k->h);
    }
    curl_easy_setopt(k->c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(k->c, CURLOPT_WRITEDATA, s);
    if (curl_easy_perform(k->c) != CURLE_OK) return -1;
    curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &code);
    return code == 200 ? 0 : -1;
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
    curl_global_init(CURL_GLOBAL_ALL);
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
