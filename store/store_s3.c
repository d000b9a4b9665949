/* store_s3.c: the S3 backend -- every verb as S3 REST calls over libcurl, signed with SigV4.
 *
 * REQUESTS
 *   libcurl signs (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3", CURLOPT_USERPWD key:secret); it signs
 *   host, x-amz-date and every header we add. libcurl 7.88 does not add x-amz-content-sha256, so we
 *   do: the hex SHA-256 of every body we send (all bodies are in memory, parts included), and of
 *   the empty string otherwise; it then uses our value as the payload hash. Query strings are
 *   built already canonical (keys sorted, RFC 3986 encoded, bare flags as "uploads="), paths are
 *   percent-encoded except A-Za-z0-9-._~/ -- libcurl signs them as given. Bodies go with a
 *   Content-Length (S3 refuses chunked uploads) and a Content-MD5.
 * ADDRESSING
 *   Custom endpoint: path-style, ENDPOINT/bucket/key. AWS: https://bucket.s3.REGION.amazonaws.com/key
 *   (path-style on s3.REGION.amazonaws.com for bucket names with dots, which TLS cannot match).
 * RETRIES
 *   Transport errors (connect, timeout, reset, empty reply), HTTP 500/502/503/504/429 and the
 *   codes SlowDown, InternalError, RequestTimeout are retried up to max_attempts times in all,
 *   sleeping base * 2^(n-1) ms (capped at 20 s) with equal jitter between tries. The last failure
 *   is reported with bucket, key, status, S3 code and message, and the number of attempts.
 * ERROR TEXT
 *   Every error detail goes through store_redact (store_internal.h) before err_set: a server's
 *   code and message may echo the signature, the key id, the secret or the session token.
 * MULTIPART
 *   A writer buffers up to max(threshold, part_size) bytes; past that it starts a multipart upload
 *   and sends part_size parts from up to parallel_parts threads, each with its own connection.
 *   Complete publishes the object; on any failure the upload is aborted (DELETE ?uploadId); where
 *   the server cannot abort (s3rver answers 405) the error detail says so. Either way no object
 *   appears under the key.
 * READS
 *   A reader drives one transfer with the curl multi interface and pauses it when 1 MiB is
 *   waiting, so memory stays bounded. A dropped transfer resumes with a Range from the next byte
 *   and If-Match on the ETag, so the bytes cannot come from two versions of the object. */
#include "store/store_internal.h"
#include "engine/err.h"
#include "engine/text.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 16
#define ERR_BODY_MAX (64 << 10)
#define LIST_BODY_MAX (32 << 20)
#define READ_HIGH (1 << 20)
#define BACKOFF_CAP_MS 20000
#define MAX_PARTS 10000
#define DEFAULT_PART ((size_t)8 << 20)
#define DEFAULT_PARALLEL 4
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct store_s3 {
    store_s3_config cfg;
    char *userpwd;          /* "key:secret": only ever handed to libcurl */
    char sigv4[96];
    char *base;             /* "http://host:port/bucket" or "https://bucket.s3.region.amazonaws.com" */
    int path_style;
    size_t part_size, threshold;
    int parallel, base_ms;
    long timeout_s;
    pthread_mutex_t mu;
    CURL *pool[POOL_MAX];
    int npool;
};

/* store_redact with this store's secret key and session token (s NULL: shapes only). */
static void s3_redact(const store *s, const char *in, char *out, size_t cap)
{
    const char *secrets[2] = {NULL, NULL};
    if (s && s->s3) {
        secrets[0] = s->s3->cfg.secret_key;
        secrets[1] = s->s3->cfg.session_token;
    }
    store_redact(in, secrets, 2, out, cap);
}

/* err_set for S3 failures: the text is redacted first, since a server's code and message (and
 * curl's error text) may echo a credential. */
static int s3_err(const store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int s3_err(const store *s, int code, const char *fmt, ...)
{
    /* Formatted whole, then redacted, then cut: a cut before could leave half a secret. */
    char small[2048], red[2048], *big = NULL;
    const char *raw = small;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small) {
        if ((big = malloc((size_t)n + 1))) vsnprintf(big, (size_t)n + 1, fmt, ap2);
        raw = big ? big : "S3 error (its text withheld: out of memory)";
    }
    va_end(ap2);
    va_end(ap);
    s3_redact(s, raw, red, sizeof red);
    free(big);
    return err_set(code, "%s", red);
}

/* ================================================================================================
 * Opening
 * ============================================================================================== */

int store_s3_open(store *s)
{
    int rc = store_curl_init();
    if (rc) return rc;
    struct store_s3 *x = calloc(1, sizeof *x);
    if (!x) return err_set(TM_ENOMEM, "out of memory");
    pthread_mutex_init(&x->mu, NULL);
    s->s3 = x;
    rc = store_s3_config_load(&s->opts, &x->cfg);
    if (rc) return rc;
    buf b = BUF_INIT;
    if ((rc = buf_printf(&b, "%s:%s", x->cfg.access_key, x->cfg.secret_key))) return rc;
    x->userpwd = buf_detach(&b);
    snprintf(x->sigv4, sizeof x->sigv4, "aws:amz:%s:s3", x->cfg.region);
    if (x->cfg.endpoint || s->opts.path_style || strchr(s->bucket, '.')) {
        const char *ep = x->cfg.endpoint;
        if (!ep) rc = buf_printf(&b, "https://s3.%s.amazonaws.com", x->cfg.region);
        else rc = buf_puts(&b, ep);
        while (!rc && b.len && b.data[b.len - 1] == '/') b.data[--b.len] = '\0';
        if (!rc) rc = buf_printf(&b, "/%s", s->bucket);
        x->path_style = 1;
    } else {
        rc = buf_printf(&b, "https://%s.s3.%s.amazonaws.com", s->bucket, x->cfg.region);
    }
    if (rc) return rc;
    x->base = buf_detach(&b);
    x->part_size = s->opts.part_size ? s->opts.part_size : DEFAULT_PART;
    x->threshold = s->opts.multipart_threshold > x->part_size ? s->opts.multipart_threshold
                                                                : x->part_size;
    x->parallel = s->opts.parallel_parts ? s->opts.parallel_parts : DEFAULT_PARALLEL;
    x->base_ms = s->opts.retry_base_ms ? s->opts.retry_base_ms : 100;
    x->timeout_s = s->opts.timeout_s ? s->opts.timeout_s : 60;
    return 0;
}

const char *store_s3_base_url(const store *s) { return s->s3->base; }

void store_s3_close(store *s)
{
    struct store_s3 *x = s->s3;
    for (int i = 0; i < x->npool; i++) curl_easy_cleanup(x->pool[i]);
    pthread_mutex_destroy(&x->mu);
    if (x->userpwd) {
        memset(x->userpwd, 0, strlen(x->userpwd));
        free(x->userpwd);
    }
    store_s3_config_free(&x->cfg);
    free(x->base);
    free(x);
    s->s3 = NULL;
}

