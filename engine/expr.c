/* expr.c: DynamoDB UpdateExpression, ConditionExpression and KeyConditionExpression: a
 * hand-written lexer and recursive-descent parser, an evaluator over items, and the key ranges
 * and pages of Query and Scan.
 *
 * Why by hand: the grammar is a few dozen tokens, and a hand parser gives exact error columns
 * and DynamoDB-like messages ("token: AND, column 14") that a generated parser would blur; it
 * also keeps the build free of a parser generator.
 *
 * Grammar (keywords case-insensitive):
 *   condition := or ; or := and (OR and)* ; and := not (AND not)* ; not := NOT not | primary
 *   primary   := '(' condition ')' | function
 *              | operand (cmp operand | BETWEEN operand AND operand | IN '(' operand, ... ')')
 *   function  := attribute_exists(path) | attribute_not_exists(path)
 *              | attribute_type(path, :t) | begins_with(path, operand) | contains(path, operand)
 *   operand   := path | :value | size(path)
 *   path      := (name | #name) ('.' (name | #name) | '[' digits ']')*
 *   update    := (SET set, ... | REMOVE path, ... | ADD path :v, ... | DELETE path :v, ...)+
 *   set       := path '=' uop (('+' | '-') uop)?
 *   uop       := path | :value | if_not_exists(path, uop) | list_append(uop, uop)
 * A KeyConditionExpression is parsed as a condition and then checked for the shape Query allows.
 */
#include "engine/expr.h"
#include "engine/err.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ================================================================ memory */

/* Every node of one expression lives until the expression is freed: a list of blocks. */
typedef struct arena {
    void **p;
    size_t n, cap;
} arena;

static void *arena_alloc(arena *a, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        void **np = realloc(a->p, cap * sizeof *np);
        if (!np) return NULL;
        a->p = np;
        a->cap = cap;
    }
    void *m = calloc(1, size ? size : 1);
    if (m) a->p[a->n++] = m;
    return m;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->p[i]);
    free(a->p);
    a->p = NULL;
    a->n = a->cap = 0;
}

/* ================================================================ names and values */

typedef struct env_name {
    char *key, *val;
    int used;
} env_name;

struct expr_env {
    env_name *names;
    size_t nnames;
    item *values;          /* ":v" -> value */
    int *vused;            /* per attribute of values, in item_attr order */
};

void expr_env_free(expr_env *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nnames; i++) {
        free(e->names[i].key);
        free(e->names[i].val);
    }
    free(e->names);
    item_free(e->values);
    free(e->vused);
    free(e);
}

/* DynamoDB's wording for a placeholder over EXPR_MAX_PLACEHOLDER bytes. */
static int placeholder_too_long(const char *map, const char *key, size_t len)
{
    return err_set(TM_EINVAL, "%s contains invalid key: The expression attribute map contains a key "
                   "that is too long; key: %.40s... (%zu bytes, at most %d)", map, key, len,
                   EXPR_MAX_PLACEHOLDER);
}

