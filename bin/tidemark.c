/* tidemark.c: the tidemark program: tables, items, query and scan, bulk load, PITR settings,
 * snapshots, log verification and the write timeline. Parses arguments, calls engine/, prints,
 * and maps errors to exit codes (engine/cli.h); the logic lives in the modules. */
#include "engine/cli.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/expr.h"
#include "engine/item.h"
#include "engine/key.h"
#include "engine/log.h"
#include "engine/table.h"
#include "pitr/materialize.h"
#include "pitr/timeline.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "tidemark"
#define TIDEMARK_VERSION "0.1.0"
#define LINE_MAX_BYTES ((size_t)8 << 20)   /* one JSON line: a 400 KB item, escaped, fits */

/* ================================================================ options */

enum {
    O_DATA = 256, O_JSON, O_HELP, O_VERSION, O_TABLE, O_KEY, O_SORT_KEY, O_DURABILITY, O_ITEM,
    O_COND, O_NAMES, O_VALUES, O_RETURN, O_UPDATE, O_KEYCOND, O_FILTER, O_FORWARD, O_BACKWARD,
    O_LIMIT, O_ESK, O_SEGMENT, O_TOTAL, O_FILE, O_BATCH, O_PERIOD, O_FROM, O_TO, O_BY,
    O_PRINT_ACKS, O_CONSISTENT, O_SNAP_EVERY, O_SNAP_WRITES, O_END
};

