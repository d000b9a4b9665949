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
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "store/store.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static int sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    if (store_sha256(p, n, d)) return -1;
    store_hex(d, 32, out);
    return 0;
}

static int hmac(const void *key, size_t klen, const char *msg, size_t n, unsigned char out[32])
{
    return store_hmac_sha256(key, klen, msg, n, out);
}

static int unreserved(unsigned char c, int keep_slash)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
}

/* RFC 3986 unreserved kept; '/' too when keep_slash. Runs of kept bytes go in one append. */
static void uri_encode(buf *b, const char *s, int keep_slash)
{
    static const char hexd[] = "0123456789ABCDEF";
    while (*s) {
        size_t n = 0;
        while (s[n] && unreserved((unsigned char)s[n], keep_slash)) n++;
        buf_append(b, s, n);
        s += n;
        if (!*s) break;
        unsigned char c = (unsigned char)*s++;
        char e[3] = {'%', hexd[c >> 4], hexd[c & 15]};
        buf_append(b, e, 3);
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

/* "value" trimmed, inner runs of blanks as one space: appended word by word. */
static void header_value(buf *out, const char *v)
{
    for (int any = 0; v && *v; any = 1) {
        v += strspn(v, " \t");
        size_t n = strcspn(v, " \t");
        if (!n) break;
        if (any) buf_putc(out, ' ');
        buf_append(out, v, n);
        v += n;
    }
}

/* The headers named in signed ("a;b;c", lower case) as canonical lines; -1 if one is absent. */
static int canonical_headers(buf *out, const serve_request *r, const char *signed_h)
{
    const char *p = signed_h;
    int host = 0;
    while (*p) {
        size_t n = strcspn(p, ";");
        char name[128];
        if (!n || n >= sizeof name) return -1;
        for (size_t i = 0; i < n; i++)
            if (p[i] >= 'A' && p[i] <= 'Z') return -1;
        memcpy(name, p, n);
        name[n] = '\0';
        const char *v = serve_header_get(r, name);
        if (!v) return -1;
        host |= !strcmp(name, "host");
        buf_append(out, name, n);
        buf_putc(out, ':');
        header_value(out, v);
        buf_putc(out, '\n');
        p += n + (p[n] == ';');
    }
    return host ? 0 : -1;
}

/* ================================================================ verification */

typedef struct auth_hdr {
    char id[128], date[16], region[64], service[64], signed_h[1024], sig[65];
} auth_hdr;

/* Copies into out (cap bytes) the run of p up to the first byte of stop (or the end): 1 to
 * cap - 1 bytes, else -1. Returns the length; *p moves past the run. */
static int take(const char **p, const char *stop, char *out, size_t cap)
{
    size_t n = strcspn(*p, stop);
    if (!n || n >= cap) return -1;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return (int)n;
}

/* "AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
 * Signature=64 hex" (the parts in any order). */
static int parse_authorization(const char *v, auth_hdr *h)
{
    const char *c = strstr(v, "Credential="), *s = strstr(v, "SignedHeaders="), *g = strstr(v, "Signature=");
    if (strncmp(v, "AWS4-HMAC-SHA256 ", 17) || !c || !s || !g) return -1;
    c += 11;
    if (take(&c, "/", h->id, sizeof h->id) < 0 || *c++ != '/' || take(&c, "/", h->date, sizeof h->date) < 0 ||
        *c++ != '/' || take(&c, "/", h->region, sizeof h->region) < 0 || *c++ != '/' ||
        take(&c, "/", h->service, sizeof h->service) < 0 || strncmp(c, "/aws4_request", 13) ||
        (c[13] && c[13] != ',' && c[13] != ' '))
        return -1;
    s += 14;
    if (take(&s, ", ", h->signed_h, sizeof h->signed_h) < 0) return -1;
    g += 10;
    for (int i = 0; i < 64; i++) {
        if (!((g[i] >= '0' && g[i] <= '9') || (g[i] >= 'a' && g[i] <= 'f'))) return -1;
        h->sig[i] = g[i];
    }
    if (g[64] && g[64] != ',' && g[64] != ' ') return -1;   /* exactly 64: AWS refuses more */
    h->sig[64] = '\0';
    return 0;
}

/* X-Amz-Date "YYYYMMDDTHHMMSSZ" -> Unix seconds, -1 if it is not one. */
static int64_t amz_time(const char *d)
{
    static const char shape[] = "ddddddddTddddddZ";
    char iso[21];
    int64_t us;
    if (!d || strlen(d) != 16) return -1;
    for (int i = 0; i < 16; i++)
        if (shape[i] == 'd' ? !(d[i] >= '0' && d[i] <= '9') : d[i] != shape[i]) return -1;
    /* as ISO-8601 for the engine's one parser of times */
    memcpy(iso, d, 4);
    iso[4] = '-';
    memcpy(iso + 5, d + 4, 2);
    iso[7] = '-';
    memcpy(iso + 8, d + 6, 3);
    memcpy(iso + 11, d + 9, 2);
    iso[13] = ':';
    memcpy(iso + 14, d + 11, 2);
    iso[16] = ':';
    memcpy(iso + 17, d + 13, 4);
    return clock_parse(iso, &us) ? -1 : us / 1000000;
}

static const auth_pair *find_pair(const serve_auth *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->p[i].id, id)) return &a->p[i];
    return NULL;
}

