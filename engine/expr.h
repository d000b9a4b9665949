/* expr.h: the DynamoDB expression subset: UpdateExpression, ConditionExpression and
 * KeyConditionExpression with ExpressionAttributeNames (#n) and ExpressionAttributeValues (:v),
 * plus the key ranges and pages that Query and Scan read.
 *
 * Supported (see expr.c for the grammar):
 *   update:    SET p = v [, ...]  REMOVE p [, ...]  ADD p :v [, ...]  DELETE p :set [, ...]
 *              v := operand | operand + operand | operand - operand
 *              operand := path | :value | if_not_exists(path, operand) | list_append(a, b)
 *              Paths in SET/REMOVE/ADD/DELETE are top-level attributes.
 *   condition: comparisons = <> < <= > >=, BETWEEN, IN, AND, OR, NOT, parentheses,
 *              attribute_exists, attribute_not_exists, attribute_type, begins_with, contains,
 *              size(path). Paths may be nested (a.b[2].c) in conditions.
 *   key:       pk = :v [AND sk (= < <= > >=) :v | sk BETWEEN :a AND :b | begins_with(sk, :v)]
 * Reserved words are not enforced (DynamoDB refuses e.g. `name` without #n; tidemark accepts it).
 * Every error is TM_EINVAL with "Invalid <Kind>Expression: ..." naming the token and column.
 *
 * Limits (DynamoDB's, "Expression parameters" in its Constraints page, with its wording):
 * an expression is at most EXPR_MAX_BYTES bytes ("Expression size has exceeded the maximum
 * allowed size"), holds at most EXPR_MAX_OPERATORS operators or functions ("The expression
 * contains too many operators"; AND OR NOT, comparators, BETWEEN, IN, + -, every function; the
 * = of SET is not one), IN takes at most EXPR_MAX_IN operands, a #name or :value placeholder is
 * at most EXPR_MAX_PLACEHOLDER bytes, and the names and values of a request add up to at most
 * EXPR_MAX_SUBST bytes (names: key + value bytes; values: key bytes + item_size). tidemark adds
 * EXPR_MAX_DEPTH, a bound on nesting (parentheses, NOT, update functions) that keeps the
 * recursive parser far from the stack's end: as deep as EXPR_MAX_OPERATORS operators written
 * with one parenthesis each (boto3's builder style) can need, far shallower than a stack.
 *
 * Lifetime: parsed expressions point into their expr_env; free them before the env. */
#ifndef TIDEMARK_EXPR_H
#define TIDEMARK_EXPR_H

#include "engine/buf.h"
#include "engine/item.h"
#include "engine/key.h"
#include "engine/table.h"
#include <stdint.h>

#define EXPR_MAX_BYTES        4096
#define EXPR_MAX_OPERATORS    300
#define EXPR_MAX_IN           100
#define EXPR_MAX_PLACEHOLDER  255
#define EXPR_MAX_SUBST        (2u * 1024 * 1024)
#define EXPR_MAX_DEPTH        300

/* ---- names and values ---- */
typedef struct expr_env expr_env;
/* names_json: {"#n":"name",...} or NULL; values_json: {":v":{"S":"x"},...} (DynamoDB JSON) or
 * NULL. TM_EINVAL naming the bad entry. */
int expr_env_new(const char *names_json, const char *values_json, expr_env **out);
void expr_env_free(expr_env *e);
/* After every expression of a request is parsed: TM_EINVAL naming a name or value that no
 * expression used (DynamoDB refuses unused ones too). */
int expr_env_check_unused(const expr_env *e);

/* ---- ConditionExpression ---- */
typedef struct expr_cond expr_cond;
int expr_cond_parse(const char *text, expr_env *env, expr_cond **out);
void expr_cond_free(expr_cond *c);
/* *result = 1 if it (NULL: the item does not exist) satisfies the condition. */
int expr_cond_eval(const expr_cond *c, const item *it, int *result);

/* ---- UpdateExpression ---- */
typedef struct expr_update expr_update;
int expr_update_parse(const char *text, expr_env *env, expr_update **out);
void expr_update_free(expr_update *u);
/* TM_EINVAL if the expression writes a key attribute of ks. */
int expr_update_check_keys(const expr_update *u, const key_schema *ks);
/* Applies to it in place; every right-hand side reads the item as it was before (DynamoDB).
 * TM_EINVAL (e.g. a + :n where a is not a number), it unchanged on error. */
