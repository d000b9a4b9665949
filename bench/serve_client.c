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
 * (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, us-east-1) by libcurl. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static CURL *handle(const char *url, struct curl_slist **h, const char *op)
{
    char target[128], up[256];
    CURL *c = curl_easy_init();
    snprintf(target, sizeof target, "X-Amz-Target: DynamoDB_20120810.%s", op);
    *h = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
    *h = curl_slist_append(*h, target);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *h);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    if (getenv("SIGV4") && getenv("AWS_ACCESS_KEY_ID")) {
        snprintf(up, sizeof up, "%s:%s", getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"));
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:dynamodb");
        curl_easy_setopt(c, CURLOPT_USERPWD, up);
    }
    return c;
}

/* One request; 0 on HTTP 200. */
static int call(CURL *c, const char *body, sink *s)
{
    long code = 0;
    s->len = 0;
    s->data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    if (curl_easy_perform(c) != CURLE_OK) return -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    return code == 200 ? 0 : -1;
}

static void *run(void *arg)
{
    client *k = arg;
    struct curl_slist *h;
    CURL *c = handle(k->url, &h, !strcmp(k->op, "put") ? "PutItem" : "GetItem");
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
        int rc = call(c, body, &s);
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
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int create(const char *url, const char *table)
{
    struct curl_slist *h, *h2;
    CURL *c = handle(url, &h, "CreateTable"), *d = handle(url, &h2, "DescribeTable");
    char body[512];
    sink s;
    snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
             "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
             "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]}", table);
    int rc = call(c, body, &s);
    if (rc) fprintf(stderr, "CreateTable: %s\n", s.data);
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", table);
    for (int i = 0; !rc && i < 200; i++) {
        if (!call(d, body, &s) && strstr(s.data, "\"ACTIVE\"")) break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    curl_easy_cleanup(c);
    curl_easy_cleanup(d);
    curl_slist_free_all(h);
    curl_slist_free_all(h2);
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