static const struct option long_opts[] = {
    {"data", required_argument, NULL, O_DATA},
    {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {"table", required_argument, NULL, O_TABLE},
    {"table-name", required_argument, NULL, O_TABLE},
    {"key", required_argument, NULL, O_KEY},
    {"sort-key", required_argument, NULL, O_SORT_KEY},
    {"durability", required_argument, NULL, O_DURABILITY},
    {"item", required_argument, NULL, O_ITEM},
    {"condition-expression", required_argument, NULL, O_COND},
    {"expression-attribute-names", required_argument, NULL, O_NAMES},
    {"expression-attribute-values", required_argument, NULL, O_VALUES},
    {"return-values", required_argument, NULL, O_RETURN},
    {"update-expression", required_argument, NULL, O_UPDATE},
    {"key-condition-expression", required_argument, NULL, O_KEYCOND},
    {"key-condition", required_argument, NULL, O_KEYCOND},
    {"filter-expression", required_argument, NULL, O_FILTER},
    {"scan-index-forward", no_argument, NULL, O_FORWARD},
    {"no-scan-index-forward", no_argument, NULL, O_BACKWARD},
    {"limit", required_argument, NULL, O_LIMIT},
    {"exclusive-start-key", required_argument, NULL, O_ESK},
    {"segment", required_argument, NULL, O_SEGMENT},
    {"total-segments", required_argument, NULL, O_TOTAL},
    {"file", required_argument, NULL, O_FILE},
    {"batch-size", required_argument, NULL, O_BATCH},
    {"recovery-period-in-days", required_argument, NULL, O_PERIOD},
    {"from", required_argument, NULL, O_FROM},
    {"to", required_argument, NULL, O_TO},
    {"by", required_argument, NULL, O_BY},
    {"print-acks", no_argument, NULL, O_PRINT_ACKS},
    {"consistent-read", no_argument, NULL, O_CONSISTENT},
    {"snapshot-every", required_argument, NULL, O_SNAP_EVERY},
    {"snapshot-every-writes", required_argument, NULL, O_SNAP_WRITES},
    {NULL, 0, NULL, 0},
};

typedef struct opts {
    const char *home;
    const char *arg[O_END - O_DATA];     /* string value per option */
    int given[O_END - O_DATA];
    int json, backward;
    uint64_t limit;
    uint32_t segment, total;
    uint64_t batch;
    int period;
    const char *cmd;                     /* "put-item", "pitr enable", ... for messages */
} opts;

#define ARG(o, id) ((o)->arg[(id) - O_DATA])
#define GIVEN(o, id) ((o)->given[(id) - O_DATA])

static const char *opt_name(int id)
{
    for (const struct option *p = long_opts; p->name; p++)
        if (p->val == id) return p->name;
    return "?";
}

/* ================================================================ commands and help */

typedef struct command {
    const char *name;
    int (*run)(opts *o);
    const int *allowed;                  /* O_END-terminated; globals always allowed */
    const char *usage;
    const char *help;
} command;

static int run_create(opts *o), run_describe(opts *o), run_list(opts *o), run_delete_table(opts *o),
    run_put(opts *o), run_get(opts *o), run_update(opts *o), run_delete_item(opts *o),
    run_query(opts *o), run_scan(opts *o), run_batch(opts *o), run_pitr_enable(opts *o),
    run_pitr_disable(opts *o), run_pitr_status(opts *o), run_snapshot(opts *o), run_snapshot_verify(opts *o),
    run_log_verify(opts *o), run_log_list(opts *o), run_timeline(opts *o), run_items_verify(opts *o);

static const int a_create[] = {O_TABLE, O_KEY, O_SORT_KEY, O_DURABILITY, O_SNAP_EVERY, O_SNAP_WRITES, O_END};
static const int a_snapshot[] = {O_TABLE, O_SNAP_EVERY, O_SNAP_WRITES, O_END};
static const int a_table[] = {O_TABLE, O_END};
static const int a_none[] = {O_END};
static const int a_put[] = {O_TABLE, O_ITEM, O_COND, O_NAMES, O_VALUES, O_RETURN, O_END};
static const int a_get[] = {O_TABLE, O_KEY, O_CONSISTENT, O_END};
static const int a_update[] = {O_TABLE, O_KEY, O_UPDATE, O_COND, O_NAMES, O_VALUES, O_RETURN, O_END};
static const int a_delete[] = {O_TABLE, O_KEY, O_COND, O_NAMES, O_VALUES, O_RETURN, O_END};
static const int a_query[] = {O_TABLE, O_KEYCOND, O_FILTER, O_NAMES, O_VALUES, O_FORWARD, O_BACKWARD,
                              O_LIMIT, O_ESK, O_CONSISTENT, O_END};
static const int a_scan[] = {O_TABLE, O_FILTER, O_NAMES, O_VALUES, O_LIMIT, O_ESK, O_SEGMENT, O_TOTAL,
                             O_CONSISTENT, O_END};
static const int a_batch[] = {O_TABLE, O_FILE, O_BATCH, O_PRINT_ACKS, O_END};
static const int a_pitr[] = {O_TABLE, O_PERIOD, O_END};
static const int a_timeline[] = {O_TABLE, O_FROM, O_TO, O_BY, O_END};

static const command commands[] = {
    {"create-table", run_create, a_create,
     "--table T --key NAME:TYPE [--sort-key NAME:TYPE] [--durability sync|none]\n"
     "      [--snapshot-every DURATION] [--snapshot-every-writes N]",
     "Creates an empty table. TYPE is S, N or B. --snapshot-every (default 24h; 0 = only on\n"
     "demand) and --snapshot-every-writes set the base-snapshot policy used while PITR is on\n"
     "(more snapshots: faster restores to older times, more disk). --durability sync (default) makes every\n"
     "acknowledged write durable (fsync before the reply, one fsync per batch); none never\n"
     "fsyncs: faster bulk loads, but a machine crash may lose the latest writes.\n"
     "Prints the new table's description (DynamoDB CreateTable's TableDescription).\n"
     "Examples:\n"
     "  tidemark create-table --table Orders --key OrderId:S\n"
     "  tidemark create-table --table Chat --key user_id:S --sort-key sk:S\n"},
    {"describe-table", run_describe, a_table, "--table T",
     "Prints the table as DynamoDB DescribeTable does ({\"Table\":{...}}): key schema, item count,\n"
     "size, creation time, id and ARN.\n"
     "Example:\n  tidemark describe-table --table Orders\n"},
    {"list-tables", run_list, a_none, "",
     "Prints {\"TableNames\":[...]}, sorted.\nExample:\n  tidemark --data /srv/tm list-tables\n"},
    {"delete-table", run_delete_table, a_table, "--table T",
     "Deletes the table with its items, change log and snapshots. Prints its last description.\n"
     "Example:\n  tidemark delete-table --table Orders\n"},
    {"put-item", run_put, a_put,
     "--table T --item JSON [--condition-expression C] [--expression-attribute-names JSON]\n"
     "      [--expression-attribute-values JSON] [--return-values NONE|ALL_OLD]",
     "Writes a whole item (DynamoDB JSON), replacing any item with the same key. With a condition\n"
     "the write happens only if the current item satisfies it; otherwise it prints\n"
     "ConditionalCheckFailedException and exits 1.\n"
     "Examples:\n"
     "  tidemark put-item --table Orders --item '{\"OrderId\":{\"S\":\"1\"},\"Total\":{\"N\":\"450\"}}'\n"
     "  tidemark put-item --table Orders --item '{...}' --condition-expression 'attribute_not_exists(OrderId)'\n"},
    {"get-item", run_get, a_get, "--table T --key JSON",
     "Prints {\"Item\":{...}}, or {} when there is no such item (as the aws CLI does).\n"
     "Example:\n  tidemark get-item --table Orders --key '{\"OrderId\":{\"S\":\"1\"}}'\n"},
    {"update-item", run_update, a_update,
     "--table T --key JSON --update-expression U [--condition-expression C]\n"
     "      [--expression-attribute-names JSON] [--expression-attribute-values JSON]\n"
     "      [--return-values NONE|ALL_NEW]",
     "Edits an item (creating it when absent) with an UpdateExpression: SET a = :v, b = b + :n,\n"
     "c = if_not_exists(c, :z), d = list_append(d, :l); REMOVE e; ADD n :num, s :set; DELETE s :set.\n"
     "Example:\n"
     "  tidemark update-item --table Orders --key '{\"OrderId\":{\"S\":\"1\"}}' \\\n"
     "    --update-expression 'SET Total = Total + :t REMOVE Coupon' \\\n"
     "    --condition-expression 'attribute_exists(OrderId)' \\\n"
     "    --expression-attribute-values '{\":t\":{\"N\":\"5\"}}' --return-values ALL_NEW\n"},
    {"delete-item", run_delete_item, a_delete,
     "--table T --key JSON [--condition-expression C] [--return-values NONE|ALL_OLD] ...",
     "Deletes an item (deleting an absent item is not an error, as in DynamoDB).\n"
     "Example:\n  tidemark delete-item --table Orders --key '{\"OrderId\":{\"S\":\"1\"}}'\n"},
    {"query", run_query, a_query,
     "--table T --key-condition-expression K [--expression-attribute-values JSON]\n"
     "      [--expression-attribute-names JSON] [--filter-expression F] [--no-scan-index-forward]\n"
     "      [--limit N] [--exclusive-start-key JSON]",
     "Reads one partition in sort-key order (DynamoDB order: N by value, S and B by bytes).\n"
     "Prints one {\"Item\":{...}} per line; with --json one {\"Items\":[...],\"Count\":N,...} object.\n"
     "When --limit ends the page, the LastEvaluatedKey is in the --json output, or on stderr as\n"
     "the --exclusive-start-key to pass for the next page. --key-condition is an alias.\n"
     "Examples:\n"
     "  tidemark query --table Orders --key-condition 'OrderId = :p AND Ts BETWEEN :a AND :b' \\\n"
     "    --expression-attribute-values '{\":p\":{\"S\":\"1\"},\":a\":{\"N\":\"0\"},\":b\":{\"N\":\"99\"}}'\n"
     "  tidemark query --table Chat --key-condition '#u = :u AND begins_with(sk, :t)' \\\n"
     "    --expression-attribute-names '{\"#u\":\"user_id\"}' \\\n"
     "    --expression-attribute-values '{\":u\":{\"S\":\"user#1\"},\":t\":{\"S\":\"thread#7#\"}}' --limit 10\n"},
    {"scan", run_scan, a_scan,
     "--table T [--segment S --total-segments N] [--limit N] [--exclusive-start-key JSON]\n"
     "      [--filter-expression F ...]",
     "Reads every item from one consistent snapshot, one {\"Item\":{...}} per line (--json: as\n"
     "DynamoDB Scan's response). Segments split the key-hash space into N equal ranges: run N\n"
     "scans in parallel, each with its --segment, and together they read every item once.\n"
     "Examples:\n"
     "  tidemark scan --table Orders > orders.jsonl\n"
     "  tidemark scan --table Orders --segment 0 --total-segments 4\n"},
    {"batch-write", run_batch, a_batch,
     "--table T --file FILE|- [--batch-size N] [--print-acks]",
     "Bulk load: one {\"Item\":{...}} or bare item per line (blank lines are skipped), written in\n"
     "batches of --batch-size (default 1000) items, each batch atomic and, in sync mode, durable\n"
     "before the next one starts. Progress on a terminal, one summary line otherwise.\n"
     "A bad line stops the load with exit 1 and a message naming FILE:LINE and the attribute.\n"
     "Everything before the bad line is loaded and durable (batches already acknowledged are never\n"
     "lost); nothing after it is. Resume from the fixed line with: tail -n +LINE FILE | tidemark\n"
     "batch-write --table T --file -\n"
     "--print-acks prints \"ack batch=B items=N line=L\" on stdout after each durable batch.\n"
     "Examples:\n"
     "  tidemark batch-write --table Chat --file items.jsonl\n"
     "  zcat export/*.json.gz | tidemark batch-write --table Chat --file -\n"},
    {"pitr enable", run_pitr_enable, a_pitr, "--table T [--recovery-period-in-days N]",
     "Enables point-in-time recovery: the change log is kept for N days (1..35, default 35).\n"
     "The window starts now; re-enabling after a disable starts it again.\n"
     "Example:\n  tidemark pitr enable --table Orders --recovery-period-in-days 7\n"},
    {"pitr disable", run_pitr_disable, a_table, "--table T",
     "Disables point-in-time recovery (the log is then kept only until LMDB holds the writes).\n"
     "Example:\n  tidemark pitr disable --table Orders\n"},
    {"pitr status", run_pitr_status, a_table, "--table T",
     "Prints DescribeContinuousBackups' shape with the earliest and latest restorable times\n"
     "(ISO-8601 UTC with microseconds: tidemark restores to any microsecond).\n"
     "Example:\n  tidemark pitr status --table Orders\n"},
    {"snapshot verify", run_snapshot_verify, a_table, "--table T",
     "Checks every snapshot of the table against the checksum in its snap.json (reads each once);\n"
     "prints each damaged one with its file and what is wrong, and exits 1 if there is any. A\n"
     "snapshot without a checksum (written by an older tidemark) is listed as unverifiable: restores\n"
     "do not use it. Restores check the snapshot they copy in any case.\n"
     "Example:\n  tidemark snapshot verify --table Orders\n"},
    {"snapshot", run_snapshot, a_snapshot, "--table T [--snapshot-every DURATION] [--snapshot-every-writes N]",
     "Takes a base snapshot of the table now (a consistent LMDB copy tagged with its log position).\n"
     "With --snapshot-every (e.g. 6h, 30m, 0 for never) or --snapshot-every-writes it sets the\n"
     "table's snapshot policy instead and prints it.\n"
     "Examples:\n  tidemark snapshot --table Orders\n  tidemark snapshot --table Orders --snapshot-every 6h\n"},
    {"items verify", run_items_verify, a_table, "--table T",
     "Checks the table's items file (items/data.mdb), which carries no checksum: walks every item\n"
     "(size, encoding, key, count and byte total) and, with point-in-time recovery on, rebuilds the\n"
     "table from its newest snapshot and the log at the items' seq and compares the two item by\n"
     "item. Prints each differing key (the first 20) and exits 1 if there is any; says OK only\n"
     "when the contents were compared. Reads only: the rebuild is a hidden temporary table.\n"
     "Example:\n  tidemark items verify --table Orders\n"},
    {"log verify", run_log_verify, a_table, "--table T",
     "Checks every record and segment of the change log; prints each problem with its segment and\n"
     "offset, and exits 1 if there is any.\nExample:\n  tidemark log verify --table Orders\n"},
    {"log list", run_log_list, a_table, "--table T",
     "Lists the change log's segments: seqs, times, size, codec and whether sealed.\n"
     "Example:\n  tidemark log list --table Orders --json\n"},
    {"timeline", run_timeline, a_timeline,
     "--table T [--from TIME] [--to TIME] [--by minute|hour] [--json]",
     "Writes per minute (or hour) from the change log, split into puts (new items), updates\n"
     "(existing items replaced or edited) and deletes, as a bar chart in UTC. Intervals far above\n"
     "the usual rate are marked as bursts, with the last second before each: the tool to find\n"
     "when a bad load began. TIME: 2025-11-12T10:15:00Z, epoch seconds, or relative (-90m).\n"
     "Examples:\n"
     "  tidemark timeline --table Chat --from -3h\n"
     "  tidemark timeline --table Chat --from 2025-11-12T08:00:00Z --by hour --json\n"},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void print_help(void)
{
    printf("tidemark %s: a DynamoDB-style table engine with a continuously retained change log.\n\n"
           "Usage: tidemark [--data DIR] [--json] COMMAND [options]\n\n"
           "Commands:\n", TIDEMARK_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *nl = strchr(commands[i].help, '\n');
        printf("  %-16s %.*s\n", commands[i].name, (int)(nl ? nl - commands[i].help : 60),
               commands[i].help);
    }
    printf("\nGlobal options:\n"
           "  --data DIR   data directory (default: $TIDEMARK_HOME, else ~/.tidemark)\n"
           "  --json       machine-readable output shaped like the DynamoDB API response\n"
           "  --help       this help; 'tidemark COMMAND --help' for one command\n"
           "  --version    print the version\n\n"
           "Items and keys are DynamoDB JSON: '{\"Id\":{\"S\":\"1\"},\"Total\":{\"N\":\"450\"}}'.\n"
           "Exit status: 0 success, 1 failure (including a failed condition), 2 usage error.\n"
           "TIDEMARK_CLOCK=2025-11-12T10:00:00Z makes the process take that instant as now\n"
           "(testing and simulation).\n\n"
           "Examples:\n"
           "  tidemark create-table --table Orders --key OrderId:S --sort-key Ts:N\n"
           "  tidemark put-item --table Orders --item '{\"OrderId\":{\"S\":\"1\"},\"Ts\":{\"N\":\"1\"}}'\n"
           "  tidemark query --table Orders --key-condition 'OrderId = :p' \\\n"
           "    --expression-attribute-values '{\":p\":{\"S\":\"1\"}}'\n"
           "  tidemark batch-write --table Orders --file orders.jsonl\n"
           "  tidemark pitr enable --table Orders && tidemark timeline --table Orders --from -2h\n");
}

static void print_command_help(const command *c)
{
    printf("Usage: tidemark [--data DIR] %s %s\n\n%s", c->name, c->usage, c->help);
}

/* ================================================================ shared helpers */

static int usage(const opts *o, const char *fmt, const char *a)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%s", o->cmd ? o->cmd : "");
    if (o->cmd) {
        fprintf(stderr, "%s: %s: ", PROG, cmd);
        fprintf(stderr, fmt, a);
        fprintf(stderr, "\nTry '%s %s --help'.\n", PROG, cmd);
        return CLI_USAGE;
    }
    return cli_usage(PROG, fmt, a);
}

static int need(const opts *o, int id)
{
    if (ARG(o, id)) return 0;
    char n[64];
    snprintf(n, sizeof n, "--%s", opt_name(id));
    return usage(o, "%s is required", n);
}

static int fail(const opts *o, int rc) { return cli_fail(PROG, o->cmd, rc); }

/* Opens the table and reports what recovery repaired (torn tail, replayed records, damage). */
static int open_table(const opts *o, unsigned flags, table **t)
{
    int rc = table_open(o->home, ARG(o, O_TABLE), flags, t);
    if (rc) return rc;
    { /* a reader's open recovers too when the log is ahead of the items */
        const table_recovery *r = table_last_recovery(*t);
        if (r->log.truncated)
            fprintf(stderr, "%s: recovery: table %s: cut a torn log tail in segment %s at offset %" PRIu64
                    " (%" PRIu64 " bytes of an unacknowledged write)\n", PROG, ARG(o, O_TABLE),
                    r->log.segment, r->log.offset, r->log.bytes);
        if (r->replayed)
            fprintf(stderr, "%s: recovery: table %s: replayed %" PRIu64 " logged write%s into the items\n",
                    PROG, ARG(o, O_TABLE), r->replayed, r->replayed == 1 ? "" : "s");
        if (r->log.damaged)
            fprintf(stderr, "%s: recovery: table %s: log segment %s is damaged at offset %" PRIu64 " (%" PRIu64
                    " bytes from seq %" PRIu64 " on); the items hold those writes, so nothing was cut: the "
                    "segment is kept as it is and the log goes on in a new one\n", PROG, ARG(o, O_TABLE),
                    r->log.segment, r->log.offset, r->log.bytes, r->log.lost_first);
        if (r->lost_last)
            fprintf(stderr, "%s: recovery: table %s: log seqs %" PRIu64 "..%" PRIu64 " are missing from the log "
                    "(the items hold those writes); the log goes on at seq %" PRIu64 ", and the point-in-time "
                    "window has a gap there (tidemark pitr status)\n", PROG, ARG(o, O_TABLE), r->lost_first,
                    r->lost_last, r->lost_last + 1);
    }
    return 0;
}

/* Closes the table, saying when acknowledged writes could not be applied to the items yet
 * (they stand: the next open applies them from the log). */
static void close_table(const opts *o, table *t)
{
    const char *d = t ? table_deferred_error(t) : NULL;
    if (d)
        fprintf(stderr, "%s: warning: table %s: the writes are durable in the log, but applying them "
                "to the items failed (the next open applies them): %s\n", PROG, ARG(o, O_TABLE), d);
    table_close(t);
}

static int parse_item_arg(const char *json, const char *what, unsigned flags, item **out)
{
    int rc = item_parse_json(json, strlen(json), flags, out);
    if (rc) err_wrap(rc, "%s: ", what);
    return rc;
}

/* --key: exactly the key attributes of the table. */
static int parse_key_arg(const char *json, const key_schema *ks, item **out)
{
    int rc = parse_item_arg(json, "--key", ITEM_PARSE_NOLIMITS, out);
    if (rc) return rc;
    buf k = BUF_INIT;
    rc = key_encode_item(ks, *out, &k);
    buf_free(&k);
    if (!rc && item_count(*out) != (ks->range_type ? 2u : 1u))
        rc = err_set(TM_EINVAL, "The provided key element does not match the schema: the key is %s%s%s",
                     ks->hash_name, ks->range_type ? " and " : "", ks->range_type ? ks->range_name : "");
    if (rc) {
        if (rc == TM_EINVAL && !strstr(err_msg(), "--key")) err_wrap(rc, "--key: ");
        item_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Indented like the aws CLI's output (4 spaces), scalars as cJSON prints them. */
static void print_pretty(const cJSON *j, int ind)
{
    if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
        int obj = cJSON_IsObject(j);
        if (!j->child) {
            fputs(obj ? "{}" : "[]", stdout);
            return;
        }
        fputs(obj ? "{\n" : "[\n", stdout);
        for (const cJSON *c = j->child; c; c = c->next) {
            printf("%*s", ind + 4, "");
            if (obj) {
                cJSON *k = cJSON_CreateString(c->string);
                char *ks = cJSON_PrintUnformatted(k);
                printf("%s: ", ks ? ks : "\"\"");
                free(ks);
                cJSON_Delete(k);
            }
            print_pretty(c, ind + 4);
            fputs(c->next ? ",\n" : "\n", stdout);
        }
        printf("%*s%s", ind, "", obj ? "}" : "]");
        return;
    }
    char *s = cJSON_PrintUnformatted(j);
    if (s) fputs(s, stdout);
    free(s);
}

static void print_json(cJSON *j, int pretty)
{
    if (pretty) {
        print_pretty(j, 0);
        fputc('\n', stdout);
        return;
    }
    char *s = cJSON_PrintUnformatted(j);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
    }
    free(s);
}

static void print_item_wrapped(const char *member, const item *it)
{
    buf b = BUF_INIT;
    if (!it) {
        puts("{}");
        return;
    }
    if (item_write_json(it, &b) == 0) printf("{\"%s\":%s}\n", member, b.data);
    buf_free(&b);
}

static const char *type_tag(av_type t) { return t == AV_S ? "S" : t == AV_N ? "N" : t == AV_B ? "B" : "?"; }

static void iso(int64_t us, int digits, char *out, size_t n) { clock_format(us, digits, out, n); }


static cJSON *describe_json(const table_info *i, const char *status)
{
    cJSON *t = cJSON_CreateObject(), *ad = cJSON_CreateArray(), *ks = cJSON_CreateArray(), *x;
    char ts[64], arn[512];
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "AttributeName", i->ks.hash_name);
    cJSON_AddStringToObject(x, "AttributeType", type_tag(i->ks.hash_type));
    cJSON_AddItemToArray(ad, x);
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "AttributeName", i->ks.hash_name);
    cJSON_AddStringToObject(x, "KeyType", "HASH");
    cJSON_AddItemToArray(ks, x);
    if (i->ks.range_type) {
        x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "AttributeName", i->ks.range_name);
        cJSON_AddStringToObject(x, "AttributeType", type_tag(i->ks.range_type));
        cJSON_AddItemToArray(ad, x);
        x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "AttributeName", i->ks.range_name);
        cJSON_AddStringToObject(x, "KeyType", "RANGE");
        cJSON_AddItemToArray(ks, x);
    }
    cJSON_AddItemToObject(t, "AttributeDefinitions", ad);
    cJSON_AddStringToObject(t, "TableName", i->name);
    cJSON_AddItemToObject(t, "KeySchema", ks);
    cJSON_AddStringToObject(t, "TableStatus", status);
    iso(i->created_us, 3, ts, sizeof ts);
    cJSON_AddStringToObject(t, "CreationDateTime", ts);
    cJSON_AddNumberToObject(t, "TableSizeBytes", (double)i->size_bytes);
    cJSON_AddNumberToObject(t, "ItemCount", (double)i->item_count);
    table_arn(NULL, NULL, i->name, arn, sizeof arn);
    cJSON_AddStringToObject(t, "TableArn", arn);
    cJSON_AddStringToObject(t, "TableId", i->table_id);
    x = cJSON_AddObjectToObject(t, "BillingModeSummary");
    cJSON_AddStringToObject(x, "BillingMode", "PAY_PER_REQUEST");
    /* tidemark's own members, beside DynamoDB's */
    x = cJSON_AddObjectToObject(t, "Tidemark");
    cJSON_AddStringToObject(x, "Durability", i->durability == LOG_SYNC_NONE ? "none" : "sync");
    cJSON_AddNumberToObject(x, "LogSeq", (double)i->applied_seq);
    if (i->last_write_us) {
        iso(i->last_write_us, 6, ts, sizeof ts);
        cJSON_AddStringToObject(x, "LastWriteDateTime", ts);
    }
    cJSON_AddBoolToObject(x, "PointInTimeRecoveryEnabled", i->pitr_enabled);
    cJSON_AddNumberToObject(x, "SnapshotEverySeconds", (double)i->snapshot_every_s);
    cJSON_AddNumberToObject(x, "SnapshotEveryWrites", (double)i->snapshot_every_writes);
    return t;
}

