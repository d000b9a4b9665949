/* store.h: where exports live -- a local directory or an S3-compatible bucket, one interface.
 *
 * DESTINATIONS
 *   "s3://bucket"             the bucket root
 *   "s3://bucket/some/prefix" every key is read and written under "some/prefix/"
 *   "/a/dir", "rel/dir"       a local directory that mirrors the S3 key layout: key "a/b/c" is
 *                             the file DIR/a/b/c ("file:///a/dir" is accepted too)
 *
 * KEYS
 *   Every key argument and every key a listing returns is RELATIVE TO THE STORE'S PREFIX: with
 *   "s3://b/exp/t1", store_put(s, "manifest.json") writes the object "exp/t1/manifest.json" of
 *   bucket "b", and a listing reports it as "manifest.json". The key from the bucket root is
 *   store_prefix(s) + "/" + key (just key when the prefix is ""); store_full_key() builds it.
 *   A key is 1..1024 bytes of UTF-8 without NUL, does not start with '/', and has no empty,
 *   "." or ".." segment (so that both backends accept the same keys). Spaces, '+', '=' and
 *   non-ASCII are fine. Bad keys are TM_EINVAL.
 *
 * BUCKET AND PREFIX OF A DESTINATION (for s3Bucket / s3Prefix in manifests)
 *   S3:    store_bucket() = "bucket", store_prefix() = "some/prefix" (no leading or trailing '/',
 *          "" at the bucket root).
 *   Local: store_bucket() = the base name of the directory, store_prefix() = "" (the directory
 *          itself plays the bucket). store_root() gives the absolute directory path.
 *
 * BACKENDS
 *   Local: a writer fills a temp file in the key's directory (".store-tmp-XXXXXX", never
 *          listed), fsyncs, renames, fsyncs the directory; directories are created as needed
 *          (the destination directory too). Empty directories are removed on delete.
 *   S3:    libcurl with Signature V4; path-style URLs for a custom endpoint, virtual-hosted for
 *          AWS. Objects above the multipart threshold go up in parts (memory bounded by
 *          part_size x (parallel_parts + 1)). 500/502/503/504, 429, SlowDown, timeouts and dropped
 *          connections are retried with exponential backoff and full jitter, max_attempts times.
 *          An object becomes visible only at commit; a failed multipart upload is aborted, or
 *          the error says it could not be (s3rver has no AbortMultipartUpload).
 *
 * CONFIGURATION (S3), each option first, then the environment, then the profile files:
 *   credentials  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, else the profile
 *                (AWS_PROFILE or "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials)
 *                then AWS_CONFIG_FILE (~/.aws/config, section "profile NAME")
 *   region       opts.region, AWS_REGION, AWS_DEFAULT_REGION, profile "region", "us-east-1"
 *   endpoint     opts.endpoint_url, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile
 *                "endpoint_url", else AWS
 *   attempts     opts.max_attempts, AWS_MAX_ATTEMPTS, profile "max_attempts", 5
 *   CA bundle    opts.ca_bundle, AWS_CA_BUNDLE, profile "ca_bundle", the system's
 *   Credentials never appear in any output or error detail.
 *
 * ERRORS
 *   Functions return 0 or a negative TM_E* code (engine/err.h), the detail in err_msg():
 *   TM_ENOTFOUND  missing key or bucket (detail names bucket and key)
 *   TM_EREMOTE    the server refused or failed (detail names bucket, key, HTTP status and the
 *                 S3 error code and message; or the transport error after the last retry)
 *   TM_EINVAL     bad destination, key or option; missing credentials
 *   TM_ELIMIT     an object larger than the caller's max (store_get_all)
 *   TM_EIO        local I/O
 *
 * THREADS
 *   A store may be used by several threads at once. A writer or reader is used by one thread at
 *   a time. Close every writer and reader before store_close().
 */
#ifndef TIDEMARK_STORE_H
#define TIDEMARK_STORE_H

#include "engine/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef struct store_writer store_writer;
typedef struct store_reader store_reader;

/* ---- opening ---------------------------------------------------------------------------- */

