/* restore.c: point-in-time restore into a new table: argument checks, the plan and the run
 * (pitr/materialize). The RestoreTableToPointInTime response is api/'s (api/backup.c). */
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
        return err_set(TM_ENOTFOUND, "table %s not found (data "
                       "directory %s)", o->source, o->home);
    table_path(o->home, o->target, NULL, dir, sizeof dir);
    if (fsx_exists(dir))
        return err_set(TM_EEXIST, "table %s already exists",
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