int expr_update_apply(const expr_update *u, item *it);

/* The top-level attributes the update sets, removes, adds to or deletes from (for ReturnValues
 * UPDATED_OLD and UPDATED_NEW): i in 0..count-1, names borrowed from u. */
int expr_update_count(const expr_update *u);
const char *expr_update_name(const expr_update *u, int i);

/* ---- ProjectionExpression: path [, path ...] (paths may be nested: a.b[2].c) ---- */
typedef struct expr_proj expr_proj;
/* TM_EINVAL on a syntax error or paths that overlap (a, a.b) or conflict (a.b, a[0]). */
int expr_proj_parse(const char *text, expr_env *env, expr_proj **out);
void expr_proj_free(expr_proj *p);
/* *out: a new item with only the projected paths of it that exist (maps and lists on a nested
 * path keep only what was asked for; list elements in index order). */
int expr_proj_apply(const expr_proj *p, const item *it, item **out);

/* ---- glue for table_put / table_update / table_delete_item (one ctx for both callbacks) ---- */
typedef struct expr_write {
    const expr_cond *cond;       /* NULL: unconditional */
    const expr_update *update;   /* for table_update */
} expr_write;
/* table_check_fn: 0, or TM_ECONDITION with "The conditional request failed". */
int expr_write_check(void *ctx, const item *old);
/* table_mutate_fn: applies update, then re-checks the item size. */
int expr_write_mutate(void *ctx, item *it);

/* ---- KeyConditionExpression ---- */
typedef enum expr_sk_op {
    EXPR_SK_NONE = 0, EXPR_SK_EQ, EXPR_SK_LT, EXPR_SK_LE, EXPR_SK_GT, EXPR_SK_GE,
    EXPR_SK_BETWEEN, EXPR_SK_BEGINS,
} expr_sk_op;
typedef struct expr_keycond {
    const av *pk;                /* borrowed from the env */
    expr_sk_op op;
    const av *sk1, *sk2;         /* sk2: BETWEEN's upper bound */
} expr_keycond;
/* Validates against ks: names must be the key attributes, value types the key types,
 * begins_with only on S/B, BETWEEN bounds in order. */
int expr_keycond_parse(const char *text, expr_env *env, const key_schema *ks, expr_keycond *out);
/* The encoded key range [lo, hi) holding exactly the matching items. hi->len == 0: no upper
 * bound. Appends to lo and hi (pass empty buffers). */
int expr_keycond_range(const expr_keycond *k, const key_schema *ks, buf *lo, buf *hi);

/* ---- pages: Query and Scan with Limit and ExclusiveStartKey ---- */
typedef struct expr_page {
    int backward;                /* ScanIndexForward=false */
    uint64_t limit;              /* 0: no limit */
    const item *start;           /* ExclusiveStartKey (key attributes only) or NULL */
    uint64_t max_bytes;          /* 0: none; else the page ends at the item that reaches this
                                    many bytes read (filtered out or not), as DynamoDB's 1 MB */
} expr_page;
#define EXPR_PAGE_INIT {0, 0, NULL, 0}
#define EXPR_PAGE_BYTES ((uint64_t)1 << 20)   /* DynamoDB: a Query or Scan page reads at most 1 MB */
/* Calls fn for each item in order until the limit (items or bytes). If it stopped the page, *last_key
 * receives the LastEvaluatedKey as DynamoDB JSON (else it is left empty). *count: items given. */
int expr_query_run(table_read *r, const key_schema *ks, const expr_keycond *k,
                   const expr_page *pg, table_raw_fn fn, void *ctx, buf *last_key,
                   uint64_t *count);
/* Scan of segment seg of total (hash ranges of the 32-bit key-hash space, key.h). */
int expr_scan_run(table_read *r, const key_schema *ks, uint32_t seg, uint32_t total,
                  const expr_page *pg, table_raw_fn fn, void *ctx, buf *last_key,
                  uint64_t *count);
/* The inclusive hash range of scan segment seg of total (1..1000000 segments). */
int expr_segment_bounds(uint32_t seg, uint32_t total, uint32_t *lo, uint32_t *hi);

#endif