static int placeholder_ok(const char *s, char lead)
{
    if (s[0] != lead || !s[1]) return 0;
    for (s++; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

int expr_env_new(const char *names_json, const char *values_json, expr_env **out)
{
    int rc = 0;
    cJSON *j = NULL;
    size_t subst = 0;        /* bytes of names and values, against EXPR_MAX_SUBST */
    expr_env *e = calloc(1, sizeof *e);
    *out = NULL;
    if (!e) return err_set(TM_ENOMEM, "out of memory");
    if (names_json && *names_json) {
        j = cJSON_Parse(names_json);
        if (!j || !cJSON_IsObject(j)) {
            rc = err_set(TM_EINVAL, "ExpressionAttributeNames: not a JSON object of \"#name\": \"attribute\"");
            goto out;
        }
        size_t n = (size_t)cJSON_GetArraySize(j);
        e->names = calloc(n ? n : 1, sizeof *e->names);
        if (!e->names) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        for (cJSON *c = j->child; c; c = c->next) {
            if (strlen(c->string) > EXPR_MAX_PLACEHOLDER) {
                rc = placeholder_too_long("ExpressionAttributeNames", c->string, strlen(c->string));
                goto out;
            }
            if (!placeholder_ok(c->string, '#')) {
                rc = err_set(TM_EINVAL, "ExpressionAttributeNames contains invalid key '%s': "
                             "must be # followed by letters, digits or _", c->string);
                goto out;
            }
            if (!cJSON_IsString(c) || !c->valuestring[0]) {
                rc = err_set(TM_EINVAL, "ExpressionAttributeNames: '%s' must map to a non-empty string",
                             c->string);
                goto out;
            }
            subst += strlen(c->string) + strlen(c->valuestring);
            env_name *en = &e->names[e->nnames++];
            en->key = strdup(c->string);
            en->val = strdup(c->valuestring);
            if (!en->key || !en->val) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        }
    }
    if (values_json && *values_json) {
        rc = item_parse_json(values_json, strlen(values_json), ITEM_PARSE_NOLIMITS, &e->values);
        if (rc) {
            err_wrap(rc, "ExpressionAttributeValues: ");
            goto out;
        }
        uint32_t n = item_count(e->values);
        for (uint32_t i = 0; i < n; i++) {
            const av_attr *a = item_attr(e->values, i);
            char nm[EXPR_MAX_PLACEHOLDER + 1];
            if (a->name_len > EXPR_MAX_PLACEHOLDER) {
                rc = placeholder_too_long("ExpressionAttributeValues", a->name, a->name_len);
                goto out;
            }
            snprintf(nm, sizeof nm, "%.*s", (int)a->name_len, a->name);
            if (strlen(nm) != a->name_len || !placeholder_ok(nm, ':')) {
                rc = err_set(TM_EINVAL, "ExpressionAttributeValues contains invalid key '%s': "
                             "must be : followed by letters, digits or _", nm);
                goto out;
            }
        }
        e->vused = calloc(n ? n : 1, sizeof *e->vused);
        if (!e->vused) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        subst += item_size(e->values);
    }
    if (subst > EXPR_MAX_SUBST)
        rc = err_set(TM_EINVAL, "ExpressionAttributeNames and ExpressionAttributeValues exceed the maximum "
                     "allowed size: %zu bytes of substitution variables (at most %u)", subst,
                     EXPR_MAX_SUBST);
out:
    cJSON_Delete(j);
    if (rc) expr_env_free(e);
    else *out = e;
    return rc;
}

int expr_env_check_unused(const expr_env *e)
{
    for (size_t i = 0; i < e->nnames; i++)
        if (!e->names[i].used)
            return err_set(TM_EINVAL, "Value provided in ExpressionAttributeNames unused in expressions: "
                           "keys: {%s}", e->names[i].key);
    if (e->values)
        for (uint32_t i = 0; i < item_count(e->values); i++)
            if (!e->vused[i])
                return err_set(TM_EINVAL, "Value provided in ExpressionAttributeValues unused in "
                               "expressions: keys: {%s}", item_attr(e->values, i)->name);
    return 0;
}

static const char *env_name_get(expr_env *e, const char *p, size_t n)
{
    for (size_t i = 0; i < e->nnames; i++)
        if (strlen(e->names[i].key) == n && !memcmp(e->names[i].key, p, n)) {
            e->names[i].used = 1;
            return e->names[i].val;
        }
    return NULL;
}

static const av *env_value_get(expr_env *e, const char *p, size_t n)
{
    if (!e->values) return NULL;
    for (uint32_t i = 0; i < item_count(e->values); i++) {
        const av_attr *a = item_attr(e->values, i);
        if (a->name_len == n && !memcmp(a->name, p, n)) {
            e->vused[i] = 1;
            return &a->value;
        }
    }
    return NULL;
}

/* ================================================================ lexer */

typedef enum tok_kind {
    T_EOF, T_NAME, T_HASH, T_VALUE, T_NUM, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA,
    T_DOT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS,
} tok_kind;

typedef struct tok {
    tok_kind kind;
    const char *p;
    size_t len;
    int col;              /* 1-based */
} tok;

typedef struct parser {
    const char *s;
    size_t pos;           /* where the lexer goes on after cur */
    tok cur;
    const char *kind;     /* "UpdateExpression", ... for messages */
    expr_env *env;
    arena *ar;
    int ops;              /* operators and functions so far, against EXPR_MAX_OPERATORS */
    int depth;            /* open parentheses, NOTs and update functions, against EXPR_MAX_DEPTH */
} parser;

static int syntax(parser *ps, const tok *t, const char *what)
{
    if (t->kind == T_EOF)
        return err_set(TM_EINVAL, "Invalid %s: syntax error at column %d (end of expression): %s",
                       ps->kind, t->col, what);
    return err_set(TM_EINVAL, "Invalid %s: syntax error at column %d, token \"%.*s\": %s", ps->kind,
                   t->col, (int)(t->len > 40 ? 40 : t->len), t->p, what);
}

static int is_ident(int c) { return isalnum(c) || c == '_'; }

/* DynamoDB's size check, before any parsing. */
static int check_size(const char *text, const char *kind)
{
    size_t n = strlen(text);
    if (n > EXPR_MAX_BYTES)
        return err_set(TM_EINVAL, "Invalid %s: Expression size has exceeded the maximum allowed size; "
                       "expression size: %zu (at most %d bytes)", kind, n, EXPR_MAX_BYTES);
    return 0;
}

/* Counts the operator or function at t against EXPR_MAX_OPERATORS. */
static int count_op(parser *ps, const tok *t)
{
    if (++ps->ops <= EXPR_MAX_OPERATORS) return 0;
    return err_set(TM_EINVAL, "Invalid %s: The expression contains too many operators; operator count: "
                   "%d at column %d (at most %d)", ps->kind, ps->ops, t->col, EXPR_MAX_OPERATORS);
}

/* One nesting level more at t (the parser recurses once per level): the bound keeps a hostile
 * "((((..." an error instead of a stack overflow. The caller decrements depth on the way out. */
static int enter(parser *ps, const tok *t)
{
    if (++ps->depth <= EXPR_MAX_DEPTH) return 0;
    return err_set(TM_EINVAL, "Invalid %s: The expression is nested too deeply; nesting depth: %d at "
                   "column %d (at most %d levels of parentheses, NOT and functions)", ps->kind,
                   ps->depth, t->col, EXPR_MAX_DEPTH);
}

/* Lexes the token starting at *pos into t. */
static int lex_at(parser *ps, size_t *pos, tok *t)
{
    const char *s = ps->s;
    size_t i = *pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') i++;
    t->p = s + i;
    t->col = (int)i + 1;
    t->len = 1;
    unsigned char c = (unsigned char)s[i];
    if (!c) { t->kind = T_EOF; t->len = 0; *pos = i; return 0; }
    if (isalpha(c) || c == '_') {
        size_t j = i;
        while (is_ident((unsigned char)s[j])) j++;
        t->kind = T_NAME;
        t->len = j - i;
    } else if (c == '#' || c == ':') {
        size_t j = i + 1;
        while (is_ident((unsigned char)s[j])) j++;
        t->kind = c == '#' ? T_HASH : T_VALUE;
        t->len = j - i;
        if (t->len == 1) {
            t->len = 1;
            return syntax(ps, t, c == '#' ? "expected a name placeholder like #n"
                                          : "expected a value placeholder like :v");
        }
    } else if (isdigit(c)) {
        size_t j = i;
        while (isdigit((unsigned char)s[j])) j++;
        t->kind = T_NUM;
        t->len = j - i;
    } else {
        switch (c) {
        case '(': t->kind = T_LPAREN; break;
        case ')': t->kind = T_RPAREN; break;
        case '[': t->kind = T_LBRACK; break;
        case ']': t->kind = T_RBRACK; break;
        case ',': t->kind = T_COMMA; break;
        case '.': t->kind = T_DOT; break;
        case '=': t->kind = T_EQ; break;
        case '+': t->kind = T_PLUS; break;
        case '-': t->kind = T_MINUS; break;
        case '<':
            if (s[i + 1] == '>') { t->kind = T_NE; t->len = 2; }
            else if (s[i + 1] == '=') { t->kind = T_LE; t->len = 2; }
            else t->kind = T_LT;
            break;
        case '>':
            if (s[i + 1] == '=') { t->kind = T_GE; t->len = 2; }
            else t->kind = T_GT;
            break;
        default:
            /* One UTF-8 character, for the message. */
            while (t->len < 4 && ((unsigned char)s[i + t->len] & 0xC0) == 0x80) t->len++;
            return syntax(ps, t, "unexpected character");
        }
    }
    *pos = i + t->len;
    return 0;
}

static int next(parser *ps) { return lex_at(ps, &ps->pos, &ps->cur); }

static int peek(parser *ps, tok *t)
{
    size_t p = ps->pos;
    return lex_at(ps, &p, t);
}

static int tok_is(const tok *t, const char *kw)
{
    return t->kind == T_NAME && strlen(kw) == t->len && !strncasecmp(t->p, kw, t->len);
}

static int is_keyword(const tok *t)
{
    static const char *kws[] = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD",
                                "DELETE"};
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (tok_is(t, kws[i])) return 1;
    return 0;
}

static int expect(parser *ps, tok_kind k, const char *what)
{
    if (ps->cur.kind != k) return syntax(ps, &ps->cur, what);
    return next(ps);
}

/* ================================================================ paths and operands */

typedef struct pseg {
    const char *name;     /* NULL for a list index */
    size_t len;
    uint32_t index;
} pseg;

typedef struct path {
    pseg *segs;
    int n;
    int col;
} path;

static int parse_path(parser *ps, path *out)
{
    pseg segs[ITEM_MAX_DEPTH + 1];
    int n = 0;
    out->col = ps->cur.col;
    for (;;) {
        tok *t = &ps->cur;
        if (n == ITEM_MAX_DEPTH + 1)
            return syntax(ps, t, "document path is deeper than 32 levels");
        if (t->kind == T_NAME) {
            if (is_keyword(t))
                return syntax(ps, t, "expected an attribute name (a keyword needs a #name placeholder)");
            segs[n].name = t->p;
            segs[n].len = t->len;
        } else if (t->kind == T_HASH) {
            const char *v = env_name_get(ps->env, t->p, t->len);
            if (!v)
                return err_set(TM_EINVAL, "Invalid %s: column %d: name placeholder '%.*s' is not defined "
                               "in ExpressionAttributeNames", ps->kind, t->col, (int)t->len, t->p);
            segs[n].name = v;
            segs[n].len = strlen(v);
        } else {
            return syntax(ps, t, "expected an attribute name");
        }
        n++;
        int rc = next(ps);
        if (rc) return rc;
        while (ps->cur.kind == T_LBRACK) {
            if ((rc = next(ps))) return rc;
            if (ps->cur.kind != T_NUM || ps->cur.len > 9)
                return syntax(ps, &ps->cur, "expected a list index");
            if (n == ITEM_MAX_DEPTH + 1)
                return syntax(ps, &ps->cur, "document path is deeper than 32 levels");
            segs[n].name = NULL;
            segs[n].index = (uint32_t)strtoul(ps->cur.p, NULL, 10);
            n++;
            if ((rc = next(ps))) return rc;
            if ((rc = expect(ps, T_RBRACK, "expected ]"))) return rc;
        }
        if (ps->cur.kind != T_DOT) break;
        if ((rc = next(ps))) return rc;
    }
    out->segs = arena_alloc(ps->ar, (size_t)n * sizeof *segs);
    if (!out->segs) return err_set(TM_ENOMEM, "out of memory");
    memcpy(out->segs, segs, (size_t)n * sizeof *segs);
    out->n = n;
    return 0;
}

static int parse_value(parser *ps, const av **out)
{
    tok *t = &ps->cur;
    if (t->kind != T_VALUE) return syntax(ps, t, "expected a value placeholder like :v");
    *out = env_value_get(ps->env, t->p, t->len);
    if (!*out)
        return err_set(TM_EINVAL, "Invalid %s: column %d: value placeholder '%.*s' is not defined in "
                       "ExpressionAttributeValues", ps->kind, t->col, (int)t->len, t->p);
    return next(ps);
}

/* Looks a path up in an item; NULL if any step is missing or of the wrong type. */
static const av *path_get(const path *p, const item *it)
{
    if (!it) return NULL;
    char nm[512];
    const av *v;
    if (p->segs[0].len < sizeof nm) {
        memcpy(nm, p->segs[0].name, p->segs[0].len);
        nm[p->segs[0].len] = '\0';
        v = item_get(it, nm);
    } else {
        char *big = malloc(p->segs[0].len + 1);
        if (!big) return NULL;
        memcpy(big, p->segs[0].name, p->segs[0].len);
        big[p->segs[0].len] = '\0';
        v = item_get(it, big);
        free(big);
    }
    for (int i = 1; v && i < p->n; i++) {
        const pseg *s = &p->segs[i];
        if (s->name) {
            if (v->type != AV_M) return NULL;
            const av *found = NULL;
            for (uint32_t k = 0; k < v->len; k++)
                if (v->u.attrs[k].name_len == s->len && !memcmp(v->u.attrs[k].name, s->name, s->len)) {
                    found = &v->u.attrs[k].value;
                    break;
                }
            v = found;
        } else {
            if (v->type != AV_L || s->index >= v->len) return NULL;
            v = &v->u.elems[s->index];
        }
    }
    return v;
}

/* ================================================================ condition AST */

typedef enum opnd_kind { O_PATH, O_VALUE, O_SIZE } opnd_kind;
typedef struct opnd {
    opnd_kind kind;
    path p;
    const av *v;
    int col;
} opnd;

typedef enum cnode_kind {
    C_OR, C_AND, C_NOT, C_CMP, C_BETWEEN, C_IN, C_EXISTS, C_NOT_EXISTS, C_TYPE, C_BEGINS,
    C_CONTAINS,
} cnode_kind;

typedef struct cnode {
    cnode_kind kind;
    tok_kind cmp;            /* C_CMP: T_EQ .. T_GE */
    struct cnode *a, *b;
    opnd *ops;               /* operands: CMP 2, BETWEEN 3, IN n, functions 1-2 */
    int nops;
    int col;
    const char *tokp;        /* the operator's text, for key-condition messages */
    size_t tokn;
} cnode;

struct expr_cond {
    arena ar;
    cnode *root;
};

static int parse_or(parser *ps, cnode **out);

static cnode *cnode_new(parser *ps, cnode_kind k, int col)
{
    cnode *n = arena_alloc(ps->ar, sizeof *n);
    if (n) { n->kind = k; n->col = col; }
    return n;
}

static int parse_operand(parser *ps, opnd *o)
{
    tok nt;
    int rc;
    o->col = ps->cur.col;
    if (ps->cur.kind == T_VALUE) {
        o->kind = O_VALUE;
        return parse_value(ps, &o->v);
    }
    if (tok_is(&ps->cur, "size") && !(rc = peek(ps, &nt)) && nt.kind == T_LPAREN) {
        o->kind = O_SIZE;
        if ((rc = count_op(ps, &ps->cur)) || (rc = next(ps)) || (rc = next(ps)) ||
            (rc = parse_path(ps, &o->p)))
            return rc;
        return expect(ps, T_RPAREN, "expected ) after size(path");
    }
    if (ps->cur.kind == T_NAME || ps->cur.kind == T_HASH) {
        o->kind = O_PATH;
        return parse_path(ps, &o->p);
    }
    return syntax(ps, &ps->cur, "expected an attribute path or a :value");
}

static int parse_function(parser *ps, cnode **out)
{
    static const struct { const char *name; cnode_kind k; int nargs; } fns[] = {
        {"attribute_exists", C_EXISTS, 1}, {"attribute_not_exists", C_NOT_EXISTS, 1},
        {"attribute_type", C_TYPE, 2}, {"begins_with", C_BEGINS, 2}, {"contains", C_CONTAINS, 2},
    };
    tok name = ps->cur;
    int rc, f = -1;
    for (int i = 0; i < (int)(sizeof fns / sizeof *fns); i++)
        if (name.len == strlen(fns[i].name) && !memcmp(name.p, fns[i].name, name.len)) f = i;
    if (f < 0) return syntax(ps, &name, "unknown function");
    if ((rc = count_op(ps, &name))) return rc;
    cnode *n = cnode_new(ps, fns[f].k, name.col);
    if (!n || !(n->ops = arena_alloc(ps->ar, 2 * sizeof *n->ops))) return err_set(TM_ENOMEM, "out of memory");
    n->tokp = name.p;
    n->tokn = name.len;
    if ((rc = next(ps)) || (rc = expect(ps, T_LPAREN, "expected ("))) return rc;
    n->ops[0].kind = O_PATH;
    n->ops[0].col = ps->cur.col;
    if ((rc = parse_path(ps, &n->ops[0].p))) return rc;
    n->nops = 1;
    if (fns[f].nargs == 2) {
        if ((rc = expect(ps, T_COMMA, "expected , between the function's arguments"))) return rc;
        if ((rc = parse_operand(ps, &n->ops[1]))) return rc;
        if (fns[f].k == C_TYPE && n->ops[1].kind != O_VALUE)
            return err_set(TM_EINVAL, "Invalid %s: column %d: attribute_type takes a :value naming the type",
                           ps->kind, n->ops[1].col);
        n->nops = 2;
    }
    if ((rc = expect(ps, T_RPAREN, "expected ) to close the function call"))) return rc;
    *out = n;
    return 0;
}

/* The "(a, b, ...)" after IN, into n->ops[1..] (n->ops[0] is the operand before IN). The list
 * is gathered on the heap, not in a frame of the recursive descent. */
static int parse_in_list(parser *ps, cnode *n)
{
    opnd *list = malloc((EXPR_MAX_IN + 1) * sizeof *list);
    int rc, k = 0;
    if (!list) return err_set(TM_ENOMEM, "out of memory");
    if ((rc = next(ps)) || (rc = expect(ps, T_LPAREN, "expected ( after IN"))) goto out;
    list[k++] = n->ops[0];
    for (;;) {
        if (k == EXPR_MAX_IN + 1) {
            rc = err_set(TM_EINVAL, "Invalid %s: The IN operator is provided with too many operands; "
                         "number of operands: %d at column %d (at most %d)", ps->kind, k,
                         ps->cur.col, EXPR_MAX_IN);
            goto out;
        }
        if ((rc = parse_operand(ps, &list[k++]))) goto out;
        if (ps->cur.kind != T_COMMA) break;
        if ((rc = next(ps))) goto out;
    }
    if ((rc = expect(ps, T_RPAREN, "expected ) to close the IN list"))) goto out;
    if (!(n->ops = arena_alloc(ps->ar, (size_t)k * sizeof *list))) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(n->ops, list, (size_t)k * sizeof *list);
    n->nops = k;
out:
    free(list);
    return rc;
}

static int parse_primary(parser *ps, cnode **out)
{
    int rc;
    tok nt;
    if (ps->cur.kind == T_LPAREN) {
        if ((rc = enter(ps, &ps->cur)) || (rc = next(ps)) || (rc = parse_or(ps, out))) return rc;
        ps->depth--;
        return expect(ps, T_RPAREN, "expected ) to close the parenthesis");
    }
    if (ps->cur.kind == T_NAME && !tok_is(&ps->cur, "size") && !(rc = peek(ps, &nt)) &&
        nt.kind == T_LPAREN)
        return parse_function(ps, out);
    cnode *n = cnode_new(ps, C_CMP, ps->cur.col);
    if (!n || !(n->ops = arena_alloc(ps->ar, 3 * sizeof *n->ops))) return err_set(TM_ENOMEM, "out of memory");
    if ((rc = parse_operand(ps, &n->ops[0]))) return rc;
    tok op = ps->cur;
    n->tokp = op.p;
    n->tokn = op.len;
    n->col = op.col;
    if (((op.kind >= T_EQ && op.kind <= T_GE) || tok_is(&op, "BETWEEN") || tok_is(&op, "IN")) &&
        (rc = count_op(ps, &op)))
        return rc;
    if (op.kind >= T_EQ && op.kind <= T_GE) {
        n->cmp = op.kind;
        if ((rc = next(ps)) || (rc = parse_operand(ps, &n->ops[1]))) return rc;
        n->nops = 2;
    } else if (tok_is(&op, "BETWEEN")) {
        n->kind = C_BETWEEN;
        if ((rc = next(ps)) || (rc = parse_operand(ps, &n->ops[1]))) return rc;
        if (!tok_is(&ps->cur, "AND")) return syntax(ps, &ps->cur, "expected AND in BETWEEN a AND b");
        if ((rc = next(ps)) || (rc = parse_operand(ps, &n->ops[2]))) return rc;
        n->nops = 3;
    } else if (tok_is(&op, "IN")) {
        n->kind = C_IN;
        if ((rc = parse_in_list(ps, n))) return rc;
    } else {
        return syntax(ps, &op, "expected a comparison (= <> < <= > >=), BETWEEN or IN");
    }
    *out = n;
    return 0;
}

static int parse_not(parser *ps, cnode **out)
{
    if (tok_is(&ps->cur, "NOT")) {
        cnode *n = cnode_new(ps, C_NOT, ps->cur.col);
        int rc;
        if (!n) return err_set(TM_ENOMEM, "out of memory");
        n->tokp = ps->cur.p;
        n->tokn = ps->cur.len;
        if ((rc = count_op(ps, &ps->cur)) || (rc = enter(ps, &ps->cur)) || (rc = next(ps)) ||
            (rc = parse_not(ps, &n->a)))
            return rc;
        ps->depth--;
        *out = n;
        return 0;
    }
    return parse_primary(ps, out);
}

static int parse_binary(parser *ps, cnode **out, const char *kw, cnode_kind k,
                        int (*sub)(parser *, cnode **))
{
    int rc = sub(ps, out);
    while (!rc && tok_is(&ps->cur, kw)) {
        cnode *n = cnode_new(ps, k, ps->cur.col);
        if (!n) return err_set(TM_ENOMEM, "out of memory");
        n->tokp = ps->cur.p;
        n->tokn = ps->cur.len;
        n->a = *out;
        if ((rc = count_op(ps, &ps->cur)) || (rc = next(ps)) || (rc = sub(ps, &n->b))) return rc;
        *out = n;
    }
    return rc;
}

static int parse_and(parser *ps, cnode **out) { return parse_binary(ps, out, "AND", C_AND, parse_not); }
static int parse_or(parser *ps, cnode **out) { return parse_binary(ps, out, "OR", C_OR, parse_and); }

static int parse_condition(const char *text, expr_env *env, const char *kind, arena *ar,
                           cnode **root)
{
    parser ps = {text, 0, {0}, kind, env, ar, 0, 0};
    int rc;
    if (!text) text = ps.s = "";
    if ((rc = check_size(text, kind)) || (rc = next(&ps))) return rc;
    if (ps.cur.kind == T_EOF) return err_set(TM_EINVAL, "Invalid %s: the expression is empty", kind);
    if ((rc = parse_or(&ps, root))) return rc;
    if (ps.cur.kind != T_EOF)
        return syntax(&ps, &ps.cur, "unexpected token after a complete condition (missing AND/OR?)");
    return 0;
}

int expr_cond_parse(const char *text, expr_env *env, expr_cond **out)
{
    expr_cond *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) return err_set(TM_ENOMEM, "out of memory");
    int rc = parse_condition(text, env, "ConditionExpression", &c->ar, &c->root);
    if (rc) expr_cond_free(c);
    else *out = c;
    return rc;
}