/* Idle handles keep their connections open between requests. */
static CURL *pool_get(struct store_s3 *x)
{
    CURL *c = NULL;
    pthread_mutex_lock(&x->mu);
    if (x->npool) c = x->pool[--x->npool];
    pthread_mutex_unlock(&x->mu);
    if (c) curl_easy_reset(c);
    else c = curl_easy_init();
    return c;
}

static void pool_put(struct store_s3 *x, CURL *c)
{
    if (!c) return;
    pthread_mutex_lock(&x->mu);
    if (x->npool < POOL_MAX) {
        x->pool[x->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&x->mu);
    if (c) curl_easy_cleanup(c);
}

/* ================================================================================================
 * URLs, headers, backoff
 * ============================================================================================== */

/* The URL of fkey (or of the bucket when fkey is NULL), with the canonical query appended. */
static int make_url(const store *s, const char *fkey, const char *query, buf *out)
{
    int rc = buf_puts(out, s->s3->base);
    if (!rc && (fkey || !s->s3->path_style)) rc = buf_putc(out, '/');
    if (!rc && fkey) rc = store_pct_encode(out, fkey, 1);
    if (!rc && query && query[0]) rc = buf_printf(out, "?%s", query);
    return rc;
}

static int add_header(struct curl_slist **h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_header(struct curl_slist **h, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) return err_set(TM_EINVAL, "S3 header too long");
    struct curl_slist *t = curl_slist_append(*h, line);
    if (!t) return err_set(TM_ENOMEM, "out of memory");
    *h = t;
    return 0;
}

/* own_signed: the headers carry our own Authorization (see store_sigv4.c), else libcurl signs. */
static void set_common(const store *s, CURL *c, const char *url, struct curl_slist *h,
                       char *errbuf, int own_signed)
{
    const struct store_s3 *x = s->s3;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (!own_signed) {
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, x->sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, x->userpwd);
    }
    store_curl_transport(c, x->timeout_s, x->cfg.ca_bundle, errbuf);
}

/* Headers every request carries: the payload hash and the session token. (Not "Expect:" to skip
 * the 100-continue wait: libcurl 7.88 signs the empty header it then does not send.) */
static int base_headers(const store *s, struct curl_slist **h, const char *sha_hex)
{
    int rc = add_header(h, "x-amz-content-sha256: %s", sha_hex);
    if (!rc && s->s3->cfg.session_token)
        rc = add_header(h, "x-amz-security-token: %s", s->s3->cfg.session_token);
    return rc;
}

/* Sleeps before try number `attempt + 1` (store_http.c). */
static void backoff(const store *s, int attempt)
{
    store_backoff(s->s3->base_ms, BACKOFF_CAP_MS, attempt);
}

static int status_retryable(long status, const char *code)
{
    if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429) return 1;
    return !strcmp(code, "SlowDown") || !strcmp(code, "InternalError") ||
           !strcmp(code, "RequestTimeout") || !strcmp(code, "ServiceUnavailable");
}

/* ================================================================================================
 * Responses
 * ============================================================================================== */

struct s3_hdrs {
    long status;
    char etag[80], storage_class[32], content_type[128];
    int64_t last_modified;
    uint64_t content_length, total;
    int have_length, have_total, done;
};

static void copy_trimmed(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (v[0] == ' ' || v[0] == '"')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '"' || v[n - 1] == '\r' || v[n - 1] == '\n')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int hname(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
    size_t l = strlen(name);
    if (n <= l || strncasecmp(line, name, l) || line[l] != ':') return 0;
    *val = line + l + 1;
    *vlen = n - l - 1;
    return 1;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct s3_hdrs *h = ud;
    size_t n = size * nmemb;
    const char *v;
    size_t vl;
    char tmp[128];
    if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
        memset(h, 0, sizeof *h);  /* a new response (after a 100 Continue, say) */
        const char *sp = memchr(p, ' ', n);
        if (sp) h->status = strtol(sp + 1, NULL, 10);
    } else if ((n == 2 && p[0] == '\r') || (n == 1 && p[0] == '\n')) {
        if (h->status >= 200) h->done = 1;
    } else if (hname(p, n, "etag", &v, &vl)) {
        copy_trimmed(h->etag, sizeof h->etag, v, vl);
    } else if (hname(p, n, "x-amz-storage-class", &v, &vl)) {
        copy_trimmed(h->storage_class, sizeof h->storage_class, v, vl);
    } else if (hname(p, n, "content-type", &v, &vl)) {
        copy_trimmed(h->content_type, sizeof h->content_type, v, vl);
    } else if (hname(p, n, "last-modified", &v, &vl)) {
        copy_trimmed(tmp, sizeof tmp, v, vl);
        h->last_modified = store_parse_time(tmp);
    } else if (hname(p, n, "content-length", &v, &vl)) {
        copy_trimmed(tmp, sizeof tmp, v, vl);
        h->content_length = strtoull(tmp, NULL, 10);
        h->have_length = 1;
    } else if (hname(p, n, "content-range", &v, &vl)) {
        copy_trimmed(tmp, sizeof tmp, v, vl);
        const char *sl = strchr(tmp, '/');
        if (sl && sl[1] != '*') {
            h->total = strtoull(sl + 1, NULL, 10);
            h->have_total = 1;
        }
    }
    return n;
}

/* The S3 error code and the first line of its message from an <Error> body, redacted whole
 * before they are cut to size (a cut could leave half a secret that no longer matches). */
static void parse_error(const store *s, const buf *body, char *code, size_t ccap, char *msg,
                        size_t mcap)
{
    char red[1024];
    code[0] = msg[0] = '\0';
    if (!body->data) return;
    const char *p = body->data, *end = body->data + body->len, *v;
    size_t n;
    if (!store_xml_next(&p, end, "Error", &v, &n)) return;
    buf t = BUF_INIT;
    if (store_xml_get(v, v + n, "Code", &t) == 1) {
        s3_redact(s, t.data, red, sizeof red);
        copy_trimmed(code, ccap, red, strlen(red));
    }
    buf_reset(&t);
    if (store_xml_get(v, v + n, "Message", &t) == 1) {
        /* One line: servers (and our test proxy) may append diagnostics after it. */
        t.data[strcspn(t.data, "\r\n")] = '\0';
        s3_redact(s, t.data, red, sizeof red);
        size_t l = strlen(red);
        copy_trimmed(msg, mcap, red, l > 300 ? 300 : l);
    }
    buf_free(&t);
}

/* ================================================================================================
 * One request, with retries
 * ============================================================================================== */

typedef struct s3_call {
    const char *method;          /* GET HEAD PUT POST DELETE */
    const char *fkey;            /* NULL: the bucket */
    const char *query;           /* canonical, or NULL */
    const void *body;            /* PUT and POST: sent with Content-Length and Content-MD5 */
    size_t len;
    struct curl_slist *extra;    /* more headers (not owned) */
    size_t max_body;             /* response bodies above this fail; 0: ERR_BODY_MAX */
    int body_error_on_200;       /* Copy and Complete may answer 200 with an <Error> body */
    /* Results. */
    struct s3_hdrs h;
    buf resp;
    char code[64];
    int attempts;
} s3_call;

