/* ddb_internal.h: what the files of remote/ share. Not public. */
#ifndef TIDEMARK_DDB_INTERNAL_H
#define TIDEMARK_DDB_INTERNAL_H

#include "remote/ddb.h"

/* Sleeps before try number attempt + 1 with the client's backoff (ddb.h RETRIES). */
void ddb_backoff(const ddb_client *c, int attempt);

#endif