typedef struct store_options {
    const char *region;          /* NULL: see CONFIGURATION */
    const char *endpoint_url;    /* "http://127.0.0.1:4568"; NULL: see CONFIGURATION */
    const char *profile;         /* NULL: AWS_PROFILE, else "default" */
    const char *ca_bundle;       /* PEM file for HTTPS; NULL: see CONFIGURATION */
    int max_attempts;            /* tries per request, >= 1; 0: see CONFIGURATION */
    int retry_base_ms;           /* first backoff step; 0: 100 ms (doubles, capped at 20 s) */
    long timeout_s;              /* a transfer that moves no byte for this long fails (and is
                                    retried); 0: 60 */
    size_t part_size;            /* multipart part size, >= 5 MiB; 0: 8 MiB */
    size_t multipart_threshold;  /* objects larger than this go multipart; 0 (or anything
                                    below part_size): part_size */
    int parallel_parts;          /* parts in flight per writer, >= 1; 0: 4 */
    const char *sse;             /* NULL, "AES256" or "aws:kms" (server-side encryption on put) */
    const char *sse_kms_key_id;  /* with "aws:kms"; NULL: the bucket's default key */
    const char *storage_class;   /* default storage class of puts; NULL: the bucket's (STANDARD) */
    int path_style;              /* 1 force path-style URLs, 0 auto (path-style iff endpoint) */
} store_options;

#define STORE_OPTIONS_INIT {NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0}

/* ---- the AWS configuration chain, for the other AWS-API clients (remote/) ---------------- */

/* Settings as CONFIGURATION resolves them, for one service: the endpoint's environment variable
 * is AWS_ENDPOINT_URL_<service> ("S3", "DYNAMODB"). Only region, endpoint_url, profile, ca_bundle
 * and max_attempts of o are read. Missing credentials or a bad value: TM_EINVAL. */
typedef struct store_aws_config {
    char *access_key, *secret_key, *session_token;
    char *region, *endpoint, *ca_bundle;   /* endpoint NULL: the service's AWS endpoint */
    int max_attempts;
} store_aws_config;

int store_aws_config_load(const store_options *o, const char *service, store_aws_config *c);
void store_aws_config_free(store_aws_config *c);  /* wipes the secrets */
/* 0 if the chain finds credentials for o, else TM_EINVAL with store_aws_config_load's reason
 * (none, or a named profile not found): a caller telling "cannot sign" from other refusals. */
int store_aws_credentials_check(const store_options *o);

/* HTTP helpers the S3 backend shares with other libcurl clients (store_http.c). */
int store_curl_init(void);                 /* curl_global_init, once; TM_EIO if it failed */
/* 1 when a CURLcode is a transport failure worth another try (connect, timeout, reset, an empty
 * reply, DNS, a TLS handshake). */
int store_curl_retryable(int curl_code);
/* The transport settings of every AWS-API request on the easy handle curl (a CURL *): no
 * signals, a 10 s connect timeout, abort below 1 byte/s for timeout_s seconds, http(s) only,
 * TLS verified (ca_bundle when not NULL), errors into errbuf (CURL_ERROR_SIZE; cleared). */
void store_curl_transport(void *curl, long timeout_s, const char *ca_bundle, char *errbuf);
/* Sleeps before try number attempt + 1: half of base_ms * 2^(attempt - 1), capped at cap_ms,
 * plus a random part of the other half. */
void store_backoff(int base_ms, int cap_ms, int attempt);

/* 0 if dest is written as one of the DESTINATIONS; TM_EINVAL naming it and the accepted forms
 * for a typo that would otherwise become a local directory ("s3:/b/x", "s3:b", "S3://b",
 * "s3://" with no bucket) or an unsupported scheme ("http://", "gs://"). Opens nothing.
 * store_open checks this first; a reader of --from that does not open a store calls it. */
int store_url_check(const char *dest);
/* Opens dest (see DESTINATIONS). opts may be NULL (all defaults). Nothing is contacted yet;
 * an S3 store fails here only on a malformed destination, bad option or missing credentials.
 * On failure *out is NULL. */
