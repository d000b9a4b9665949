/* import_csv.c: a streaming CSV parser (RFC 4180) for CSV imports.
 *
 * Written by hand because it is small and must stream: bytes come in arbitrary chunks straight
 * from the decoder, a quoted field may hold delimiters, quotes ("") and line breaks across chunk
 * boundaries, and every record must be bounded in size. Debian's libcsv would do the splitting
 * but grows its field buffer without a ceiling, and it has no notion of record numbers or
 * malformed-record recovery; neither fits the error log's needs. Fuzzed by tests/fuzz/csv_fuzz.c.
 *
 * Grammar accepted (RFC 4180 plus common practice):
 *   - a UTF-8 byte order mark (EF BB BF) at the very start of the input is not data (Excel and
 *     Windows tools write one; it would otherwise glue itself to the first column's name);
 *   - records end at "\n" or "\r\n" outside quotes; a last record may lack one. A lone "\r"
 *     (one not followed by "\n") ends a record only in a file whose first line break is a lone
 *     "\r" (old Mac files); in any other file it is data, as in a spreadsheet cell's soft line
 *     break, so that it never splits a record into a phantom one;
 *   - a field is quoted if its first byte is '"'; inside, "" is a quote and anything else,
 *     delimiters and line breaks included, is literal;
 *   - after a closing quote only the delimiter or a record end may follow: anything else makes
 *     the record malformed (reported, and the parser resyncs at the record's end);
 *   - a '"' inside an unquoted field is literal (lenient, as Excel and Python's csv are);
 *   - blank lines are not records; a record longer than max_record bytes or with more than
 *     IMPORT_CSV_MAX_FIELDS fields is malformed, and is skipped without being kept.
 * An open quote at the end of input is a malformed last record. */
#include "import/import_internal.h"
#include "engine/err.h"

#include <stdlib.h>
#include <string.h>

enum csv_state {
    CSV_FIELD_START,    /* at the start of a field */
    CSV_UNQUOTED,       /* inside an unquoted field */
    CSV_QUOTED,         /* inside quotes */
    CSV_QUOTE_QUOTE,    /* saw '"' inside quotes: "" or the closing quote */
    CSV_CR,             /* saw "\r" outside quotes in state cr_from: the next byte decides */
};

/* The file's line-end convention, set by its first line break outside quotes. */
enum csv_eol { EOL_UNKNOWN, EOL_LF, EOL_CR };

struct import_csv {
    char delim;
    size_t max_record;
    enum csv_state st;
    enum csv_state cr_from;     /* CSV_CR: the state the "\r" was seen in */
    enum csv_eol eol;
    import_bom bom;             /* a BOM at the input's start (import_internal.h) */
    char *data;                 /* the record's field bytes, each field NUL-terminated */
    size_t len, cap;
    size_t *offs;               /* field start offsets into data */
    size_t nfields;
    const char **fields;        /* built at emit time */
    size_t *lens;
    int in_record;              /* some byte of a record has been seen */
    const char *error;          /* the record is malformed: skip the rest of it */
    uint64_t index, line, rec_line;
};

int import_csv_delim_ok(char d)
{
    return d == ',' || d == ';' || d == ':' || d == '|' || d == '\t' || d == ' ';
}

int import_csv_new(char delim, size_t max_record, import_csv **out)
{
    *out = NULL;
    if (!import_csv_delim_ok(delim))
        return err_set(TM_EINVAL, "CSV delimiter must be one of , ; : | tab space");
    import_csv *c = calloc(1, sizeof *c);
    if (!c) return err_set(TM_ENOMEM, "out of memory (CSV parser)");
    c->delim = delim;
    c->max_record = max_record ? max_record : 1;
    c->cap = 4096;
    c->data = malloc(c->cap);
    c->offs = malloc(IMPORT_CSV_MAX_FIELDS * sizeof *c->offs);
    c->fields = malloc(IMPORT_CSV_MAX_FIELDS * sizeof *c->fields);
    c->lens = malloc(IMPORT_CSV_MAX_FIELDS * sizeof *c->lens);
    if (!c->data || !c->offs || !c->fields || !c->lens) {
        import_csv_free(c);
        return err_set(TM_ENOMEM, "out of memory (CSV parser)");
    }
    import_csv_reset(c);
    *out = c;
    return 0;
}

void import_csv_free(import_csv *c)
{
    if (!c) return;
    free(c->data);
    free(c->offs);
    free(c->fields);
    free(c->lens);
    free(c);
}

