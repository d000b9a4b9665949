/* store.c: the store front end -- parses destinations, checks keys, joins them to the prefix,
 * keeps the whole-object MD5 of writers, and dispatches every verb to the local or S3 backend.
 * Also the small digest/encoding helpers both backends use. */
#include "store/store_internal.h"
#include "engine/err.h"
#include "engine/text.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define KEY_MAX 1024

/* ================================================================================================
 * Digests and encodings
 * ============================================================================================== */

void store_hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

struct store_md5_ctx {
    EVP_MD_CTX *c;
};

store_md5_ctx *store_md5_new(void)
{
    store_md5_ctx *m = malloc(sizeof *m);
    if (!m) return NULL;
    m->c = EVP_MD_CTX_new();
    if (!m->c || !EVP_DigestInit_ex(m->c, EVP_md5(), NULL)) {
        EVP_MD_CTX_free(m->c);
        free(m);
        return NULL;
    }
    return m;
}

void store_md5_update(store_md5_ctx *c, const void *p, size_t n)
{
    if (n) EVP_DigestUpdate(c->c, p, n);
}

void store_md5_final(store_md5_ctx *c, unsigned char out[16])
{
    unsigned int len = 16;
    EVP_DigestFinal_ex(c->c, out, &len);
    store_md5_free(c);
}

void store_md5_free(store_md5_ctx *c)
{
    if (!c) return;
    EVP_MD_CTX_free(c->c);
    free(c);
}

void store_md5(const void *p, size_t n, unsigned char out[16])
{
    unsigned int len = 16;
    EVP_Digest(p, n, out, &len, EVP_md5(), NULL);
}

/* SHA-256 fetched once: OpenSSL 3's EVP_sha256() in EVP_Digest and HMAC() looks the algorithm
 * up in the provider tables on every call, which cost more than the hashing of a SigV4
 * request (HMAC() 1.6 us against 0.4 us here). */
static EVP_MD *sha256_md;

static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

static const EVP_MD *sha256(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sha256_fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

/* Hashes the n parts (p[i], len[i]) as one message. */
static int sha256_parts(EVP_MD_CTX *c, const void *const *p, const size_t *len, int n,
                        unsigned char out[32])
{
    unsigned int dl = 32;
    if (!EVP_DigestInit_ex(c, sha256(), NULL)) return -1;
    for (int i = 0; i < n; i++)
        if (len[i] && !EVP_DigestUpdate(c, p[i], len[i])) return -1;
    return EVP_DigestFinal_ex(c, out, &dl) ? 0 : -1;
}

int store_sha256(const void *p, size_t n, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int rc = c ? sha256_parts(c, &p, &n, 1, out) : -1;
    EVP_MD_CTX_free(c);
    return rc ? err_set(TM_ENOMEM, "SHA-256 failed (out of memory)") : 0;
}

void store_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    if (store_sha256(p, n, d)) {
        out[0] = '\0';
        return;
    }
    store_hex(d, 32, out);
}

/* HMAC (RFC 2104) written over the digest above rather than OpenSSL's HMAC(), which fetches
 * SHA-256 and builds a MAC context per call: SigV4 does one to five of them per request. */
int store_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, unsigned char out[32])
{
    unsigned char pad[64], inner[32];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int rc = c ? 0 : -1;
    memset(pad, 0, sizeof pad);
    if (klen > sizeof pad) {       /* a long key is its hash */
        if (!rc) rc = sha256_parts(c, &key, &klen, 1, pad);
    } else if (klen) {
        memcpy(pad, key, klen);
    }
    for (size_t i = 0; i < sizeof pad; i++) pad[i] ^= 0x36;
    const void *ip[2] = {pad, msg}, *op[2] = {pad, inner};
    size_t il[2] = {sizeof pad, n}, ol[2] = {sizeof pad, sizeof inner};
    if (!rc) rc = sha256_parts(c, ip, il, 2, inner);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] ^= 0x36 ^ 0x5c;
    if (!rc) rc = sha256_parts(c, op, ol, 2, out);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    EVP_MD_CTX_free(c);
    return rc ? err_set(TM_ENOMEM, "HMAC-SHA-256 failed (out of memory)") : 0;
}

