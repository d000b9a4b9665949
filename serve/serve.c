/* serve.c: the HTTP side of `tidemark serve` on libmicrohttpd: a thread per connection (an
 * operation may wait for an fsync; writes of many connections meet in the engine's group
 * commit, reads run in parallel), keep-alive, the request body bounded by max_body.
 *
 * A request: POST / with X-Amz-Target "DynamoDB_20120810.<Operation>" and a JSON body ->
 * SigV4 check (auth.c) -> tm_call (or jobs.c for the long operations) -> the JSON response, or
 * the error {"__type","message"} with the error table's HTTP status. Every response carries
 * x-amz-crc32 (the CRC-32 of the body, as DynamoDB sends it; SDKs check it) and
 * x-amzn-RequestId. GET / answers "healthy: tidemark" (DynamoDB's health check answers so). */
#include "serve/serve_internal.h"
#include "api/backup.h"
#include "engine/buf.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define TARGET_PREFIX "DynamoDB_20120810."
#define CONTENT_TYPE "application/x-amz-json-1.0"
#define DRAIN_WAIT_S 60            /* how long a stop waits for the requests in flight */

typedef struct server {
    const serve_options *o;
    tm_db *db;
    serve_auth *auth;               /* NULL: --no-auth */
    serve_jobs *jobs;
    size_t max_body;
    atomic_uint inflight;
    pthread_mutex_t log_mu;
} server;

typedef struct request_state {
    buf body;
    int too_big;
} request_state;

static void slog(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(server *s, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    if (!s->o->log) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->log_mu);
    s->o->log(s->o->log_ctx, line);
    pthread_mutex_unlock(&s->log_mu);
}

static void log_line(void *ctx, const char *line) { slog(ctx, "%s", line); }

/* ================================================================ the request's parts */

const char *serve_header_get(const serve_request *r, const char *lname)
{
    for (size_t i = 0; i < r->nh; i++)
        if (!strcasecmp(r->h[i].name, lname)) return r->h[i].value;
    return NULL;
}

/* The headers or query arguments of one request, borrowed from libmicrohttpd (valid until the
 * response is queued): copying each one cost two mallocs per header per request. Only a
 * repeated header's joined value is allocated (own[i], beside v[i]). */
#define VEC_INLINE 24

typedef struct vec {
    serve_header *v;
    char **own;
    size_t n, cap;
    int join;                       /* headers: repeated names joined (SigV4's rule) */
    serve_header inline_v[VEC_INLINE];
    char *inline_own[VEC_INLINE];
} vec;

static void vec_init(vec *x, int join)
{
    x->v = x->inline_v;
    x->own = x->inline_own;
    x->n = 0;
    x->cap = VEC_INLINE;
    x->join = join;
}

static int vec_grow(vec *x)
{
    size_t cap = 2 * x->cap;
    serve_header *nv = malloc(cap * sizeof *nv);
    char **no = malloc(cap * sizeof *no);
    if (!nv || !no) {
        free(nv);
        free(no);
        return -1;
    }
    memcpy(nv, x->v, x->n * sizeof *nv);
    memcpy(no, x->own, x->n * sizeof *no);
    if (x->v != x->inline_v) {
        free(x->v);
        free(x->own);
    }
    x->v = nv;
    x->own = no;
    x->cap = cap;
    return 0;
}

/* A repeated header: one value, joined with ',' (SigV4's rule). */
static int join_value(vec *x, size_t i, const char *value)
{
    size_t a = strlen(x->v[i].value), b = strlen(value);
    char *nv = realloc(x->own[i], a + b + 2);
    if (!nv) return -1;
    if (!x->own[i]) memcpy(nv, x->v[i].value, a);
    nv[a] = ',';
    memcpy(nv + a + 1, value, b + 1);
    x->own[i] = nv;
    x->v[i].value = nv;
    return 0;
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    vec *x = cls;
    if (!value) value = "";
    if (x->join)
        for (size_t i = 0; i < x->n; i++)
            if (!strcasecmp(x->v[i].name, key)) return join_value(x, i, value) ? MHD_NO : MHD_YES;
    if (x->n == x->cap && vec_grow(x)) return MHD_NO;
    x->v[x->n].name = key;
    x->v[x->n].value = value;
    x->own[x->n] = NULL;
    x->n++;
    return MHD_YES;
}

static void vec_free(vec *x)
{
    for (size_t i = 0; i < x->n; i++) free(x->own[i]);
    if (x->v != x->inline_v) {
        free(x->v);
        free(x->own);
    }
}

