/* auth.c: AWS Signature Version 4 verification of DynamoDB requests against the server's key
 * pairs, the way AWS checks them (the canonical rules are those of store/store_sigv4.c, which
 * signs, and of ../shared/tools/sigv4-check.py):
 *   CanonicalRequest = METHOD \n URI-encoded path ('/' kept) \n sorted encoded query \n
 *                      "name:trimmed value\n" per signed header \n signed headers \n hex(SHA-256(body))
 *   StringToSign     = "AWS4-HMAC-SHA256" \n X-Amz-Date \n DATE/REGION/dynamodb/aws4_request \n
 *                      hex(SHA-256(CanonicalRequest))
 *   key = HMAC chain "AWS4"+secret -> DATE -> REGION -> "dynamodb" -> "aws4_request"
 * Any region is accepted (the client's choice, as DynamoDB Local does); the service must be
 * dynamodb, host must be signed, and X-Amz-Date within 15 minutes of now. */
#include "serve/serve_internal.h"
#include "engine/buf.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "store/store.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define AUTH_SKEW_S 900             /* AWS: a signature is valid 15 minutes around its time */
#define AUTH_FILE_MAX ((size_t)1 << 20)

/* The signing key of a pair's last scope (date/region/service): a client signs every request of
 * a day with the same one, and deriving it is four HMACs. */
typedef struct key_cache {
    pthread_mutex_t mu;
    char scope[160];
    unsigned char key[32];
} key_cache;

typedef struct auth_pair {
    char *id, *secret;
    key_cache *kc;
} auth_pair;

struct serve_auth {
    auth_pair *p;
    size_t n;
};

/* ================================================================ key pairs */

static int add_pair(serve_auth *a, const char *id, size_t idn, const char *sec, size_t secn)
{
    auth_pair *np = realloc(a->p, (a->n + 1) * sizeof *np);
    if (!np) return -1;
    a->p = np;
    np[a->n].id = strndup(id, idn);
    np[a->n].secret = strndup(sec, secn);
    if ((np[a->n].kc = calloc(1, sizeof *np[a->n].kc))) pthread_mutex_init(&np[a->n].kc->mu, NULL);
    a->n++;
    return 0;
}

/* Lines "ID SECRET" or "ID:SECRET"; blank lines and '#' comments skipped. */
static int parse_file(serve_auth *a, const char *path, tm_error *e)
{
    buf b = BUF_INIT;
    int rc = fsx_read_file(path, AUTH_FILE_MAX, &b), lineno = 0;
    if (rc) {
        buf_free(&b);
        return tm_error_from(e, rc, "credentials file %s: ", path);
    }
    char *save = NULL, *text = b.data ? b.data : "";
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        l += strspn(l, " \t");
        size_t len = strcspn(l, "\r");
        if (!len || l[0] == '#') continue;
        size_t idn = strcspn(l, " \t:");
        const char *sec = l + idn;
        sec += strspn(sec, " \t:");
        size_t secn = strcspn(sec, " \t\r");
        if (!idn || !secn) {
            buf_free(&b);
            return tm_error_set(e, TM_ERR_BAD_PARAMETER, "credentials file %s: line %d is not "
                                "\"ACCESS_KEY_ID SECRET\"", path, lineno);
        }
        add_pair(a, l, idn, sec, secn);
    }
    buf_free(&b);
    return 0;
}

int auth_open(const char *file, serve_auth **out, tm_error *e)
{
    serve_auth *a = calloc(1, sizeof *a);
    int k = 0;
    *out = NULL;
    if (!a) return tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
    if (file) {
        k = parse_file(a, file, e);
    } else {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *sec = getenv("AWS_SECRET_ACCESS_KEY");
        if (id && *id && sec && *sec) add_pair(a, id, strlen(id), sec, strlen(sec));
    }
    if (!k && !a->n)
        k = tm_error_set(e, TM_ERR_BAD_PARAMETER, "no credentials to check signatures with: set "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give --credentials FILE, "
                         "or --no-auth for local development");
    if (k) {
        auth_free(a);
        return k;
    }
    *out = a;
    return 0;
}

