/* lifecycle_internal.h: what the files of lifecycle/ share. */
#ifndef TIDEMARK_LIFECYCLE_INTERNAL_H
#define TIDEMARK_LIFECYCLE_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* Adds name: an ISO-8601 UTC string (2025-11-12T10:15:00.123456Z) for us. */
void lc_add_time(cJSON *obj, const char *name, int64_t us);
/* Deleted tables (deleted.c): purges those whose period has passed (listing what went, or
 * would go, in res "DeletedTablesPurged"). */
void lc_purge_deleted(const char *home, int dry_run, cJSON *res);

#endif
