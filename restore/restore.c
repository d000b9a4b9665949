/* restore.c: point-in-time restore into a new table: argument checks, the plan, the run
 * (pitr/materialize) and the RestoreTableToPointInTime response. */
#include "restore/restore.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void restore_table_arn(const restore_options *o, const char *name, char *out, size_t n)
{
    table_arn(o ? o->region : NULL, o ? o->account : NULL, name, out, n);
}

/* Names valid, source present, target absent: the errors a person makes most, reported before
 * any work. */
static int check_names(const restore_options *o)
{
    char dir[PATH_MAX];
    int rc;
    if (!o->source || !*o->source) return err_set(TM_EINVAL, "a source table is required");
    if (!o->target || !*o->target) return err_set(TM_EINVAL, "a target table is required");
    if ((rc = table_check_name(o->source)) || (rc = table_check_name(o->target))) return rc;
    table_path(o->home, o->source, NULL, dir, sizeof dir);
    if (!fsx_exists(dir))
        return err_set(TM_ENOTFOUND, "TableNotFoundException: table %s not found (data "
                       "directory %s)", o->source, o->home);
    table_path(o->home, o->target, NULL, dir, sizeof dir);
    if (fsx_exists(dir))
        return err_set(TM_EEXIST, "TableAlreadyExistsException: table %s already exists",
                       o->target);
    return 0;
}

int restore_plan(const restore_options *o, pitr_plan **out)
{
    *out = NULL;
    int rc = check_names(o);
    if (rc) return rc;
    return pitr_plan_table(o->home, o->source, o->time_us, o->direction, out);
}

int restore_run(const restore_options *o, restore_result *r)
{
    restore_result local;
    table *src = NULL;
    int rc;
    if (!r) r = &local;
    memset(r, 0, sizeof *r);
    if ((rc = check_names(o))) return rc;
    if ((rc = table_open(o->home, o->source, TABLE_RDONLY, &src))) return rc;
    rc = table_describe(src, &r->source);
    table_close(src);
    if (rc) return rc;
    pitr_opts po = PITR_OPTS_INIT;
    po.direction = o->direction;
    po.prog = o->prog;
    if ((rc = pitr_materialize(o->home, o->source, o->time_us, o->target, &po, &r->table,
                               &r->stats)))
        return rc;
    restore_table_arn(o, o->source, r->source_arn, sizeof r->source_arn);
    restore_table_arn(o, o->target, r->table_arn, sizeof r->table_arn);
    return 0;
}

/* ---- response ---- */

static const char *type_letter(av_type t)
{
    return t == AV_S ? "S" : t == AV_N ? "N" : t == AV_B ? "B" : "S";
}

static void json_str(buf *b, const char *s)
{
    buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') buf_printf(b, "\\%c", c);
        else if (c < 0x20) buf_printf(b, "\\u%04x", c);
        else buf_putc(b, (char)c);
    }
    buf_putc(b, '"');
}

static void epoch(buf *b, int64_t us)
{
    buf_printf(b, "%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
}

int restore_response_json(const restore_result *r, buf *b)
{
    const table_info *t = &r->table;
    const key_schema *ks = &t->ks;
    buf_puts(b, "{\"TableDescription\":{\"AttributeDefinitions\":[{\"AttributeName\":");
    json_str(b, ks->hash_name);
    buf_printf(b, ",\"AttributeType\":\"%s\"}", type_letter(ks->hash_type));
    if (ks->range_type) {
        buf_puts(b, ",{\"AttributeName\":");
        json_str(b, ks->range_name);
        buf_printf(b, ",\"AttributeType\":\"%s\"}", type_letter(ks->range_type));
    }
    buf_puts(b, "],\"TableName\":");
    json_str(b, t->name);
    buf_puts(b, ",\"KeySchema\":[{\"AttributeName\":");
    json_str(b, ks->hash_name);
    buf_puts(b, ",\"KeyType\":\"HASH\"}");
    if (ks->range_type) {
        buf_puts(b, ",{\"AttributeName\":");
        json_str(b, ks->range_name);
        buf_puts(b, ",\"KeyType\":\"RANGE\"}");
    }
    buf_puts(b, "],\"TableStatus\":\"ACTIVE\",\"CreationDateTime\":");
    epoch(b, t->created_us);
    buf_printf(b, ",\"ProvisionedThroughput\":{\"NumberOfDecreasesToday\":0,"
               "\"ReadCapacityUnits\":0,\"WriteCapacityUnits\":0},\"TableSizeBytes\":%" PRIu64
               ",\"ItemCount\":%" PRIu64 ",\"TableArn\":", t->size_bytes, t->item_count);
    json_str(b, r->table_arn);
    buf_puts(b, ",\"TableId\":");
    json_str(b, t->table_id);
    buf_puts(b, ",\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"},"
             "\"RestoreSummary\":{\"SourceTableArn\":");
    json_str(b, r->source_arn);
    buf_puts(b, ",\"RestoreDateTime\":");
    epoch(b, r->stats.t_us);
    return buf_puts(b, ",\"RestoreInProgress\":false}}}");
}