void auth_free(serve_auth *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) {
        OPENSSL_cleanse(a->p[i].secret, strlen(a->p[i].secret));
        free(a->p[i].id);
        free(a->p[i].secret);
        if (a->p[i].kc) {
            OPENSSL_cleanse(a->p[i].kc->key, sizeof a->p[i].kc->key);
            pthread_mutex_destroy(&a->p[i].kc->mu);
            free(a->p[i].kc);
        }
    }
    free(a->p);
    free(a);
}

size_t auth_count(const serve_auth *a) { return a ? a->n : 0; }

/* ================================================================ canonical request */

static void bputc(buf *b, char c) { buf_append(b, &c, 1); }


static int sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    if (store_sha256(p, n, d)) return -1;
    store_hex(d, 32, out);
    return 0;
}

static int hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    return store_hmac_sha256(key, klen, msg, strlen(msg), out);
}

/* RFC 3986 unreserved kept; '/' too when keep_slash. */
static void uri_encode(buf *b, const char *s, int keep_slash)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            bputc(b, (char)c);
        else
            buf_printf(b, "%%%02X", c);
    }
}

static int cmp_pair(const void *x, const void *y)
{
    const char *const *a = x, *const *b = y;
    int c = strcmp(a[0], b[0]);
    return c ? c : strcmp(a[1], b[1]);
}

static void canonical_query(buf *out, const serve_request *r)
{
    if (!r->nq) return;
    char **kv = calloc(r->nq * 2, sizeof *kv);
    if (!kv) return;
    for (size_t i = 0; i < r->nq; i++) {
        buf k = BUF_INIT, v = BUF_INIT;
        uri_encode(&k, r->q[i].name, 0);
        uri_encode(&v, r->q[i].value ? r->q[i].value : "", 0);
        kv[2 * i] = k.data ? k.data : strdup("");
        kv[2 * i + 1] = v.data ? v.data : strdup("");
    }
    qsort(kv, r->nq, 2 * sizeof *kv, cmp_pair);
    for (size_t i = 0; i < r->nq; i++) {
        buf_printf(out, "%s%s=%s", i ? "&" : "", kv[2 * i], kv[2 * i + 1]);
        free(kv[2 * i]);
        free(kv[2 * i + 1]);
    }
    free(kv);
}

/* "value" trimmed, inner runs of blanks as one space. */
static void header_value(buf *out, const char *v)
{
    int space = 0, any = 0;
    for (; v && *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = any;
            continue;
        }
        if (space) bputc(out, ' ');
        bputc(out, *v);
        space = 0;
        any = 1;
    }
}

/* The headers named in signed ("a;b;c") as canonical lines; -1 if one is absent. */
static int canonical_headers(buf *out, const serve_request *r, const char *signed_h)
{
    const char *p = signed_h;
    int host = 0;
    while (*p) {
        size_t n = strcspn(p, ";");
        char name[128];
        if (!n || n >= sizeof name) return -1;
        memcpy(name, p, n);
        name[n] = '\0';
        const char *v = serve_header_get(r, name);
        if (!v) return -1;
        host |= !strcmp(name, "host");
        buf_printf(out, "%s:", name);
        header_value(out, v);
        bputc(out, '\n');
        p += n + (p[n] == ';');
    }
    return host ? 0 : -1;
}

/* ================================================================ verification */

typedef struct auth_hdr {
    char id[128], date[16], region[64], service[64], signed_h[1024], sig[65];
} auth_hdr;

static int parse_authorization(const char *v, auth_hdr *h)
{
    const char *c = strstr(v, "Credential="), *s = strstr(v, "SignedHeaders="), *g = strstr(v, "Signature=");
    memset(h, 0, sizeof *h);
    if (strncmp(v, "AWS4-HMAC-SHA256 ", 17) || !c || !s || !g) return -1;
    if (sscanf(c + 11, "%127[^/]/%15[^/]/%63[^/]/%63[^/]/aws4_request", h->id, h->date, h->region,
               h->service) != 4)
        return -1;
    if (sscanf(s + 14, "%1023[^, ]", h->signed_h) != 1 || sscanf(g + 10, "%64[0-9a-f]", h->sig) != 1)
        return -1;
    return strlen(h->sig) == 64 ? 0 : -1;
}

static int64_t amz_time(const char *d)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = d ? strptime(d, "%Y%m%dT%H%M%SZ", &tm) : NULL;
    return end && !*end ? (int64_t)timegm(&tm) : -1;
}