void expr_cond_free(expr_cond *c)
{
    if (!c) return;
    arena_free(&c->ar);
    free(c);
}

/* ================================================================ condition evaluation */

static uint64_t utf8_len_bytes(const av *v) { return v->len; }

/* Value of an operand; NULL when a path is missing. size() results go into tmp/num. */
static const av *opnd_eval(const opnd *o, const item *it, av *tmp, char *num, size_t numn)
{
    if (o->kind == O_VALUE) return o->v;
    const av *v = path_get(&o->p, it);
    if (o->kind == O_PATH || !v) return v;
    uint64_t sz;
    switch (v->type) {
    case AV_S: sz = utf8_len_bytes(v); break;
    case AV_B: case AV_SS: case AV_NS: case AV_BS: case AV_L: case AV_M: sz = v->len; break;
    default: return NULL;     /* size() of N, BOOL, NULL: the condition is false */
    }
    snprintf(num, numn, "%llu", (unsigned long long)sz);
    tmp->type = AV_N;
    tmp->len = (uint32_t)strlen(num);
    tmp->u.bytes = num;
    return tmp;
}

static int orderable(const av *a, const av *b)
{
    return a && b && a->type == b->type && (a->type == AV_S || a->type == AV_N || a->type == AV_B);
}

static int cmp_holds(tok_kind op, const av *a, const av *b)
{
    if (!a || !b) return 0;    /* a missing attribute makes every comparison false */
    if (op == T_EQ) return a->type == b->type && av_equal(a, b);
    if (op == T_NE) return !(a->type == b->type && av_equal(a, b));
    if (!orderable(a, b)) return 0;
    int c = av_compare(a, b);
    switch (op) {
    case T_LT: return c < 0;
    case T_LE: return c <= 0;
    case T_GT: return c > 0;
    case T_GE: return c >= 0;
    default: return 0;
    }
}