/* Appends n bytes at *p (the callers size their buffers from the parts' bounds). */
static void put(char **p, const char *s, size_t n)
{
    memcpy(*p, s, n);
    *p += n;
}

/* "DATE/REGION/SERVICE" (at most 15 + 63 + 63 + 3 bytes, auth_hdr's bounds). */
static void scope_of(const auth_hdr *h, char out[160])
{
    char *p = out;
    put(&p, h->date, strlen(h->date));
    put(&p, "/", 1);
    put(&p, h->region, strlen(h->region));
    put(&p, "/", 1);
    put(&p, h->service, strlen(h->service) + 1);
}

/* key = HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request", from the
 * pair's cache when its scope is the same. */
static int signing_key(const auth_pair *p, const auth_hdr *h, unsigned char key[32])
{
    char scope[160], first[256];
    unsigned char k0[32], k1[32], k2[32];
    scope_of(h, scope);
    if (p->kc) {
        pthread_mutex_lock(&p->kc->mu);
        int hit = !strcmp(p->kc->scope, scope);
        if (hit) memcpy(key, p->kc->key, 32);
        pthread_mutex_unlock(&p->kc->mu);
        if (hit) return 0;
    }
    snprintf(first, sizeof first, "AWS4%s", p->secret);
    int k = hmac(first, strlen(first), h->date, strlen(h->date), k0) ||
            hmac(k0, 32, h->region, strlen(h->region), k1) ||
            hmac(k1, 32, h->service, strlen(h->service), k2) || hmac(k2, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(first, sizeof first);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    if (k) return -1;
    if (!p->kc) return 0;
    pthread_mutex_lock(&p->kc->mu);
    memcpy(p->kc->scope, scope, strlen(scope) + 1);
    memcpy(p->kc->key, key, 32);
    pthread_mutex_unlock(&p->kc->mu);
    return 0;
}

/* The canonical request's hash, hex, into creq_hash; -1 when a signed header is missing or
 * host is not signed, -2 when memory ran out. */
static int canonical_hash(const serve_request *r, const auth_hdr *h, char creq_hash[65])
{
    buf creq = BUF_INIT;
    char body_hash[65];
    int k = buf_reserve(&creq, 1024) ? -2 : 0;
    if (!k) {
        buf_puts(&creq, r->method);
        buf_putc(&creq, '\n');
        uri_encode(&creq, r->path, 1);
        buf_putc(&creq, '\n');
        canonical_query(&creq, r);
        buf_putc(&creq, '\n');
        k = canonical_headers(&creq, r, h->signed_h);
    }
    if (!k) {
        buf_putc(&creq, '\n');
        buf_puts(&creq, h->signed_h);
        buf_putc(&creq, '\n');
        if (sha256_hex(r->body ? r->body : "", r->len, body_hash) || buf_append(&creq, body_hash, 64) ||
            sha256_hex(creq.data, creq.len, creq_hash))
            k = -2;
    }
    buf_free(&creq);
    return k;
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
    char creq_hash[65], want[65], sts[320], *p = sts;
    int k = canonical_hash(r, &h, creq_hash);
    if (k == -1)
        return tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "SignedHeaders must include host and name "
                            "only headers the request has");
    if (k) return tm_error_set(e, TM_ERR_INTERNAL, "cannot compute the signature (out of memory)");
    /* StringToSign; amz is 16 bytes (amz_time), the scope at most 143 */
    put(&p, "AWS4-HMAC-SHA256\n", 17);
    put(&p, amz, 16);
    put(&p, "\n", 1);
    scope_of(&h, p);
    p += strlen(p);
    put(&p, "/aws4_request\n", 14);
    put(&p, creq_hash, 64);
    unsigned char k3[32], s[32];
    if (signing_key(pair, &h, k3) || hmac(k3, 32, sts, (size_t)(p - sts), s)) {
        OPENSSL_cleanse(k3, sizeof k3);
        return tm_error_set(e, TM_ERR_INTERNAL, "cannot compute the signature (out of memory)");
    }
    store_hex(s, 32, want);
    OPENSSL_cleanse(k3, sizeof k3);
    if (CRYPTO_memcmp(want, h.sig, 64))
        return tm_error_set(e, TM_ERR_INVALID_SIGNATURE, "The request signature we calculated does "
                            "not match the signature you provided. Check your AWS Secret Access Key "
                            "and signing method. Consult the service documentation for details.");
    return 0;
}