static const auth_pair *find_pair(const serve_auth *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->p[i].id, id)) return &a->p[i];
    return NULL;
}

/* key = HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request", from the
 * pair's cache when its scope is the same. */
static int signing_key(const auth_pair *p, const auth_hdr *h, unsigned char key[32])
{
    char scope[160], first[256];
    unsigned char k0[32], k1[32], k2[32];
    snprintf(scope, sizeof scope, "%s/%s/%s", h->date, h->region, h->service);
    if (p->kc) {
        pthread_mutex_lock(&p->kc->mu);
        int hit = !strcmp(p->kc->scope, scope);
        if (hit) memcpy(key, p->kc->key, 32);
        pthread_mutex_unlock(&p->kc->mu);
        if (hit) return 0;
    }
    snprintf(first, sizeof first, "AWS4%s", p->secret);
    int k = hmac(first, strlen(first), h->date, k0) || hmac(k0, 32, h->region, k1) ||
            hmac(k1, 32, h->service, k2) || hmac(k2, 32, "aws4_request", key);
    OPENSSL_cleanse(first, sizeof first);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    if (k) return -1;
    if (!p->kc) return 0;
    pthread_mutex_lock(&p->kc->mu);
    snprintf(p->kc->scope, sizeof p->kc->scope, "%s", scope);
    memcpy(p->kc->key, key, 32);
    pthread_mutex_unlock(&p->kc->mu);
    return 0;
}

int auth_check(const serve_auth *a, const serve_request *r, int64_t now_s, tm_error *e)
{
    const char *v = serve_header_get(r, "authorization");
    auth_hdr h;
    if (!v) return tm_error_set(e, TM_ERR_MISSING_AUTH_TOKEN, "Request is missing Authentication Token");
    if (parse_authorization(v, &h))
        return tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "Authorization header requires "
                            "'Credential', 'SignedHeaders' and 'Signature' of AWS4-HMAC-SHA256");
    const auth_pair *pair = find_pair(a, h.id);
    if (!pair)
        return tm_error_set(e, TM_ERR_UNRECOGNIZED_CLIENT, "The security token included in the "
                            "request is invalid.");
    if (strcmp(h.service, "dynamodb"))
        return tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "Credential should be scoped to correct "
                            "service: 'dynamodb', not '%s'", h.service);
    const char *amz = serve_header_get(r, "x-amz-date");
    int64_t t = amz_time(amz);
    if (t < 0 || strncmp(amz, h.date, 8))
        return tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "X-Amz-Date is missing or does not "
                            "match the credential's date");
    if (t < now_s - AUTH_SKEW_S || t > now_s + AUTH_SKEW_S)
        return tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "Signature expired: %s is not within "
                            "15 minutes of the server's time", amz);
    buf creq = BUF_INIT, sts = BUF_INIT;
    char body_hash[65], creq_hash[65], want[65];
    int k = 0;
    buf_printf(&creq, "%s\n", r->method);
    uri_encode(&creq, r->path, 1);
    bputc(&creq, '\n');
    canonical_query(&creq, r);
    bputc(&creq, '\n');
    if (canonical_headers(&creq, r, h.signed_h)) {
        k = tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "SignedHeaders must include host and name "
                         "only headers the request has");
        goto out;
    }
    unsigned char k3[32], s[32];
    if (sha256_hex(r->body ? r->body : "", r->len, body_hash) ||
        buf_printf(&creq, "\n%s\n%s", h.signed_h, body_hash) ||
        sha256_hex(creq.data, creq.len, creq_hash) ||
        buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz, h.date, h.region,
                   h.service, creq_hash) ||
        signing_key(pair, &h, k3) || hmac(k3, 32, sts.data, s)) {
        OPENSSL_cleanse(k3, sizeof k3);
        k = tm_error_set(e, TM_ERR_INTERNAL, "cannot compute the signature (out of memory)");
        goto out;
    }
    store_hex(s, 32, want);
    OPENSSL_cleanse(k3, sizeof k3);
    if (CRYPTO_memcmp(want, h.sig, 64))
        k = tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "The request signature we calculated does "
                         "not match the signature you provided. Check your AWS Secret Access Key "
                         "and signing method. Consult the service documentation for details.");
out:
    buf_free(&creq);
    buf_free(&sts);
    return k;
}