int store_pct_encode(buf *b, const char *s, int keep_slash)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        int rc;
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~' || (keep_slash && *c == '/')) {
            rc = buf_putc(b, (char)*c);
        } else {
            char e[3] = {'%', hexd[*c >> 4], hexd[*c & 15]};
            rc = buf_append(b, e, 3);
        }
        if (rc) return rc;
    }
    return 0;
}

int64_t store_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    }
    if (!end) return 0;
    return (int64_t)timegm(&tm);
}

/* ================================================================================================
 * Redaction of error text
 * ============================================================================================== */

/* Names whose value is a credential: query parameters of presigned URLs, the Authorization
 * header's fields, the token header. Matched without regard to case, followed by '=' or ':'. */
static const char *const redact_names[] = {"signature", "credential", "security-token",
                                           "securitytoken", "sessiontoken", "session-token"};
#define REDACTED "[redacted]"

static int key_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int value_end(char c)
{
    return !c || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '&' || c == ',' ||
           c == ';' || c == '"' || c == '\'' || c == '<' || c == '>' || c == ')';
}

void store_redact(const char *in, const char *const *secrets, size_t nsecrets, char *out,
                  size_t cap)
{
    size_t o = 0, i = 0;
    if (!cap) return;
#define PUT(p, n)                                                                                  \
    do {                                                                                           \
        size_t n_ = (n);                                                                           \
        if (n_ > cap - 1 - o) n_ = cap - 1 - o;                                                    \
        memcpy(out + o, (p), n_);                                                                  \
        o += n_;                                                                                   \
    } while (0)
    while (in[i] && o < cap - 1) {
        size_t skip = 0;
        /* The configured secrets, wherever they appear (short ones would blank ordinary words). */
        for (size_t k = 0; !skip && k < nsecrets; k++) {
            size_t l = secrets[k] ? strlen(secrets[k]) : 0;
            if (l >= 4 && !strncmp(in + i, secrets[k], l)) skip = l;
        }
        if (skip) {
            PUT(REDACTED, sizeof REDACTED - 1);
            i += skip;
            continue;
        }
        /* Access key ids: AKIA (long-term) or ASIA (temporary) and 16 more of [A-Z0-9]. */
        if ((!strncmp(in + i, "AKIA", 4) || !strncmp(in + i, "ASIA", 4)) &&
            (i == 0 || !key_id_char(in[i - 1]))) {
            size_t l = 4;
            while (key_id_char(in[i + l])) l++;
            if (l >= 20) {
                PUT(in + i, 4);
                PUT(REDACTED, sizeof REDACTED - 1);
                i += l;
                continue;
            }
        }
        /* name=value, name: value -> name=[redacted] */
        for (size_t k = 0; k < sizeof redact_names / sizeof *redact_names; k++) {
            size_t l = strlen(redact_names[k]);
            if (strncasecmp(in + i, redact_names[k], l) || (in[i + l] != '=' && in[i + l] != ':'))
                continue;
            size_t v = i + l + 1;
            if (in[i + l] == ':')   /* a header: "name: value" */
                while (in[v] == ' ') v++;
            if (value_end(in[v])) break;
            PUT(in + i, v - i);
            PUT(REDACTED, sizeof REDACTED - 1);
            while (!value_end(in[v])) v++;
            skip = v - i;
            break;
        }
        if (skip) {
            i += skip;
            continue;
        }
        PUT(in + i, 1);
        i++;
    }
#undef PUT
    out[o] = '\0';
}

/* ================================================================================================
 * Destinations and keys
 * ============================================================================================== */