int store_open(const char *dest, const store_options *opts, store **out);
void store_close(store *s);  /* accepts NULL */

int store_is_s3(const store *s);
/* Borrowed strings, valid until store_close(). See BUCKET AND PREFIX. */
const char *store_bucket(const store *s);
const char *store_prefix(const store *s);
/* "s3://bucket/prefix" or the absolute directory path, for messages. */
const char *store_root(const store *s);
/* Splits "s3://bucket/some/prefix/" as store_open does, without opening anything: appends the
 * bucket and the prefix (no leading or trailing '/') to the bufs. TM_EINVAL: not s3://, or no
 * bucket. (Names a source that could not be opened, as store_bucket/store_prefix would.) */
int store_s3_split(const char *url, buf *bucket, buf *prefix);
/* The key from the bucket root (or the path under the directory): prefix + "/" + key. */
int store_full_key(const store *s, const char *key, buf *out);

/* ---- put -------------------------------------------------------------------------------- */

typedef struct store_put_options {
    const char *storage_class;   /* NULL: the store's default */
    const char *content_type;    /* NULL: "application/octet-stream" */
} store_put_options;

#define STORE_PUT_OPTIONS_INIT {NULL, NULL}

typedef struct store_put_result {
    uint64_t size;
    char md5_hex[33];            /* MD5 of the whole object, lowercase hex */
    char md5_base64[25];
    char etag[80];               /* without quotes: "<md5 hex>" or "<hex>-<parts>" if multipart
                                    (local: always the MD5 hex) */
    int parts;                   /* 0: single PUT (or local), else the number of parts */
} store_put_result;

/* A writer streams one object: write as much as you like, memory stays bounded; nothing is
 * visible under key until commit succeeds. Writers are sticky: after a failure every write
 * returns the same error and commit reports it. opts may be NULL. */
int store_writer_open(store *s, const char *key, const store_put_options *opts,
                      store_writer **out);
int store_writer_write(store_writer *w, const void *p, size_t n);
/* Publishes the object and frees w (whatever the outcome). result may be NULL. On failure,
 * nothing is left under key and nothing that looks complete (see BACKENDS). */
int store_writer_commit(store_writer *w, store_put_result *result);
/* Drops the object being written (temp file removed, multipart upload aborted) and frees w.
 * Accepts NULL. */
void store_writer_abort(store_writer *w);

/* Convenience: one object from memory. opts and result may be NULL. */
int store_put(store *s, const char *key, const void *p, size_t n, const store_put_options *opts,
              store_put_result *result);

/* ---- get -------------------------------------------------------------------------------- */

typedef struct store_object_info {
    uint64_t size;               /* whole object */
    char etag[80];               /* without quotes */
    char storage_class[32];      /* "STANDARD" when the server says nothing */
    int64_t last_modified;       /* Unix seconds, UTC */
} store_object_info;

/* Streams an object. TM_ENOTFOUND if absent. info (may be NULL) is filled from the response. */
int store_reader_open(store *s, const char *key, store_object_info *info, store_reader **out);
/* Streams bytes [offset, offset + len) (len UINT64_MAX: to the end; clipped at the end).
 * An offset > 0 at or past the end of the object is TM_EINVAL; offset 0 of an empty object
 * reads nothing. */
int store_reader_open_range(store *s, const char *key, uint64_t offset, uint64_t len,
                            store_object_info *info, store_reader **out);
/* Reads up to n bytes; *got is 0 only at the end. A dropped S3 connection is resumed from
 * where it stopped (the object must not change meanwhile: If-Match on the ETag). */
int store_reader_read(store_reader *r, void *p, size_t n, size_t *got);
void store_reader_close(store_reader *r);  /* accepts NULL */

/* Convenience: the whole object into out (appended). TM_ELIMIT if larger than max. */
int store_get_all(store *s, const char *key, size_t max, buf *out);
/* Convenience: a range into out (appended); len as in store_reader_open_range. */
int store_get_range(store *s, const char *key, uint64_t offset, uint64_t len, buf *out);