/* ================================================================ tables */

/* "90s", "30m", "6h", "1d" or plain seconds; "0" means never. */
static int parse_duration(const char *s, int64_t *secs)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    double mul = 1;
    if (*end == 's') mul = 1, end++;
    else if (*end == 'm') mul = 60, end++;
    else if (*end == 'h') mul = 3600, end++;
    else if (*end == 'd') mul = 86400, end++;
    if (*end) return -1;
    *secs = (int64_t)(v * mul);
    return 0;
}

static int parse_snapshot_policy(const opts *o, int64_t *every_s, uint64_t *every_writes)
{
    if (ARG(o, O_SNAP_EVERY) && parse_duration(ARG(o, O_SNAP_EVERY), every_s))
        return usage(o, "--snapshot-every must be a duration like 6h, 30m or 0, not '%s'", ARG(o, O_SNAP_EVERY));
    if (ARG(o, O_SNAP_WRITES)) {
        char *end;
        unsigned long long w = strtoull(ARG(o, O_SNAP_WRITES), &end, 10);
        if (*end || end == ARG(o, O_SNAP_WRITES))
            return usage(o, "--snapshot-every-writes must be a number, not '%s'", ARG(o, O_SNAP_WRITES));
        *every_writes = w;
    }
    return 0;
}

static int run_create(opts *o)
{
    key_schema ks;
    table_create_opts co = TABLE_CREATE_OPTS_INIT;
    table_info info;
    int rc;
    memset(&ks, 0, sizeof ks);
    if ((rc = need(o, O_TABLE)) || (rc = need(o, O_KEY))) return rc;
    if (key_parse_spec(ARG(o, O_KEY), ks.hash_name, &ks.hash_type))
        return usage(o, "--key: %s", err_msg());
    if (ARG(o, O_SORT_KEY)) {
        if (key_parse_spec(ARG(o, O_SORT_KEY), ks.range_name, &ks.range_type))
            return usage(o, "--sort-key: %s", err_msg());
        if (!strcmp(ks.range_name, ks.hash_name))
            return usage(o, "--sort-key: '%s' is already the partition key", ks.range_name);
    }
    if (ARG(o, O_DURABILITY)) {
        if (!strcmp(ARG(o, O_DURABILITY), "sync")) co.durability = LOG_SYNC_FULL;
        else if (!strcmp(ARG(o, O_DURABILITY), "none")) co.durability = LOG_SYNC_NONE;
        else return usage(o, "--durability must be sync or none, not '%s'", ARG(o, O_DURABILITY));
    }
    if ((rc = parse_snapshot_policy(o, &co.snapshot_every_s, &co.snapshot_every_writes))) return rc;
    if ((rc = table_create(o->home, ARG(o, O_TABLE), &ks, &co, &info))) return fail(o, rc);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "TableDescription", describe_json(&info, "ACTIVE"));
    print_json(j, 1);
    cJSON_Delete(j);
    return 0;
}

static int run_describe(opts *o)
{
    table *t = NULL;
    table_info info;
    int rc = need(o, O_TABLE);
    if (rc) return rc;
    if ((rc = open_table(o, TABLE_RDONLY, &t)) || (rc = table_describe(t, &info))) {
        close_table(o, t);
        return fail(o, rc);
    }
    close_table(o, t);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "Table", describe_json(&info, "ACTIVE"));
    print_json(j, 1);
    cJSON_Delete(j);
    return 0;
}

static int run_list(opts *o)
{
    char **names = NULL;
    size_t n = 0;
    int rc = table_list(o->home, &names, &n);
    if (rc) return fail(o, rc);
    cJSON *j = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(j, "TableNames");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
    print_json(j, 1);
    cJSON_Delete(j);
    table_names_free(names, n);
    return 0;
}

