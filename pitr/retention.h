/* retention.h: what retention may delete so that every second of the restorable window keeps a
 * restore plan: pitr_retention() and its input, a pure function beside the planner
 * (engine/pitr_policy.h has the rules; pitr/window.h says why the code sits in engine/).
 * table_retain (engine/table.h) lists a table's segments and snapshots, asks it, and deletes. */
#ifndef TIDEMARK_PITR_RETENTION_H
#define TIDEMARK_PITR_RETENTION_H

#include "engine/pitr_policy.h"

#endif