static const char *type_name(av_type t)
{
    static const char *n[] = {"?", "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"};
    return (unsigned)t <= AV_BOOL ? n[t] : "?";
}

static int contains_holds(const av *hay, const av *needle)
{
    if (!hay || !needle) return 0;
    switch (hay->type) {
    case AV_S:
    case AV_B:
        if (needle->type != hay->type) return 0;
        if (needle->len == 0) return 1;
        for (uint32_t i = 0; i + needle->len <= hay->len; i++)
            if (!memcmp(hay->u.bytes + i, needle->u.bytes, needle->len)) return 1;
        return 0;
    case AV_SS: case AV_NS: case AV_BS: case AV_L:
        for (uint32_t i = 0; i < hay->len; i++)
            if (hay->u.elems[i].type == needle->type && av_equal(&hay->u.elems[i], needle)) return 1;
        return 0;
    default:
        return 0;
    }
}

static int cnode_eval(const cnode *n, const item *it)
{
    av t0, t1, t2;
    char n0[24], n1[24], n2[24];
    const av *a, *b, *c;
    switch (n->kind) {
    case C_OR: return cnode_eval(n->a, it) || cnode_eval(n->b, it);
    case C_AND: return cnode_eval(n->a, it) && cnode_eval(n->b, it);
    case C_NOT: return !cnode_eval(n->a, it);
    case C_CMP:
        a = opnd_eval(&n->ops[0], it, &t0, n0, sizeof n0);
        b = opnd_eval(&n->ops[1], it, &t1, n1, sizeof n1);
        return cmp_holds(n->cmp, a, b);
    case C_BETWEEN:
        a = opnd_eval(&n->ops[0], it, &t0, n0, sizeof n0);
        b = opnd_eval(&n->ops[1], it, &t1, n1, sizeof n1);
        c = opnd_eval(&n->ops[2], it, &t2, n2, sizeof n2);
        return orderable(a, b) && orderable(a, c) && av_compare(a, b) >= 0 && av_compare(a, c) <= 0;
    case C_IN:
        a = opnd_eval(&n->ops[0], it, &t0, n0, sizeof n0);
        for (int i = 1; i < n->nops; i++) {
            b = opnd_eval(&n->ops[i], it, &t1, n1, sizeof n1);
            if (cmp_holds(T_EQ, a, b)) return 1;
        }
        return 0;
    case C_EXISTS: return path_get(&n->ops[0].p, it) != NULL;
    case C_NOT_EXISTS: return path_get(&n->ops[0].p, it) == NULL;
    case C_TYPE:
        a = path_get(&n->ops[0].p, it);
        b = n->ops[1].v;
        return a && b->type == AV_S && strlen(type_name(a->type)) == b->len &&
               !memcmp(type_name(a->type), b->u.bytes, b->len);
    case C_BEGINS:
        a = path_get(&n->ops[0].p, it);
        b = opnd_eval(&n->ops[1], it, &t1, n1, sizeof n1);
        return a && b && a->type == b->type && (a->type == AV_S || a->type == AV_B) &&
               b->len <= a->len && !memcmp(a->u.bytes, b->u.bytes, b->len);
    case C_CONTAINS:
        a = path_get(&n->ops[0].p, it);
        b = opnd_eval(&n->ops[1], it, &t1, n1, sizeof n1);
        return contains_holds(a, b);
    }
    return 0;
}

int expr_cond_eval(const expr_cond *c, const item *it, int *result)
{
    *result = cnode_eval(c->root, it);
    return 0;
}

/* ================================================================ decimal arithmetic */

/* Sum (or difference) of two canonical decimals; the result is canonicalised by num_canonical,
 * which refuses more than 38 significant digits or an out-of-range magnitude. */
#define DEC_MAX 320
typedef struct dec {
    int neg;
    char d[DEC_MAX];       /* digits, most significant first */
    int n, scale;          /* digit count, digits after the point */
} dec;

static int dec_parse(const av *v, dec *x)
{
    const char *s = v->u.bytes;
    size_t n = v->len, i = 0;
    memset(x, 0, sizeof *x);
    if (n && s[0] == '-') { x->neg = 1; i = 1; }
    int seen_point = 0;
    for (; i < n; i++) {
        if (s[i] == '.') { seen_point = 1; continue; }
        if (!isdigit((unsigned char)s[i]) || x->n >= DEC_MAX) return -1;
        x->d[x->n++] = s[i];
        if (seen_point) x->scale++;
    }
    return x->n ? 0 : -1;
}

/* |a| vs |b| at equal scale and length. */
static int dec_cmpmag(const char *a, const char *b, int n) { return memcmp(a, b, (size_t)n); }

static int num_add(const av *a, const av *b, int subtract, buf *out)
{
    dec x, y;
    if (dec_parse(a, &x) || dec_parse(b, &y)) return err_set(TM_EINVAL, "bad number operand");
    if (subtract) y.neg = !y.neg;
    int scale = x.scale > y.scale ? x.scale : y.scale;
    int ix = x.n - x.scale, iy = y.n - y.scale;
    int ilen = (ix > iy ? ix : iy) + 1;          /* +1 for a carry */
    int len = ilen + scale;
    if (len > DEC_MAX) return err_set(TM_EINVAL, "number out of range");
    char ax[DEC_MAX], ay[DEC_MAX], r[DEC_MAX];
    memset(ax, '0', (size_t)len);
    memset(ay, '0', (size_t)len);
    memcpy(ax + (ilen - ix), x.d, (size_t)x.n);
    memcpy(ay + (ilen - iy), y.d, (size_t)y.n);
    int neg;
    if (x.neg == y.neg) {
        int carry = 0;
        for (int i = len - 1; i >= 0; i--) {
            int s = (ax[i] - '0') + (ay[i] - '0') + carry;
            r[i] = (char)('0' + s % 10);
            carry = s / 10;
        }
        neg = x.neg;
    } else {
        const char *big = ax, *small = ay;
        neg = x.neg;
        if (dec_cmpmag(ax, ay, len) < 0) { big = ay; small = ax; neg = y.neg; }
        int borrow = 0;
        for (int i = len - 1; i >= 0; i--) {
            int s = (big[i] - '0') - (small[i] - '0') - borrow;
            borrow = s < 0;
            r[i] = (char)('0' + (s + 10) % 10);
        }
    }
    buf txt = BUF_INIT;
    int rc = 0;
    if (neg) rc = buf_putc(&txt, '-');
    if (!rc) rc = buf_append(&txt, r, (size_t)ilen);
    if (!rc && scale) rc = buf_putc(&txt, '.');
    if (!rc && scale) rc = buf_append(&txt, r + ilen, (size_t)scale);
    if (!rc) rc = num_canonical(txt.data, txt.len, out);
    buf_free(&txt);
    return rc;
}

/* ================================================================ update */

typedef enum uop_kind { U_PATH, U_VALUE, U_IF_NOT_EXISTS, U_LIST_APPEND } uop_kind;
typedef struct uop {
    uop_kind kind;
    path p;
    const av *v;
    struct uop *x, *y;
    int col;
} uop;

typedef enum uact_kind { A_SET, A_REMOVE, A_ADD, A_DELETE } uact_kind;
typedef struct uact {
    uact_kind kind;
    char *name;              /* top-level attribute written */
    int col;
    uop *a, *b;              /* SET: a [op b]; ADD/DELETE: a is the value */
    tok_kind arith;          /* T_PLUS, T_MINUS or T_EOF */
} uact;

struct expr_update {
    arena ar;
    uact *acts;
    int n, cap;
    int reads;               /* some right-hand side reads the item */
};

void expr_update_free(expr_update *u)
{
    if (!u) return;
    arena_free(&u->ar);
    free(u->acts);
    free(u);
}