static int run_delete_table(opts *o)
{
    table *t = NULL;
    table_info info;
    int rc = need(o, O_TABLE);
    if (rc) return rc;
    if ((rc = open_table(o, TABLE_RDONLY, &t)) || (rc = table_describe(t, &info))) {
        close_table(o, t);
        return fail(o, rc);
    }
    close_table(o, t);
    if ((rc = table_delete(o->home, ARG(o, O_TABLE)))) return fail(o, rc);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "TableDescription", describe_json(&info, "DELETING"));
    print_json(j, 1);
    cJSON_Delete(j);
    return 0;
}

/* ================================================================ items */

/* The expressions of one request, parsed against one env. */
typedef struct request {
    expr_env *env;
    expr_cond *cond, *filter;
    expr_update *update;
    expr_keycond keycond;
    expr_write w;
} request;

static void request_free(request *r)
{
    expr_cond_free(r->cond);
    expr_cond_free(r->filter);
    expr_update_free(r->update);
    expr_env_free(r->env);
}

/* Parses the expression options; keycond needs ks. Returns an engine code. */
static int request_parse(const opts *o, const key_schema *ks, request *r)
{
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = expr_env_new(ARG(o, O_NAMES), ARG(o, O_VALUES), &r->env))) return rc;
    if (ARG(o, O_COND) && (rc = expr_cond_parse(ARG(o, O_COND), r->env, &r->cond))) return rc;
    if (ARG(o, O_FILTER) && (rc = expr_cond_parse(ARG(o, O_FILTER), r->env, &r->filter)))
        return err_wrap(rc, "--filter-expression: ");
    if (ARG(o, O_UPDATE)) {
        if ((rc = expr_update_parse(ARG(o, O_UPDATE), r->env, &r->update))) return rc;
        if ((rc = expr_update_check_keys(r->update, ks))) return rc;
    }
    if (ARG(o, O_KEYCOND) && (rc = expr_keycond_parse(ARG(o, O_KEYCOND), r->env, ks, &r->keycond)))
        return rc;
    if ((ARG(o, O_NAMES) || ARG(o, O_VALUES)) && (rc = expr_env_check_unused(r->env))) return rc;
    r->w.cond = r->cond;
    r->w.update = r->update;
    return 0;
}

static int check_return_values(const opts *o, const char *allowed)
{
    const char *v = ARG(o, O_RETURN);
    if (!v || !strcmp(v, "NONE")) return 0;
    if (!strcmp(v, allowed)) return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "--return-values must be NONE or %s here, not '%%s'", allowed);
    return usage(o, msg, v);
}

/* Opens the table for writing and reads its key schema. */
static int open_writer(const opts *o, table **t, table_info *info)
{
    int rc = open_table(o, 0, t);
    if (!rc) rc = table_describe(*t, info);
    return rc;
}

static int run_put(opts *o)
{
    table *t = NULL;
    table_info info;
    item *it = NULL, *old = NULL;
    request rq;
    int rc, ret;
    memset(&rq, 0, sizeof rq);
    if ((ret = need(o, O_TABLE)) || (ret = need(o, O_ITEM)) || (ret = check_return_values(o, "ALL_OLD")))
        return ret;
    if ((rc = open_writer(o, &t, &info)) || (rc = parse_item_arg(ARG(o, O_ITEM), "--item", 0, &it)) ||
        (rc = request_parse(o, &info.ks, &rq)))
        goto out;
    int want_old = ARG(o, O_RETURN) && !strcmp(ARG(o, O_RETURN), "ALL_OLD");
    rc = table_put(t, it, rq.cond ? expr_write_check : NULL, &rq.w, want_old ? &old : NULL);
    if (!rc && want_old) print_item_wrapped("Attributes", old);
out:
    ret = rc ? fail(o, rc) : 0;
    request_free(&rq);
    item_free(it);
    item_free(old);
    close_table(o, t);
    return ret;
}

static int run_get(opts *o)
{
    table *t = NULL;
    table_info info;
    item *key = NULL, *it = NULL;
    int rc, ret;
    if ((ret = need(o, O_TABLE)) || (ret = need(o, O_KEY))) return ret;
    if ((rc = open_table(o, TABLE_RDONLY, &t)) || (rc = table_describe(t, &info)) ||
        (rc = parse_key_arg(ARG(o, O_KEY), &info.ks, &key)))
        goto out;
    rc = table_get(t, key, &it);
    if (rc == TM_ENOTFOUND) rc = 0;
    if (!rc) print_item_wrapped("Item", it);
out:
    ret = rc ? fail(o, rc) : 0;
    item_free(key);
    item_free(it);
    close_table(o, t);
    return ret;
}

static int run_update(opts *o)
{
    table *t = NULL;
    table_info info;
    item *key = NULL, *nw = NULL;
    request rq;
    int rc, ret;
    memset(&rq, 0, sizeof rq);
    if ((ret = need(o, O_TABLE)) || (ret = need(o, O_KEY)) || (ret = need(o, O_UPDATE)) ||
        (ret = check_return_values(o, "ALL_NEW")))
        return ret;
    if ((rc = open_writer(o, &t, &info)) || (rc = parse_key_arg(ARG(o, O_KEY), &info.ks, &key)) ||
        (rc = request_parse(o, &info.ks, &rq)))
        goto out;
    int want_new = ARG(o, O_RETURN) && !strcmp(ARG(o, O_RETURN), "ALL_NEW");
    rc = table_update(t, key, expr_write_mutate, rq.cond ? expr_write_check : NULL, &rq.w,
                      want_new ? &nw : NULL);
    if (!rc && want_new) print_item_wrapped("Attributes", nw);
out:
    ret = rc ? fail(o, rc) : 0;
    request_free(&rq);
    item_free(key);
    item_free(nw);
    close_table(o, t);
    return ret;
}

static int run_delete_item(opts *o)
{
    table *t = NULL;
    table_info info;
    item *key = NULL, *old = NULL;
    request rq;
    int rc, ret;
    memset(&rq, 0, sizeof rq);
    if ((ret = need(o, O_TABLE)) || (ret = need(o, O_KEY)) || (ret = check_return_values(o, "ALL_OLD")))
        return ret;
    if ((rc = open_writer(o, &t, &info)) || (rc = parse_key_arg(ARG(o, O_KEY), &info.ks, &key)) ||
        (rc = request_parse(o, &info.ks, &rq)))
        goto out;
    int want_old = ARG(o, O_RETURN) && !strcmp(ARG(o, O_RETURN), "ALL_OLD");
    rc = table_delete_item(t, key, rq.cond ? expr_write_check : NULL, &rq.w, want_old ? &old : NULL);
    if (!rc && want_old) print_item_wrapped("Attributes", old);
out:
    ret = rc ? fail(o, rc) : 0;
    request_free(&rq);
    item_free(key);
    item_free(old);
    close_table(o, t);
    return ret;
}

/* ================================================================ query and scan */

typedef struct out_ctx {
    int json;
    const expr_cond *filter;
    uint64_t printed;
    buf line;
    int rc;
} out_ctx;

static int out_item(void *c, const void *key, size_t kn, const void *img, size_t in)
{
    out_ctx *oc = c;
    (void)key;
    (void)kn;
    if (oc->filter) {
        item *it = NULL;
        int ok = 0, rc = item_decode(img, in, &it);
        if (!rc) rc = expr_cond_eval(oc->filter, it, &ok);
        item_free(it);
        if (rc) return rc;
        if (!ok) return 0;
    }
    buf_reset(&oc->line);
    int rc = item_bin_write_json(img, in, &oc->line);
    if (rc) return rc;
    if (oc->json) {
        if (oc->printed) fputc(',', stdout);
        fwrite(oc->line.data, 1, oc->line.len, stdout);
    } else {
        fputs("{\"Item\":", stdout);
        fwrite(oc->line.data, 1, oc->line.len, stdout);
        fputs("}\n", stdout);
    }
    oc->printed++;
    if (ferror(stdout)) return err_sys(TM_EIO, errno, "writing the output");
    return 0;
}

static int read_page_args(opts *o, const key_schema *ks, expr_page *pg, item **esk)
{
    *esk = NULL;
    pg->backward = o->backward;
    pg->limit = o->limit;
    if (ARG(o, O_ESK)) {
        int rc = parse_item_arg(ARG(o, O_ESK), "--exclusive-start-key", ITEM_PARSE_NOLIMITS, esk);
        if (rc) return rc;
        pg->start = *esk;
    }
    (void)ks;
    return 0;
}

/* Runs a query (keycond) or a scan page and prints it. */
static int run_read(opts *o, int is_query)
{
    table *t = NULL;
    table_info info;
    table_read *r = NULL;
    item *esk = NULL;
    request rq;
    expr_page pg = EXPR_PAGE_INIT;
    buf last = BUF_INIT;
    out_ctx oc = {o->json, NULL, 0, BUF_INIT, 0};
    uint64_t scanned = 0;
    int rc, ret;
    memset(&rq, 0, sizeof rq);
    if ((ret = need(o, O_TABLE))) return ret;
    if (is_query && (ret = need(o, O_KEYCOND))) return ret;
    if (!is_query && GIVEN(o, O_SEGMENT) != GIVEN(o, O_TOTAL))
        return usage(o, "%s", "--segment and --total-segments go together");
    if ((rc = open_table(o, TABLE_RDONLY, &t)) || (rc = table_describe(t, &info)) ||
        (rc = request_parse(o, &info.ks, &rq)) || (rc = read_page_args(o, &info.ks, &pg, &esk)))
        goto out;
    oc.filter = rq.filter;
    if ((rc = table_read_begin(t, &r))) goto out;
    if (o->json) fputs("{\"Items\":[", stdout);
    if (is_query)
        rc = expr_query_run(r, &info.ks, &rq.keycond, &pg, out_item, &oc, &last, &scanned);
    else
        rc = expr_scan_run(r, &info.ks, GIVEN(o, O_SEGMENT) ? o->segment : 0,
                           GIVEN(o, O_TOTAL) ? o->total : 1, &pg, out_item, &oc, &last, &scanned);
    if (rc) {
        if (o->json) fputs("]}\n", stdout);
        goto out;
    }
    if (o->json) {
        printf("],\"Count\":%" PRIu64 ",\"ScannedCount\":%" PRIu64, oc.printed, scanned);
        if (last.len) printf(",\"LastEvaluatedKey\":%s", last.data);
        fputs("}\n", stdout);
    } else if (last.len) {
        fprintf(stderr, "%s: %s: page limit reached; next page: --exclusive-start-key '%s'\n", PROG, o->cmd,
                last.data);
    }
    if (fflush(stdout)) rc = err_sys(TM_EIO, errno, "writing the output");
out:
    ret = rc ? fail(o, rc) : 0;
    table_read_end(r);
    request_free(&rq);
    item_free(esk);
    buf_free(&last);
    buf_free(&oc.line);
    close_table(o, t);
    return ret;
}