/* ================================================================ responses */

static unsigned char rid_prefix[8];

static void request_id_init(void)
{
    if (getrandom(rid_prefix, sizeof rid_prefix, 0) != (ssize_t)sizeof rid_prefix)
        memset(rid_prefix, 0, sizeof rid_prefix);
}

/* x-amzn-RequestId: a random prefix drawn once and a counter (a getrandom per response cost
 * a system call on every request), 32 hex digits. */
static void request_id(char out[40])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static atomic_ullong counter;
    unsigned char r[16];
    pthread_once(&once, request_id_init);
    unsigned long long n = atomic_fetch_add(&counter, 1);
    memcpy(r, rid_prefix, 8);
    for (int i = 0; i < 8; i++) r[8 + i] = (unsigned char)(n >> (56 - 8 * i));
    store_hex(r, 16, out);
}

/* v in decimal (the x-amz-crc32 header), without printf's cost on every response. */
static void u32_dec(uint32_t v, char out[11])
{
    char t[10];
    int n = 0;
    do t[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    for (int i = 0; i < n; i++) out[i] = t[n - 1 - i];
    out[n] = '\0';
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, char *text, size_t len,
                                 const char *type)
{
    char crc[16], rid[40];
    request_id(rid);
    u32_dec((uint32_t)crc32(0L, (const Bytef *)text, (uInt)len), crc);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "x-amz-crc32", crc);
    MHD_add_response_header(resp, "x-amzn-RequestId", rid);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const cJSON *body)
{
    char *text = cJSON_PrintBuffered(body, 512, 0);   /* one allocation for a small answer */
    if (!text) return MHD_NO;
    return send_text(c, status, text, strlen(text), CONTENT_TYPE);
}

static enum MHD_Result send_error(server *s, struct MHD_Connection *c, const tm_error *e,
                                  const char *op, unsigned status)
{
    cJSON *b = tm_error_json(e);
    if (!status) status = (unsigned)tm_err_http(e->kind);
    if (status >= 500) slog(s, "%s: %s: %s", op ? op : "request", tm_err_name(e->kind), e->message);
    enum MHD_Result r = send_json(c, status, b);
    cJSON_Delete(b);
    return r;
}

/* The backup operations' responses carry Tidemark* members for tidemark's own programs. */
static int is_backup_op(const char *op)
{
    return strstr(op, "Export") || strstr(op, "Import") || !strcmp(op, "RestoreTableToPointInTime");
}

/* ================================================================ one request */

static int authenticate(server *s, struct MHD_Connection *c, const char *url, const char *method,
                        request_state *st, tm_error *e)
{
    vec h, q;
    vec_init(&h, 1);
    vec_init(&q, 0);
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect, &h);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, &q);
    serve_request r = {method, url, q.v, q.n, h.v, h.n, st->body.data, st->body.len};
    int k = auth_check(s->auth, &r, clock_now_us() / 1000000, e);
    vec_free(&h);
    vec_free(&q);
    return k;
}

static enum MHD_Result answer(server *s, struct MHD_Connection *c, const char *url, const char *method,
                              request_state *st)
{
    tm_error e = {0, ""};
    if (!strcmp(method, "GET") && !strcmp(url, "/")) {
        char *t = strdup("healthy: tidemark");
        return t ? send_text(c, 200, t, strlen(t), "text/plain") : MHD_NO;
    }
    if (strcmp(method, "POST")) {
        tm_error_set(&e, TM_ERR_UNKNOWN_OPERATION, "only POST / is served (got %s %s)", method, url);
        return send_error(s, c, &e, NULL, 0);
    }
    if (st->too_big) {
        tm_error_set(&e, TM_ERR_VALIDATION, "Request size exceeds %zu bytes", s->max_body);
        return send_error(s, c, &e, NULL, 413);
    }
    if (s->auth && authenticate(s, c, url, method, st, &e)) return send_error(s, c, &e, NULL, 0);
    const char *target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
    if (!target || strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX))) {
        tm_error_set(&e, TM_ERR_UNKNOWN_OPERATION, "X-Amz-Target must be " TARGET_PREFIX
                     "<Operation>%s%s", target ? ", not " : "", target ? target : "");
        return send_error(s, c, &e, NULL, 0);
    }
    const char *op = target + strlen(TARGET_PREFIX);
    if (!tm_op_find(op)) {
        tm_error_set(&e, TM_ERR_UNKNOWN_OPERATION, "Unknown operation: %s", op);
        return send_error(s, c, &e, op, 0);
    }
    cJSON *req = cJSON_ParseWithLength(st->body.data ? st->body.data : "", st->body.len);
    if (!cJSON_IsObject(req)) {
        cJSON_Delete(req);
        tm_error_set(&e, TM_ERR_SERIALIZATION, "the request body is not a JSON object");
        return send_error(s, c, &e, op, 0);
    }
    cJSON *resp = NULL;
    int k = jobs_handles(op) ? jobs_start(s->jobs, op, req, &resp, &e) : tm_call(s->db, op, req, &resp, &e);
    cJSON_Delete(req);
    if (k) return send_error(s, c, &e, op, 0);
    if (is_backup_op(op)) api_backup_strip(resp);
    enum MHD_Result r = send_json(c, 200, resp);
    cJSON_Delete(resp);
    return r;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **ptr)
{
    (void)version;
    server *s = cls;
    request_state *st = *ptr;
    if (!st) {   /* the headers are in: the body follows in later calls */
        if (!(st = calloc(1, sizeof *st))) return MHD_NO;
        st->body.max = s->max_body;
        *ptr = st;
        atomic_fetch_add(&s->inflight, 1);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_big && buf_append(&st->body, upload, *upload_size)) st->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    return answer(s, c, url, method, st);
}