static int parse_uop(parser *ps, expr_update *u, uop **out)
{
    int rc;
    tok nt;
    uop *o = arena_alloc(ps->ar, sizeof *o);
    if (!o) return err_set(TM_ENOMEM, "out of memory");
    o->col = ps->cur.col;
    *out = o;
    if (ps->cur.kind == T_VALUE) {
        o->kind = U_VALUE;
        return parse_value(ps, &o->v);
    }
    if (ps->cur.kind == T_NAME && !(rc = peek(ps, &nt)) && nt.kind == T_LPAREN) {
        if ((tok_is(&ps->cur, "if_not_exists") || tok_is(&ps->cur, "list_append")) &&
            ((rc = count_op(ps, &ps->cur)) || (rc = enter(ps, &ps->cur))))
            return rc;
        if (tok_is(&ps->cur, "if_not_exists")) {
            o->kind = U_IF_NOT_EXISTS;
            u->reads = 1;
            if ((rc = next(ps)) || (rc = next(ps)) || (rc = parse_path(ps, &o->p))) return rc;
            if ((rc = expect(ps, T_COMMA, "expected , in if_not_exists(path, value)"))) return rc;
            if ((rc = parse_uop(ps, u, &o->y))) return rc;
            ps->depth--;
            return expect(ps, T_RPAREN, "expected ) to close if_not_exists");
        }
        if (tok_is(&ps->cur, "list_append")) {
            o->kind = U_LIST_APPEND;
            if ((rc = next(ps)) || (rc = next(ps)) || (rc = parse_uop(ps, u, &o->x))) return rc;
            if ((rc = expect(ps, T_COMMA, "expected , in list_append(a, b)"))) return rc;
            if ((rc = parse_uop(ps, u, &o->y))) return rc;
            ps->depth--;
            return expect(ps, T_RPAREN, "expected ) to close list_append");
        }
        return syntax(ps, &ps->cur, "unknown function (if_not_exists and list_append are supported)");
    }
    o->kind = U_PATH;
    u->reads = 1;
    return parse_path(ps, &o->p);
}

static int parse_target(parser *ps, expr_update *u, uact *a)
{
    path p;
    int rc = parse_path(ps, &p);
    if (rc) return rc;
    if (p.n != 1)
        return err_set(TM_EINVAL, "Invalid UpdateExpression: column %d: only top-level attributes can "
                       "be written (nested document paths are not supported yet)", p.col);
    a->col = p.col;
    if (!(a->name = arena_alloc(ps->ar, p.segs[0].len + 1))) return err_set(TM_ENOMEM, "out of memory");
    memcpy(a->name, p.segs[0].name, p.segs[0].len);
    for (int i = 0; i < u->n; i++)
        if (!strcmp(u->acts[i].name, a->name))
            return err_set(TM_EINVAL, "Invalid UpdateExpression: Two document paths overlap with each "
                           "other; must remove or rewrite one of these paths; path one: [%s], path two: "
                           "[%s] (columns %d and %d)", a->name, a->name, u->acts[i].col, a->col);
    return 0;
}

int expr_update_parse(const char *text, expr_env *env, expr_update **out)
{
    expr_update *u = calloc(1, sizeof *u);
    parser ps = {text ? text : "", 0, {0}, "UpdateExpression", env, NULL, 0, 0};
    int rc, seen[4] = {0};
    *out = NULL;
    if (!u) return err_set(TM_ENOMEM, "out of memory");
    ps.ar = &u->ar;
    if ((rc = check_size(ps.s, ps.kind)) || (rc = next(&ps))) goto out;
    if (ps.cur.kind == T_EOF) {
        rc = err_set(TM_EINVAL, "Invalid UpdateExpression: the expression is empty");
        goto out;
    }
    while (ps.cur.kind != T_EOF) {
        static const char *kws[] = {"SET", "REMOVE", "ADD", "DELETE"};
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (tok_is(&ps.cur, kws[i])) k = i;
        if (k < 0) {
            rc = syntax(&ps, &ps.cur, "expected SET, REMOVE, ADD or DELETE");
            goto out;
        }
        if (seen[k]++) {
            rc = err_set(TM_EINVAL, "Invalid UpdateExpression: column %d: the \"%s\" section can only be "
                         "used once in an update expression", ps.cur.col, kws[k]);
            goto out;
        }
        if ((rc = next(&ps))) goto out;
        for (;;) {
            if (u->n == u->cap) {
                int cap = u->cap ? u->cap * 2 : 8;
                uact *na = realloc(u->acts, (size_t)cap * sizeof *na);
                if (!na) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
                u->acts = na;
                u->cap = cap;
            }
            uact a = {(uact_kind)k, NULL, 0, NULL, NULL, T_EOF};
            if ((rc = parse_target(&ps, u, &a))) goto out;
            if (k == A_SET) {
                if ((rc = expect(&ps, T_EQ, "expected = after the attribute in SET"))) goto out;
                if ((rc = parse_uop(&ps, u, &a.a))) goto out;
                if (ps.cur.kind == T_PLUS || ps.cur.kind == T_MINUS) {
                    a.arith = ps.cur.kind;
                    if ((rc = count_op(&ps, &ps.cur)) || (rc = next(&ps)) ||
                        (rc = parse_uop(&ps, u, &a.b)))
                        goto out;
                }
            } else if (k == A_ADD || k == A_DELETE) {
                uop *o = arena_alloc(ps.ar, sizeof *o);
                if (!o) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
                o->kind = U_VALUE;
                o->col = ps.cur.col;
                if ((rc = parse_value(&ps, &o->v))) goto out;
                a.a = o;
                u->reads = 1;
            }
            u->acts[u->n++] = a;
            if (ps.cur.kind != T_COMMA) break;
            if ((rc = next(&ps))) goto out;
        }
    }
out:
    if (rc) expr_update_free(u);
    else *out = u;
    return rc;
}

int expr_update_check_keys(const expr_update *u, const key_schema *ks)
{
    for (int i = 0; i < u->n; i++)
        if (!strcmp(u->acts[i].name, ks->hash_name) ||
            (ks->range_type && !strcmp(u->acts[i].name, ks->range_name)))
            return err_set(TM_EINVAL, "One or more parameter values were invalid: Cannot update "
                           "attribute %s. This attribute is part of the key", u->acts[i].name);
    return 0;
}

/* Temporary values made while applying one update; freed together. */
typedef struct scratch {
    void **p;
    size_t n, cap;
} scratch;

static void *scratch_keep(scratch *s, void *m)
{
    if (!m) return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        void **np = realloc(s->p, cap * sizeof *np);
        if (!np) { free(m); return NULL; }
        s->p = np;
        s->cap = cap;
    }
    return s->p[s->n++] = m;
}

static void scratch_free(scratch *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->p[i]);
    free(s->p);
}

static int missing_attr(const uop *o)
{
    return err_set(TM_EINVAL, "The provided expression refers to an attribute that does not exist in "
                   "the item: '%.*s' (UpdateExpression column %d)", (int)o->p.segs[0].len,
                   o->p.segs[0].name, o->col);
}

static int uop_eval(const uop *o, const item *orig, scratch *s, const av **out)
{
    const av *x, *y;
    int rc;
    switch (o->kind) {
    case U_VALUE: *out = o->v; return 0;
    case U_PATH:
        if (!(*out = path_get(&o->p, orig))) return missing_attr(o);
        return 0;
    case U_IF_NOT_EXISTS:
        if ((*out = path_get(&o->p, orig))) return 0;
        return uop_eval(o->y, orig, s, out);
    case U_LIST_APPEND:
        if ((rc = uop_eval(o->x, orig, s, &x)) || (rc = uop_eval(o->y, orig, s, &y))) return rc;
        if (x->type != AV_L || y->type != AV_L)
            return err_set(TM_EINVAL, "Invalid UpdateExpression: column %d: Incorrect operand type for "
                           "operator or function; operator or function: list_append, operand type: %s",
                           o->col, type_name(x->type != AV_L ? x->type : y->type));
        av *r = scratch_keep(s, calloc(1, sizeof *r));
        av *el = scratch_keep(s, calloc((size_t)x->len + y->len + 1, sizeof *el));
        if (!r || !el) return err_set(TM_ENOMEM, "out of memory");
        memcpy(el, x->u.elems, x->len * sizeof *el);
        memcpy(el + x->len, y->u.elems, y->len * sizeof *el);
        r->type = AV_L;
        r->len = x->len + y->len;
        r->u.elems = el;
        *out = r;
        return 0;
    }
    return err_set(TM_EIO, "bad update operand");
}

static const av *num_av(scratch *s, buf *b)
{
    av *r = scratch_keep(s, calloc(1, sizeof *r));
    char *txt = r ? scratch_keep(s, buf_detach(b)) : NULL;
    if (!txt) return NULL;
    r->type = AV_N;
    r->len = (uint32_t)strlen(txt);
    r->u.bytes = txt;
    return r;
}

static int is_set(av_type t) { return t == AV_SS || t == AV_NS || t == AV_BS; }