static int run_query(opts *o) { return run_read(o, 1); }
static int run_scan(opts *o) { return run_read(o, 0); }

/* ================================================================ batch-write */

/* Line reader with a hard maximum line length. */
typedef struct lines {
    FILE *f;
    char *blk;
    size_t blen, bpos;
    buf line;
    int eof;
} lines;

#define BLOCK (1 << 20)

/* 1: *p and *n hold the next line (without '\n'); 0: end; <0: error. */
static int lines_next(lines *L, const char **p, size_t *n)
{
    buf_reset(&L->line);
    for (;;) {
        if (L->bpos < L->blen) {
            char *s = L->blk + L->bpos;
            char *nl = memchr(s, '\n', L->blen - L->bpos);
            size_t len = nl ? (size_t)(nl - s) : L->blen - L->bpos;
            if (nl && L->line.len == 0) {
                L->bpos += len + 1;
                *p = s;
                *n = len;
                return 1;
            }
            if (buf_append(&L->line, s, len))
                return err_set(TM_ELIMIT, "line longer than %zu bytes", LINE_MAX_BYTES);
            L->bpos += len + (nl ? 1 : 0);
            if (nl) {
                *p = L->line.data;
                *n = L->line.len;
                return 1;
            }
        }
        if (L->eof) break;
        /* read(), not fread(): from a pipe, take what is there, so that a slow producer's
         * batches are committed as they come instead of once per megabyte */
        ssize_t got;
        do got = read(fileno(L->f), L->blk, BLOCK);
        while (got < 0 && errno == EINTR);
        if (got < 0) return err_sys(TM_EIO, errno, "read");
        L->blen = (size_t)got;
        L->bpos = 0;
        if (got == 0) L->eof = 1;
    }
    if (L->line.len) {
        *p = L->line.data;
        *n = L->line.len;
        L->line.len = 0;     /* returned once; the data stays valid until the next call */
        return 1;
    }
    return 0;
}

static int run_batch(opts *o)
{
    table *t = NULL;
    table_info info;
    table_batch *b = NULL;
    lines L = {0};
    progress *pr = NULL;
    const char *file = ARG(o, O_FILE), *fname;
    uint64_t lineno = 0, items = 0, batches = 0, in_batch = 0, bytes = 0, acked_line = 0;
    int rc = 0, ret;
    if ((ret = need(o, O_TABLE)) || (ret = need(o, O_FILE))) return ret;
    fname = strcmp(file, "-") ? file : "stdin";
    L.line = (buf)BUF_INIT_MAX(LINE_MAX_BYTES);
    if (!(L.blk = malloc(BLOCK))) return fail(o, err_set(TM_ENOMEM, "out of memory"));
    if (!strcmp(file, "-")) L.f = stdin;
    else if (!(L.f = fopen(file, "rb"))) {
        rc = err_sys(TM_EIO, errno, "%s", file);
        goto out;
    }
    /* TABLE_BULK: each batch is acknowledged once durable in the log; LMDB commits are joined. */
    if ((rc = open_table(o, TABLE_BULK, &t)) || (rc = table_describe(t, &info))) goto out;
    pr = progress_new(PROG, "batch-write", 0);
    struct stat fst;   /* a file's size gives a percentage and an ETA; a pipe's does not */
    if (L.f != stdin && !fstat(fileno(L.f), &fst) && S_ISREG(fst.st_mode))
        progress_set_total_bytes(pr, (uint64_t)fst.st_size);
    const char *p = NULL;
    size_t n = 0;
    int lr;
    while ((lr = lines_next(&L, &p, &n)) > 0) {
        lineno++;
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) i++;
        if (i == n) continue;
        item *it = NULL;
        rc = item_parse_json(p, n, ITEM_PARSE_WRAPPED, &it);
        if (!rc && !b) rc = table_batch_begin(t, &b);
        if (!rc) rc = table_batch_put(b, it);
        item_free(it);
        if (rc) {
            err_wrap(rc, "%s:%" PRIu64 ": ", fname, lineno);
            break;
        }
        items++;
        in_batch++;
        bytes += n + 1;
        if (in_batch >= o->batch) {
            rc = table_batch_commit(b);
            b = NULL;
            if (rc) break;
            batches++;
            acked_line = lineno;
            progress_add(pr, in_batch, bytes);
            if (GIVEN(o, O_PRINT_ACKS)) {
                printf("ack batch=%" PRIu64 " items=%" PRIu64 " line=%" PRIu64 "\n", batches, items, lineno);
                fflush(stdout);
            }
            in_batch = bytes = 0;
        }
    }
    if (lr < 0) {
        rc = lr;
        err_wrap(rc, "%s:%" PRIu64 ": ", fname, lineno + 1);
    }
    /* The lines before a bad one are good: commit them, so that the load resumes at the bad one. */
    int bad = rc;
    if (b) {
        uint64_t last_good = bad ? lineno - 1 : lineno;
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", err_msg());
        int crc = in_batch ? table_batch_commit(b) : (table_batch_abort(b), 0);
        b = NULL;
        if (crc && !bad) rc = crc;
        if (!crc && in_batch) {
            batches++;
            acked_line = last_good;
            progress_add(pr, in_batch, bytes);
            if (GIVEN(o, O_PRINT_ACKS)) {
                printf("ack batch=%" PRIu64 " items=%" PRIu64 " line=%" PRIu64 "\n", batches, items,
                       last_good);
                fflush(stdout);
            }
        } else if (crc) {
            items -= in_batch;
        }
        if (bad) err_set(bad, "%s", saved);
    }
    if (rc) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", err_msg());
        progress_done(pr, "batch-write stopped: %" PRIu64 " items in %" PRIu64 " batches are loaded and "
                      "durable (input lines 1..%" PRIu64 " of %s); nothing after that was written",
                      items, batches, acked_line, fname);
        pr = NULL;
        err_set(rc, "%s", saved);
        goto out;
    }
    double el = progress_elapsed(pr);
    progress_done(pr, "loaded %" PRIu64 " items in %" PRIu64 " batch%s from %s in %.1f s (%.0f items/s)",
                  items, batches, batches == 1 ? "" : "es", fname, el, el > 0 ? (double)items / el : 0.0);
    pr = NULL;
out:
    ret = rc ? fail(o, rc) : 0;
    progress_free(pr);
    table_batch_abort(b);
    if (L.f && L.f != stdin) fclose(L.f);
    free(L.blk);
    buf_free(&L.line);
    close_table(o, t);
    return ret;
}

/* ================================================================ PITR, snapshot, log */

static int pitr_print(const opts *o, table *t)
{
    table_info info;
    int64_t e = 0, l = 0;
    int rc = table_describe(t, &info);
    if (rc) return rc;
    cJSON *j = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(j, "ContinuousBackupsDescription");
    /* As AWS: continuous backups are always ENABLED; PITR is the part that is switched. */
    cJSON_AddStringToObject(d, "ContinuousBackupsStatus", "ENABLED");
    cJSON *p = cJSON_AddObjectToObject(d, "PointInTimeRecoveryDescription");
    cJSON_AddStringToObject(p, "PointInTimeRecoveryStatus", info.pitr_enabled ? "ENABLED" : "DISABLED");
    if (info.pitr_enabled) {
        char ts[64];
        if ((rc = table_pitr_window(t, &e, &l))) {
            cJSON_Delete(j);
            return rc;
        }
        cJSON_AddNumberToObject(p, "RecoveryPeriodInDays", info.pitr_period_days);
        /* Microseconds: restore takes any microsecond, and ms would cut the last writes off. */
        iso(e, 6, ts, sizeof ts);
        cJSON_AddStringToObject(p, "EarliestRestorableDateTime", ts);
        iso(l, 6, ts, sizeof ts);
        cJSON_AddStringToObject(p, "LatestRestorableDateTime", ts);
        /* tidemark's own: times inside the window whose state needs records the log lacks. */
        log_gap *g = NULL;
        size_t ng = 0;
        if ((rc = table_log_gaps(t, &g, &ng))) {
            cJSON_Delete(j);
            return rc;
        }
        cJSON *ga = ng ? cJSON_AddArrayToObject(p, "UnrestorableGaps") : NULL;
        for (size_t k = 0; k < ng; k++) {
            cJSON *x = cJSON_CreateObject();
            char a[64], b[64];
            iso(g[k].after_us, 6, a, sizeof a);
            iso(g[k].before_us == INT64_MAX ? l : g[k].before_us, 6, b, sizeof b);
            cJSON_AddNumberToObject(x, "FirstMissingSeq", (double)g[k].first_seq);
            cJSON_AddNumberToObject(x, "LastMissingSeq", (double)g[k].last_seq);
            cJSON_AddStringToObject(x, "After", g[k].after_us ? a : "");
            cJSON_AddStringToObject(x, "Before", b);
            cJSON_AddStringToObject(x, "Reason", g[k].why);
            cJSON_AddItemToArray(ga, x);
            fprintf(stderr, "%s: pitr status: table %s: log seqs %" PRIu64 "..%" PRIu64 " are missing (%s): "
                    "times after %s and before %s cannot be restored\n", PROG, info.name, g[k].first_seq,
                    g[k].last_seq, g[k].why, g[k].after_us ? a : "the log's start", b);
        }
        free(g);
    }
    print_json(j, 1);
    cJSON_Delete(j);
    (void)o;
    return 0;
}

static int run_pitr_set(opts *o, int enable)
{
    table *t = NULL;
    int rc, ret;
    if ((ret = need(o, O_TABLE))) return ret;
    if (GIVEN(o, O_PERIOD) && (o->period < 1 || o->period > TABLE_PITR_MAX_DAYS))
        return usage(o, "--recovery-period-in-days must be between 1 and 35, not %s", ARG(o, O_PERIOD));
    if (!(rc = open_table(o, 0, &t)) &&
        !(rc = table_set_pitr(t, enable, GIVEN(o, O_PERIOD) ? o->period : (enable ? 35 : 0))))
        rc = pitr_print(o, t);
    close_table(o, t);
    return rc ? fail(o, rc) : 0;
}

