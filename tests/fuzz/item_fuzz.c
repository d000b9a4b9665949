/* item_fuzz.c: fuzz target for engine/item (and the key encoding of what it accepts).
 *
 * For any input:
 *   - as JSON: when our parser accepts it, cJSON must parse it too and see the same item
 *     (same names, types and values, numbers compared after canonicalisation); our JSON output
 *     must parse (by us and by cJSON) back to byte-equal binary; decode(encode(x)) == x; the
 *     tree-free binary -> JSON writer must give the same text; item_bin_find must find every
 *     attribute; a rejection must carry a message;
 *   - as binary: item_decode either rejects or accepts bytes that re-encode identically, and
 *     the binary -> JSON writer never crashes;
 *   - as a number: a canonical number is a fixed point and encodes as a short key.
 * Any broken invariant aborts, so libFuzzer and the corpus replay in `make test` report it. */
#include "engine/err.h"
#include "engine/item.h"
#include "engine/text.h"
#include "engine/key.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "item_fuzz: %s:%d: check failed: %s (%s)\n", __FILE__, \
                    __LINE__, #c, err_msg());                                      \
            abort();                                                               \
        }                                                                          \
    } while (0)

static const char *tag_of(av_type t)
{
    static const char *names[] = {"?", "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"};
    return (unsigned)t <= AV_BOOL ? names[t] : "?";
}

/* The bytes a cJSON string stands for under type t (S: as is; N: canonical; B: decoded). */
static int scalar_bytes(const cJSON *j, av_type t, buf *out)
{
    if (!cJSON_IsString(j)) return -1;
    const char *s = j->valuestring;
    if (t == AV_S) return buf_append(out, s, strlen(s));
    if (t == AV_N) return num_canonical(s, strlen(s), out);
    return text_b64_decode(s, strlen(s), out);
}

static int same_value(const cJSON *j, const av *v);

static int same_attrs(const cJSON *obj, const av_attr *a, uint32_t n)
{
    if (!cJSON_IsObject(obj) || (uint32_t)cJSON_GetArraySize(obj) != n) return 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        size_t nl = strlen(c->string);
        const av_attr *f = NULL;
        for (uint32_t i = 0; i < n && !f; i++)
            if (a[i].name_len == nl && !memcmp(a[i].name, c->string, nl)) f = &a[i];
        if (!f || !same_value(c, &f->value)) return 0;
    }
    return 1;
}

static int same_scalar(const cJSON *j, const av *v)
{
    buf b = BUF_INIT;
    int ok = scalar_bytes(j, v->type, &b) == 0 && b.len == v->len &&
             (!v->len || !memcmp(b.data, v->u.bytes, v->len));
    buf_free(&b);
    return ok;
}

static int same_value(const cJSON *j, const av *v)
{
    if (!cJSON_IsObject(j) || cJSON_GetArraySize(j) != 1) return 0;
    const cJSON *c = j->child;
    if (strcmp(c->string, tag_of(v->type))) return 0;
    switch (v->type) {
    case AV_S: case AV_N: case AV_B:
        return same_scalar(c, v);
    case AV_SS: case AV_NS: case AV_BS: {
        if (!cJSON_IsArray(c) || (uint32_t)cJSON_GetArraySize(c) != v->len) return 0;
        for (const cJSON *e = c->child; e; e = e->next) {
            int found = 0;
            for (uint32_t i = 0; i < v->len && !found; i++) found = same_scalar(e, &v->u.elems[i]);
            if (!found) return 0;
        }
        return 1;
    }
    case AV_M:
        return same_attrs(c, v->u.attrs, v->len);
    case AV_L: {
        if (!cJSON_IsArray(c) || (uint32_t)cJSON_GetArraySize(c) != v->len) return 0;
        uint32_t i = 0;
        for (const cJSON *e = c->child; e; e = e->next, i++)
            if (!same_value(e, &v->u.elems[i])) return 0;
        return 1;
    }
    case AV_NULL:
        return cJSON_IsTrue(c);
    case AV_BOOL:
        return cJSON_IsBool(c) && !cJSON_IsTrue(c) == !v->u.boolean;
    }
    return 0;
}

static av root_of(const item *it)
{
    av r = {AV_M, item_count(it), {.attrs = (av_attr *)item_attr(it, 0)}};
    return r;
}