struct send_state {
    const char *p;
    size_t len, off;
};

static size_t on_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    struct send_state *st = ud;
    size_t n = size * nmemb, left = st->len - st->off;
    if (n > left) n = left;
    memcpy(dst, st->p + st->off, n);
    st->off += n;
    return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    struct send_state *st = ud;
    if (origin != SEEK_SET || off < 0 || (size_t)off > st->len) return CURL_SEEKFUNC_CANTSEEK;
    st->off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

struct recv_state {
    buf *b;
    struct s3_hdrs *h;
    size_t max;
    int too_big;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct recv_state *st = ud;
    size_t n = size * nmemb;
    size_t cap = st->h->status >= 200 && st->h->status < 300 ? st->max : ERR_BODY_MAX;
    if (st->b->len + n > cap) {
        if (st->h->status < 200 || st->h->status >= 300) return n;  /* keep the head of errors */
        st->too_big = 1;
        return 0;
    }
    return buf_append(st->b, p, n) ? 0 : n;
}

/* "S3 PUT bucket "b" key "k"" for error details. */
static void what(const store *s, const s3_call *c, char *out, size_t cap)
{
    if (c->fkey) snprintf(out, cap, "S3 %s bucket \"%s\" key \"%s\"", c->method, s->bucket, c->fkey);
    else snprintf(out, cap, "S3 %s bucket \"%s\"", c->method, s->bucket);
}

static int call_error(store *s, s3_call *c, int attempts)
{
    char w[1200], msg[320];
    char code[64];
    what(s, c, w, sizeof w);
    parse_error(s, &c->resp, code, sizeof code, msg, sizeof msg);
    if (!code[0] && c->h.status == 404) snprintf(code, sizeof code, "NotFound");
    snprintf(c->code, sizeof c->code, "%s", code);
    char tries[48] = "";
    if (attempts > 1) snprintf(tries, sizeof tries, " (gave up after %d attempts)", attempts);
    if (c->h.status == 404 && strcmp(code, "NoSuchUpload")) {
        if (!strcmp(code, "NoSuchBucket"))
            return s3_err(s, TM_ENOTFOUND, "%s: no such bucket (HTTP 404 NoSuchBucket)", w);
        if (!strcmp(c->method, "HEAD"))
            return s3_err(s, TM_ENOTFOUND, "%s: no such key or bucket (HTTP 404)", w);
        return s3_err(s, TM_ENOTFOUND, "%s: no such key (HTTP 404 %s)", w, code);
    }
    return s3_err(s, TM_EREMOTE, "%s: HTTP %ld %s%s%s%s", w, c->h.status,
                  code[0] ? code : "(no code)", msg[0] ? ": " : "", msg, tries);
}

static void call_free(s3_call *c)
{
    buf_free(&c->resp);
}

/* When libcurl would sign these headers wrongly (store_sigv4.c), a copy of them with our own
 * x-amz-date and Authorization; else *out stays NULL. */
static int own_signature(const store *s, const char *method, const char *url,
                         struct curl_slist *h, const char *sha, struct curl_slist **out)
{
    const char *v[64];
    size_t n = 0;
    *out = NULL;
    for (struct curl_slist *e = h; e; e = e->next) {
        if (n == 63) return err_set(TM_EINVAL, "too many S3 headers");
        v[n++] = e->data;
    }
    if (!store_sigv4_names_clash(v, n)) return 0;
    char date[32], dh[48];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(dh, sizeof dh, "x-amz-date: %s", date);
    v[n++] = dh;
    const struct store_s3 *x = s->s3;
    buf auth = BUF_INIT;
    int rc = buf_puts(&auth, "Authorization: ");
    if (!rc) rc = store_sigv4_sign(method, url, v, n, sha, x->cfg.region, x->cfg.access_key,
                                   x->cfg.secret_key, date, &auth);
    for (size_t i = 0; i < n && !rc; i++) rc = add_header(out, "%s", v[i]);
    if (!rc) rc = add_header(out, "%s", auth.data);
    buf_free(&auth);
    if (rc) {
        curl_slist_free_all(*out);
        *out = NULL;
    }
    return rc;
}

static int call_do(store *s, s3_call *c)
{
    struct store_s3 *x = s->s3;
    struct curl_slist *h = NULL;
    buf url = BUF_INIT;
    char sha[65], md5b64[25], errbuf[CURL_ERROR_SIZE];
    int rc = 0, attempt = 0;
    int sends = !strcmp(c->method, "PUT") || !strcmp(c->method, "POST");
    if (sends) {
        unsigned char d[16];
        store_sha256_hex(c->body ? c->body : "", c->len, sha);
        store_md5(c->body ? c->body : "", c->len, d);
        text_b64(d, 16, md5b64);
    } else {
        memcpy(sha, EMPTY_SHA256, sizeof sha);
    }
    if ((rc = make_url(s, c->fkey, c->query, &url)) || (rc = base_headers(s, &h, sha))) goto out;
    if (sends && (rc = add_header(&h, "Content-MD5: %s", md5b64))) goto out;
    for (struct curl_slist *e = c->extra; e && !rc; e = e->next) rc = add_header(&h, "%s", e->data);
    if (rc) goto out;
    if (!c->max_body) c->max_body = ERR_BODY_MAX;
    c->resp = (buf)BUF_INIT;

    for (;;) {
        c->attempts = ++attempt;
        struct curl_slist *own = NULL;
        if ((rc = own_signature(s, c->method, url.data, h, sha, &own))) goto out;
        CURL *e = pool_get(x);
        if (!e) {
            curl_slist_free_all(own);
            rc = err_set(TM_ENOMEM, "curl_easy_init failed");
            goto out;
        }
        struct send_state ss = {c->body ? c->body : "", c->len, 0};
        struct recv_state rs = {&c->resp, &c->h, c->max_body, 0};
        buf_reset(&c->resp);
        memset(&c->h, 0, sizeof c->h);
        set_common(s, e, url.data, own ? own : h, errbuf, own != NULL);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &c->h);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &rs);
        if (!strcmp(c->method, "HEAD")) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(c->method, "PUT")) {
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, &ss);
            curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
            curl_easy_setopt(e, CURLOPT_SEEKDATA, &ss);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->len);
        } else if (!strcmp(c->method, "POST")) {
            curl_easy_setopt(e, CURLOPT_POST, 1L);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body ? (const char *)c->body : "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
        } else if (strcmp(c->method, "GET")) {
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
        }
        CURLcode r = curl_easy_perform(e);
        atomic_fetch_add(&s->n_requests, 1);
        pool_put(x, e);
        curl_slist_free_all(own);
        int retry = 0;
        if (r != CURLE_OK) {
            if (rs.too_big) {
                char w[1200];
                what(s, c, w, sizeof w);
                rc = s3_err(s, TM_EREMOTE, "%s: response larger than %zu bytes", w, c->max_body);
                goto out;
            }
            retry = store_curl_retryable(r);
            if (!retry || attempt >= x->cfg.max_attempts) {
                char w[1200];
                what(s, c, w, sizeof w);
                rc = s3_err(s, TM_EREMOTE, "%s: %s%s%s (gave up after %d attempt%s)", w,
                             curl_easy_strerror(r), errbuf[0] ? ": " : "", errbuf, attempt,
                             attempt > 1 ? "s" : "");
                goto out;
            }
        } else {
            long st = c->h.status;
            char code[64], msg[320];
            code[0] = '\0';
            if (st < 200 || st >= 300 ||
                (c->body_error_on_200 && c->resp.data && strstr(c->resp.data, "<Error>"))) {
                parse_error(s, &c->resp, code, sizeof code, msg, sizeof msg);
                retry = status_retryable(st, code);
                if (!retry || attempt >= x->cfg.max_attempts) {
                    if (st >= 200 && st < 300) c->h.status = 500;  /* error inside a 200 */
                    rc = call_error(s, c, attempt);
                    goto out;
                }
            } else {
                if (sends) atomic_fetch_add(&s->n_up, c->len);
                atomic_fetch_add(&s->n_down, c->resp.len);
                goto out;
            }
        }
        atomic_fetch_add(&s->n_retries, 1);
        backoff(s, attempt);
    }