static int run_pitr_enable(opts *o) { return run_pitr_set(o, 1); }
static int run_pitr_disable(opts *o) { return run_pitr_set(o, 0); }

static int run_pitr_status(opts *o)
{
    table *t = NULL;
    int rc, ret;
    if ((ret = need(o, O_TABLE))) return ret;
    if (!(rc = open_table(o, TABLE_RDONLY, &t))) rc = pitr_print(o, t);
    close_table(o, t);
    return rc ? fail(o, rc) : 0;
}

static int run_snapshot(opts *o)
{
    table *t = NULL;
    snap_info s;
    int rc, ret;
    if ((ret = need(o, O_TABLE))) return ret;
    if (ARG(o, O_SNAP_EVERY) || ARG(o, O_SNAP_WRITES)) {
        table_info info;
        int64_t every_s;
        uint64_t every_w;
        if ((rc = open_table(o, 0, &t)) || (rc = table_describe(t, &info))) goto policy_out;
        every_s = info.snapshot_every_s;
        every_w = info.snapshot_every_writes;
        if ((ret = parse_snapshot_policy(o, &every_s, &every_w))) {
            close_table(o, t);
            return ret;
        }
        if (!(rc = table_set_snapshot_policy(t, every_s, every_w)))
            printf("{\"SnapshotPolicy\":{\"TableName\":\"%s\",\"EverySeconds\":%lld,\"EveryWrites\":%llu}}\n",
                   ARG(o, O_TABLE), (long long)every_s, (unsigned long long)every_w);
    policy_out:
        close_table(o, t);
        return rc ? fail(o, rc) : 0;
    }
    if (!(rc = open_table(o, 0, &t)) && !(rc = table_snapshot(t, &s))) {
        char ts[64];
        cJSON *j = cJSON_CreateObject(), *x = cJSON_AddObjectToObject(j, "Snapshot");
        cJSON_AddStringToObject(x, "TableName", ARG(o, O_TABLE));
        cJSON_AddStringToObject(x, "Name", s.name);
        cJSON_AddNumberToObject(x, "LogSeq", (double)s.seq);
        iso(s.time_us, 6, ts, sizeof ts);
        cJSON_AddStringToObject(x, "DateTime", s.time_us ? ts : "");
        cJSON_AddNumberToObject(x, "ItemCount", (double)s.item_count);
        cJSON_AddNumberToObject(x, "Bytes", (double)s.bytes);
        char sum[17];
        snprintf(sum, sizeof sum, "%016" PRIx64, s.sum);
        cJSON_AddStringToObject(x, "Xxh3", sum);
        print_json(j, 1);
        cJSON_Delete(j);
    }
    close_table(o, t);
    return rc ? fail(o, rc) : 0;
}

typedef struct snapv_ctx {
    const char *table;
    size_t ok, unverifiable, damaged;
} snapv_ctx;

static void snapv_report(void *c, const snap_info *s, int rc)
{
    snapv_ctx *v = c;
    if (rc == 0) {
        v->ok++;
    } else if (rc == 1) {
        v->unverifiable++;
        printf("%s: snapshot verify: table %s: snapshot %s: no checksum (written by an older tidemark): "
               "cannot be verified, not used by restores\n", PROG, v->table, s->name);
    } else {
        v->damaged++;
        printf("%s: snapshot verify: table %s: snapshot %s: %s\n", PROG, v->table, s->name, err_msg());
    }
    fflush(stdout);
}

static int run_snapshot_verify(opts *o)
{
    char dir[PATH_MAX];
    snapv_ctx v = {ARG(o, O_TABLE), 0, 0, 0};
    int rc, ret;
    if ((ret = need(o, O_TABLE))) return ret;
    if ((rc = table_check_name(ARG(o, O_TABLE)))) return fail(o, rc);
    table_path(o->home, ARG(o, O_TABLE), NULL, dir, sizeof dir);
    if (access(dir, F_OK))
        return fail(o, err_set(TM_ENOTFOUND, "table %s not found (data directory %s)", ARG(o, O_TABLE), o->home));
    if ((rc = snap_verify_all(dir, snapv_report, &v))) return fail(o, rc);
    if (v.damaged) {
        printf("%s: snapshot verify: table %s: %zu damaged snapshot%s (%zu verified)\n", PROG, v.table,
               v.damaged, v.damaged == 1 ? "" : "s", v.ok);
        return CLI_FAIL;
    }
    printf("%s: snapshot verify: table %s: OK, %zu snapshot%s verified", PROG, v.table, v.ok,
           v.ok == 1 ? "" : "s");
    if (v.unverifiable) printf(", %zu without a checksum", v.unverifiable);
    printf("\n");
    return 0;
}

static int table_log_path(const opts *o, char *dir, size_t n)
{
    char tdir[PATH_MAX];
    int rc = table_check_name(ARG(o, O_TABLE));
    if (rc) return rc;
    table_path(o->home, ARG(o, O_TABLE), NULL, tdir, sizeof tdir);
    if (access(tdir, F_OK))
        return err_set(TM_ENOTFOUND, "table %s not found (data directory %s)", ARG(o, O_TABLE), o->home);
    table_path(o->home, ARG(o, O_TABLE), "log", dir, n);
    return 0;
}

typedef struct verify_ctx {
    const char *table;
    uint64_t problems;
} verify_ctx;

static void verify_report(void *c, const char *segment, uint64_t offset, const char *what)
{
    verify_ctx *v = c;
    v->problems++;
    printf("%s: log verify: table %s: segment %s offset %" PRIu64 ": %s\n", PROG, v->table, segment,
           offset, what);
    fflush(stdout);
}

static int run_log_verify(opts *o)
{
    char dir[PATH_MAX];
    verify_ctx v = {ARG(o, O_TABLE), 0};
    uint64_t records = 0;
    log_segment *segs = NULL;
    size_t nseg = 0;
    int rc, ret;
    if ((ret = need(o, O_TABLE))) return ret;
    if ((rc = table_log_path(o, dir, sizeof dir))) return fail(o, rc);
    /* A reader's open applies what a crashed writer acknowledged (and recovers the log), so the
     * log is checked as every reader will see it, and against the items' seq. */
    table *t = NULL;
    table_info info = {0};
    log_gap *g = NULL;
    size_t ng = 0;
    uint64_t end = 0;
    char last_seg[80] = "";  /* a missing tail is reported at the newest segment, the one it follows */
    if ((rc = open_table(o, TABLE_RDONLY, &t)) || (rc = table_describe(t, &info)) ||
        ((rc = table_log_gaps(t, &g, &ng)) && rc != TM_ECORRUPT) ||
        ((rc = log_end(dir, &end, last_seg, sizeof last_seg)) && rc != TM_ECORRUPT)) {
        close_table(o, t);
        free(g);
        return fail(o, rc);
    }
    close_table(o, t);   /* (damaged segments: log_verify below names each) */
    log_list(dir, &segs, &nseg);
    free(segs);
    rc = log_verify(dir, verify_report, &v, &records);
    for (size_t k = 0; k < ng; k++)
        if (g[k].first_seq > end) { /* the ones inside the log, log_verify reported */
            char what[200];
            snprintf(what, sizeof what, "seqs %" PRIu64 "..%" PRIu64 " are missing after it: %s",
                     g[k].first_seq, g[k].last_seq, g[k].why);
            verify_report(&v, last_seg[0] ? last_seg : "(no segment)", 0, what);
        }
    free(g);
    if (rc == TM_ECORRUPT || v.problems) {
        printf("%s: log verify: table %s: %" PRIu64 " problem%s found (%" PRIu64 " valid records)\n", PROG,
               v.table, v.problems, v.problems == 1 ? "" : "s", records);
        return CLI_FAIL;
    }
    if (rc) return fail(o, rc);
    printf("%s: log verify: table %s: OK, %" PRIu64 " records in %zu segment%s, through seq %" PRIu64
           " (the items' seq %" PRIu64 ")\n", PROG, v.table, records, nseg, nseg == 1 ? "" : "s", end,
           info.applied_seq);
    return 0;
}

#define ITEMS_VERIFY_SHOW 20

typedef struct itemsv_ctx {
    const char *table;
    uint64_t shown;
} itemsv_ctx;

static void itemsv_report(void *c, const char *key, const char *what)
{
    itemsv_ctx *v = c;
    if (++v->shown <= ITEMS_VERIFY_SHOW) printf("%s: items verify: table %s: %s: %s\n", PROG, v->table, key, what);
    fflush(stdout);
}

/* The items against their rebuild from snapshot + log (forward only: a live seed would copy
 * the very file under test), at the newest time, which is the items' seq unless a writer
 * came in between (then the seqs differ and it says so). */
static int run_items_verify(opts *o)
{
    table *t = NULL, *ref = NULL;
    char tmp[PATH_MAX] = "", why[1024] = "";
    table_info info;
    table_verify_stats st;
    pitr_stats ps;
    itemsv_ctx v = {ARG(o, O_TABLE), 0};
    int rc, ret, rebuild_failed = 0;
    if ((ret = need(o, O_TABLE))) return ret;
    if ((rc = open_table(o, TABLE_RDONLY, &t)) || (rc = table_describe(t, &info))) goto out;
    if (!info.pitr_enabled) {
        snprintf(why, sizeof why, "point-in-time recovery is off for this table (no snapshot + log to "
                 "rebuild it from)");
    } else {
        pitr_opts po = PITR_OPTS_INIT;
        po.direction = PITR_FORWARD;
        po.copy_settings = 0;
        if (pitr_materialize_temp_ex(o->home, ARG(o, O_TABLE), PITR_LATEST, &po, &ref, tmp, sizeof tmp, &ps)) {
            snprintf(why, sizeof why, "the rebuild from snapshot + log failed: %s", err_msg());
            rebuild_failed = 1;
        }
    }
    if ((rc = table_verify_items(t, ref, itemsv_report, &v, &st))) goto out;
    if (ref && ps.target_seq != st.seq) {
        st.problems++;
        printf("%s: items verify: table %s: the rebuild is at seq %" PRIu64 ", the items at seq %" PRIu64
               " (the table took writes meanwhile: run it again)\n", PROG, v.table, ps.target_seq, st.seq);
    }
    if (st.problems) {
        if (st.problems > ITEMS_VERIFY_SHOW) printf("%s: items verify: table %s: ... and %" PRIu64 " more\n",
                                                   PROG, v.table, st.problems - ITEMS_VERIFY_SHOW);
        printf("%s: items verify: table %s: %" PRIu64 " problem%s found in %" PRIu64 " items at seq %" PRIu64
               " (file %s/tables/%s/items/data.mdb)\n", PROG, v.table, st.problems, st.problems == 1 ? "" : "s",
               st.items, st.seq, o->home, v.table);
        ret = CLI_FAIL;
    } else if (ref) {
        printf("%s: items verify: table %s: OK, %" PRIu64 " items at seq %" PRIu64 " match the rebuild from %s "
               "and %" PRIu64 " log records\n", PROG, v.table, st.items, st.seq,
               ps.seed == PITR_SEED_SNAPSHOT ? "the newest snapshot" : "an empty table", ps.records);
    } else {
        printf("%s: items verify: table %s: %" PRIu64 " items at seq %" PRIu64 " are readable and consistent "
               "(keys, sizes, totals); contents not compared: %s\n", PROG, v.table, st.items, st.seq, why);
        ret = rebuild_failed ? CLI_FAIL : 0;
    }
out:
    pitr_temp_drop(ref, tmp);
    close_table(o, t);
    return rc ? fail(o, rc) : ret;
}

