/* ddb.c: the DynamoDB JSON 1.0 client -- configuration, the connection pool, one call with its
 * retries, and error answers (the protocol, retry rules and errors are in ddb.h).
 *
 * POOL
 *   One CURL easy handle per call in flight, at most max_connections of them; a handle goes back
 *   to the pool after its call with its connection open, so the next call reuses it. A caller
 *   that finds every handle busy waits on a condition variable.
 * SIGNING
 *   CURLOPT_AWS_SIGV4 "aws:amz:REGION:dynamodb" with CURLOPT_USERPWD key:secret; for a service
 *   other than s3 libcurl hashes CURLOPT_POSTFIELDS itself as the payload hash. It signs host,
 *   x-amz-date and every header we add (content-type, x-amz-target, x-amz-security-token): no
 *   two of those names is a prefix of another, so libcurl 7.88's header ordering is right
 *   (store_sigv4.c). */
#include "remote/ddb_internal.h"
#include "store/store.h"
#include "engine/buf.h"
#include "engine/err.h"

#include <assert.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define DEFAULT_CONNECTIONS 32
#define DEFAULT_BASE_MS 50
#define DEFAULT_CAP_MS 20000
#define RESPONSE_MAX ((size_t)64 << 20)  /* BatchGetItem answers up to 16 MB */
#define TARGET_PREFIX "DynamoDB_20120810."

struct ddb_client {
    store_aws_config cfg;
    char *userpwd;               /* "key:secret": only ever handed to libcurl */
    char sigv4[96];
    char *url;                   /* endpoint with a trailing '/' */
    char *endpoint;              /* the same without it, for messages */
    int max_conn, base_ms, cap_ms;
    long timeout_s;
    pthread_mutex_t mu;
    pthread_cond_t freed;
    CURL **idle;                 /* max_conn slots */
    int nidle, busy;
    _Atomic uint64_t n_calls, n_retries;
};

/* ================================================================================================
 * Opening
 * ============================================================================================== */

static int load_config(ddb_client *c, const ddb_config *cfg)
{
    store_options so = STORE_OPTIONS_INIT;
    so.region = cfg->region;
    so.endpoint_url = cfg->endpoint_url;
    so.profile = cfg->profile;
    so.ca_bundle = cfg->ca_bundle;
    so.max_attempts = cfg->max_attempts;
    int rc = store_aws_config_load(&so, "DYNAMODB", &c->cfg);
    if (rc) return err_wrap(rc, "DynamoDB client: ");
    buf b = BUF_INIT;
    if (c->cfg.endpoint) rc = buf_puts(&b, c->cfg.endpoint);
    else rc = buf_printf(&b, "https://dynamodb.%s.amazonaws.com", c->cfg.region);
    while (!rc && b.len && b.data[b.len - 1] == '/') b.data[--b.len] = '\0';
    if (!rc && !(c->endpoint = strdup(b.data))) rc = err_set(TM_ENOMEM, "out of memory");
    if (!rc) rc = buf_putc(&b, '/');
    if (!rc) c->url = buf_detach(&b);
    if (!rc) rc = buf_printf(&b, "%s:%s", c->cfg.access_key, c->cfg.secret_key);
    if (!rc) c->userpwd = buf_detach(&b);
    buf_free(&b);
    snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:dynamodb", c->cfg.region);
    return rc;
}