static void rec_clear(import_csv *c)
{
    c->len = 0;
    c->nfields = 0;
    c->in_record = 0;
    c->error = NULL;
}

void import_csv_reset(import_csv *c)
{
    rec_clear(c);
    c->st = CSV_FIELD_START;
    c->eol = EOL_UNKNOWN;
    c->bom = (import_bom)IMPORT_BOM_INIT;
    c->index = 0;
    c->line = 1;
    c->rec_line = 1;
}

/* Appends one byte to the current field (no-op once the record is malformed). */
static int put_byte(import_csv *c, char ch)
{
    if (c->error) return 0;
    if (c->len + 2 > c->max_record + 1) {   /* + the field's NUL */
        c->error = "record longer than the maximum line length";
        return 0;
    }
    if (c->len + 2 > c->cap) {
        size_t ncap = c->cap * 2;
        if (ncap > c->max_record + IMPORT_CSV_MAX_FIELDS + 2) ncap = c->max_record + IMPORT_CSV_MAX_FIELDS + 2;
        if (ncap < c->len + 2) ncap = c->len + 2;
        char *nd = realloc(c->data, ncap);
        if (!nd) return err_set(TM_ENOMEM, "out of memory (CSV record)");
        c->data = nd;
        c->cap = ncap;
    }
    c->data[c->len++] = ch;
    return 0;
}

static int field_begin(import_csv *c)
{
    c->in_record = 1;
    if (c->error) return 0;
    if (c->nfields == IMPORT_CSV_MAX_FIELDS) {
        c->error = "more than 4096 fields";
        return 0;
    }
    c->offs[c->nfields++] = c->len;
    return 0;
}

static int field_end(import_csv *c)
{
    if (c->error) return 0;
    /* The NUL after each field: room was reserved by put_byte's bound + the field count. */
    if (c->len + 1 > c->cap) {
        char *nd = realloc(c->data, c->len + 64);
        if (!nd) return err_set(TM_ENOMEM, "out of memory (CSV record)");
        c->data = nd;
        c->cap = c->len + 64;
    }
    c->data[c->len++] = '\0';
    return 0;
}

static int emit(import_csv *c, import_csv_fn fn, void *ctx)
{
    int rc = 0;
    import_csv_rec r;
    memset(&r, 0, sizeof r);
    int blank = !c->error && c->nfields == 1 && c->data[c->offs[0]] == '\0' && !c->in_record;
    if (!blank) {
        r.index = c->index++;
        r.line = c->rec_line;
        r.error = c->error;
        if (!c->error) {
            for (size_t i = 0; i < c->nfields; i++) {
                c->fields[i] = c->data + c->offs[i];
                size_t end = i + 1 < c->nfields ? c->offs[i + 1] - 1 : c->len - 1;
                c->lens[i] = end - c->offs[i];
            }
            r.nfields = c->nfields;
            r.fields = c->fields;
            r.lens = c->lens;
        }
        rc = fn(ctx, &r);
    }
    rec_clear(c);
    c->rec_line = c->line;
    return rc;
}

/* Ends the record at a line break. */
static int record_end(import_csv *c, import_csv_fn fn, void *ctx)
{
    int rc;
    if (c->st == CSV_FIELD_START && c->nfields == 0) {
        /* A line with nothing on it: blank, not a record. */
        if ((rc = field_begin(c)) || (rc = field_end(c))) return rc;
        c->in_record = 0;
    } else if ((rc = field_end(c))) {
        return rc;
    }
    return emit(c, fn, ctx);
}

/* A line break outside quotes in state c->st: the record ends. */
static int line_end(import_csv *c, import_csv_fn fn, void *ctx)
{
    int rc;
    if (c->st == CSV_FIELD_START && c->in_record && (rc = field_begin(c))) return rc;  /* "a,\n" */
    c->line++;
    c->st = CSV_FIELD_START;
    return record_end(c, fn, ctx);
}

/* A "\r" that is data, in state c->st (see the grammar above). */
static int cr_literal(import_csv *c)
{
    int rc;
    switch (c->st) {
    case CSV_FIELD_START:
        if ((rc = field_begin(c))) return rc;
        c->st = CSV_UNQUOTED;
        return put_byte(c, '\r');
    case CSV_UNQUOTED:
        return put_byte(c, '\r');
    default:   /* after a closing quote */
        if (!c->error) c->error = "unexpected character after a closing quote";
        c->st = CSV_UNQUOTED;
        return 0;
    }
}

