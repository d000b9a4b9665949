/* store_sigv4.c: our own Signature V4 signer, for the requests libcurl 7.88 signs wrongly.
 *
 * libcurl signs every request (CURLOPT_AWS_SIGV4), except one case: before curl 8.10 it sorted
 * the canonical headers as whole "name:value" lines, so when one signed header name is a prefix
 * of another ("x-amz-server-side-encryption" and "x-amz-server-side-encryption-aws-kms-key-id",
 * SSE-KMS with a key id) the order is wrong and S3 answers SignatureDoesNotMatch. Those requests
 * are signed here instead, following the SigV4 specification:
 *
 *   canonical request = METHOD \n URI \n QUERY \n (name:value\n, names lowercase and sorted by
 *                       NAME, values trimmed, inner spaces folded) \n signed;names \n payload hash
 *   string to sign    = AWS4-HMAC-SHA256 \n DATE-TIME \n DAY/REGION/s3/aws4_request \n
 *                       hex(SHA-256(canonical request))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, DAY), REGION), "s3"), "aws4_request")
 *
 * The URL's path and query are signed as given: the caller builds them canonical already. */
#include "store/store_internal.h"
#include "engine/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_sigv4_names_clash(const char *const *hdrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t li = strcspn(hdrs[i], ":");
        for (size_t j = 0; j < n; j++) {
            size_t lj = strcspn(hdrs[j], ":");
            if (i != j && li < lj && !strncasecmp(hdrs[i], hdrs[j], li)) return 1;
        }
    }
    return 0;
}

struct hdr {
    char name[128];
    const char *val;
    size_t vlen;
};

static int cmp_hdr(const void *a, const void *b)
{
    return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

/* Appends a value trimmed, with runs of spaces folded to one. */
static int put_value(buf *b, const char *v, size_t n)
{
    while (n && isspace((unsigned char)*v)) v++, n--;
    while (n && isspace((unsigned char)v[n - 1])) n--;
    int rc = 0, space = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (v[i] == ' ' || v[i] == '\t') {
            space = 1;
            continue;
        }
        if (space) rc = buf_putc(b, ' ');
        space = 0;
        if (!rc) rc = buf_putc(b, v[i]);
    }
    return rc;
}

int store_sigv4_sign(const char *method, const char *url, const char *const *hdrs, size_t n,
                     const char *payload_hash, const char *region, const char *access_key,
                     const char *secret, const char *amz_date, buf *auth)
{
    buf creq = BUF_INIT, names = BUF_INIT, sts = BUF_INIT, k = BUF_INIT;
    struct hdr *h = calloc(n + 1, sizeof *h);
    int rc = 0;
    if (!h) return err_set(TM_ENOMEM, "out of memory");
    /* URL: scheme://authority/path?query */
    const char *auth_start = strstr(url, "://");
    if (!auth_start) {
        rc = err_set(TM_EINVAL, "bad URL to sign");
        goto out;
    }
    auth_start += 3;
    const char *path = strchr(auth_start, '/');
    if (!path) path = auth_start + strlen(auth_start);
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);

    size_t m = 0;
    snprintf(h[m].name, sizeof h[m].name, "host");
    h[m].val = auth_start;
    h[m].vlen = (size_t)(path - auth_start);
    m++;
    for (size_t i = 0; i < n; i++) {
        size_t l = strcspn(hdrs[i], ":");
        if (!hdrs[i][l] || l >= sizeof h[m].name) {
            rc = err_set(TM_EINVAL, "bad header to sign");
            goto out;
        }
        if (!hdrs[i][l + 1] || (l == 4 && !strncasecmp(hdrs[i], "host", 4))) continue;
        for (size_t c = 0; c < l; c++) h[m].name[c] = (char)tolower((unsigned char)hdrs[i][c]);
        h[m].name[l] = '\0';
        h[m].val = hdrs[i] + l + 1;
        h[m].vlen = strlen(h[m].val);
        m++;
    }
    qsort(h, m, sizeof *h, cmp_hdr);

    rc = buf_printf(&creq, "%s\n", method);
    if (!rc) rc = buf_append(&creq, path, plen);
    if (!rc && plen == 0) rc = buf_putc(&creq, '/');
    if (!rc) rc = buf_printf(&creq, "\n%s\n", q ? q + 1 : "");
    for (size_t i = 0; i < m && !rc; i++) {
        rc = buf_printf(&creq, "%s:", h[i].name);
        if (!rc) rc = put_value(&creq, h[i].val, h[i].vlen);
        if (!rc) rc = buf_putc(&creq, '\n');
        if (!rc) rc = buf_printf(&names, "%s%s", i ? ";" : "", h[i].name);
    }
    if (!rc) rc = buf_printf(&creq, "\n%s\n%s", names.data, payload_hash);
    if (rc) goto out;

    char day[9], creq_hash[65], sig[65];
    unsigned char d[32];
    snprintf(day, sizeof day, "%.8s", amz_date);
    if ((rc = store_sha256(creq.data, creq.len, d))) goto out;
    store_hex(d, 32, creq_hash);
    if ((rc = buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", amz_date, day,
                         region, creq_hash)) ||
        (rc = buf_printf(&k, "AWS4%s", secret)))
        goto out;
    unsigned char k1[32], k2[32], k3[32], k4[32], s[32];
    if ((rc = store_hmac_sha256(k.data, k.len, day, strlen(day), k1)) ||
        (rc = store_hmac_sha256(k1, 32, region, strlen(region), k2)) ||
        (rc = store_hmac_sha256(k2, 32, "s3", 2, k3)) ||
        (rc = store_hmac_sha256(k3, 32, "aws4_request", 12, k4)) ||
        (rc = store_hmac_sha256(k4, 32, sts.data, sts.len, s)))
        goto wipe;
    store_hex(s, 32, sig);
    rc = buf_printf(auth, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request, SignedHeaders=%s, "
                          "Signature=%s", access_key, day, region, names.data, sig);
wipe:
    memset(k1, 0, 32);
    memset(k2, 0, 32);
    memset(k3, 0, 32);
    memset(k4, 0, 32);
out:
    if (k.data) memset(k.data, 0, k.len);
    buf_free(&k);
    buf_free(&creq);
    buf_free(&names);
    buf_free(&sts);
    free(h);
    return rc;
}