/* Same rules for both backends so that what works locally works on S3 and back. */
static int check_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0) return err_set(TM_EINVAL, "empty key");
    if (n > KEY_MAX) return err_set(TM_EINVAL, "key longer than %d bytes", KEY_MAX);
    if (key[0] == '/') return err_set(TM_EINVAL, "key \"%s\" starts with '/'", key);
    const char *seg = key;
    for (;;) {
        const char *sl = strchr(seg, '/');
        size_t len = sl ? (size_t)(sl - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return err_set(TM_EINVAL, "key \"%s\" has an empty, \".\" or \"..\" segment", key);
        if (!sl) break;
        seg = sl + 1;
    }
    return 0;
}

static int check_prefix(const char *p)
{
    if (p && p[0] == '/') return err_set(TM_EINVAL, "prefix \"%s\" starts with '/'", p);
    if (p && strlen(p) > KEY_MAX) return err_set(TM_EINVAL, "prefix longer than %d bytes", KEY_MAX);
    return 0;
}

int store_full_key(const store *s, const char *key, buf *out)
{
    int rc = check_key(key);
    if (rc) return rc;
    if (s->prefix[0]) {
        if ((rc = buf_puts(out, s->prefix)) || (rc = buf_putc(out, '/'))) return rc;
    }
    return buf_puts(out, key);
}

/* The full form of a listing prefix; *strip is how many bytes to cut off listed keys. */
static int full_prefix(const store *s, const char *p, buf *out, size_t *strip)
{
    int rc = check_prefix(p);
    if (rc) return rc;
    *strip = 0;
    if (s->prefix[0]) {
        if ((rc = buf_puts(out, s->prefix)) || (rc = buf_putc(out, '/'))) return rc;
        *strip = strlen(s->prefix) + 1;
    }
    if ((rc = buf_puts(out, p ? p : ""))) return rc;
    if (!out->data && (rc = buf_puts(out, ""))) return rc;
    return 0;
}

static char *dup_opt(const char *v, char **own)
{
    *own = v ? strdup(v) : NULL;
    return *own;
}

int store_s3_split(const char *url, buf *bucket, buf *prefix)
{
    if (strncmp(url, "s3://", 5)) return err_set(TM_EINVAL, "\"%s\" is not an s3:// URL", url);
    const char *rest = url + 5, *sl = strchr(rest, '/');
    size_t blen = sl ? (size_t)(sl - rest) : strlen(rest);
    if (blen == 0) return err_set(TM_EINVAL, "destination s3://%s has no bucket", rest);
    const char *p = sl ? sl + 1 : "";
    while (*p == '/') p++;
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/') plen--;
    if (buf_append(bucket, rest, blen) || buf_append(prefix, p, plen))
        return err_set(TM_ENOMEM, "out of memory");
    return 0;
}

static int parse_s3(store *s, const char *dest)
{
    buf b = BUF_INIT, p = BUF_INIT;
    int rc = store_s3_split(dest, &b, &p);
    s->bucket = buf_detach(&b);
    s->prefix = buf_detach(&p);
    if (rc) return rc;
    for (const char *c = s->bucket; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.' || *c == '_'))
            return err_set(TM_EINVAL, "bad bucket name \"%s\"", s->bucket);
    }
    if (s->prefix[0] && check_key(s->prefix)) return err_wrap(TM_EINVAL, "destination prefix: ");
    buf r = BUF_INIT;
    rc = buf_printf(&r, "s3://%s%s%s", s->bucket, s->prefix[0] ? "/" : "", s->prefix);
    if (rc) return rc;
    s->root = buf_detach(&r);
    return 0;
}

static int parse_local(store *s, const char *path)
{
    if (!path[0]) return err_set(TM_EINVAL, "empty destination");
    buf a = BUF_INIT;
    int rc = 0;
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return err_sys(TM_EIO, errno, "getcwd");
        if ((rc = buf_puts(&a, cwd)) || (rc = buf_putc(&a, '/'))) goto out;
    }
    if ((rc = buf_puts(&a, path))) goto out;
    while (a.len > 1 && a.data[a.len - 1] == '/') a.data[--a.len] = '\0';
    if (a.len >= PATH_MAX - KEY_MAX - 64) {
        rc = err_set(TM_EINVAL, "destination path too long: %s", path);
        goto out;
    }
    s->dir = buf_detach(&a);
    s->root = strdup(s->dir);
    const char *base = strrchr(s->dir, '/');
    s->bucket = strdup(base && base[1] ? base + 1 : s->dir);
    s->prefix = strdup("");
    if (!s->root || !s->bucket || !s->prefix) rc = err_set(TM_ENOMEM, "out of memory");
