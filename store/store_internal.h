/* store_internal.h: what store.c, the two backends and the S3 helpers share. Not public.
 *
 * store.c checks keys and joins them to the prefix; the backends only ever see FULL keys
 * (relative to the bucket root or the local directory) and strip `strip` bytes off the keys
 * they hand to list callbacks. */
#ifndef TIDEMARK_STORE_INTERNAL_H
#define TIDEMARK_STORE_INTERNAL_H

#include "store/store.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct store_s3;
struct store_local_writer;
struct store_local_reader;
struct store_s3_writer;
struct store_s3_reader;

struct store {
    int is_s3;
    char *bucket, *prefix, *root;
    char *dir;                     /* local: absolute directory, no trailing '/' */
    struct store_s3 *s3;           /* S3 only */
    /* Options with their strings owned by the store. */
    store_options opts;
    char *own_region, *own_endpoint, *own_profile, *own_ca, *own_sse, *own_kms, *own_class;
    _Atomic uint64_t n_requests, n_retries, n_up, n_down, n_multipart;
};

/* ---- digests and encodings (store.c) ---------------------------------------------------- */

void store_sha256_hex(const void *p, size_t n, char out[65]);
/* Appends s percent-encoded: everything but A-Za-z0-9-._~ (and '/' when keep_slash). */
int store_pct_encode(buf *b, const char *s, int keep_slash);
/* "Wed, 21 Oct 2015 07:28:00 GMT" or "2015-10-21T07:28:00.000Z" -> Unix seconds; 0 if neither. */
int64_t store_parse_time(const char *s);

/* Copies the text of an error into out (at most cap - 1 bytes and a NUL) with every
 * credential-shaped value replaced by "[redacted]": access key ids (AKIA/ASIA + 16 of [A-Z0-9]),
 * the values of Signature=, X-Amz-Signature=, Credential=, X-Amz-Security-Token= and the like
 * ('=' or ':'), and each of secrets (the configured secret key and session token; NULL and
 * shorter than 4 bytes skipped). A server may echo any of them in its <Message>. */
void store_redact(const char *in, const char *const *secrets, size_t nsecrets, char *out,
                  size_t cap);

/* ---- a minimal XML scanner (store_xml.c) ------------------------------------------------ */

/* Finds the next <tag>...</tag> in [*p, end); on success *val and *vlen are the raw inner text and
 * *p moves past the closing tag. Returns 1 found, 0 not. */
int store_xml_next(const char **p, const char *end, const char *tag, const char **val,
                   size_t *vlen);
/* The first <tag> in [p, end), unescaped into out (appended). Returns 1 found, 0 not, <0 error. */
int store_xml_get(const char *p, const char *end, const char *tag, buf *out);
/* Appends s with &, <, >, " escaped. */
int store_xml_escape(buf *out, const char *s);
int store_xml_unescape(buf *out, const char *s, size_t n);

/* ---- local backend (store_local.c) ------------------------------------------------------ */

int store_local_open(store *s, const char *path);
int store_local_writer_open(store *s, const char *fkey, const char *storage_class,
                            struct store_local_writer **out);
int store_local_writer_write(struct store_local_writer *w, const void *p, size_t n);
int store_local_writer_commit(struct store_local_writer *w, const char *md5_hex);
void store_local_writer_abort(struct store_local_writer *w);
int store_local_reader_open(store *s, const char *fkey, uint64_t off, uint64_t len,
                            store_object_info *info, struct store_local_reader **out);
int store_local_reader_read(struct store_local_reader *r, void *p, size_t n, size_t *got);
void store_local_reader_close(struct store_local_reader *r);
int store_local_head(store *s, const char *fkey, store_object_info *info);
int store_local_list(store *s, const char *fprefix, size_t strip, int dirs, store_list_fn fn,
                     void *ctx);
int store_local_delete(store *s, const char *fkey);
int store_local_copy(store *s, const char *fsrc, const char *fdst, const char *storage_class);

/* ---- S3 backend (store_s3.c) ------------------------------------------------------------ */

int store_s3_open(store *s);
/* The URL requests start with ("http://host:port/bucket", "https://bucket.s3..."): for tests. */
const char *store_s3_base_url(const store *s);
void store_s3_close(store *s);
int store_s3_writer_open(store *s, const char *fkey, const store_put_options *po,
                         struct store_s3_writer **out);
int store_s3_writer_write(struct store_s3_writer *w, const void *p, size_t n);
/* Fills etag and parts of res. */
int store_s3_writer_commit(struct store_s3_writer *w, store_put_result *res);
void store_s3_writer_abort(struct store_s3_writer *w);
int store_s3_reader_open(store *s, const char *fkey, uint64_t off, uint64_t len,
                         store_object_info *info, struct store_s3_reader **out);
int store_s3_reader_read(struct store_s3_reader *r, void *p, size_t n, size_t *got);
void store_s3_reader_close(struct store_s3_reader *r);
int store_s3_head(store *s, const char *fkey, store_object_info *info);
int store_s3_list(store *s, const char *fprefix, size_t strip, int dirs, store_list_fn fn,
                  void *ctx);
int store_s3_delete(store *s, const char *fkey);
int store_s3_delete_many(store *s, const char *const *fkeys, size_t n);
int store_s3_copy(store *s, const char *fsrc, const char *fdst, const char *storage_class);

/* ---- our own SigV4 signer (store_sigv4.c) ----------------------------------------------- */

/* 1 when one header name ("Name: value" strings) is a prefix of another: libcurl before 8.10
 * orders those wrongly when it signs, so such requests are signed by store_sigv4_sign. */
int store_sigv4_names_clash(const char *const *hdrs, size_t n);
/* Appends the Authorization header value for the request: host comes from url, whose path and
 * query must already be canonical; hdrs are the other headers to sign (x-amz-date included). */
int store_sigv4_sign(const char *method, const char *url, const char *const *hdrs, size_t n,
                     const char *payload_hash, const char *region, const char *access_key,
                     const char *secret, const char *amz_date, buf *auth);

/* ---- S3 configuration (store_s3_config.c) ----------------------------------------------- */

typedef store_aws_config store_s3_config;

/* store_aws_config_load for "S3": options > environment > profile files > defaults. Missing
 * credentials: TM_EINVAL. */
int store_s3_config_load(const store_options *o, store_s3_config *c);
void store_s3_config_free(store_s3_config *c);  /* wipes the secrets */

#endif