static int feed_byte(import_csv *c, char ch, import_csv_fn fn, void *ctx)
{
    int rc;
    if (c->st == CSV_CR) {
        c->st = c->cr_from;
        if (ch == '\n') {
            if (c->eol == EOL_UNKNOWN) c->eol = EOL_LF;
            return line_end(c, fn, ctx);
        }
        if (c->eol == EOL_UNKNOWN) c->eol = EOL_CR;
        rc = c->eol == EOL_CR ? line_end(c, fn, ctx) : cr_literal(c);
        if (rc) return rc;
        /* ch goes on in the state the "\r" left */
    }
    if (c->st != CSV_QUOTED && ch == '\n') {
        if (c->eol == EOL_UNKNOWN) c->eol = EOL_LF;
        return line_end(c, fn, ctx);
    }
    if (c->st != CSV_QUOTED && ch == '\r') {   /* the next byte decides what it is */
        c->cr_from = c->st;
        c->st = CSV_CR;
        return 0;
    }
    switch (c->st) {
    case CSV_FIELD_START:
        if (ch == '"') {
            if ((rc = field_begin(c))) return rc;
            c->st = CSV_QUOTED;
        } else if (ch == c->delim) {
            /* an empty field; stays at FIELD_START for the next one */
            if ((rc = field_begin(c)) || (rc = field_end(c))) return rc;
        } else {
            if ((rc = field_begin(c)) || (rc = put_byte(c, ch))) return rc;
            c->st = CSV_UNQUOTED;
        }
        return 0;
    case CSV_UNQUOTED:
    case CSV_QUOTE_QUOTE:
        if (c->st == CSV_QUOTE_QUOTE && ch == '"') {
            if ((rc = put_byte(c, '"'))) return rc;
            c->st = CSV_QUOTED;
        } else if (ch == c->delim) {
            if ((rc = field_end(c))) return rc;
            c->st = CSV_FIELD_START;
        } else if (c->st == CSV_UNQUOTED) {
            return put_byte(c, ch);
        } else {
            if (!c->error) c->error = "unexpected character after a closing quote";
            c->st = CSV_UNQUOTED;   /* resync at the record's end */
        }
        return 0;
    case CSV_QUOTED:
        if (ch == '"') {
            c->st = CSV_QUOTE_QUOTE;
            return 0;
        }
        if (ch == '\n' || (ch == '\r' && c->eol == EOL_CR)) c->line++;
        return put_byte(c, ch);
    case CSV_CR:
        break;   /* resolved above */
    }
    return 0;
}

int import_csv_feed(import_csv *c, const void *p, size_t n, import_csv_fn fn, void *ctx)
{
    const unsigned char *s = p;
    int rc;
    size_t back, i = import_bom_take(&c->bom, s, n, &back);
    for (size_t k = 0; k < back; k++)
        if ((rc = feed_byte(c, (char)import_utf8_bom[k], fn, ctx))) return rc;
    for (; i < n; i++)
        if ((rc = feed_byte(c, (char)s[i], fn, ctx))) return rc;
    return 0;
}

int import_csv_finish(import_csv *c, import_csv_fn fn, void *ctx)
{
    int rc = 0;
    size_t back = import_bom_end(&c->bom);   /* the input was a BOM's first bytes: data */
    for (size_t k = 0; k < back; k++)
        if ((rc = feed_byte(c, (char)import_utf8_bom[k], fn, ctx))) return rc;
    switch (c->st) {
    case CSV_CR:   /* a "\r" at the end of the input ends the last record, whatever the file's way */
        c->st = c->cr_from;
        if ((rc = line_end(c, fn, ctx))) return rc;
        break;
    case CSV_FIELD_START:
        if (c->in_record) {   /* "a,b," at the end: a last empty field */
            if ((rc = field_begin(c)) || (rc = field_end(c))) return rc;
            rc = emit(c, fn, ctx);
        }
        break;
    case CSV_QUOTED:
        if (!c->error) c->error = "unterminated quoted field at the end of the input";
        rc = emit(c, fn, ctx);
        break;
    case CSV_UNQUOTED:
    case CSV_QUOTE_QUOTE:
        if ((rc = field_end(c))) return rc;
        rc = emit(c, fn, ctx);
        break;
    }
    c->st = CSV_FIELD_START;
    rec_clear(c);
    return rc;
}
