/* wire.c: the JSON types of attribute values in a wire request, checked as DynamoDB's
 * deserializer does before any validation: {"N": 5} (a number where the protocol has a string)
 * is a SerializationException ("NUMBER_VALUE cannot be converted to String"), not a
 * ValidationException. Only the members that hold attribute values are walked (an attribute
 * may well be named "N"). */
#include "api/wire.h"

#include <string.h>

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return "NUMBER_VALUE";
    if (cJSON_IsBool(v)) return v->type == cJSON_True ? "VALUE_TRUE" : "VALUE_FALSE";
    if (cJSON_IsString(v)) return "STRING_VALUE";
    if (cJSON_IsArray(v)) return "START_ARRAY";
    if (cJSON_IsObject(v)) return "START_OBJECT";
    return "VALUE_NULL";
}

static int bad(tm_error *e, const cJSON *v, const char *want)
{
    return tm_error_set(e, TM_ERR_SERIALIZATION, "%s cannot be converted to %s", json_kind(v), want);
}

static int check_map(const cJSON *m, tm_error *e);

static int check_list(const cJSON *v, int of_strings, tm_error *e)
{
    const cJSON *c;
    if (!cJSON_IsArray(v)) return bad(e, v, "List");
    cJSON_ArrayForEach(c, v) {
        int k = of_strings ? (cJSON_IsString(c) ? 0 : bad(e, c, "String")) : api_wire_check_value(c, e);
        if (k) return k;
    }
    return 0;
}

int api_wire_check_value(const cJSON *av, tm_error *e)
{
    if (!cJSON_IsObject(av) || !av->child || av->child->next) return 0;   /* validation's */
    const cJSON *v = av->child;
    const char *t = v->string;
    if (!strcmp(t, "S") || !strcmp(t, "N") || !strcmp(t, "B"))
        return cJSON_IsString(v) ? 0 : bad(e, v, "String");
    if (!strcmp(t, "BOOL") || !strcmp(t, "NULL")) return cJSON_IsBool(v) ? 0 : bad(e, v, "Boolean");
    if (!strcmp(t, "SS") || !strcmp(t, "NS") || !strcmp(t, "BS")) return check_list(v, 1, e);
    if (!strcmp(t, "L")) return check_list(v, 0, e);
    if (!strcmp(t, "M")) return cJSON_IsObject(v) ? check_map(v, e) : bad(e, v, "Map");
    return 0;
}

static int check_map(const cJSON *m, tm_error *e)
{
    const cJSON *c;
    if (!cJSON_IsObject(m)) return 0;
    cJSON_ArrayForEach(c, m) {
        int k = api_wire_check_value(c, e);
        if (k) return k;
    }
    return 0;
}

static int check_members(const cJSON *o, tm_error *e)
{
    static const char *const maps[] = {"Item", "Key", "ExclusiveStartKey", "ExpressionAttributeValues"};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) {
        int k = check_map(cJSON_GetObjectItemCaseSensitive(o, maps[i]), e);
        if (k) return k;
    }
    return 0;
}

/* RequestItems: BatchWriteItem's {T: [{PutRequest:{Item}} | {DeleteRequest:{Key}}]},
 * BatchGetItem's {T: {Keys: [key...]}}. */
static int check_batch(const cJSON *ri, tm_error *e)
{
    const cJSON *t, *w, *k;
    int rc;
    cJSON_ArrayForEach(t, ri) {
        if (cJSON_IsArray(t))
            cJSON_ArrayForEach(w, t) {
                if ((rc = check_members(cJSON_GetObjectItemCaseSensitive(w, "PutRequest"), e)) ||
                    (rc = check_members(cJSON_GetObjectItemCaseSensitive(w, "DeleteRequest"), e)))
                    return rc;
            }
        cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(t, "Keys"))
            if ((rc = check_map(k, e))) return rc;
    }
    return 0;
}

int api_wire_check(const cJSON *req, tm_error *e)
{
    int k = check_members(req, e);
    if (!k) k = check_batch(cJSON_GetObjectItemCaseSensitive(req, "RequestItems"), e);
    return k;
}