static int run_log_list(opts *o)
{
    char dir[PATH_MAX], a[64], b[64];
    log_segment *segs = NULL;
    size_t n = 0;
    int rc, ret;
    static const char *codec[] = {"raw", "lz4", "zstd"};
    if ((ret = need(o, O_TABLE))) return ret;
    if ((rc = table_log_path(o, dir, sizeof dir)) || (rc = log_list(dir, &segs, &n))) return fail(o, rc);
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "Segments");
    for (size_t i = 0; i < n; i++) {
        const log_segment *s = &segs[i];
        iso(s->first_time, 6, a, sizeof a);
        iso(s->last_time, 6, b, sizeof b);
        const char *cd = (unsigned)s->codec <= LOG_CODEC_ZSTD ? codec[s->codec] : "?";
        if (o->json) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "Name", s->name);
            cJSON_AddNumberToObject(x, "FirstSeq", (double)s->first_seq);
            cJSON_AddNumberToObject(x, "LastSeq", (double)s->last_seq);
            cJSON_AddStringToObject(x, "FirstTime", a);
            cJSON_AddStringToObject(x, "LastTime", b);
            cJSON_AddNumberToObject(x, "Bytes", (double)s->bytes);
            cJSON_AddNumberToObject(x, "RawBytes", (double)s->raw_bytes);
            cJSON_AddBoolToObject(x, "Sealed", s->sealed);
            cJSON_AddStringToObject(x, "Codec", cd);
            cJSON_AddItemToArray(arr, x);
        } else {
            printf("%-28s seq %10" PRIu64 "..%-10" PRIu64 " %s .. %s %10" PRIu64 " bytes %-6s %s\n",
                   s->name, s->first_seq, s->last_seq, a, b, s->bytes, s->sealed ? "sealed" : "active", cd);
        }
    }
    if (o->json) print_json(j, 1);
    cJSON_Delete(j);
    free(segs);
    return 0;
}

/* ================================================================ timeline */

static int term_width(void)
{
    struct winsize ws;
    const char *c = getenv("COLUMNS");
    if (c && atoi(c) > 40) return atoi(c);
    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 40) return ws.ws_col;
    return 100;
}

static void tl_label(int64_t us, int hour, char *out, size_t n)
{
    char full[64];
    clock_format(us, 0, full, sizeof full);   /* 2025-11-12T10:15:00Z -> 2025-11-12T10:15Z */
    if (hour) snprintf(out, n, "%.13s:00Z", full);
    else snprintf(out, n, "%.16sZ", full);
}

static void put_bar(int glyph_idx, uint64_t cells)
{
    static const char *glyph[] = {"\xe2\x96\x88", "\xe2\x96\x93", "\xe2\x96\x91"};   /* █ ▓ ░ */
    for (uint64_t i = 0; i < cells; i++) fputs(glyph[glyph_idx], stdout);
}

/* Feeds the log's records with times in [tl->from_us, tl->to_us] to the timeline. */
static int tl_read(const char *dir, uint64_t first_seq, pitr_timeline *tl)
{
    uint64_t from_seq = 0, to_seq = 0;
    log_reader *rd = NULL;
    log_record rec;
    int rc;
    if ((rc = log_seq_at_time(dir, tl->from_us - 1, &from_seq)) || (rc = log_seq_at_time(dir, tl->to_us, &to_seq)))
        return rc;
    from_seq++;
    if (from_seq < first_seq) from_seq = first_seq;
    if (to_seq < from_seq) return 0;
    if ((rc = log_reader_open(dir, from_seq, to_seq, LOG_FORWARD, &rd))) return rc;
    while ((rc = log_reader_next(rd, &rec)) > 0) pitr_timeline_add(tl, rec.time_us, rec.op);
    log_reader_close(rd);
    return rc < 0 ? rc : 0;
}

static cJSON *tl_burst_json(const pitr_tl_burst *x)
{
    char ts[64];
    cJSON *j = cJSON_CreateObject();
    iso(x->first_us, 6, ts, sizeof ts);
    cJSON_AddStringToObject(j, "FirstWrite", ts);
    iso(x->last_us, 6, ts, sizeof ts);
    cJSON_AddStringToObject(j, "LastWrite", ts);
    cJSON_AddNumberToObject(j, "Writes", (double)x->writes);
    cJSON_AddNumberToObject(j, "Puts", (double)x->puts);
    cJSON_AddNumberToObject(j, "Updates", (double)x->updates);
    cJSON_AddNumberToObject(j, "Deletes", (double)x->deletes);
    /* The state just before the burst: exact, and as a whole second when one exists that no
     * earlier write follows (restore --to <that second> then keeps every good write). */
    iso(x->last_good_us, 6, ts, sizeof ts);
    cJSON_AddStringToObject(j, "LastGoodTime", ts);
    if (x->has_good_second) {
        iso(x->last_good_second_us, 0, ts, sizeof ts);
        cJSON_AddStringToObject(j, "LastGoodSecond", ts);
    } else {
        cJSON_AddNullToObject(j, "LastGoodSecond");
    }
    return j;
}

static void tl_print_json(const char *name, const pitr_timeline *tl)
{
    char ts[64];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "TableName", name);
    cJSON_AddStringToObject(j, "By", tl->by == PITR_TL_HOUR ? "hour" : "minute");
    iso(tl->from_us, 6, ts, sizeof ts);
    cJSON_AddStringToObject(j, "From", ts);
    iso(tl->to_us, 6, ts, sizeof ts);
    cJSON_AddStringToObject(j, "To", ts);
    cJSON_AddNumberToObject(j, "Writes", (double)tl->writes);
    cJSON_AddNumberToObject(j, "Puts", (double)tl->puts);
    cJSON_AddNumberToObject(j, "Updates", (double)tl->updates);
    cJSON_AddNumberToObject(j, "Deletes", (double)tl->deletes);
    cJSON_AddNumberToObject(j, "UsualWritesPerInterval", (double)tl->usual);
    cJSON *arr = cJSON_AddArrayToObject(j, "Intervals");
    for (size_t i = 0; i < tl->niv; i++) {
        const pitr_tl_interval *b = &tl->iv[i];
        cJSON *x = cJSON_CreateObject();
        iso(b->start_us, 0, ts, sizeof ts);
        cJSON_AddStringToObject(x, "Start", ts);
        cJSON_AddNumberToObject(x, "Writes", (double)pitr_tl_writes(b));
        cJSON_AddNumberToObject(x, "Puts", (double)b->puts);
        cJSON_AddNumberToObject(x, "Updates", (double)b->updates);
        cJSON_AddNumberToObject(x, "Deletes", (double)b->deletes);
        if (b->first_us) {
            iso(b->first_us, 6, ts, sizeof ts);
            cJSON_AddStringToObject(x, "FirstWrite", ts);
            iso(b->last_us, 6, ts, sizeof ts);
            cJSON_AddStringToObject(x, "LastWrite", ts);
        }
        cJSON_AddBoolToObject(x, "Burst", b->burst);
        cJSON_AddItemToArray(arr, x);
    }
    cJSON *bursts = cJSON_AddArrayToObject(j, "Bursts");
    for (size_t i = 0; i < tl->nbursts; i++) cJSON_AddItemToArray(bursts, tl_burst_json(&tl->bursts[i]));
    print_json(j, 0);
    cJSON_Delete(j);
}

/* One chart row: the interval's bar, split by kind, its count and the burst mark. */
static void tl_print_row(const pitr_timeline *tl, const pitr_tl_interval *b, int barw, int tty)
{
    const char *red = tty ? "\033[1;31m" : "", *dim = tty ? "\033[2m" : "", *off = tty ? "\033[0m" : "";
    uint64_t w = pitr_tl_writes(b), max = tl->max_writes;
    char lbl[32];
    tl_label(b->start_us, tl->by == PITR_TL_HOUR, lbl, sizeof lbl);
    uint64_t cells = max ? (w * (uint64_t)barw + max - 1) / max : 0;
    /* cells per kind, rounded, so that a 1-cell row shows its main kind */
    uint64_t cp = w ? (2 * cells * b->puts + w) / (2 * w) : 0;
    uint64_t cu = w ? (2 * cells * b->updates + w) / (2 * w) : 0;
    if (cp > cells) cp = cells;
    if (cu > cells - cp) cu = cells - cp;
    uint64_t cd = cells - cp - cu;
    printf("%-17s %s", lbl, b->burst ? red : "");
    put_bar(0, cp);
    put_bar(1, cu);
    put_bar(2, cd);
    printf("%s%*s %8" PRIu64, b->burst ? off : "", (int)(barw - (int)cells), "", w);
    if (w) printf("  %s(+%" PRIu64 " ~%" PRIu64 " -%" PRIu64 ")%s", dim, b->puts, b->updates, b->deletes, off);
    if (b->burst)
        printf("  %s\xe2\x97\x80 BURST x%.0f%s", red, tl->usual ? (double)w / (double)tl->usual : 0.0, off);
    putchar('\n');
}