out:
    curl_slist_free_all(h);
    buf_free(&url);
    return rc;
}

/* Adds the put-time headers: content type, storage class, server-side encryption. */
static int put_headers(const store *s, struct curl_slist **h, const char *content_type,
                       const char *storage_class)
{
    int rc = add_header(h, "Content-Type: %s", content_type ? content_type : "application/octet-stream");
    if (!rc && storage_class) rc = add_header(h, "x-amz-storage-class: %s", storage_class);
    if (!rc && s->opts.sse) rc = add_header(h, "x-amz-server-side-encryption: %s", s->opts.sse);
    if (!rc && s->opts.sse_kms_key_id)
        rc = add_header(h, "x-amz-server-side-encryption-aws-kms-key-id: %s", s->opts.sse_kms_key_id);
    return rc;
}

/* ================================================================================================
 * Writer: single PUT or multipart upload
 * ============================================================================================== */

struct part_slot {
    pthread_t th;
    int busy;
    int number;
    buf data;
    int rc;
    char err[1024];
    char etag[80];
    unsigned char md5[16];
    struct store_s3_writer *w;
};

struct store_s3_writer {
    store *s;
    char *fkey, *content_type, *storage_class;
    buf cur;                     /* bytes not yet sent */
    char *upload_id;
    int nparts;                  /* parts handed to threads so far */
    uint64_t sent;               /* bytes handed to parts */
    char (*etags)[80];           /* [MAX_PARTS] once multipart */
    unsigned char (*md5s)[16];
    struct part_slot *slots;
    int rc;
};

static int upload_part(store *s, const char *fkey, const char *upload_id, int number,
                       const void *p, size_t n, char etag[80])
{
    buf q = BUF_INIT;
    s3_call c;
    memset(&c, 0, sizeof c);
    int rc = buf_printf(&q, "partNumber=%d&uploadId=", number);
    if (!rc) rc = store_pct_encode(&q, upload_id, 0);
    if (rc) goto out;
    c.method = "PUT";
    c.fkey = fkey;
    c.query = q.data;
    c.body = p;
    c.len = n;
    if ((rc = call_do(s, &c))) goto out;
    if (!c.h.etag[0]) {
        rc = s3_err(s, TM_EREMOTE, "S3 PUT bucket \"%s\" key \"%s\": part %d: no ETag in the "
                    "response", s->bucket, fkey, number);
        goto out;
    }
    memcpy(etag, c.h.etag, 80);
out:
    call_free(&c);
    buf_free(&q);
    return rc;
}

static void *part_thread(void *arg)
{
    struct part_slot *sl = arg;
    struct store_s3_writer *w = sl->w;
    store_md5(sl->data.data ? sl->data.data : "", sl->data.len, sl->md5);
    sl->rc = upload_part(w->s, w->fkey, w->upload_id, sl->number, sl->data.data, sl->data.len,
                         sl->etag);
    if (sl->rc) snprintf(sl->err, sizeof sl->err, "%s", err_msg());
    return NULL;
}

/* Waits for the slot's part; records its ETag, or its error (first one wins). */
static int slot_join(struct store_s3_writer *w, struct part_slot *sl)
{
    if (!sl->busy) return 0;
    pthread_join(sl->th, NULL);
    sl->busy = 0;
    if (sl->rc) {
        if (!w->rc) w->rc = err_set(sl->rc, "%s", sl->err);
        return sl->rc;
    }
    memcpy(w->etags[sl->number - 1], sl->etag, 80);
    memcpy(w->md5s[sl->number - 1], sl->md5, 16);
    return 0;
}

static int join_all(struct store_s3_writer *w)
{
    int rc = 0;
    if (!w->slots) return 0;
    for (int i = 0; i < w->s->s3->parallel; i++) {
        int r = slot_join(w, &w->slots[i]);
        if (!rc) rc = r;
    }
    return rc;
}

static int initiate(struct store_s3_writer *w)
{
    store *s = w->s;
    s3_call c;
    memset(&c, 0, sizeof c);
    struct curl_slist *h = NULL;
    buf id = BUF_INIT;
    int rc = put_headers(s, &h, w->content_type, w->storage_class);
    if (rc) goto out;
    c.method = "POST";
    c.fkey = w->fkey;
    c.query = "uploads=";
    c.extra = h;
    if ((rc = call_do(s, &c))) goto out;
    if (!c.resp.data || store_xml_get(c.resp.data, c.resp.data + c.resp.len, "UploadId", &id) != 1 ||
        !id.len) {
        rc = s3_err(s, TM_EREMOTE, "S3 POST bucket \"%s\" key \"%s\": no UploadId in the response",
                     s->bucket, w->fkey);
        goto out;
    }
    w->upload_id = buf_detach(&id);  /* from here on, a failure aborts the upload */
    int np = s->s3->parallel;
    w->etags = calloc(MAX_PARTS, sizeof *w->etags);
    w->md5s = calloc(MAX_PARTS, sizeof *w->md5s);
    w->slots = calloc((size_t)np, sizeof *w->slots);
    if (!w->etags || !w->md5s || !w->slots) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < np; i++) {
        w->slots[i].w = w;
        w->slots[i].data = (buf)BUF_INIT_MAX(s->s3->part_size + 1);
    }
out:
    curl_slist_free_all(h);
    call_free(&c);
    buf_free(&id);
    return rc;
}

