/* restore.h: point-in-time restore of a table into a new table (what tidemark-restore runs).
 *
 * The new table holds exactly the source's items at the time (every write with time <= T),
 * with the source's key schema, durability and snapshot policy; PITR starts disabled on it (as
 * AWS does). It is built under a hidden name and appears only when complete. Restoring from a
 * full export is import's job (tidemark-import), not this module's.
 *
 * Errors: TM_ENOTFOUND (no source table, or PITR disabled on it), TM_EEXIST (target exists),
 * TM_ERANGE (time outside the window), TM_EMISSING (a segment or
 * snapshot the plan needs is gone: the detail names the seqs), TM_ECORRUPT (the detail names
 * the segment and offset, or the damaged snapshot's data.mdb when no plan without it is left),
 * TM_EINVAL (bad names). Nothing is created on any error. A damaged snapshot that another plan
 * can do without is named on stderr and skipped (pitr/materialize.h). */
#ifndef TIDEMARK_RESTORE_H
#define TIDEMARK_RESTORE_H

#include "engine/buf.h"
#include "engine/table.h"
#include "pitr/materialize.h"
#include "pitr/plan.h"
#include <stdint.h>

#define RESTORE_VERSION "0.1.0"

typedef struct restore_options {
    const char *home;          /* data directory (cli_home) */
    const char *source;        /* table to restore */
    const char *target;        /* new table: must not exist */
    int64_t time_us;           /* the time, or PITR_LATEST */
    pitr_dir direction;        /* PITR_AUTO; forcing one is for tests and benchmarks */
    progress *prog;            /* optional */
    const char *region;        /* ARN region; NULL: as table_arn_region (us-east-1) */
    const char *account;       /* ARN account; NULL: as table_arn_account (000000000000) */
} restore_options;
#define RESTORE_OPTIONS_INIT {NULL, NULL, NULL, PITR_LATEST, PITR_AUTO, NULL, NULL, NULL}

typedef struct restore_result {
    table_info source;         /* the source as it was described when the restore began */
    table_info table;          /* the new table */
    pitr_stats stats;
    char source_arn[600], table_arn[600];
} restore_result;

/* Checks the names and that the target does not exist, then makes the plan; writes nothing.
 * *out: pitr_plan_free. */
int restore_plan(const restore_options *o, pitr_plan **out);
/* Runs the restore. r is optional. */
int restore_run(const restore_options *o, restore_result *r);
/* arn:aws:dynamodb:<region>:<account>:table/<name> */
void restore_table_arn(const restore_options *o, const char *name, char *out, size_t n);

#endif