/* Set union (ADD) or difference (DELETE); *out NULL when DELETE empties the set. */
static int set_merge(const av *x, const av *y, int del, scratch *s, const av **out)
{
    av *r = scratch_keep(s, calloc(1, sizeof *r));
    av *el = scratch_keep(s, calloc((size_t)x->len + y->len + 1, sizeof *el));
    uint32_t n = 0;
    if (!r || !el) return err_set(TM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < x->len; i++) {
        int in_y = 0;
        if (del)
            for (uint32_t j = 0; j < y->len && !in_y; j++) in_y = av_equal(&x->u.elems[i], &y->u.elems[j]);
        if (!in_y) el[n++] = x->u.elems[i];
    }
    if (!del)
        for (uint32_t j = 0; j < y->len; j++) {
            int in_x = 0;
            for (uint32_t i = 0; i < x->len && !in_x; i++) in_x = av_equal(&x->u.elems[i], &y->u.elems[j]);
            if (!in_x) el[n++] = y->u.elems[j];
        }
    r->type = x->type;
    r->len = n;
    r->u.elems = el;
    *out = n ? r : NULL;
    return 0;
}

static int wrong_type(const uact *a, const char *op, av_type t)
{
    return err_set(TM_EINVAL, "Invalid UpdateExpression: column %d: Incorrect operand type for operator "
                   "or function; operator: %s, operand type: %s (attribute '%s')", a->col, op,
                   type_name(t), a->name);
}

/* The new value of action a (NULL: remove the attribute). */
static int uact_eval(const uact *a, const item *orig, scratch *s, const av **out)
{
    const av *x, *y, *cur;
    buf b = BUF_INIT;
    int rc;
    *out = NULL;
    switch (a->kind) {
    case A_REMOVE:
        return 0;
    case A_SET:
        if ((rc = uop_eval(a->a, orig, s, &x))) return rc;
        if (a->arith == T_EOF) { *out = x; return 0; }
        if ((rc = uop_eval(a->b, orig, s, &y))) return rc;
        if (x->type != AV_N || y->type != AV_N)
            return wrong_type(a, a->arith == T_PLUS ? "+" : "-", x->type != AV_N ? x->type : y->type);
        if ((rc = num_add(x, y, a->arith == T_MINUS, &b))) {
            buf_free(&b);
            return err_wrap(rc, "Invalid UpdateExpression: column %d: %s: ", a->col, a->name);
        }
        if (!(*out = num_av(s, &b))) { buf_free(&b); return err_set(TM_ENOMEM, "out of memory"); }
        return 0;
    case A_ADD:
    case A_DELETE:
        y = a->a->v;
        cur = path_get(&(path){&(pseg){a->name, strlen(a->name), 0}, 1, 0}, orig);
        if (a->kind == A_ADD && y->type == AV_N) {
            if (!cur) { *out = y; return 0; }
            if (cur->type != AV_N) return wrong_type(a, "ADD", cur->type);
            if ((rc = num_add(cur, y, 0, &b))) {
                buf_free(&b);
                return err_wrap(rc, "Invalid UpdateExpression: ADD %s: ", a->name);
            }
            if (!(*out = num_av(s, &b))) { buf_free(&b); return err_set(TM_ENOMEM, "out of memory"); }
            return 0;
        }
        if (!is_set(y->type)) return wrong_type(a, a->kind == A_ADD ? "ADD" : "DELETE", y->type);
        if (!cur) { *out = a->kind == A_ADD ? y : NULL; return 0; }
        if (cur->type != y->type) return wrong_type(a, a->kind == A_ADD ? "ADD" : "DELETE", cur->type);
        return set_merge(cur, y, a->kind == A_DELETE, s, out);
    }
    return err_set(TM_EIO, "bad update action");
}

int expr_update_apply(const expr_update *u, item *it)
{
    int rc = 0;
    scratch s = {0};
    item *orig = NULL;
    const av **vals = calloc((size_t)u->n + 1, sizeof *vals);
    if (!vals) return err_set(TM_ENOMEM, "out of memory");
    /* Right-hand sides read the item as it was; writing into it could free what they point at. */
    if (u->reads && !(orig = item_dup(it))) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
    for (int i = 0; i < u->n; i++)
        if ((rc = uact_eval(&u->acts[i], orig ? orig : it, &s, &vals[i]))) goto out;
    for (int i = 0; i < u->n; i++) {
        rc = vals[i] ? item_put(it, u->acts[i].name, vals[i]) : item_remove(it, u->acts[i].name);
        if (rc) goto out;
    }
out:
    item_free(orig);
    scratch_free(&s);
    free(vals);
    return rc;
}

/* ================================================================ write glue */

int expr_write_check(void *ctx, const item *old)
{
    const expr_write *w = ctx;
    int ok = 1;
    if (!w || !w->cond) return 0;
    int rc = expr_cond_eval(w->cond, old, &ok);
    if (rc) return rc;
    if (!ok) return err_set(TM_ECONDITION, "The conditional request failed");   /* the kind names it (api/errors.c) */
    return 0;
}

int expr_write_mutate(void *ctx, item *it)
{
    const expr_write *w = ctx;
    int rc = 0;
    if (w && w->update && (rc = expr_update_apply(w->update, it))) return rc;
    return item_check_size(it);
}

/* ================================================================ key conditions */

static int keycond_err(const char *fmt, const char *a, int col)
{
    return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: %s%s", col, fmt, a);
}

/* The key attribute name of a path operand, or NULL if it is not a plain top-level name. */
static int key_opnd_name(const opnd *o, char *name, size_t n)
{
    if (o->kind != O_PATH || o->p.n != 1 || !o->p.segs[0].name || o->p.segs[0].len >= n) return -1;
    memcpy(name, o->p.segs[0].name, o->p.segs[0].len);
    name[o->p.segs[0].len] = '\0';
    return 0;
}

static int key_check_type(const char *name, av_type want, const av *v, int col)
{
    if (v->type != want)
        return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: One or more parameter "
                       "values were invalid: Condition parameter type does not match schema type: "
                       "%s is %s, the value is %s", col, name, type_name(want), type_name(v->type));
    return 0;
}

static int keycond_leaf(const cnode *n, const key_schema *ks, expr_keycond *out, int *have_pk)
{
    char name[KEY_NAME_MAX + 1];
    const opnd *path_op, *val_op;
    tok_kind cmp = n->cmp;
    if (n->kind == C_OR || n->kind == C_NOT || (n->kind == C_CMP && n->cmp == T_NE))
        return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: Invalid operator used in "
                       "KeyConditionExpression: %.*s", n->col, (int)n->tokn, n->tokp);
    if (n->kind == C_AND)
        return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: at most one partition key "
                       "and one sort key condition are allowed", n->col);
    if (n->kind != C_CMP && n->kind != C_BETWEEN && n->kind != C_BEGINS)
        return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: Invalid operator used in "
                       "KeyConditionExpression: %.*s", n->col, (int)n->tokn, n->tokp);
    path_op = &n->ops[0];
    val_op = &n->ops[1];
    if (n->kind == C_CMP && path_op->kind == O_VALUE && val_op->kind == O_PATH) {
        /* :v < sk reads as sk > :v */
        const opnd *t = path_op; path_op = val_op; val_op = t;
        static const tok_kind flip[] = {[T_EQ] = T_EQ, [T_LT] = T_GT, [T_LE] = T_GE, [T_GT] = T_LT,
                                        [T_GE] = T_LE};
        cmp = flip[cmp];
    }
    if (key_opnd_name(path_op, name, sizeof name))
        return keycond_err("expected a key attribute name", "", path_op->col);
    for (int i = 1; i < n->nops; i++)
        if (n->ops[i].kind != O_VALUE && &n->ops[i] != path_op)
            return keycond_err("the key must be compared with a :value", "", n->ops[i].col);
    int is_pk = !strcmp(name, ks->hash_name);
    int is_sk = ks->range_type && !strcmp(name, ks->range_name);
    if (!is_pk && !is_sk)
        return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: Query key condition not "
                       "supported: '%s' is not a key attribute (the key is %s%s%s)", path_op->col, name,
                       ks->hash_name, ks->range_type ? ", " : "", ks->range_type ? ks->range_name : "");
    if (is_pk) {
        if (n->kind != C_CMP || cmp != T_EQ)
            return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: the partition key "
                           "'%s' only takes an equality condition", n->col, name);
        if (*have_pk)
            return keycond_err("the partition key has two conditions: ", name, n->col);
        *have_pk = 1;
        out->pk = val_op->v;
        return key_check_type(name, ks->hash_type, out->pk, val_op->col);
    }
    if (out->op != EXPR_SK_NONE) return keycond_err("the sort key has two conditions: ", name, n->col);
    int rc;
    switch (n->kind) {
    case C_CMP:
        out->op = cmp == T_EQ ? EXPR_SK_EQ : cmp == T_LT ? EXPR_SK_LT : cmp == T_LE ? EXPR_SK_LE
                : cmp == T_GT ? EXPR_SK_GT : EXPR_SK_GE;
        out->sk1 = val_op->v;
        return key_check_type(name, ks->range_type, out->sk1, val_op->col);
    case C_BETWEEN:
        out->op = EXPR_SK_BETWEEN;
        out->sk1 = n->ops[1].v;
        out->sk2 = n->ops[2].v;
        if ((rc = key_check_type(name, ks->range_type, out->sk1, n->ops[1].col)) ||
            (rc = key_check_type(name, ks->range_type, out->sk2, n->ops[2].col)))
            return rc;
        if (av_compare(out->sk1, out->sk2) > 0)
            return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: The BETWEEN operator "
                           "requires upper bound to be greater than or equal to lower bound", n->col);
        return 0;
    default:
        out->op = EXPR_SK_BEGINS;
        out->sk1 = val_op->v;
        if (ks->range_type != AV_S && ks->range_type != AV_B)
            return err_set(TM_EINVAL, "Invalid KeyConditionExpression: column %d: begins_with is only "
                           "allowed on S and B sort keys; %s is %s", n->col, name,
                           type_name(ks->range_type));
        return key_check_type(name, ks->range_type, out->sk1, val_op->col);
    }
}