/* Hands [p, p+n) to a free slot, waiting for the oldest part when all are busy. */
static int submit_part(struct store_s3_writer *w, const char *p, size_t n)
{
    int np = w->s->s3->parallel, rc;
    if (w->nparts >= MAX_PARTS)
        return s3_err(w->s, TM_ELIMIT, "S3 PUT bucket \"%s\" key \"%s\": more than %d parts of "
                      "%zu bytes; use a larger part size", w->s->bucket, w->fkey, MAX_PARTS,
                      w->s->s3->part_size);
    struct part_slot *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < np; i++) {
        struct part_slot *sl = &w->slots[i];
        if (!sl->busy) {
            free_slot = sl;
            break;
        }
        if (!oldest || sl->number < oldest->number) oldest = sl;
    }
    if (!free_slot) {
        if ((rc = slot_join(w, oldest))) return rc;
        free_slot = oldest;
    }
    buf_reset(&free_slot->data);
    if ((rc = buf_append(&free_slot->data, p, n))) return rc;
    free_slot->number = ++w->nparts;
    w->sent += n;
    free_slot->rc = 0;
    free_slot->busy = 1;
    if (pthread_create(&free_slot->th, NULL, part_thread, free_slot)) {
        free_slot->busy = 0;
        return err_set(TM_EIO, "cannot start an upload thread");
    }
    return 0;
}

int store_s3_writer_open(store *s, const char *fkey, const store_put_options *po,
                         struct store_s3_writer **out)
{
    struct store_s3_writer *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w) return err_set(TM_ENOMEM, "out of memory");
    w->s = s;
    w->fkey = strdup(fkey);
    w->content_type = po->content_type ? strdup(po->content_type) : NULL;
    w->storage_class = po->storage_class ? strdup(po->storage_class) : NULL;
    w->cur = (buf)BUF_INIT_MAX(s->s3->threshold + 1);
    if (!w->fkey || (po->content_type && !w->content_type) ||
        (po->storage_class && !w->storage_class)) {
        store_s3_writer_abort(w);
        return err_set(TM_ENOMEM, "out of memory");
    }
    *out = w;
    return 0;
}

int store_s3_writer_write(struct store_s3_writer *w, const void *p, size_t n)
{
    const struct store_s3 *x = w->s->s3;
    const char *c = p;
    int rc;
    if (w->rc) return w->rc;
    while (n) {
        if (!w->upload_id && w->cur.len == x->threshold) {
            /* Past the threshold: go multipart and send every whole part we hold. */
            if ((rc = initiate(w))) goto fail;
            size_t off = 0;
            while (w->cur.len - off >= x->part_size) {
                if ((rc = submit_part(w, w->cur.data + off, x->part_size))) goto fail;
                off += x->part_size;
            }
            memmove(w->cur.data, w->cur.data + off, w->cur.len - off);
            w->cur.len -= off;
        }
        size_t cap = w->upload_id ? x->part_size : x->threshold;
        size_t take = cap - w->cur.len < n ? cap - w->cur.len : n;
        if ((rc = buf_append(&w->cur, c, take))) goto fail;
        c += take;
        n -= take;
        if (w->upload_id && w->cur.len == x->part_size) {
            if ((rc = submit_part(w, w->cur.data, w->cur.len))) goto fail;
            buf_reset(&w->cur);
        }
    }
    return 0;
fail:
    w->rc = rc;
    return rc;
}

/* Aborts the multipart upload; when the server cannot, appends that to the current detail. */
static void abort_upload(struct store_s3_writer *w)
{
    if (!w->upload_id) return;
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", err_msg());
    buf q = BUF_INIT;
    s3_call c;
    memset(&c, 0, sizeof c);
    int rc = buf_puts(&q, "uploadId=");
    if (!rc) rc = store_pct_encode(&q, w->upload_id, 0);
    if (!rc) {
        c.method = "DELETE";
        c.fkey = w->fkey;
        c.query = q.data;
        rc = call_do(w->s, &c);
    }
    if (rc) {
        s3_err(w->s, TM_EREMOTE, "%s; the multipart upload %s could not be aborted (HTTP %ld %s): "
                            "nothing was published under the key, but its parts stay on the server",
                saved, w->upload_id, c.h.status, c.code[0] ? c.code : "?");
    } else {
        s3_err(w->s, TM_EREMOTE, "%s", saved);
    }
    call_free(&c);
    buf_free(&q);
}

static void writer_free(struct store_s3_writer *w)
{
    if (w->slots) {
        for (int i = 0; i < w->s->s3->parallel; i++) buf_free(&w->slots[i].data);
    }
    free(w->slots);
    free(w->etags);
    free(w->md5s);
    free(w->upload_id);
    buf_free(&w->cur);
    free(w->fkey);
    free(w->content_type);
    free(w->storage_class);
    free(w);
}

static int put_single(struct store_s3_writer *w, store_put_result *res)
{
    s3_call c;
    memset(&c, 0, sizeof c);
    struct curl_slist *h = NULL;
    int rc = put_headers(w->s, &h, w->content_type, w->storage_class);
    if (rc) goto out;
    c.method = "PUT";
    c.fkey = w->fkey;
    c.body = w->cur.data;
    c.len = w->cur.len;
    c.extra = h;
    if ((rc = call_do(w->s, &c))) goto out;
    snprintf(res->etag, sizeof res->etag, "%s", c.h.etag[0] ? c.h.etag : res->md5_hex);
    res->parts = 0;
out:
    curl_slist_free_all(h);
    call_free(&c);
    return rc;
}

static int complete(struct store_s3_writer *w, store_put_result *res)
{
    store *s = w->s;
    buf body = BUF_INIT, q = BUF_INIT, etag = BUF_INIT;
    s3_call c;
    memset(&c, 0, sizeof c);
    struct curl_slist *h = NULL;
    int rc = buf_puts(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int i = 0; i < w->nparts && !rc; i++) {
        rc = buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>&quot;", i + 1);
        if (!rc) rc = store_xml_escape(&body, w->etags[i]);
        if (!rc) rc = buf_puts(&body, "&quot;</ETag></Part>");
    }
    if (!rc) rc = buf_puts(&body, "</CompleteMultipartUpload>");
    if (!rc) rc = buf_puts(&q, "uploadId=");
    if (!rc) rc = store_pct_encode(&q, w->upload_id, 0);
    if (!rc) rc = add_header(&h, "Content-Type: application/xml");
    if (rc) goto out;
    c.method = "POST";
    c.fkey = w->fkey;
    c.query = q.data;
    c.body = body.data;
    c.len = body.len;
    c.extra = h;
    c.body_error_on_200 = 1;
    if ((rc = call_do(s, &c)) && c.attempts > 1 && !strcmp(c.code, "NoSuchUpload")) {
        /* A retry after the server completed the upload but the answer was lost: the upload
         * is gone, so look at the object instead. */
        store_object_info info;
        if (store_s3_head(s, w->fkey, &info) == 0 && info.size == w->sent) {
            snprintf(res->etag, sizeof res->etag, "%s", info.etag);
            rc = 0;
        } else {
            rc = s3_err(s, TM_EREMOTE, "S3 POST bucket \"%s\" key \"%s\": completing the multipart "
                                     "upload failed (NoSuchUpload after a retry)", s->bucket, w->fkey);
        }
    }
    if (rc) goto out;
    if (!res->etag[0] && c.resp.data &&
        store_xml_get(c.resp.data, c.resp.data + c.resp.len, "ETag", &etag) == 1)
        copy_trimmed(res->etag, sizeof res->etag, etag.data, etag.len);
    if (!res->etag[0]) {
        /* No ETag in the answer: S3's rule is MD5 of the parts' MD5s, dash, part count. */
        store_md5_ctx *m = store_md5_new();
        unsigned char d[16];
        char hex[33];
        if (!m) {
            rc = err_set(TM_ENOMEM, "out of memory");
            goto out;
        }
        for (int i = 0; i < w->nparts; i++) store_md5_update(m, w->md5s[i], 16);
        store_md5_final(m, d);
        store_hex(d, 16, hex);
        snprintf(res->etag, sizeof res->etag, "%s-%d", hex, w->nparts);
    }
    res->parts = w->nparts;
    atomic_fetch_add(&s->n_multipart, 1);
out:
    curl_slist_free_all(h);
    call_free(&c);
    buf_free(&body);
    buf_free(&q);
    buf_free(&etag);
    return rc;
}