int ddb_client_open(const ddb_config *cfg, ddb_client **out)
{
    static const ddb_config defaults = DDB_CONFIG_INIT;
    *out = NULL;
    if (!cfg) cfg = &defaults;
    if (cfg->max_connections < 0 || cfg->max_attempts < 0 || cfg->retry_base_ms < 0 ||
        cfg->retry_cap_ms < 0 || cfg->timeout_s < 0)
        return err_set(TM_EINVAL, "DynamoDB client: negative connections, attempts or times");
    int rc = store_curl_init();
    if (rc) return rc;
    ddb_client *c = calloc(1, sizeof *c);
    if (!c) return err_set(TM_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->freed, NULL);
    c->max_conn = cfg->max_connections ? cfg->max_connections : DEFAULT_CONNECTIONS;
    c->base_ms = cfg->retry_base_ms ? cfg->retry_base_ms : DEFAULT_BASE_MS;
    c->cap_ms = cfg->retry_cap_ms ? cfg->retry_cap_ms : DEFAULT_CAP_MS;
    c->timeout_s = cfg->timeout_s ? cfg->timeout_s : 60;
    rc = load_config(c, cfg);
    if (!rc && !(c->idle = calloc((size_t)c->max_conn, sizeof *c->idle)))
        rc = err_set(TM_ENOMEM, "out of memory");
    if (rc) {
        ddb_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void ddb_client_close(ddb_client *c)
{
    if (!c) return;
    for (int i = 0; i < c->nidle; i++) curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    if (c->userpwd) {
        memset(c->userpwd, 0, strlen(c->userpwd));
        free(c->userpwd);
    }
    store_aws_config_free(&c->cfg);
    free(c->url);
    free(c->endpoint);
    pthread_cond_destroy(&c->freed);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const char *ddb_client_endpoint(const ddb_client *c) { return c->endpoint; }

void ddb_client_counts(const ddb_client *c, uint64_t *calls, uint64_t *retries)
{
    if (calls) *calls = atomic_load(&c->n_calls);
    if (retries) *retries = atomic_load(&c->n_retries);
}

/* ================================================================================================
 * The pool
 * ============================================================================================== */

/* A handle for one call, waiting while max_conn are busy. NULL: out of memory. */
static CURL *pool_get(ddb_client *c)
{
    CURL *e = NULL;
    pthread_mutex_lock(&c->mu);
    while (c->busy >= c->max_conn) pthread_cond_wait(&c->freed, &c->mu);
    c->busy++;
    if (c->nidle) e = c->idle[--c->nidle];
    pthread_mutex_unlock(&c->mu);
    if (e) curl_easy_reset(e);  /* keeps the connection */
    else e = curl_easy_init();
    if (!e) {
        pthread_mutex_lock(&c->mu);
        c->busy--;
        pthread_cond_signal(&c->freed);
        pthread_mutex_unlock(&c->mu);
    }
    return e;
}

static void pool_put(ddb_client *c, CURL *e)
{
    pthread_mutex_lock(&c->mu);
    c->idle[c->nidle++] = e;  /* busy <= max_conn, so there is a slot */
    c->busy--;
    pthread_cond_signal(&c->freed);
    pthread_mutex_unlock(&c->mu);
}

/* ================================================================================================
 * Backoff and what is retried
 * ============================================================================================== */

/* Sleeps before try number `attempt + 1`; the batch writer's UnprocessedItems rounds too. */
void ddb_backoff(const ddb_client *c, int attempt)
{
    store_backoff(c->base_ms, c->cap_ms, attempt);
}

static int answer_retryable(const ddb_error *e)
{
    static const char *const throttled[] = {"ProvisionedThroughputExceededException",
                                            "ThrottlingException", "RequestLimitExceeded"};
    if (e->status >= 500 || e->status == 429) return 1;
    for (size_t i = 0; i < sizeof throttled / sizeof *throttled; i++)
        if (!strcmp(e->type, throttled[i])) return 1;
    return 0;
}

/* ================================================================================================
 * Answers
 * ============================================================================================== */

struct answer {
    buf body;
    long crc;                    /* x-amz-crc32, -1 if absent */
    int too_big;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct answer *a = ud;
    size_t n = size * nmemb;
    if (!buf_append(&a->body, p, n)) return n;
    a->too_big = 1;
    return 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct answer *a = ud;
    size_t n = size * nmemb;
    static const char name[] = "x-amz-crc32:";
    if (n >= 5 && !memcmp(p, "HTTP/", 5)) a->crc = -1;  /* a new response */
    else if (n > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1))
        a->crc = strtol(p + sizeof name - 1, NULL, 10);
    return n;
}

/* Copies s into out with the secret key and session token masked, newlines made spaces. */
static void redact(const ddb_client *c, const char *s, size_t n, char *out, size_t cap)
{
    const char *secrets[2] = {c->cfg.secret_key, c->cfg.session_token};
    size_t o = 0;
    for (size_t i = 0; i < n && s[i] && o + 1 < cap;) {
        size_t hit = 0;
        for (int k = 0; k < 2 && !hit; k++) {
            size_t l = secrets[k] ? strlen(secrets[k]) : 0;
            if (l >= 4 && l <= n - i && !memcmp(s + i, secrets[k], l)) hit = l;
        }
        if (hit) {
            int w = snprintf(out + o, cap - o, "[redacted]");
            o = w > 0 && (size_t)w < cap - o ? o + (size_t)w : cap - 1;
            i += hit;
            continue;
        }
        out[o++] = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
        i++;
    }
    out[o] = '\0';
}

/* Fills e->type and e->message from an error answer: {"__type": "...#Name", "message": ...}
 * ("Message" from some services); a body that is not that shape becomes the message. */
static void parse_error(const ddb_client *c, const buf *body, ddb_error *e)
{
    e->type[0] = e->message[0] = '\0';
    cJSON *j = body->data ? cJSON_ParseWithLength(body->data, body->len) : NULL;
    const char *t = j ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "__type")) : NULL;
    const char *m = j ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "message")) : NULL;
    if (j && !m) m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "Message"));
    if (t) {
        const char *h = strrchr(t, '#');
        redact(c, h ? h + 1 : t, strlen(h ? h + 1 : t), e->type, sizeof e->type);
    }
    if (m) redact(c, m, strlen(m), e->message, sizeof e->message);
    else if (!t && body->len) redact(c, body->data, body->len, e->message, 301);
    cJSON_Delete(j);
}