static void completed(void *cls, struct MHD_Connection *c, void **ptr, enum MHD_RequestTerminationCode t)
{
    (void)c;
    (void)t;
    server *s = cls;
    request_state *st = *ptr;
    if (!st) return;
    buf_free(&st->body);
    free(st);
    *ptr = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* ================================================================ run */

static int parse_listen(const char *l, struct sockaddr_in *sa, tm_error *e)
{
    char host[256];
    unsigned port;
    const char *colon = strrchr(l, ':');
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (!colon || colon == l || (size_t)(colon - l) >= sizeof host || sscanf(colon + 1, "%u", &port) != 1 ||
        port > 65535)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "--listen %s: expected HOST:PORT (127.0.0.1:8000)", l);
    snprintf(host, sizeof host, "%.*s", (int)(colon - l), l);
    if (!strcmp(host, "localhost")) snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "--listen %s: %s is not an IPv4 address", l, host);
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

static void drain(server *s)
{
    for (int i = 0; i < DRAIN_WAIT_S * 100 && atomic_load(&s->inflight); i++) usleep(10000);
    if (atomic_load(&s->inflight))
        slog(s, "stop: %u requests still running after %d s; closing", atomic_load(&s->inflight), DRAIN_WAIT_S);
}

int serve_run(const serve_options *o, volatile sig_atomic_t *stop, tm_error *e)
{
    server s;
    struct sockaddr_in sa;
    int k;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.max_body = o->max_body ? o->max_body : SERVE_MAX_BODY;
    pthread_mutex_init(&s.log_mu, NULL);
    if ((k = parse_listen(o->listen ? o->listen : "127.0.0.1:8000", &sa, e))) goto out;
    if (!o->no_auth && (k = auth_open(o->credentials, &s.auth, e))) goto out;
    if ((k = tm_db_open(o->home, TM_DB_KEEP_OPEN, &s.db, e))) goto out;
    tm_db_set_notice(s.db, log_line, &s);
    if ((k = jobs_open(s.db, log_line, &s, &s.jobs, e))) goto out;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC, 0,
        NULL, NULL, handler, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections : 1024u,
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : 120u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, &s, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        MHD_OPTION_END);
    if (!d) {
        k = tm_error_set(e, TM_ERR_IO, "cannot listen on %s (in use, or not an address of this "
                         "machine)", o->listen ? o->listen : "127.0.0.1:8000");
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : ntohs(sa.sin_port);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
    slog(&s, "listening on http://%s:%u (data %s)", addr, port, o->home);
    if (o->no_auth) slog(&s, "--no-auth: requests are NOT authenticated; any client may read and write");
    else slog(&s, "SigV4 required: %zu key pair%s", auth_count(s.auth), auth_count(s.auth) == 1 ? "" : "s");
    if (o->ready) o->ready(o->log_ctx, port);
    while (!*stop) usleep(50000);
    slog(&s, "stopping: finishing the requests in flight");
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    drain(&s);
    MHD_stop_daemon(d);
out:
    jobs_close(s.jobs);
    auth_free(s.auth);
    tm_db_close(s.db);
    if (!k) slog(&s, "stopped");
    pthread_mutex_destroy(&s.log_mu);
    return k;
}