int store_s3_writer_commit(struct store_s3_writer *w, store_put_result *res)
{
    int rc = w->rc;
    if (!rc && !w->upload_id) {
        rc = put_single(w, res);
    } else if (!rc) {
        if (w->cur.len) rc = submit_part(w, w->cur.data, w->cur.len);
        int r2 = join_all(w);
        if (!rc) rc = r2;
        if (!rc) rc = complete(w, res);
    }
    if (rc) {
        join_all(w);
        abort_upload(w);
    }
    writer_free(w);
    return rc;
}

/* After a failed write this keeps the failure's detail, with a note if the upload could not be
 * aborted (abort_upload appends it). */
void store_s3_writer_abort(struct store_s3_writer *w)
{
    if (!w) return;
    join_all(w);
    abort_upload(w);
    writer_free(w);
}

/* ================================================================================================
 * Reader
 * ============================================================================================== */

struct store_s3_reader {
    store *s;
    char *fkey;
    uint64_t recv;               /* absolute offset of the next byte from the server */
    uint64_t end;                /* absolute end, UINT64_MAX until known */
    uint64_t want_end;           /* requested end, UINT64_MAX: the object's end */
    int ranged;                  /* the first request carried a Range */
    char etag[80];
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    struct s3_hdrs h;
    buf url, data, errbody;
    size_t data_off;
    int running, done, paused, attempt;
    CURLcode cres;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t rd_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct store_s3_reader *r = ud;
    size_t n = size * nmemb;
    if (r->h.status < 200 || r->h.status >= 300) {
        if (r->errbody.len + n <= ERR_BODY_MAX && buf_append(&r->errbody, p, n)) return 0;
        return n;
    }
    if (r->data.len - r->data_off >= READ_HIGH) {
        r->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r->data_off == r->data.len) {
        buf_reset(&r->data);
        r->data_off = 0;
    }
    if (buf_append(&r->data, p, n)) return 0;
    r->recv += n;
    atomic_fetch_add(&r->s->n_down, n);
    return n;
}

static int rd_start(struct store_s3_reader *r)
{
    const store *s = r->s;
    int rc = 0;
    if (r->easy) {
        curl_multi_remove_handle(r->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    if (!(r->easy = curl_easy_init())) return err_set(TM_ENOMEM, "curl_easy_init failed");
    if ((rc = base_headers(s, &r->hdrs, EMPTY_SHA256))) return rc;
    uint64_t last = r->want_end == UINT64_MAX ? UINT64_MAX : r->want_end - 1;
    if (r->recv > 0 || r->want_end != UINT64_MAX) {
        if (last == UINT64_MAX) rc = add_header(&r->hdrs, "Range: bytes=%llu-", (unsigned long long)r->recv);
        else rc = add_header(&r->hdrs, "Range: bytes=%llu-%llu", (unsigned long long)r->recv,
                             (unsigned long long)last);
    }
    if (!rc && r->etag[0]) rc = add_header(&r->hdrs, "If-Match: \"%s\"", r->etag);
    if (rc) return rc;
    set_common(s, r->easy, r->url.data, r->hdrs, r->errbuf, 0);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, &r->h);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, rd_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    memset(&r->h, 0, sizeof r->h);
    buf_reset(&r->errbody);
    r->done = r->paused = 0;
    r->attempt++;
    atomic_fetch_add(&r->s->n_requests, 1);
    if (curl_multi_add_handle(r->multi, r->easy) != CURLM_OK)
        return err_set(TM_EIO, "curl_multi_add_handle failed");
    return 0;
}

/* The transfer ended: 0 when the bytes are all there; else retries or reports. *again = 1 when
 * a new attempt was started. */
static int rd_finish(struct store_s3_reader *r, int *again)
{
    store *s = r->s;
    char w[1200], code[64] = "", msg[320] = "";
    *again = 0;
    snprintf(w, sizeof w, "S3 GET bucket \"%s\" key \"%s\"", s->bucket, r->fkey);
    int ok_status = r->h.status >= 200 && r->h.status < 300;
    int retry;
    if (ok_status && r->end != UINT64_MAX && r->recv >= r->end) return 0;  /* all there */
    if (r->cres == CURLE_OK && ok_status && r->end == UINT64_MAX) return 0;
    if (r->cres != CURLE_OK || ok_status) {
        /* Transport failure, or a 2xx that ended short: resume. */
        retry = r->cres == CURLE_OK || store_curl_retryable(r->cres);
    } else {
        parse_error(s, &r->errbody, code, sizeof code, msg, sizeof msg);
        retry = status_retryable(r->h.status, code);
    }
    if (retry && r->attempt < s->s3->cfg.max_attempts) {
        atomic_fetch_add(&s->n_retries, 1);
        backoff(s, r->attempt);
        *again = 1;
        return rd_start(r);
    }
    if (r->cres != CURLE_OK || ok_status)
        return s3_err(s, TM_EREMOTE, "%s: %s%s%s at byte %llu (gave up after %d attempts)", w,
                       r->cres != CURLE_OK ? curl_easy_strerror(r->cres) : "transfer ended short",
                       r->errbuf[0] ? ": " : "", r->errbuf, (unsigned long long)r->recv, r->attempt);
    if (r->h.status == 404) {
        if (!strcmp(code, "NoSuchBucket"))
            return s3_err(s, TM_ENOTFOUND, "%s: no such bucket (HTTP 404 NoSuchBucket)", w);
        return s3_err(s, TM_ENOTFOUND, "%s: no such key (HTTP 404 %s)", w,
                      code[0] ? code : "NotFound");
    }
    if (r->h.status == 412)
        return s3_err(s, TM_EREMOTE, "%s: the object changed while being read (HTTP 412)", w);
    if (r->h.status == 416)
        return s3_err(s, TM_EINVAL, "%s: range starts past the end of the object (HTTP 416 %s)",
                      w, code);
    return s3_err(s, TM_EREMOTE, "%s: HTTP %ld %s%s%s%s", w, r->h.status,
                  code[0] ? code : "(no code)", msg[0] ? ": " : "", msg,
                  r->attempt > 1 ? " (after several attempts)" : "");
}

/* Drives the transfer until headers (want_data 0) or data (1) are in, or it is over. */
static int rd_pump(struct store_s3_reader *r, int want_data)
{
    for (;;) {
        if (want_data && r->data.len > r->data_off) return 0;
        if (!want_data && r->h.done && r->h.status >= 200 && r->h.status < 300) return 0;
        if (r->done) {
            int again, rc = rd_finish(r, &again);
            if (rc || !again) return rc;
            continue;
        }
        if (r->paused && r->data.len == r->data_off) {
            r->paused = 0;
            curl_easy_pause(r->easy, CURLPAUSE_CONT);
            continue;
        }
        if (curl_multi_perform(r->multi, &r->running) != CURLM_OK)
            return err_set(TM_EIO, "curl_multi_perform failed");
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(r->multi, &left))) {
            if (m->msg == CURLMSG_DONE && m->easy_handle == r->easy) {
                r->done = 1;
                r->cres = m->data.result;
            }
        }
        if (!r->done && !(want_data && r->data.len > r->data_off) && !r->paused)
            curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
    }
}