int expr_keycond_parse(const char *text, expr_env *env, const key_schema *ks, expr_keycond *out)
{
    arena ar = {0};
    cnode *root = NULL;
    int have_pk = 0;
    memset(out, 0, sizeof *out);
    int rc = parse_condition(text, env, "KeyConditionExpression", &ar, &root);
    if (rc) goto out;
    if (root->kind == C_AND) {
        if ((rc = keycond_leaf(root->a, ks, out, &have_pk)) ||
            (rc = keycond_leaf(root->b, ks, out, &have_pk)))
            goto out;
    } else if ((rc = keycond_leaf(root, ks, out, &have_pk))) {
        goto out;
    }
    if (!have_pk)
        rc = err_set(TM_EINVAL, "Invalid KeyConditionExpression: Query condition missed key schema "
                     "element: %s", ks->hash_name);
out:
    arena_free(&ar);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

/* The smallest byte string greater than every string that starts with b[0..n): drop trailing
 * 0xFF bytes and increment the last one. Returns the new length; 0: there is none. */
static size_t prefix_succ(unsigned char *b, size_t n)
{
    while (n && b[n - 1] == 0xFF) n--;
    if (n) b[n - 1]++;
    return n;
}

static int buf_set_succ(buf *dst, const buf *src)
{
    buf_reset(dst);
    int rc = buf_append(dst, src->data, src->len);
    if (rc) return rc;
    dst->len = prefix_succ((unsigned char *)dst->data, dst->len);
    if (dst->data) dst->data[dst->len] = '\0';
    return 0;
}

int expr_keycond_range(const expr_keycond *k, const key_schema *ks, buf *lo, buf *hi)
{
    buf p = BUF_INIT, t = BUF_INIT;
    int rc = key_encode_partition(ks, k->pk, &p);
    if (rc) goto out;
    buf_reset(lo);
    buf_reset(hi);
    /* Encoded keys are P | enc(sk) with enc order-preserving and prefix-free, so "every key
     * starting with X" is [X, succ(X)) and comparisons on sk are comparisons of P | enc(sk). */
    switch (k->op) {
    case EXPR_SK_NONE:
        if ((rc = buf_append(lo, p.data, p.len)) || (rc = buf_set_succ(hi, &p))) goto out;
        break;
    case EXPR_SK_EQ:
    case EXPR_SK_LE:
    case EXPR_SK_GT:
    case EXPR_SK_BETWEEN:
        /* t = P | enc(upper or the value) */
        if ((rc = buf_append(&t, p.data, p.len)) ||
            (rc = key_encode_value(k->op == EXPR_SK_BETWEEN ? k->sk2 : k->sk1, &t)))
            goto out;
        if (k->op == EXPR_SK_GT) {
            if ((rc = buf_set_succ(lo, &t)) || (rc = buf_set_succ(hi, &p))) goto out;
            break;
        }
        if ((rc = buf_set_succ(hi, &t))) goto out;
        if ((rc = buf_append(lo, p.data, p.len))) goto out;
        if (k->op == EXPR_SK_EQ && (rc = key_encode_value(k->sk1, lo))) goto out;
        if (k->op == EXPR_SK_BETWEEN && (rc = key_encode_value(k->sk1, lo))) goto out;
        break;
    case EXPR_SK_LT:
        if ((rc = buf_append(lo, p.data, p.len)) || (rc = buf_append(hi, p.data, p.len)) ||
            (rc = key_encode_value(k->sk1, hi)))
            goto out;
        break;
    case EXPR_SK_GE:
        if ((rc = buf_append(lo, p.data, p.len)) || (rc = key_encode_value(k->sk1, lo)) ||
            (rc = buf_set_succ(hi, &p)))
            goto out;
        break;
    case EXPR_SK_BEGINS: {
        /* Strings starting with v are exactly [v, succ(v)) bytewise; enc keeps that order. */
        if ((rc = buf_append(lo, p.data, p.len))) goto out;
        if (k->sk1->len && (rc = key_encode_value(k->sk1, lo))) goto out;
        if ((rc = buf_append(&t, k->sk1->u.bytes, k->sk1->len))) goto out;
        size_t sn = prefix_succ((unsigned char *)t.data, t.len);
        if (!sn) {
            if ((rc = buf_set_succ(hi, &p))) goto out;
        } else {
            av succ = *k->sk1;
            succ.len = (uint32_t)sn;
            succ.u.bytes = t.data;
            if ((rc = buf_append(hi, p.data, p.len)) || (rc = key_encode_value(&succ, hi))) goto out;
        }
        break;
    }
    }
out:
    buf_free(&p);
    buf_free(&t);
    return rc;
}

/* ================================================================ pages */

typedef struct page_ctx {
    table_raw_fn fn;
    void *ctx;
    uint64_t limit, n, max_bytes, bytes;
    const key_schema *ks;
    buf *last_key;
    int rc;
} page_ctx;

static int page_fn(void *c, const void *key, size_t kn, const void *img, size_t in)
{
    page_ctx *pc = c;
    int rc = pc->fn(pc->ctx, key, kn, img, in);
    if (rc) return rc;
    pc->n++;
    pc->bytes += kn + in;   /* the stored key and image: close to the item's DynamoDB size */
    if ((pc->limit && pc->n >= pc->limit) || (pc->max_bytes && pc->bytes >= pc->max_bytes)) {
        const char *names[2] = {pc->ks->hash_name, pc->ks->range_name};
        if (pc->last_key) {
            buf_reset(pc->last_key);
            rc = item_bin_write_keys_json(img, in, names, pc->ks->range_type ? 2 : 1, pc->last_key);
            if (rc) return rc;
        }
        return 1;
    }
    return 0;
}

/* Encodes an ExclusiveStartKey; it must hold exactly the key attributes. */
static int start_key(const key_schema *ks, const item *start, buf *out)
{
    uint32_t want = ks->range_type ? 2 : 1;
    if (item_count(start) != want)
        return err_set(TM_EINVAL, "The provided starting key is invalid: it must hold exactly the key "
                       "attributes (%s%s%s)", ks->hash_name, ks->range_type ? ", " : "",
                       ks->range_type ? ks->range_name : "");
    int rc = key_encode_item(ks, start, out);
    if (rc) return err_wrap(rc, "The provided starting key is invalid: ");
    return 0;
}

static int buf_cmp(const buf *a, const buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Runs [lo, hi) (hi empty: unbounded) as one page. */
static int run_range(table_read *r, const key_schema *ks, buf *lo, buf *hi, const expr_page *pg,
                     table_raw_fn fn, void *ctx, buf *last_key, uint64_t *count)
{
    page_ctx pc = {fn, ctx, pg->limit, 0, pg->max_bytes, 0, ks, last_key, 0};
    int rc;
    if (last_key) buf_reset(last_key);
    if (hi->len && buf_cmp(lo, hi) >= 0) goto done;
    rc = table_read_range(r, lo->data ? lo->data : "", lo->len, hi->len ? hi->data : NULL,
                              hi->len, pg->backward, page_fn, &pc);
    if (rc < 0) return rc;
done:
    if (count) *count = pc.n;
    return 0;
}

int expr_query_run(table_read *r, const key_schema *ks, const expr_keycond *k,
                   const expr_page *pg, table_raw_fn fn, void *ctx, buf *last_key,
                   uint64_t *count)
{
    buf lo = BUF_INIT, hi = BUF_INIT, sk = BUF_INIT, part = BUF_INIT;
    int rc = expr_keycond_range(k, ks, &lo, &hi);
    if (rc) goto out;
    if (pg->start) {
        if ((rc = start_key(ks, pg->start, &sk)) || (rc = key_encode_partition(ks, k->pk, &part)))
            goto out;
        if (sk.len < part.len || memcmp(sk.data, part.data, part.len)) {
            rc = err_set(TM_EINVAL, "The provided starting key is invalid: its partition key is not "
                         "the one queried");
            goto out;
        }
        if (!pg->backward) {
            /* the first key after sk is sk | 0x00 */
            if ((rc = buf_putc(&sk, '\0'))) goto out;
            if (buf_cmp(&sk, &lo) > 0) {
                buf_reset(&lo);
                if ((rc = buf_append(&lo, sk.data, sk.len))) goto out;
            }
        } else if (!hi.len || buf_cmp(&sk, &hi) < 0) {
            buf_reset(&hi);
            if ((rc = buf_append(&hi, sk.data, sk.len))) goto out;
        }
    }
    rc = run_range(r, ks, &lo, &hi, pg, fn, ctx, last_key, count);
out:
    buf_free(&lo);
    buf_free(&hi);
    buf_free(&sk);
    buf_free(&part);
    return rc;
}

int expr_segment_bounds(uint32_t seg, uint32_t total, uint32_t *lo, uint32_t *hi)
{
    if (total < 1 || total > 1000000)
        return err_set(TM_EINVAL, "TotalSegments must be between 1 and 1000000 (got %u)", total);
    if (seg >= total)
        return err_set(TM_EINVAL, "Segment must be less than TotalSegments (got %u of %u)", seg, total);
    uint64_t space = (uint64_t)1 << 32;
    *lo = (uint32_t)(space * seg / total);
    *hi = (uint32_t)(space * (seg + 1) / total - 1);
    return 0;
}

static int put_be32(buf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    return buf_append(b, c, 4);
}

int expr_scan_run(table_read *r, const key_schema *ks, uint32_t seg, uint32_t total,
                  const expr_page *pg, table_raw_fn fn, void *ctx, buf *last_key,
                  uint64_t *count)
{
    buf lo = BUF_INIT, hi = BUF_INIT, sk = BUF_INIT;
    uint32_t hlo, hhi;
    int rc = expr_segment_bounds(seg, total, &hlo, &hhi);
    if (rc) goto out;
    if (pg->backward) { rc = err_set(TM_EINVAL, "Scan reads forward only"); goto out; }
    /* Keys start with their big-endian hash, so a hash range is a key range. */
    if ((rc = put_be32(&lo, hlo))) goto out;
    if (hhi != UINT32_MAX && (rc = put_be32(&hi, hhi + 1))) goto out;
    if (pg->start) {
        if ((rc = start_key(ks, pg->start, &sk))) goto out;
        uint32_t h = key_hash_of(sk.data);
        if (h < hlo || h > hhi) {
            rc = err_set(TM_EINVAL, "The provided starting key is invalid: it is not in segment %u of %u",
                         seg, total);
            goto out;
        }
        if ((rc = buf_putc(&sk, '\0'))) goto out;
        buf_reset(&lo);
        if ((rc = buf_append(&lo, sk.data, sk.len))) goto out;
    }
    rc = run_range(r, ks, &lo, &hi, pg, fn, ctx, last_key, count);
out:
    buf_free(&lo);
    buf_free(&hi);
    buf_free(&sk);
    return rc;
}

/* ================================================================ ProjectionExpression
 *
 * path [, path ...]: the item keeps only those paths. A nested path keeps its enclosing maps
 * and lists with only what was asked for (list elements in index order, renumbered from 0, as
 * DynamoDB returns them). Paths that overlap (a and a.b) or conflict (a.b and a[0]) are
 * refused, with DynamoDB's words. */

struct expr_proj {
    arena ar;
    path *paths;
    int n;
};

void expr_proj_free(expr_proj *p)
{
    if (!p) return;
    arena_free(&p->ar);
    free(p->paths);
    free(p);
}

static void path_text(const path *p, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < p->n && o < n; i++) {
        if (p->segs[i].name)
            o += (size_t)snprintf(out + o, n - o, "%s%.*s", i ? ", " : "", (int)p->segs[i].len, p->segs[i].name);
        else
            o += (size_t)snprintf(out + o, n - o, "%s[%u]", i ? ", " : "", p->segs[i].index);
    }
}

static int seg_same(const pseg *a, const pseg *b)
{
    if (!a->name != !b->name) return 0;
    return a->name ? a->len == b->len && !memcmp(a->name, b->name, a->len) : a->index == b->index;
}

static int proj_check_pair(const path *a, const path *b)
{
    char ta[256], tb[256];
    int i = 0;
    while (i < a->n && i < b->n && seg_same(&a->segs[i], &b->segs[i])) i++;
    if (i < a->n && i < b->n) {
        if (!a->segs[i].name == !b->segs[i].name) return 0;   /* they part: fine */
        path_text(a, ta, sizeof ta);
        path_text(b, tb, sizeof tb);
        return err_set(TM_EINVAL, "Invalid ProjectionExpression: Two document paths conflict with each "
                       "other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]",
                       ta, tb);
    }
    path_text(a, ta, sizeof ta);
    path_text(b, tb, sizeof tb);
    return err_set(TM_EINVAL, "Invalid ProjectionExpression: Two document paths overlap with each other; "
                   "must remove or rewrite one of these paths; path one: [%s], path two: [%s]", ta, tb);
}

int expr_proj_parse(const char *text, expr_env *env, expr_proj **out)
{
    expr_proj *p = calloc(1, sizeof *p);
    parser ps = {text ? text : "", 0, {0}, "ProjectionExpression", env, NULL, 0, 0};
    int rc, cap = 0;
    *out = NULL;
    if (!p) return err_set(TM_ENOMEM, "out of memory");
    ps.ar = &p->ar;
    if ((rc = check_size(ps.s, ps.kind)) || (rc = next(&ps))) goto out;
    if (ps.cur.kind == T_EOF) {
        rc = err_set(TM_EINVAL, "Invalid ProjectionExpression: The expression can not be empty;");
        goto out;
    }
    for (;;) {
        if (p->n == cap) {
            cap = cap ? 2 * cap : 8;
            path *np = realloc(p->paths, (size_t)cap * sizeof *np);
            if (!np) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
            p->paths = np;
        }
        if ((rc = parse_path(&ps, &p->paths[p->n]))) goto out;
        for (int i = 0; i < p->n; i++)
            if ((rc = proj_check_pair(&p->paths[i], &p->paths[p->n]))) goto out;
        p->n++;
        if (ps.cur.kind == T_EOF) break;
        if ((rc = expect(&ps, T_COMMA, "expected , between the paths"))) goto out;
    }
out:
    if (rc) expr_proj_free(p);
    else *out = p;
    return rc;
}

/* What one projected path keeps, as a tree: a node is a whole value (leaf) or the kept part of
 * a map (children by name) or of a list (children by index). */
typedef struct pnode {
    const pseg *seg;
    const av *leaf;
    struct pnode *kids;
    int n, cap;
} pnode;

static void pnode_free(pnode *t)
{
    for (int i = 0; i < t->n; i++) pnode_free(&t->kids[i]);
    free(t->kids);
}

static pnode *pnode_child(pnode *t, const pseg *s)
{
    for (int i = 0; i < t->n; i++)
        if (seg_same(t->kids[i].seg, s)) return &t->kids[i];
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 4;
        pnode *nk = realloc(t->kids, (size_t)cap * sizeof *nk);
        if (!nk) return NULL;
        t->kids = nk;
        t->cap = cap;
    }
    memset(&t->kids[t->n], 0, sizeof *t->kids);
    t->kids[t->n].seg = s;
    return &t->kids[t->n++];
}