out:
    buf_free(&a);
    return rc;
}

int store_open(const char *dest, const store_options *opts, store **out)
{
    static const store_options defaults = STORE_OPTIONS_INIT;
    *out = NULL;
    if (!dest) return err_set(TM_EINVAL, "no destination");
    int rc = store_url_check(dest);
    if (rc) return rc;
    if (!opts) opts = &defaults;
    store *s = calloc(1, sizeof *s);
    if (!s) return err_set(TM_ENOMEM, "out of memory");
    s->opts = *opts;
    s->opts.region = dup_opt(opts->region, &s->own_region);
    s->opts.endpoint_url = dup_opt(opts->endpoint_url, &s->own_endpoint);
    s->opts.profile = dup_opt(opts->profile, &s->own_profile);
    s->opts.ca_bundle = dup_opt(opts->ca_bundle, &s->own_ca);
    s->opts.sse = dup_opt(opts->sse, &s->own_sse);
    s->opts.sse_kms_key_id = dup_opt(opts->sse_kms_key_id, &s->own_kms);
    s->opts.storage_class = dup_opt(opts->storage_class, &s->own_class);
    if (opts->sse && strcmp(opts->sse, "AES256") && strcmp(opts->sse, "aws:kms")) {
        rc = err_set(TM_EINVAL, "sse must be AES256 or aws:kms, not \"%s\"", opts->sse);
        goto out;
    }
    if (opts->sse_kms_key_id && (!opts->sse || strcmp(opts->sse, "aws:kms"))) {
        rc = err_set(TM_EINVAL, "a KMS key id needs sse aws:kms");
        goto out;
    }
    if (opts->part_size && opts->part_size < ((size_t)5 << 20)) {
        rc = err_set(TM_EINVAL, "part size %zu is below the S3 minimum of 5 MiB", opts->part_size);
        goto out;
    }
    if (opts->max_attempts < 0 || opts->parallel_parts < 0 || opts->retry_base_ms < 0 ||
        opts->timeout_s < 0) {
        rc = err_set(TM_EINVAL, "negative store option");
        goto out;
    }
    if (!strncmp(dest, "s3://", 5)) {
        s->is_s3 = 1;
        if ((rc = parse_s3(s, dest)) || (rc = store_s3_open(s))) goto out;
    } else {
        if (!strncmp(dest, "file://", 7)) dest += 7;
        if ((rc = parse_local(s, dest)) || (rc = store_local_open(s, s->dir))) goto out;
    }
    *out = s;
out:
    if (rc) store_close(s);
    return rc;
}

void store_close(store *s)
{
    if (!s) return;
    if (s->s3) store_s3_close(s);
    free(s->bucket);
    free(s->prefix);
    free(s->root);
    free(s->dir);
    free(s->own_region);
    free(s->own_endpoint);
    free(s->own_profile);
    free(s->own_ca);
    free(s->own_sse);
    free(s->own_kms);
    free(s->own_class);
    free(s);
}

int store_is_s3(const store *s) { return s->is_s3; }
const char *store_bucket(const store *s) { return s->bucket; }
const char *store_prefix(const store *s) { return s->prefix; }
const char *store_root(const store *s) { return s->root; }

void store_get_stats(const store *s, store_stats *out)
{
    store *m = (store *)s;  /* atomic loads want a non-const object */
    out->requests = atomic_load(&m->n_requests);
    out->retries = atomic_load(&m->n_retries);
    out->bytes_up = atomic_load(&m->n_up);
    out->bytes_down = atomic_load(&m->n_down);
    out->multipart_uploads = atomic_load(&m->n_multipart);
}