/* A reader with nothing (more) to transfer: it ends at end, as a completed GET. */
static struct store_s3_reader *rd_empty(struct store_s3_reader *r, uint64_t end)
{
    r->end = end;
    r->done = 1;
    r->cres = CURLE_OK;
    r->h.status = 200;
    return r;
}

int store_s3_reader_open(store *s, const char *fkey, uint64_t off, uint64_t len,
                         store_object_info *info, struct store_s3_reader **out)
{
    *out = NULL;
    struct store_s3_reader *r = calloc(1, sizeof *r);
    if (!r) return err_set(TM_ENOMEM, "out of memory");
    int rc = 0;
    r->s = s;
    r->data = (buf)BUF_INIT;
    r->url = (buf)BUF_INIT;
    r->errbody = (buf)BUF_INIT;
    r->recv = off;
    r->end = UINT64_MAX;
    r->want_end = len == UINT64_MAX || len > UINT64_MAX - off ? UINT64_MAX : off + len;
    r->ranged = off > 0 || r->want_end != UINT64_MAX;
    if (!(r->fkey = strdup(fkey)) || !(r->multi = curl_multi_init())) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = make_url(s, fkey, NULL, &r->url))) goto out;
    if (len == 0) {  /* nothing to transfer: HEAD for existence and info */
        if ((rc = store_s3_head(s, fkey, info))) goto out;
        if (off > 0 && off >= info->size) {
            rc = s3_err(s, TM_EINVAL, "S3 GET bucket \"%s\" key \"%s\": range starts past the end",
                         s->bucket, fkey);
            goto out;
        }
        *out = rd_empty(r, off);
        r = NULL;
        goto out;
    }
    if ((rc = rd_start(r))) goto out;
    rc = rd_pump(r, 0);
    if (rc == TM_EINVAL && off == 0 && r->h.status == 416) {
        /* S3 refuses any Range on an empty object; that is an empty read, not an error. */
        if ((rc = store_s3_head(s, fkey, info))) goto out;
        r->recv = 0;
        *out = rd_empty(r, 0);
        r = NULL;
        goto out;
    }
    if (rc) goto out;
    if (r->ranged && r->h.status != 206) {
        rc = s3_err(s, TM_EREMOTE, "S3 GET bucket \"%s\" key \"%s\": asked for a range, got "
                    "HTTP %ld", s->bucket, fkey, r->h.status);
        goto out;
    }
    info->size = r->h.have_total ? r->h.total : r->h.content_length;
    snprintf(info->etag, sizeof info->etag, "%s", r->h.etag);
    snprintf(info->storage_class, sizeof info->storage_class, "%s",
             r->h.storage_class[0] ? r->h.storage_class : "STANDARD");
    info->last_modified = r->h.last_modified;
    snprintf(r->etag, sizeof r->etag, "%s", r->h.etag);
    r->end = r->h.have_length ? off + r->h.content_length : UINT64_MAX;
    *out = r;
    r = NULL;
out:
    store_s3_reader_close(r);
    return rc;
}

int store_s3_reader_read(struct store_s3_reader *r, void *p, size_t n, size_t *got)
{
    *got = 0;
    int rc = rd_pump(r, 1);
    if (rc) return rc;
    size_t avail = r->data.len - r->data_off;
    if (n > avail) n = avail;
    if (n) memcpy(p, r->data.data + r->data_off, n);
    r->data_off += n;
    *got = n;
    return 0;
}