static void tl_print_chart(const char *name, const pitr_timeline *tl)
{
    int tty = isatty(1), hour = tl->by == PITR_TL_HOUR;
    const char *red = tty ? "\033[1;31m" : "", *dim = tty ? "\033[2m" : "", *off = tty ? "\033[0m" : "";
    int barw = term_width() - 18 - 12 - 34;
    if (barw < 20) barw = 20;
    if (barw > 60) barw = 60;
    char a[64], b2[64];
    iso(tl->from_us, 0, a, sizeof a);
    iso(tl->to_us, 0, b2, sizeof b2);
    printf("writes per %s, table %s, %s .. %s (UTC)\n", hour ? "hour" : "minute", name, a, b2);
    printf("%s\xe2\x96\x88 puts (new items)  \xe2\x96\x93 updates (existing items replaced or edited)  "
           "\xe2\x96\x91 deletes%s\n\n", dim, off);
    for (size_t i = 0; i < tl->niv; i++) {
        if (!pitr_tl_writes(&tl->iv[i])) {
            size_t k = i;
            while (k < tl->niv && !pitr_tl_writes(&tl->iv[k])) k++;
            if (k - i >= 3) {   /* quiet runs are folded */
                printf("%s%17s   \xc2\xb7 %zu quiet %s%s\n", dim, "", k - i, hour ? "hours" : "minutes", off);
                i = k - 1;
                continue;
            }
        }
        tl_print_row(tl, &tl->iv[i], barw, tty);
    }
    printf("\n%" PRIu64 " writes (%" PRIu64 " puts, %" PRIu64 " updates, %" PRIu64 " deletes); usual rate "
           "%" PRIu64 " per %s\n", tl->writes, tl->puts, tl->updates, tl->deletes, tl->usual, hour ? "hour" : "minute");
    for (size_t i = 0; i < tl->nbursts; i++) {
        const pitr_tl_burst *x = &tl->bursts[i];
        char f[64], l[64], g[64];
        iso(x->first_us, 6, f, sizeof f);
        iso(x->last_us, 6, l, sizeof l);
        if (x->has_good_second) iso(x->last_good_second_us, 0, g, sizeof g);
        else iso(x->last_good_us, 6, g, sizeof g);
        printf("%sburst%s: %s .. %s, %" PRIu64 " writes; state before it: %s\n", red, off, f, l, x->writes, g);
    }
}

/* Reads the log, lets pitr_timeline count and find the bursts, prints. */
static int run_timeline(opts *o)
{
    char dir[PATH_MAX];
    log_segment *segs = NULL;
    size_t nseg = 0;
    pitr_timeline *tl = NULL;
    int64_t from = 0, to = 0;
    pitr_tl_by by = PITR_TL_AUTO;
    int rc, ret;
    if ((ret = need(o, O_TABLE))) return ret;
    if (ARG(o, O_BY)) {
        if (!strcmp(ARG(o, O_BY), "hour")) by = PITR_TL_HOUR;
        else if (!strcmp(ARG(o, O_BY), "minute")) by = PITR_TL_MINUTE;
        else return usage(o, "--by must be minute or hour, not '%s'", ARG(o, O_BY));
    }
    if (ARG(o, O_FROM) && clock_parse(ARG(o, O_FROM), &from)) return usage(o, "--from: %s", err_msg());
    if (ARG(o, O_TO) && clock_parse(ARG(o, O_TO), &to)) return usage(o, "--to: %s", err_msg());
    if ((rc = table_log_path(o, dir, sizeof dir)) || (rc = log_list(dir, &segs, &nseg))) goto out;
    if (!nseg) {
        if (o->json) printf("{\"TableName\":\"%s\",\"Intervals\":[],\"Bursts\":[]}\n", ARG(o, O_TABLE));
        else printf("table %s: no writes in the change log\n", ARG(o, O_TABLE));
        goto out;
    }
    if (!ARG(o, O_FROM)) from = segs[0].first_time;
    if (!ARG(o, O_TO)) to = segs[nseg - 1].last_time;
    if ((rc = pitr_timeline_new(from, to, by, &tl)) == TM_EINVAL) {
        free(segs);
        return usage(o, "%s", err_msg());
    }
    if (rc || (rc = tl_read(dir, segs[0].first_seq, tl)) || (rc = pitr_timeline_finish(tl))) goto out;
    if (o->json) tl_print_json(ARG(o, O_TABLE), tl);
    else tl_print_chart(ARG(o, O_TABLE), tl);
out:
    pitr_timeline_free(tl);
    free(segs);
    return rc ? fail(o, rc) : 0;
}

/* ================================================================ main */

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    int c, help = 0;
    memset(&o, 0, sizeof o);
    o.batch = 1000;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", long_opts, NULL)) != -1) {
        /* "+": stop at the command; its own options are parsed below with the same table. */
        if (c == O_HELP || c == 'h') help = 1;
        else if (c == O_VERSION) { printf("tidemark %s\n", TIDEMARK_VERSION); return 0; }
        else if (c == O_DATA) ARG(&o, O_DATA) = optarg;
        else if (c == O_JSON) o.json = 1;
        else if (c == '?') return cli_usage(PROG, "unknown option '%s'", argv[optind - 1]);
        else if (c == ':') return cli_usage(PROG, "option '%s' needs a value", argv[optind - 1]);
        else return cli_usage(PROG, "option '%s' goes after the command", argv[optind - 1]);
    }
    if (optind >= argc) {
        if (help) { print_help(); return 0; }
        return cli_usage(PROG, "%s", "no command given");
    }
    /* The command: one word, or two for pitr and log. */
    const command *cmd = NULL;
    int words = 1;
    for (size_t i = 0; i < NCOMMANDS && !cmd; i++) {
        const char *sp = strchr(commands[i].name, ' ');
        if (!sp && !strcmp(commands[i].name, argv[optind])) cmd = &commands[i];
        if (sp && (size_t)(sp - commands[i].name) == strlen(argv[optind]) &&
            !strncmp(commands[i].name, argv[optind], (size_t)(sp - commands[i].name))) {
            if (optind + 1 < argc && !strcmp(sp + 1, argv[optind + 1])) { cmd = &commands[i]; words = 2; }
        }
    }
    if (!cmd) {
        if (!strcmp(argv[optind], "pitr") || !strcmp(argv[optind], "log") || !strcmp(argv[optind], "items")) {
            int want_help = help;
            for (int i = optind + 1; i < argc; i++)
                if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) want_help = 1;
            if (want_help) {
                for (size_t i = 0; i < NCOMMANDS; i++)
                    if (!strncmp(commands[i].name, argv[optind], strlen(argv[optind])) &&
                        commands[i].name[strlen(argv[optind])] == ' ') {
                        print_command_help(&commands[i]);
                        putchar('\n');
                    }
                return 0;
            }
            return cli_usage(PROG, !strcmp(argv[optind], "pitr")
                                       ? "pitr needs one of: enable, disable, status (got '%s')"
                                   : !strcmp(argv[optind], "items") ? "items needs: verify (got '%s')"
                                       : "log needs one of: verify, list (got '%s')",
                             optind + 1 < argc ? argv[optind + 1] : "");
        }
        return cli_usage(PROG, "unknown command '%s'", argv[optind]);
    }
    o.cmd = cmd->name;
    /* The command's options (globals too: aws-style, --json may follow the command). */
    int sub_argc = argc - optind - words + 1;
    char **sub_argv = argv + optind + words - 1;
    optind = 0;   /* glibc: 0 re-initialises the parser (the first pass used "+") */
    while ((c = getopt_long(sub_argc, sub_argv, ":h", long_opts, NULL)) != -1) {
        if (c == '?') return usage(&o, "unknown option '%s'", sub_argv[optind - 1]);
        if (c == ':') return usage(&o, "option '%s' needs a value", sub_argv[optind - 1]);
        if (c == 'h' || c == O_HELP) { help = 1; continue; }
        if (c == O_VERSION) { printf("tidemark %s\n", TIDEMARK_VERSION); return 0; }
        if (c == O_JSON) { o.json = 1; continue; }
        if (c == O_DATA) { ARG(&o, O_DATA) = optarg; continue; }
        int ok = 0;
        for (const int *a = cmd->allowed; *a != O_END; a++) ok |= *a == c;
        if (!ok) {
            char n[64];
            snprintf(n, sizeof n, "--%s", opt_name(c));
            return usage(&o, "option %s does not apply to this command", n);
        }
        if (GIVEN(&o, c) && c != O_FORWARD && c != O_BACKWARD) {
            char n[64];
            snprintf(n, sizeof n, "--%s", opt_name(c));
            return usage(&o, "option %s given twice", n);
        }
        GIVEN(&o, c) = 1;
        ARG(&o, c) = optarg ? optarg : "";
        uint64_t v;
        switch (c) {
        case O_FORWARD: o.backward = 0; break;
        case O_BACKWARD: o.backward = 1; break;
        case O_LIMIT:
            if (parse_u64(optarg, UINT32_MAX, &v) || v == 0)
                return usage(&o, "--limit must be a positive integer, not '%s'", optarg);
            o.limit = v;
            break;
        case O_SEGMENT:
            if (parse_u64(optarg, 999999, &v)) return usage(&o, "--segment must be 0..999999, not '%s'", optarg);
            o.segment = (uint32_t)v;
            break;
        case O_TOTAL:
            if (parse_u64(optarg, 1000000, &v) || v == 0)
                return usage(&o, "--total-segments must be 1..1000000, not '%s'", optarg);
            o.total = (uint32_t)v;
            break;
        case O_BATCH:
            if (parse_u64(optarg, 1000000, &v) || v == 0)
                return usage(&o, "--batch-size must be 1..1000000, not '%s'", optarg);
            o.batch = v;
            break;
        case O_PERIOD:
            if (parse_u64(optarg, INT_MAX, &v)) v = 0;
            o.period = (int)v;
            if (v < 1 || v > TABLE_PITR_MAX_DAYS)
                return usage(&o, "--recovery-period-in-days must be between 1 and 35, not '%s'", optarg);
            break;
        default: break;
        }
    }
    if (help) {
        print_command_help(cmd);
        return 0;
    }
    if (optind < sub_argc) return usage(&o, "unexpected argument '%s'", sub_argv[optind]);
    if (GIVEN(&o, O_SEGMENT) && GIVEN(&o, O_TOTAL) && o.segment >= o.total)
        return usage(&o, "--segment must be less than --total-segments (got %s)", ARG(&o, O_SEGMENT));
    o.home = cli_home(ARG(&o, O_DATA));
    int ret = cmd->run(&o);
    if (fflush(stdout) && !ret) {
        fprintf(stderr, "%s: %s: writing the output: %s\n", PROG, o.cmd, strerror(errno));
        ret = CLI_FAIL;
    }
    return ret;
}