/* TM_ENOTFOUND if absent. */
int store_head(store *s, const char *key, store_object_info *info);

/* ---- list ------------------------------------------------------------------------------- */

typedef struct store_entry {
    const char *key;             /* relative to the store's prefix; borrowed for the callback */
    uint64_t size;
    char etag[80];
    char storage_class[32];
    int64_t last_modified;       /* Unix seconds, UTC */
} store_entry;

/* Called once per key; a non-zero return stops the listing and is returned by store_list. */
typedef int (*store_list_fn)(void *ctx, const store_entry *e);

/* Every key that starts with prefix ("" or NULL: all), in byte-wise lexicographic order (local
 * sorts; S3 lists that way), across all pages (1000 keys per S3 request). prefix is a plain
 * string prefix, as in S3: "data/0" matches "data/01.json".
 * A missing bucket (or local directory) is TM_ENOTFOUND; no match is 0 with no call. */
int store_list(store *s, const char *prefix, store_list_fn fn, void *ctx);
/* The "directories" directly under prefix (which should end in '/' or be ""): the distinct
 * "prefix + segment + /" of the keys below it, in order (S3 delimiter '/'). The entry's key is
 * that directory string; the other fields are zero. */
int store_list_dirs(store *s, const char *prefix, store_list_fn fn, void *ctx);

/* The same as an array. Free with store_entries_free (accepts NULL). */
int store_list_all(store *s, const char *prefix, store_entry **out, size_t *n);
void store_entries_free(store_entry *e, size_t n);

/* ---- delete and copy -------------------------------------------------------------------- */

/* Deleting a key that does not exist succeeds (as on S3). */
int store_delete(store *s, const char *key);
/* Deletes keys[0..n) (S3: DeleteObjects, 1000 per request). Stops at the first failure. */
int store_delete_many(store *s, const char *const *keys, size_t n);
/* Deletes every key that starts with prefix ("" deletes everything under the store). */
int store_delete_prefix(store *s, const char *prefix);

typedef struct store_copy_options {
    const char *storage_class;   /* NULL: keep the source's */
} store_copy_options;

#define STORE_COPY_OPTIONS_INIT {NULL}

/* Server-side copy inside the store (src == dst with a new storage class changes the class).
 * TM_ENOTFOUND if src is absent. opts may be NULL. S3: one CopyObject, so sources up to 5 GiB
 * (larger is TM_ELIMIT); a new class replaces the metadata, keeping the content type. */
int store_copy(store *s, const char *src, const char *dst, const store_copy_options *opts);

/* ---- counters --------------------------------------------------------------------------- */

typedef struct store_stats {
    uint64_t requests;           /* HTTP requests sent, retries included (0 for local) */
    uint64_t retries;            /* requests that were retried after a retryable failure */
    uint64_t bytes_up, bytes_down;
    uint64_t multipart_uploads;  /* completed */
} store_stats;

/* Counters since store_open, summed over threads. */
void store_get_stats(const store *s, store_stats *out);

/* ---- digests (OpenSSL underneath), shared with export and import for manifests ----
 * (base64 is engine/text.h's text_b64) */
void store_hex(const unsigned char *p, size_t n, char *out);            /* 2n + NUL */
void store_md5(const void *p, size_t n, unsigned char out[16]);
/* SHA-256 and HMAC-SHA-256 (SigV4's hashes: the signer here and the verifier of serve/), on a
 * digest fetched once. 0, or TM_ENOMEM when OpenSSL fails (out is then not a hash). */
int store_sha256(const void *p, size_t n, unsigned char out[32]);
int store_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, unsigned char out[32]);
/* Incremental MD5 (OpenSSL EVP under the hood). */
typedef struct store_md5_ctx store_md5_ctx;
store_md5_ctx *store_md5_new(void);
void store_md5_update(store_md5_ctx *c, const void *p, size_t n);
void store_md5_final(store_md5_ctx *c, unsigned char out[16]);  /* frees c */
void store_md5_free(store_md5_ctx *c);                          /* accepts NULL */


#endif