void store_s3_reader_close(struct store_s3_reader *r)
{
    if (!r) return;
    if (r->easy) {
        curl_multi_remove_handle(r->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    if (r->multi) curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->hdrs);
    buf_free(&r->url);
    buf_free(&r->data);
    buf_free(&r->errbody);
    free(r->fkey);
    free(r);
}

/* ================================================================================================
 * Head, list, delete, copy
 * ============================================================================================== */

int store_s3_head(store *s, const char *fkey, store_object_info *info)
{
    s3_call c;
    memset(&c, 0, sizeof c);
    c.method = "HEAD";
    c.fkey = fkey;
    int rc = call_do(s, &c);
    if (!rc) {
        info->size = c.h.content_length;
        snprintf(info->etag, sizeof info->etag, "%s", c.h.etag);
        snprintf(info->storage_class, sizeof info->storage_class, "%s",
                 c.h.storage_class[0] ? c.h.storage_class : "STANDARD");
        info->last_modified = c.h.last_modified;
    }
    call_free(&c);
    return rc;
}

/* One <Contents> (or <CommonPrefixes>) element to a callback. */
static int list_entry(const char *v, size_t n, size_t strip, int dirs, store_list_fn fn, void *ctx,
                      buf *key)
{
    store_entry e;
    memset(&e, 0, sizeof e);
    buf t = BUF_INIT;
    int rc;
    buf_reset(key);
    if ((rc = store_xml_get(v, v + n, dirs ? "Prefix" : "Key", key)) != 1) {
        rc = rc ? rc : s3_err(NULL, TM_EREMOTE, "S3 listing: an entry without a key");
        goto out;
    }
    if (key->len < strip) {
        rc = s3_err(NULL, TM_EREMOTE, "S3 listing: key \"%s\" outside the prefix", key->data);
        goto out;
    }
    e.key = key->data + strip;
    if (!dirs) {
        if (store_xml_get(v, v + n, "Size", &t) == 1) e.size = strtoull(t.data, NULL, 10);
        buf_reset(&t);
        if (store_xml_get(v, v + n, "ETag", &t) == 1) copy_trimmed(e.etag, sizeof e.etag, t.data, t.len);
        buf_reset(&t);
        if (store_xml_get(v, v + n, "LastModified", &t) == 1) e.last_modified = store_parse_time(t.data);
        buf_reset(&t);
        if (store_xml_get(v, v + n, "StorageClass", &t) == 1)
            copy_trimmed(e.storage_class, sizeof e.storage_class, t.data, t.len);
        else
            snprintf(e.storage_class, sizeof e.storage_class, "STANDARD");
    }
    rc = fn(ctx, &e);
out:
    buf_free(&t);
    return rc;
}

int store_s3_list(store *s, const char *fprefix, size_t strip, int dirs, store_list_fn fn,
                  void *ctx)
{
    buf token = BUF_INIT, q = BUF_INIT, key = BUF_INIT;
    s3_call c;
    memset(&c, 0, sizeof c);
    int rc = 0, more = 1;
    while (more && !rc) {
        buf_reset(&q);
        if (token.len) {
            if ((rc = buf_puts(&q, "continuation-token=")) || (rc = store_pct_encode(&q, token.data, 0)) ||
                (rc = buf_putc(&q, '&')))
                break;
        }
        if (dirs && (rc = buf_puts(&q, "delimiter=%2F&"))) break;
        if ((rc = buf_puts(&q, "list-type=2&prefix=")) || (rc = store_pct_encode(&q, fprefix, 0))) break;
        call_free(&c);
        memset(&c, 0, sizeof c);
        c.method = "GET";
        c.query = q.data;
        c.max_body = LIST_BODY_MAX;
        if ((rc = call_do(s, &c))) break;
        if (!c.resp.data) {
            rc = s3_err(s, TM_EREMOTE, "S3 GET bucket \"%s\": empty listing response", s->bucket);
            break;
        }
        const char *p = c.resp.data, *end = c.resp.data + c.resp.len, *v;
        size_t n;
        const char *tag = dirs ? "CommonPrefixes" : "Contents";
        while (!rc && store_xml_next(&p, end, tag, &v, &n)) rc = list_entry(v, n, strip, dirs, fn, ctx, &key);
        if (rc) break;
        buf t = BUF_INIT;
        more = store_xml_get(c.resp.data, end, "IsTruncated", &t) == 1 && !strcmp(t.data, "true");
        buf_free(&t);
        buf_reset(&token);
        if (more && (store_xml_get(c.resp.data, end, "NextContinuationToken", &token) != 1 || !token.len)) {
            rc = s3_err(s, TM_EREMOTE, "S3 GET bucket \"%s\": truncated listing without a "
                        "continuation token", s->bucket);
        }
    }
    call_free(&c);
    buf_free(&token);
    buf_free(&q);
    buf_free(&key);
    return rc;
}

int store_s3_delete(store *s, const char *fkey)
{
    s3_call c;
    memset(&c, 0, sizeof c);
    c.method = "DELETE";
    c.fkey = fkey;
    int rc = call_do(s, &c);
    call_free(&c);
    if (rc == TM_ENOTFOUND && !strcmp(c.code, "NoSuchKey")) rc = 0;  /* gone already */
    return rc;
}

int store_s3_delete_many(store *s, const char *const *fkeys, size_t n)
{
    buf body = BUF_INIT, key = BUF_INIT, code = BUF_INIT, msg = BUF_INIT;
    s3_call c;
    memset(&c, 0, sizeof c);
    struct curl_slist *h = NULL;
    int rc = buf_puts(&body, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = buf_puts(&body, "<Object><Key>");
        if (!rc) rc = store_xml_escape(&body, fkeys[i]);
        if (!rc) rc = buf_puts(&body, "</Key></Object>");
    }
    if (!rc) rc = buf_puts(&body, "</Delete>");
    if (!rc) rc = add_header(&h, "Content-Type: application/xml");
    if (rc) goto out;
    c.method = "POST";
    c.query = "delete=";
    c.body = body.data;
    c.len = body.len;
    c.extra = h;
    c.max_body = LIST_BODY_MAX;
    if ((rc = call_do(s, &c))) goto out;
    /* Per-key failures come back as <Error> elements inside a 200 DeleteResult. */
    const char *p = c.resp.data, *end = p ? p + c.resp.len : NULL, *v;
    size_t vn;
    if (p && store_xml_next(&p, end, "Error", &v, &vn)) {
        store_xml_get(v, v + vn, "Key", &key);
        store_xml_get(v, v + vn, "Code", &code);
        store_xml_get(v, v + vn, "Message", &msg);
        rc = s3_err(s, TM_EREMOTE, "S3 POST ?delete bucket \"%s\" key \"%s\": %s: %s", s->bucket,
                     key.data ? key.data : "?", code.data ? code.data : "?", msg.data ? msg.data : "");
    }
out:
    curl_slist_free_all(h);
    call_free(&c);
    buf_free(&body);
    buf_free(&key);
    buf_free(&code);
    buf_free(&msg);
    return rc;
}

int store_s3_copy(store *s, const char *fsrc, const char *fdst, const char *storage_class)
{
    store_object_info info;
    s3_call hc, c;
    memset(&hc, 0, sizeof hc);
    memset(&c, 0, sizeof c);
    struct curl_slist *h = NULL;
    buf src = BUF_INIT;
    /* HEAD first: a clear not-found for the source, its size, and its content type to keep. */
    hc.method = "HEAD";
    hc.fkey = fsrc;
    int rc = call_do(s, &hc);
    if (rc) goto out;
    info.size = hc.h.content_length;
    if (info.size > ((uint64_t)5 << 30)) {
        rc = s3_err(s, TM_ELIMIT, "S3 copy bucket \"%s\" key \"%s\": objects over 5 GiB need a "
                                "multipart copy, which this store does not do", s->bucket, fsrc);
        goto out;
    }
    if ((rc = buf_printf(&src, "x-amz-copy-source: /%s/", s->bucket)) ||
        (rc = store_pct_encode(&src, fsrc, 1)) || (rc = add_header(&h, "%s", src.data)))
        goto out;
    if (storage_class) {
        /* A new storage class needs REPLACE (s3rver insists); keep the content type. */
        rc = add_header(&h, "x-amz-metadata-directive: REPLACE");
        if (!rc) rc = put_headers(s, &h, hc.h.content_type[0] ? hc.h.content_type : NULL, storage_class);
    } else if (s->opts.sse) {
        rc = add_header(&h, "x-amz-server-side-encryption: %s", s->opts.sse);
        if (!rc && s->opts.sse_kms_key_id)
            rc = add_header(&h, "x-amz-server-side-encryption-aws-kms-key-id: %s", s->opts.sse_kms_key_id);
    }
    if (rc) goto out;
    c.method = "PUT";
    c.fkey = fdst;
    c.extra = h;
    c.body_error_on_200 = 1;
    rc = call_do(s, &c);
out:
    curl_slist_free_all(h);
    call_free(&hc);
    call_free(&c);
    buf_free(&src);
    return rc;
}