/* ================================================================================================
 * One call
 * ============================================================================================== */

static int make_headers(const ddb_client *c, const char *op, struct curl_slist **h)
{
    char line[256];
    const char *fixed[] = {"Content-Type: application/x-amz-json-1.0", line};
    snprintf(line, sizeof line, "X-Amz-Target: " TARGET_PREFIX "%s", op);
    for (size_t i = 0; i < 2; i++) {
        struct curl_slist *t = curl_slist_append(*h, fixed[i]);
        if (!t) return err_set(TM_ENOMEM, "out of memory");
        *h = t;
    }
    if (c->cfg.session_token) {
        buf b = BUF_INIT;
        int rc = buf_printf(&b, "X-Amz-Security-Token: %s", c->cfg.session_token);
        struct curl_slist *t = rc ? NULL : curl_slist_append(*h, b.data);
        if (b.data) memset(b.data, 0, b.len);
        buf_free(&b);
        if (!t) return rc ? rc : err_set(TM_ENOMEM, "out of memory");
        *h = t;
    }
    return 0;
}

static void set_options(const ddb_client *c, CURL *e, struct curl_slist *h, const char *body,
                        size_t len, struct answer *a, char *errbuf)
{
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(e, CURLOPT_USERPWD, c->userpwd);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    store_curl_transport(e, c->timeout_s, c->cfg.ca_bundle, errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
}

/* One try. Returns 1 when the answer (or transport failure) in e may be retried, 0 when final
 * (success: e->status 200), < 0 on a local failure. */
static int try_once(ddb_client *c, struct curl_slist *h, const char *body, size_t len,
                    struct answer *a, ddb_error *e)
{
    char errbuf[CURL_ERROR_SIZE];
    CURL *x = pool_get(c);
    if (!x) return err_set(TM_ENOMEM, "out of memory");
    buf_reset(&a->body);
    a->crc = -1;
    a->too_big = 0;
    set_options(c, x, h, body, len, a, errbuf);
    CURLcode r = curl_easy_perform(x);
    e->status = 0;
    if (r == CURLE_OK) curl_easy_getinfo(x, CURLINFO_RESPONSE_CODE, &e->status);
    pool_put(c, x);
    if (r == CURLE_WRITE_ERROR && a->too_big)
        return err_set(TM_ELIMIT, "DynamoDB answer larger than %zu bytes", a->body.max);
    if (r != CURLE_OK) {
        e->type[0] = '\0';
        redact(c, errbuf[0] ? errbuf : curl_easy_strerror(r), SIZE_MAX, e->message,
               sizeof e->message);
        return store_curl_retryable(r);
    }
    if (a->crc >= 0 && (unsigned long)a->crc !=
                           crc32(0L, (const Bytef *)(a->body.data ? a->body.data : ""),
                                 (uInt)a->body.len)) {
        e->type[0] = '\0';
        snprintf(e->message, sizeof e->message, "the answer's x-amz-crc32 does not match it");
        return 1;
    }
    if (e->status == 200) return 0;
    parse_error(c, &a->body, e);
    return answer_retryable(e);
}

static int call_error(const ddb_client *c, const char *op, const ddb_error *e)
{
    int code = TM_EREMOTE;
    if (!strcmp(e->type, "ConditionalCheckFailedException")) code = TM_ECONDITION;
    else if (!strcmp(e->type, "ResourceNotFoundException")) code = TM_ENOTFOUND;
    char tries[48] = "";
    if (e->attempts > 1) snprintf(tries, sizeof tries, " (gave up after %d attempts)", e->attempts);
    if (!e->status)
        return err_set(code, "DynamoDB %s %s: %s%s", op, c->endpoint, e->message, tries);
    return err_set(code, "DynamoDB %s %s: HTTP %ld %s%s%s%s", op, c->endpoint, e->status,
                   e->type[0] ? e->type : "(no error type)", e->message[0] ? ": " : "",
                   e->message, tries);
}

int ddb_call(ddb_client *c, const char *operation, const cJSON *request, cJSON **response,
             ddb_error *err)
{
    ddb_error local;
    assert(request && operation);
    ddb_error *e = err ? err : &local;
    memset(e, 0, sizeof *e);
    *response = NULL;
    struct curl_slist *h = NULL;
    struct answer a = {BUF_INIT_MAX(RESPONSE_MAX), -1, 0};
    char *body = cJSON_PrintUnformatted(request);
    int rc = body ? make_headers(c, operation, &h) : err_set(TM_ENOMEM, "out of memory");
    if (rc) goto out;
    atomic_fetch_add(&c->n_calls, 1);
    size_t len = strlen(body);
    for (;;) {
        int retry = try_once(c, h, body, len, &a, e);
        e->attempts++;
        if (retry < 0) {
            rc = retry;
            goto out;
        }
        if (!retry || e->attempts >= c->cfg.max_attempts) break;
        atomic_fetch_add(&c->n_retries, 1);
        ddb_backoff(c, e->attempts);
    }
    if (e->status != 200) {
        rc = call_error(c, operation, e);
        /* ReturnValuesOnConditionCheckFailure: the item as it is, for the caller's report. */
        if (rc == TM_ECONDITION && a.body.data)
            *response = cJSON_ParseWithLength(a.body.data, a.body.len);
        goto out;
    }
    *response = cJSON_ParseWithLength(a.body.data ? a.body.data : "", a.body.len);
    if (!*response) {
        e->type[0] = '\0';
        snprintf(e->message, sizeof e->message, "answer is not JSON");
        rc = err_set(TM_EREMOTE, "DynamoDB %s %s: HTTP 200 but the answer is not JSON", operation,
                     c->endpoint);
    }
out:
    curl_slist_free_all(h);
    cJSON_free(body);
    buf_free(&a.body);
    return rc;
}