/* ================================================================================================
 * Put
 * ============================================================================================== */

struct store_writer {
    store *s;
    int rc;                        /* sticky */
    uint64_t size;
    store_md5_ctx *md5;
    struct store_local_writer *lw;
    struct store_s3_writer *sw;
};

int store_writer_open(store *s, const char *key, const store_put_options *opts,
                      store_writer **out)
{
    *out = NULL;
    buf fk = BUF_INIT;
    int rc = store_full_key(s, key, &fk);
    store_writer *w = NULL;
    if (rc) goto out;
    if (!(w = calloc(1, sizeof *w)) || !(w->md5 = store_md5_new())) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    w->s = s;
    if (s->is_s3) {
        store_put_options po = STORE_PUT_OPTIONS_INIT;
        if (opts) po = *opts;
        if (!po.storage_class) po.storage_class = s->opts.storage_class;
        rc = store_s3_writer_open(s, fk.data, &po, &w->sw);
    } else {
        const char *sc = opts && opts->storage_class ? opts->storage_class : s->opts.storage_class;
        rc = store_local_writer_open(s, fk.data, sc, &w->lw);
    }
    if (rc) goto out;
    *out = w;
    w = NULL;
out:
    if (w) {
        store_md5_free(w->md5);
        free(w);
    }
    buf_free(&fk);
    return rc;
}

int store_writer_write(store_writer *w, const void *p, size_t n)
{
    if (w->rc) return w->rc;
    if (n == 0) return 0;
    store_md5_update(w->md5, p, n);
    w->size += n;
    w->rc = w->sw ? store_s3_writer_write(w->sw, p, n) : store_local_writer_write(w->lw, p, n);
    return w->rc;
}

int store_writer_commit(store_writer *w, store_put_result *result)
{
    store_put_result r;
    memset(&r, 0, sizeof r);
    unsigned char d[16];
    store_md5_final(w->md5, d);
    w->md5 = NULL;
    store_hex(d, 16, r.md5_hex);
    text_b64(d, 16, r.md5_base64);
    r.size = w->size;
    int rc = w->rc;
    if (rc) {
        /* The detail was recorded by the failed write; only clean up. */
        if (w->sw) store_s3_writer_abort(w->sw);
        else store_local_writer_abort(w->lw);
    } else if (w->sw) {
        rc = store_s3_writer_commit(w->sw, &r);
    } else {
        rc = store_local_writer_commit(w->lw, r.md5_hex);
        memcpy(r.etag, r.md5_hex, sizeof r.md5_hex);
    }
    free(w);
    if (result) {
        if (rc) memset(result, 0, sizeof *result);
        else *result = r;
    }
    return rc;
}

void store_writer_abort(store_writer *w)
{
    if (!w) return;
    if (w->sw) store_s3_writer_abort(w->sw);
    else store_local_writer_abort(w->lw);
    store_md5_free(w->md5);
    free(w);
}

int store_put(store *s, const char *key, const void *p, size_t n, const store_put_options *opts,
              store_put_result *result)
{
    store_writer *w;
    int rc = store_writer_open(s, key, opts, &w);
    if (rc) return rc;
    store_writer_write(w, p, n);  /* a failure is sticky and reported by commit */
    return store_writer_commit(w, result);
}

/* ================================================================================================
 * Get and head
 * ============================================================================================== */

struct store_reader {
    struct store_local_reader *lr;
    struct store_s3_reader *sr;
};

int store_reader_open_range(store *s, const char *key, uint64_t offset, uint64_t len,
                            store_object_info *info, store_reader **out)
{
    *out = NULL;
    store_object_info tmp;
    if (!info) info = &tmp;
    memset(info, 0, sizeof *info);
    buf fk = BUF_INIT;
    store_reader *r = NULL;
    int rc = store_full_key(s, key, &fk);
    if (rc) goto out;
    if (!(r = calloc(1, sizeof *r))) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    rc = s->is_s3 ? store_s3_reader_open(s, fk.data, offset, len, info, &r->sr)
                  : store_local_reader_open(s, fk.data, offset, len, info, &r->lr);
    if (rc) goto out;
    *out = r;
    r = NULL;
out:
    free(r);
    buf_free(&fk);
    return rc;
}

