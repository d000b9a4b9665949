/* backup_internal.h: what api/backup*.c share: the catalog (backup_catalog.c) and request
 * readers for the backup operations. */
#ifndef TIDEMARK_API_BACKUP_INTERNAL_H
#define TIDEMARK_API_BACKUP_INTERNAL_H

#include "api/backup.h"
#include "api/ops.h"
#include "engine/buf.h"
#include "export/export.h"
#include "import/import.h"

#include <stddef.h>

/* Writes <home>/<kind>/<id>.json holding desc under the member shape (and location). */
int catalog_put(tm_db *db, const char *kind, const char *id, const char *shape, cJSON *desc,
                const char *location, tm_error *e);
/* Reads a record (*record: cJSON_Delete); a killed import's reads FAILED. -1 when there is
 * none (e untouched), else 0 or the error's kind. */
int catalog_get(tm_db *db, const char *kind, const char *id, const char *shape, cJSON **record,
                tm_error *e);
/* One page of a List*: for each valid record of kind (oldest first) after the id next (NULL:
 * from the first) whose description's TableArn is tarn (NULL: any), add(list, record, ctx),
 * at most max; when more remain, NextToken (the last id added) in resp. TM_ERR_IO when the
 * catalog cannot be read. */
typedef void (*catalog_add_fn)(cJSON *list, const cJSON *record, void *ctx);
int catalog_page(tm_db *db, const char *kind, const char *shape, const char *tarn,
                 const char *next, size_t max, cJSON *resp, cJSON *list, catalog_add_fn add,
                 void *ctx, tm_error *e);
/* The ids recorded, oldest first (catalog_ids_free). */
int catalog_ids(tm_db *db, const char *kind, char ***ids, size_t *n);
void catalog_ids_free(char **ids, size_t n);

/* ClientToken (backup_catalog.c: CLIENT TOKENS): 0 when new (recorded for id), 1 when the
 * same request came with it within 8 hours (id := that run's), -1 when another request did
 * (a conflict), -2 on a failure (e set). request: compact, without ClientToken. */
int catalog_token(tm_db *db, const char *kind, const char *token, const char *request,
                  int64_t now_s, char *id, size_t n, tm_error *e);

/* A number member (epoch seconds for times); 0 and *present = 0 when absent. */
int breq_num(const cJSON *req, const char *name, double *out, int *present, tm_error *e);
/* The id after the last "/<what>/" of an ARN ("export", "import"). */
int breq_arn_id(const char *arn, const char *what, char *id, size_t n, tm_error *e);
/* TableArn "arn:aws:dynamodb:<region>:<account>:table/<name>" split up (each out >= 256). */
int breq_table_arn(const char *arn, char *region, char *account, char *name, tm_error *e);
/* An engine failure of a backup run, as its kind, with the hints a person needs (a missing
 * bucket: --endpoint-url or create it). */
int backup_error(tm_error *e, int rc, int kind_default);
/* The ExportTableToPointInTime request (backup.c) read into o, so, dest and the ARN's parts
 * (each >= 256), and the one ExportDescription writer ({"ExportDescription":{...}}). */
int breq_export(const cJSON *req, export_options *o, store_options *so, buf *dest,
                char *region, char *account, char *name, tm_error *e);
cJSON *backup_export_shape(const export_desc *d);
/* The ImportTable request (backup_import.c; *hdr: free()) and the one ImportTableDescription
 * writer ({"ImportTableDescription":{...}}). */
int breq_import(const cJSON *req, import_options *o, key_schema *ks, buf *from,
                const char ***hdr, tm_error *e);
cJSON *backup_import_shape(const char *arn, const char *table_arn, const import_options *o,
                           const import_result *r, const char *status);

/* ImportId / ExportId form: 14-digit epoch ms, '-', 8 hex digits (out >= 24). */
void backup_make_id(int64_t us, char *out);

#endif