static void check_accepted(const uint8_t *data, size_t size, const item *it, int bare)
{
    /* cJSON agrees it is JSON, and (bare items, no NUL in strings) sees the same item */
    cJSON *cj = cJSON_ParseWithLength((const char *)data, size);
    CHECK(cj);
    if (bare && !memmem(data, size, "\\u0000", 6)) {
        av r = root_of(it);
        CHECK(same_attrs(cj, r.u.attrs, r.len));
    }
    cJSON_Delete(cj);

    buf bin = BUF_INIT, bin2 = BUF_INIT, js = BUF_INIT, js2 = BUF_INIT, bin3 = BUF_INIT;
    CHECK(item_encode(it, &bin) == 0);
    item *d = NULL;
    CHECK(item_decode(bin.data, bin.len, &d) == 0);
    av r1 = root_of(it), r2 = root_of(d);
    CHECK(av_equal(&r1, &r2));
    CHECK(item_encode(d, &bin2) == 0);
    CHECK(bin.len == bin2.len && !memcmp(bin.data, bin2.data, bin.len));

    CHECK(item_write_json(it, &js) == 0);
    cJSON *cj2 = cJSON_ParseWithLength(js.data, js.len);
    CHECK(cj2);
    cJSON_Delete(cj2);
    item *r = NULL;
    CHECK(item_parse_json(js.data, js.len, ITEM_PARSE_NOLIMITS, &r) == 0);
    CHECK(item_encode(r, &bin3) == 0);
    CHECK(bin.len == bin3.len && !memcmp(bin.data, bin3.data, bin.len));
    CHECK(item_size(r) == item_size(it));

    CHECK(item_bin_write_json(bin.data, bin.len, &js2) == 0);
    CHECK(js.len == js2.len && !memcmp(js.data, js2.data, js.len));

    item *dup = item_dup(it);
    CHECK(dup);
    buf bin4 = BUF_INIT;
    CHECK(item_encode(dup, &bin4) == 0);
    CHECK(bin.len == bin4.len && !memcmp(bin.data, bin4.data, bin.len));

    /* rebuilt attribute by attribute with item_put (which re-validates and re-canonicalises),
     * in reverse order: the same bytes, unless a name holds a NUL (item_put takes C strings) */
    item *put = item_new();
    CHECK(put);
    int nul_name = 0;
    for (uint32_t i = item_count(it); i-- > 0;) {
        const av_attr *a = item_attr(it, i);
        if (memchr(a->name, 0, a->name_len)) {
            nul_name = 1;
            continue;
        }
        CHECK(item_put(put, a->name, &a->value) == 0);
    }
    if (!nul_name) {
        buf bin5 = BUF_INIT;
        CHECK(item_encode(put, &bin5) == 0);
        CHECK(bin.len == bin5.len && !memcmp(bin.data, bin5.data, bin.len));
        buf_free(&bin5);
    }
    item_free(put);

    for (uint32_t i = 0; i < item_count(it); i++) {
        const av_attr *a = item_attr(it, i);
        const void *vp;
        size_t vn;
        CHECK(item_bin_find(bin.data, bin.len, a->name, a->name_len, &vp, &vn) == 0);
        CHECK(vp);
        av v;
        CHECK(av_decode_bin(vp, vn, d, &v) == 0);
        CHECK(av_equal(&v, &a->value));
        /* a key from the first S/N/B attribute: bounded, and equal to what the value gives */
        if (i == 0 && (a->value.type == AV_S || a->value.type == AV_N || a->value.type == AV_B) &&
            a->name_len <= KEY_NAME_MAX && !memchr(a->name, 0, a->name_len)) {
            key_schema ks = {"", a->value.type, "", 0};
            memcpy(ks.hash_name, a->name, a->name_len);
            ks.hash_name[a->name_len] = '\0';
            buf k = BUF_INIT, p = BUF_INIT;
            int rc = key_encode_item(&ks, it, &k);
            int want_ok = a->value.type == AV_N || (a->value.len >= 1 && a->value.len <= KEY_MAX_HASH);
            CHECK((rc == 0) == want_ok);
            if (!rc) {
                CHECK(k.len <= KEY_ENC_MAX);
                CHECK(key_hash_of(k.data) == key_hash(&a->value));
                CHECK(key_encode_partition(&ks, &a->value, &p) == 0);
                CHECK(p.len == k.len && !memcmp(p.data, k.data, k.len));
            }
            buf_free(&k);
            buf_free(&p);
        }
    }

    item_free(dup);
    item_free(r);
    item_free(d);
    buf_free(&bin);
    buf_free(&bin2);
    buf_free(&bin3);
    buf_free(&bin4);
    buf_free(&js);
    buf_free(&js2);
}

static void check_json(const uint8_t *data, size_t size, unsigned flags)
{
    item *it = (item *)1;
    err_clear();
    int rc = item_parse_json((const char *)data, size, flags, &it);
    if (rc) {
        CHECK(it == NULL);
        CHECK(rc == TM_EINVAL || rc == TM_ELIMIT);
        CHECK(err_msg()[0] != '\0');
        return;
    }
    check_accepted(data, size, it, !(flags & ITEM_PARSE_WRAPPED));
    item_free(it);
}

static void check_binary(const uint8_t *data, size_t size)
{
    item *it = NULL;
    if (item_decode(data, size, &it) == 0) {
        buf bin = BUF_INIT, js = BUF_INIT, bin2 = BUF_INIT;
        CHECK(item_encode(it, &bin) == 0);
        CHECK(bin.len == size && !memcmp(bin.data, data, size));
        CHECK(item_bin_write_json(data, size, &js) == 0);
        item *r = NULL;
        CHECK(item_parse_json(js.data, js.len, ITEM_PARSE_NOLIMITS, &r) == 0);
        CHECK(item_encode(r, &bin2) == 0);
        CHECK(bin2.len == size && !memcmp(bin2.data, data, size));
        item_free(r);
        item_free(it);
        buf_free(&bin);
        buf_free(&bin2);
        buf_free(&js);
    } else {
        CHECK(it == NULL);
        buf js = BUF_INIT;
        (void)item_bin_write_json(data, size, &js);
        buf_free(&js);
    }
    const void *vp;
    size_t vn;
    (void)item_bin_find(data, size, "a", 1, &vp, &vn);
}

static void check_number(const uint8_t *data, size_t size)
{
    if (size > 200) return;
    buf c = BUF_INIT, c2 = BUF_INIT, k = BUF_INIT;
    if (num_canonical((const char *)data, size, &c) == 0) {
        CHECK(num_canonical(c.data, c.len, &c2) == 0);
        CHECK(c.len == c2.len && !memcmp(c.data, c2.data, c.len));
        CHECK(num_compare(c.data, c.len, c2.data, c2.len) == 0);
        av v = {AV_N, (uint32_t)c.len, {.bytes = c.data}};
        CHECK(key_encode_value(&v, &k) == 0);
        CHECK(k.len >= 1 && k.len <= 21);
    }
    buf_free(&c);
    buf_free(&c2);
    buf_free(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_json(data, size, 0);
    check_json(data, size, ITEM_PARSE_WRAPPED);
    check_binary(data, size);
    check_number(data, size);
    return 0;
}