int store_reader_open(store *s, const char *key, store_object_info *info, store_reader **out)
{
    return store_reader_open_range(s, key, 0, UINT64_MAX, info, out);
}

int store_reader_read(store_reader *r, void *p, size_t n, size_t *got)
{
    *got = 0;
    if (n == 0) return 0;
    return r->sr ? store_s3_reader_read(r->sr, p, n, got) : store_local_reader_read(r->lr, p, n, got);
}

void store_reader_close(store_reader *r)
{
    if (!r) return;
    if (r->sr) store_s3_reader_close(r->sr);
    if (r->lr) store_local_reader_close(r->lr);
    free(r);
}

static int read_into(store *s, const char *key, uint64_t off, uint64_t len, size_t max, buf *out)
{
    store_reader *r = NULL;
    store_object_info info;
    int rc = store_reader_open_range(s, key, off, len, &info, &r);
    if (rc) return rc;
    size_t start = out->len;
    if (len == UINT64_MAX && info.size > max) {
        rc = err_set(TM_ELIMIT, "%s/%s: object of %llu bytes is larger than %zu", s->root, key,
                     (unsigned long long)info.size, max);
        goto out;
    }
    for (;;) {
        if ((rc = buf_reserve(out, 64 << 10))) goto out;
        size_t got;
        if ((rc = store_reader_read(r, out->data + out->len, out->cap - out->len - 1, &got))) goto out;
        if (got == 0) break;
        out->len += got;
        out->data[out->len] = '\0';
        if (out->len - start > max) {
            rc = err_set(TM_ELIMIT, "%s/%s: object is larger than %zu", s->root, key, max);
            goto out;
        }
    }
out:
    store_reader_close(r);
    return rc;
}

int store_get_all(store *s, const char *key, size_t max, buf *out)
{
    return read_into(s, key, 0, UINT64_MAX, max, out);
}

int store_get_range(store *s, const char *key, uint64_t offset, uint64_t len, buf *out)
{
    return read_into(s, key, offset, len, out->max, out);
}

int store_head(store *s, const char *key, store_object_info *info)
{
    buf fk = BUF_INIT;
    memset(info, 0, sizeof *info);
    int rc = store_full_key(s, key, &fk);
    if (!rc) rc = s->is_s3 ? store_s3_head(s, fk.data, info) : store_local_head(s, fk.data, info);
    buf_free(&fk);
    return rc;
}

/* ================================================================================================
 * List
 * ============================================================================================== */

static int list_any(store *s, const char *prefix, int dirs, store_list_fn fn, void *ctx)
{
    buf fp = BUF_INIT;
    size_t strip;
    int rc = full_prefix(s, prefix, &fp, &strip);
    if (!rc)
        rc = s->is_s3 ? store_s3_list(s, fp.data, strip, dirs, fn, ctx)
                      : store_local_list(s, fp.data, strip, dirs, fn, ctx);
    buf_free(&fp);
    return rc;
}

int store_list(store *s, const char *prefix, store_list_fn fn, void *ctx)
{
    return list_any(s, prefix, 0, fn, ctx);
}

int store_list_dirs(store *s, const char *prefix, store_list_fn fn, void *ctx)
{
    return list_any(s, prefix, 1, fn, ctx);
}

struct collect {
    store_entry *v;
    size_t n, cap;
};

static int collect_one(void *ctx, const store_entry *e)
{
    struct collect *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        store_entry *v = realloc(c->v, cap * sizeof *v);
        if (!v) return err_set(TM_ENOMEM, "out of memory");
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n] = *e;
    if (!(c->v[c->n].key = strdup(e->key))) return err_set(TM_ENOMEM, "out of memory");
    c->n++;
    return 0;
}