static int pnode_index_cmp(const void *a, const void *b)
{
    uint32_t x = ((const pnode *)a)->seg->index, y = ((const pnode *)b)->seg->index;
    return x < y ? -1 : x > y;
}

/* The value t keeps, built in sc (freed by the caller after item_put copied it). */
static int pnode_value(pnode *t, scratch *sc, av *out)
{
    if (t->leaf) {
        *out = *t->leaf;
        return 0;
    }
    int is_list = !t->kids[0].seg->name;
    memset(out, 0, sizeof *out);
    out->type = is_list ? AV_L : AV_M;
    out->len = (uint32_t)t->n;
    if (is_list) {
        qsort(t->kids, (size_t)t->n, sizeof *t->kids, pnode_index_cmp);
        if (!(out->u.elems = scratch_keep(sc, calloc((size_t)t->n, sizeof *out->u.elems))))
            return err_set(TM_ENOMEM, "out of memory");
    } else if (!(out->u.attrs = scratch_keep(sc, calloc((size_t)t->n, sizeof *out->u.attrs)))) {
        return err_set(TM_ENOMEM, "out of memory");
    }
    for (int i = 0; i < t->n; i++) {
        av *v = is_list ? &out->u.elems[i] : &out->u.attrs[i].value;
        if (!is_list) {
            out->u.attrs[i].name = t->kids[i].seg->name;
            out->u.attrs[i].name_len = (uint32_t)t->kids[i].seg->len;
        }
        int rc = pnode_value(&t->kids[i], sc, v);
        if (rc) return rc;
    }
    return 0;
}

int expr_proj_apply(const expr_proj *p, const item *it, item **out)
{
    pnode root;
    scratch sc = {0};
    int rc = 0;
    *out = NULL;
    memset(&root, 0, sizeof root);
    for (int i = 0; i < p->n && !rc; i++) {
        const path *pa = &p->paths[i];
        const av *v = path_get(pa, it);
        pnode *t = &root;
        if (!v) continue;
        for (int s = 0; s < pa->n && t; s++) t = pnode_child(t, &pa->segs[s]);
        if (!t) rc = err_set(TM_ENOMEM, "out of memory");
        else t->leaf = v;
    }
    item *res = rc ? NULL : item_new();
    if (!rc && !res) rc = err_set(TM_ENOMEM, "out of memory");
    for (int i = 0; i < root.n && !rc; i++) {
        av v;
        char *name = strndup(root.kids[i].seg->name, root.kids[i].seg->len);
        if (!name) rc = err_set(TM_ENOMEM, "out of memory");
        else if (!(rc = pnode_value(&root.kids[i], &sc, &v))) rc = item_put(res, name, &v);
        free(name);
    }
    pnode_free(&root);
    scratch_free(&sc);
    if (rc) item_free(res);
    else *out = res;
    return rc;
}

/* ================================================================ what an update writes */

int expr_update_count(const expr_update *u) { return u->n; }
const char *expr_update_name(const expr_update *u, int i) { return u->acts[i].name; }