int store_list_all(store *s, const char *prefix, store_entry **out, size_t *n)
{
    struct collect c = {NULL, 0, 0};
    *out = NULL;
    *n = 0;
    int rc = store_list(s, prefix, collect_one, &c);
    if (rc) {
        store_entries_free(c.v, c.n);
        return rc;
    }
    *out = c.v;
    *n = c.n;
    return 0;
}

void store_entries_free(store_entry *e, size_t n)
{
    if (!e) return;
    for (size_t i = 0; i < n; i++) free((char *)e[i].key);
    free(e);
}

/* ================================================================================================
 * Delete and copy
 * ============================================================================================== */

int store_delete(store *s, const char *key)
{
    buf fk = BUF_INIT;
    int rc = store_full_key(s, key, &fk);
    if (!rc) rc = s->is_s3 ? store_s3_delete(s, fk.data) : store_local_delete(s, fk.data);
    buf_free(&fk);
    return rc;
}

int store_delete_many(store *s, const char *const *keys, size_t n)
{
    int rc = 0;
    size_t done = 0;
    char **fk = NULL;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_key(keys[i]))) return rc;
    while (done < n) {
        size_t m = n - done < 1000 ? n - done : 1000;
        if (!fk && !(fk = calloc(1000, sizeof *fk))) return err_set(TM_ENOMEM, "out of memory");
        for (size_t i = 0; i < m; i++) {
            buf b = BUF_INIT;
            if ((rc = store_full_key(s, keys[done + i], &b))) goto out;
            fk[i] = buf_detach(&b);
        }
        if (s->is_s3) {
            rc = store_s3_delete_many(s, (const char *const *)fk, m);
        } else {
            for (size_t i = 0; i < m && !rc; i++) rc = store_local_delete(s, fk[i]);
        }
        for (size_t i = 0; i < m; i++) {
            free(fk[i]);
            fk[i] = NULL;
        }
        if (rc) goto out;
        done += m;
    }
out:
    if (fk)
        for (size_t i = 0; i < 1000; i++) free(fk[i]);
    free(fk);
    return rc;
}

struct del_batch {
    store *s;
    char *keys[1000];
    size_t n;
};

static int del_flush(struct del_batch *b)
{
    int rc = store_delete_many(b->s, (const char *const *)b->keys, b->n);
    for (size_t i = 0; i < b->n; i++) free(b->keys[i]);
    b->n = 0;
    return rc;
}

static int del_one(void *ctx, const store_entry *e)
{
    struct del_batch *b = ctx;
    if (!(b->keys[b->n] = strdup(e->key))) return err_set(TM_ENOMEM, "out of memory");
    if (++b->n == 1000) return del_flush(b);
    return 0;
}

int store_delete_prefix(store *s, const char *prefix)
{
    struct del_batch *b = calloc(1, sizeof *b);
    if (!b) return err_set(TM_ENOMEM, "out of memory");
    b->s = s;
    /* Deleting behind the listing is safe: S3 continues after the last key it returned, and the
     * local listing is taken whole before the first callback. */
    int rc = store_list(s, prefix, del_one, b);
    if (!rc && b->n) rc = del_flush(b);
    for (size_t i = 0; i < b->n; i++) free(b->keys[i]);
    free(b);
    return rc;
}

int store_copy(store *s, const char *src, const char *dst, const store_copy_options *opts)
{
    buf fs = BUF_INIT, fd = BUF_INIT;
    const char *sc = opts ? opts->storage_class : NULL;
    int rc = store_full_key(s, src, &fs);
    if (!rc) rc = store_full_key(s, dst, &fd);
    if (!rc)
        rc = s->is_s3 ? store_s3_copy(s, fs.data, fd.data, sc)
                      : store_local_copy(s, fs.data, fd.data, sc);
    buf_free(&fs);
    buf_free(&fd);
    return rc;
}
