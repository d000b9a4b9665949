/* tidemark.c: the tidemark program: tables, items, query and scan, bulk load, PITR settings,
 * snapshots, log verification and the write timeline. A thin front end: argv -> request ->
 * operation (include/tidemark.h) -> print (text, or with --json what the aws CLI prints for the
 * same response) -> the exit status from the error table. `tidemark call` runs any operation on
 * a wire request and prints the wire response. */
#include "cli/cli.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/key.h"
#include "engine/log.h"
#include "engine/fsx.h"
#include "engine/table.h"
#include "include/tidemark.h"
#include "serve/serve.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
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
    O_PRINT_ACKS, O_CONSISTENT, O_SNAP_EVERY, O_SNAP_WRITES, O_REQUEST, O_QUIET, O_LISTEN, O_NO_AUTH, O_CREDENTIALS, O_SVG, O_DELETED, O_END
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
    {"svg", required_argument, NULL, O_SVG},
    {"print-acks", no_argument, NULL, O_PRINT_ACKS},
    {"consistent-read", no_argument, NULL, O_CONSISTENT},
    {"snapshot-every", required_argument, NULL, O_SNAP_EVERY},
    {"snapshot-every-writes", required_argument, NULL, O_SNAP_WRITES},
    {"request", required_argument, NULL, O_REQUEST},
    {"quiet", no_argument, NULL, O_QUIET},
    {"listen", required_argument, NULL, O_LISTEN},
    {"no-auth", no_argument, NULL, O_NO_AUTH},
    {"credentials", required_argument, NULL, O_CREDENTIALS},
    {"deleted", no_argument, NULL, O_DELETED},
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
    const char *operation;               /* call: the operation's name */
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
    run_log_verify(opts *o), run_log_list(opts *o), run_timeline(opts *o), run_items_verify(opts *o),
    run_call(opts *o), run_serve(opts *o);

static const int a_create[] = {O_TABLE, O_KEY, O_SORT_KEY, O_DURABILITY, O_SNAP_EVERY, O_SNAP_WRITES, O_END};
static const int a_snapshot[] = {O_TABLE, O_SNAP_EVERY, O_SNAP_WRITES, O_END};
static const int a_table[] = {O_TABLE, O_END};
static const int a_list[] = {O_DELETED, O_END};
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
static const int a_timeline[] = {O_TABLE, O_FROM, O_TO, O_BY, O_SVG, O_END};
static const int a_call[] = {O_REQUEST, O_END};
static const int a_serve[] = {O_LISTEN, O_NO_AUTH, O_CREDENTIALS, O_END};

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
    {"list-tables", run_list, a_list, "[--deleted]",
     "Prints {\"TableNames\":[...]}, sorted. With --deleted: the deleted tables whose history\n"
     "is kept (PITR was on), with what can be restored and until when (DeletedTables).\n"
     "Examples:\n  tidemark --data /srv/tm list-tables\n  tidemark list-tables --deleted\n"},
    {"delete-table", run_delete_table, a_table, "--table T",
     "Deletes the table with its items, change log and snapshots. Prints its last description.\n"
     "Example:\n  tidemark delete-table --table Orders\n"},
    {"put-item", run_put, a_put,
     "--table T --item JSON [--condition-expression C] [--expression-attribute-names JSON]\n"
     "      [--expression-attribute-values JSON] [--return-values NONE|ALL_OLD]",
     "Writes a whole item (DynamoDB JSON), replacing any item with the same key. With a condition\n"
     "the write happens only if the current item satisfies it; otherwise it prints\n"
     "ConditionalCheckFailedException and exits 3 (a conflict, not a failure).\n"
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
     "--table T [--from TIME] [--to TIME] [--by WIDTH] [--svg FILE] [--json]",
     "Writes per interval from the change log, split into puts (new items), updates (existing\n"
     "items replaced or edited) and deletes, as a bar chart in UTC. WIDTH: second, minute, hour,\n"
     "day or a count with s, m, h or d (10s, 5m); without it about 30 to 60 rows for the range.\n"
     "An interval far above the rate of the ones before it is a burst: for each, its first and\n"
     "last write to the microsecond, the state just before it (the time to restore to), what it\n"
     "touched (partition keys, key prefixes, attributes changed) and the incremental export of\n"
     "its window to undo it with. --svg FILE also draws the writes with the bursts marked.\n"
     CLI_HELP_TIME
     "Examples:\n"
     "  tidemark timeline --table Chat --from -3h\n"
     "  tidemark timeline --table Chat --from 2025-11-12T10:10:00Z --to 2025-11-12T10:20:00Z --by 10s\n"
     "  tidemark timeline --table Chat --from 2025-11-12T08:00:00Z --by hour --json --svg chat.svg\n"},
    {"serve", run_serve, a_serve, "[--listen HOST:PORT] [--no-auth] [--credentials FILE]",
     "Serves the DynamoDB API (JSON 1.0 over HTTP: POST / with X-Amz-Target) on --listen\n"
     "(default 127.0.0.1:8000): items, queries, tables, PITR, export, import and restore, for\n"
     "the aws CLI and the SDKs with --endpoint-url. Requests must be SigV4-signed with a key pair\n"
     "of AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the server's environment) or of --credentials\n"
     "FILE (lines \"ACCESS_KEY_ID SECRET\"); --no-auth accepts anything (local development).\n"
     "SIGTERM or Ctrl-C finishes the requests in flight and the running jobs, then exits.\n"
     "Examples:\n"
     "  tidemark --data /srv/tm serve --listen 0.0.0.0:8000 --credentials /etc/tidemark/keys\n"
     "  tidemark serve --no-auth & aws dynamodb list-tables --endpoint-url http://127.0.0.1:8000\n"},
    {"call", run_call, a_call, "OPERATION [--request JSON|@FILE]",
     "Runs one operation on a request in the DynamoDB JSON 1.0 wire shape and prints the wire\n"
     "response, as an HTTP endpoint would send it (times as epoch seconds), or the wire error\n"
     "{\"__type\":...,\"message\":...} with the error's exit status. OPERATION: PutItem, GetItem,\n"
     "UpdateItem, DeleteItem, Query, Scan, BatchWriteItem, BatchGetItem, CreateTable,\n"
     "DescribeTable, ListTables, DeleteTable, UpdateContinuousBackups, DescribeContinuousBackups,\n"
     "and tidemark's own (TidemarkSnapshot, TidemarkLogVerify, ...).\n"
     "Examples:\n"
     "  tidemark call DescribeTable --request '{\"TableName\":\"Orders\"}'\n"
     "  tidemark call PutItem --request @put.json\n"},
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
           "  -q, --quiet  print nothing on stderr on success (errors and warnings still)\n"
           "  --help       this help; 'tidemark COMMAND --help' for one command\n"
           "  --version    print the version\n\n"
           "Items and keys are DynamoDB JSON: '{\"Id\":{\"S\":\"1\"},\"Total\":{\"N\":\"450\"}}'.\n"
           CLI_HELP_TIME
           "Exit status: 0 success, 1 failure, 2 usage error, 3 a conflict (a failed condition).\n"
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

static int need(const opts *o, int id)
{
    return ARG(o, id) ? 0 : cli_usage(PROG, "--%s is required", opt_name(id));
}

static int fail(int rc) { return cli_fail(PROG, NULL, rc); }

/* One line of compact JSON (the timeline's --json, as it always was). */
static void print_compact(const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (s) puts(s);
    free(s);
}

/* ================================================================ requests and responses */

static void notice(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s: %s\n", PROG, line);
}

/* "tidemark: <cmd>: [<Exception>: ]<message>", and the kind's exit status; a bad parameter
 * reads as a usage error. */
static int report(const tm_error *e)
{
    int ret = cli_report(PROG, NULL, e);
    if (e->kind == TM_ERR_BAD_PARAMETER) fprintf(stderr, "Try '%s %s --help'.\n", PROG, cli_command());
    return ret;
}

/* Opens the database; a read-only command refuses a data directory that does not exist, in the
 * words every program uses. Returns the exit status (the error reported). */
static int db_open(const opts *o, int readonly, tm_db **db)
{
    tm_error e = {0, ""};
    if (readonly && !cli_home_existing(PROG, ARG(o, O_DATA))) return CLI_FAIL;
    if (tm_db_open(o->home, readonly ? TM_DB_READONLY : 0, db, &e)) return report(&e);
    tm_db_set_notice(*db, notice, NULL);
    return 0;
}

/* Runs one operation: the database opened (read-only commands refuse a missing one), fn called;
 * *resp the response, or the error reported and its exit status returned. */
static int invoke(const opts *o, int readonly, tm_op_fn fn, cJSON *req, cJSON **resp)
{
    tm_db *db = NULL;
    tm_error e = {0, ""};
    int ret = db_open(o, readonly, &db);
    *resp = NULL;
    if (!ret && fn(db, req, resp, &e)) ret = report(&e);
    tm_db_close(db);
    cJSON_Delete(req);
    return ret;
}

/* The request's TableName (and a new request). */
static cJSON *table_req(const opts *o)
{
    cJSON *r = cJSON_CreateObject();
    if (ARG(o, O_TABLE)) cJSON_AddStringToObject(r, "TableName", ARG(o, O_TABLE));
    return r;
}

/* Adds member: the option's JSON text (an item, a key, names, values) as it is, so that what
 * cJSON cannot hold (a "\u0000" inside a string) reaches the item parser, which names what is
 * wrong. */
static int add_json_arg(const opts *o, cJSON *req, const char *member, int id)
{
    if (ARG(o, id)) cJSON_AddItemToObject(req, member, cJSON_CreateRaw(ARG(o, id)));
    return 0;
}

static void add_str_arg(const opts *o, cJSON *req, const char *member, int id)
{
    if (ARG(o, id)) cJSON_AddStringToObject(req, member, ARG(o, id));
}

/* Prints a response: --json as the aws CLI does; otherwise as text (ISO-8601 UTC times). */
static void print_resp(const opts *o, const char *op, const cJSON *resp)
{
    char *s = o->json ? tm_awscli_json(op, resp) : tm_json_text(resp, TM_TIMES_UTC);
    if (s) fputs(s, stdout);
    free(s);
}

/* Item responses print compact on one line ({"Item":{...}} or {}), --json as the aws CLI. */
static void print_item_resp(const opts *o, const char *op, const cJSON *resp)
{
    if (o->json) print_resp(o, op, resp);
    else print_compact(resp);
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

/* --snapshot-every / --snapshot-every-writes into obj (EverySecondsKey, EveryWritesKey). */
static int add_snapshot_policy(const opts *o, cJSON *obj, const char *s_key, const char *w_key)
{
    int64_t every_s;
    if (ARG(o, O_SNAP_EVERY)) {
        if (parse_duration(ARG(o, O_SNAP_EVERY), &every_s))
            return cli_usage(PROG, "--snapshot-every must be a duration like 6h, 30m or 0, not '%s'", ARG(o, O_SNAP_EVERY));
        cJSON_AddNumberToObject(obj, s_key, (double)every_s);
    }
    if (ARG(o, O_SNAP_WRITES)) {
        char *end;
        unsigned long long w = strtoull(ARG(o, O_SNAP_WRITES), &end, 10);
        if (*end || end == ARG(o, O_SNAP_WRITES))
            return cli_usage(PROG, "--snapshot-every-writes must be a number, not '%s'", ARG(o, O_SNAP_WRITES));
        cJSON_AddNumberToObject(obj, w_key, (double)w);
    }
    return 0;
}

/* --key NAME:TYPE -> KeySchema and AttributeDefinitions members. */
static int add_key_spec(const opts *o, int id, const char *role, cJSON *ks, cJSON *ad, char *name)
{
    av_type t;
    if (key_parse_spec(ARG(o, id), name, &t)) return cli_usage(PROG, "--%s: %s", opt_name(id), err_msg());
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "AttributeName", name);
    cJSON_AddStringToObject(x, "KeyType", role);
    cJSON_AddItemToArray(ks, x);
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "AttributeName", name);
    cJSON_AddStringToObject(x, "AttributeType", t == AV_S ? "S" : t == AV_N ? "N" : "B");
    cJSON_AddItemToArray(ad, x);
    return 0;
}

static int run_create(opts *o)
{
    char hash[KEY_NAME_MAX + 1], range[KEY_NAME_MAX + 1];
    cJSON *resp, *req = table_req(o);
    cJSON *ks = cJSON_AddArrayToObject(req, "KeySchema"), *ad = cJSON_AddArrayToObject(req, "AttributeDefinitions");
    int ret;
    cJSON_AddStringToObject(req, "BillingMode", "PAY_PER_REQUEST");
    cJSON *set = cJSON_AddObjectToObject(req, "TidemarkSettings");
    if ((ret = need(o, O_TABLE)) || (ret = need(o, O_KEY)) || (ret = add_key_spec(o, O_KEY, "HASH", ks, ad, hash)))
        goto out;
    if (ARG(o, O_SORT_KEY)) {
        if ((ret = add_key_spec(o, O_SORT_KEY, "RANGE", ks, ad, range))) goto out;
        if (!strcmp(range, hash)) {
            ret = cli_usage(PROG, "--sort-key: '%s' is already the partition key", range);
            goto out;
        }
    }
    if (ARG(o, O_DURABILITY)) {
        if (strcmp(ARG(o, O_DURABILITY), "sync") && strcmp(ARG(o, O_DURABILITY), "none")) {
            ret = cli_usage(PROG, "--durability must be sync or none, not '%s'", ARG(o, O_DURABILITY));
            goto out;
        }
        cJSON_AddStringToObject(set, "Durability", ARG(o, O_DURABILITY));
    }
    if ((ret = add_snapshot_policy(o, set, "SnapshotEverySeconds", "SnapshotEveryWrites"))) goto out;
    if ((ret = invoke(o, 0, tm_create_table, req, &resp))) return ret;
    print_resp(o, "CreateTable", resp);
    cJSON_Delete(resp);
    return 0;
out:
    cJSON_Delete(req);
    return ret;
}

/* Commands whose request is just TableName (or nothing), printed as a response. */
static int run_simple(opts *o, int readonly, tm_op_fn fn, const char *op)
{
    cJSON *resp;
    int ret;
    if (fn != tm_list_tables && fn != tm_list_deleted_tables && (ret = need(o, O_TABLE))) return ret;
    if ((ret = invoke(o, readonly, fn, table_req(o), &resp))) return ret;
    print_resp(o, op, resp);
    cJSON_Delete(resp);
    return 0;
}

static int run_describe(opts *o) { return run_simple(o, 1, tm_describe_table, "DescribeTable"); }
static int run_list(opts *o)
{
    if (GIVEN(o, O_DELETED)) return run_simple(o, 1, tm_list_deleted_tables, "TidemarkListDeletedTables");
    return run_simple(o, 1, tm_list_tables, "ListTables");
}
static int run_delete_table(opts *o) { return run_simple(o, 0, tm_delete_table, "DeleteTable"); }

/* ================================================================ items */

/* The expression options into req. */
static int add_expr_args(const opts *o, cJSON *req)
{
    add_str_arg(o, req, "ConditionExpression", O_COND);
    add_str_arg(o, req, "UpdateExpression", O_UPDATE);
    add_str_arg(o, req, "KeyConditionExpression", O_KEYCOND);
    add_str_arg(o, req, "FilterExpression", O_FILTER);
    int ret = add_json_arg(o, req, "ExpressionAttributeNames", O_NAMES);
    if (!ret) ret = add_json_arg(o, req, "ExpressionAttributeValues", O_VALUES);
    return ret;
}

/* put-item, get-item, update-item, delete-item: member is "Item" or "Key". */
static int run_item(opts *o, int readonly, int member_id, tm_op_fn fn, const char *op)
{
    cJSON *resp, *req = table_req(o);
    int ret;
    if ((ret = need(o, O_TABLE)) || (ret = need(o, member_id)) || (fn == tm_update_item && (ret = need(o, O_UPDATE))) ||
        (ret = add_json_arg(o, req, member_id == O_ITEM ? "Item" : "Key", member_id)) || (ret = add_expr_args(o, req))) {
        cJSON_Delete(req);
        return ret;
    }
    add_str_arg(o, req, "ReturnValues", O_RETURN);
    if ((ret = invoke(o, readonly, fn, req, &resp))) return ret;
    /* writes print only what ReturnValues asked for ({} when there was no image) */
    if (fn == tm_get_item || (ARG(o, O_RETURN) && strcmp(ARG(o, O_RETURN), "NONE"))) print_item_resp(o, op, resp);
    cJSON_Delete(resp);
    return 0;
}

static int run_put(opts *o) { return run_item(o, 0, O_ITEM, tm_put_item, "PutItem"); }
static int run_get(opts *o) { return run_item(o, 1, O_KEY, tm_get_item, "GetItem"); }
static int run_update(opts *o) { return run_item(o, 0, O_KEY, tm_update_item, "UpdateItem"); }
static int run_delete_item(opts *o) { return run_item(o, 0, O_KEY, tm_delete_item, "DeleteItem"); }

/* ================================================================ query and scan */

typedef struct out_ctx {
    int json;
    uint64_t printed;
} out_ctx;

/* Writes text re-indented by ind spaces after each newline (aws CLI nesting). */
static void put_indented(const char *s, int ind)
{
    for (; *s; s++) {
        fputc(*s, stdout);
        if (*s == '\n' && s[1]) printf("%*s", ind, "");
    }
}

/* Compact JSON text (well-formed: our own writer's) indented as Python's json.dumps(indent=4)
 * does, starting at depth ind: no cJSON round trip, which would cut a string at a "\u0000". */
static void put_pretty_text(const char *s, size_t n, int ind)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
            fwrite(s + i, 1, j + 1 - i, stdout);
            i = j;
        } else if ((c == '{' || c == '[') && i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
            fputc(c, stdout);
            fputc(s[++i], stdout);
        } else if (c == '{' || c == '[') {
            ind += 4;
            printf("%c\n%*s", c, ind, "");
        } else if (c == '}' || c == ']') {
            ind -= 4;
            printf("\n%*s%c", ind, "", c);
        } else if (c == ',') {
            printf(",\n%*s", ind, "");
        } else if (c == ':') {
            fputs(": ", stdout);
        } else {
            fputc(c, stdout);
        }
    }
}

static int out_item(void *c, const char *json, size_t len)
{
    out_ctx *oc = c;
    if (oc->json) {
        fputs(oc->printed ? ",\n        " : "{\n    \"Items\": [\n        ", stdout);
        put_pretty_text(json, len, 8);
    } else {
        fputs("{\"Item\":", stdout);
        fwrite(json, 1, len, stdout);
        fputs("}\n", stdout);
    }
    oc->printed++;
    if (ferror(stdout)) return err_sys(TM_EIO, errno, "writing the output");
    return 0;
}

/* The rest of the response after the streamed Items, as the aws CLI would print it. */
static void print_read_tail(const out_ctx *oc, const cJSON *rest)
{
    fputs(oc->printed ? "\n    ]" : "{\n    \"Items\": []", stdout);
    for (const cJSON *c = rest->child; c; c = c->next) {
        char *s = tm_json_text(c, TM_TIMES_AWSCLI);
        if (!s) continue;
        s[strlen(s) - 1] = '\0';
        printf(",\n    \"%s\": ", c->string);
        put_indented(s, 4);
        free(s);
    }
    fputs("\n}\n", stdout);
}

/* Runs a query (keycond) or a scan page and prints it, item by item. */
static int run_read(opts *o, int is_query)
{
    tm_db *db = NULL;
    tm_error e = {0, ""};
    cJSON *rest = NULL, *req = table_req(o);
    out_ctx oc = {o->json, 0};
    int ret;
    if ((ret = need(o, O_TABLE)) || (is_query && (ret = need(o, O_KEYCOND))) || (ret = add_expr_args(o, req)) ||
        (ret = add_json_arg(o, req, "ExclusiveStartKey", O_ESK)))
        goto out;
    if (!is_query && GIVEN(o, O_SEGMENT) != GIVEN(o, O_TOTAL)) {
        ret = cli_usage(PROG, "--segment and --total-segments go together");
        goto out;
    }
    if (o->backward) cJSON_AddFalseToObject(req, "ScanIndexForward");
    if (o->limit) cJSON_AddNumberToObject(req, "Limit", (double)o->limit);
    if (GIVEN(o, O_SEGMENT)) {
        cJSON_AddNumberToObject(req, "Segment", o->segment);
        cJSON_AddNumberToObject(req, "TotalSegments", o->total);
    }
    if ((ret = db_open(o, 1, &db))) goto out;
    if ((is_query ? tm_query_each : tm_scan_each)(db, req, out_item, &oc, &rest, &e)) {
        if (o->json && oc.printed) fputs("\n    ]\n}\n", stdout);
        ret = report(&e);
        goto out;
    }
    const cJSON *last = cJSON_GetObjectItem(rest, "LastEvaluatedKey");
    if (o->json) {
        print_read_tail(&oc, rest);
    } else if (last) {
        char *s = cJSON_PrintUnformatted(last);
        cli_note(PROG, "page limit reached; next page: --exclusive-start-key '%s'", s ? s : "");
        free(s);
    }
    if (fflush(stdout)) ret = fail(err_sys(TM_EIO, errno, "writing the output"));
out:
    cJSON_Delete(rest);
    cJSON_Delete(req);
    tm_db_close(db);
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
static int lines_next(void *ctx, const char **p, size_t *n)
{
    lines *L = ctx;
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

typedef struct batch_ctx {
    lines L;
    progress *pr;
    int print_acks;
} batch_ctx;

static int batch_next(void *ctx, const char **p, size_t *n) { return lines_next(&((batch_ctx *)ctx)->L, p, n); }

static void batch_ack(void *ctx, const tm_load_stats *st)
{
    batch_ctx *bc = ctx;
    progress_add(bc->pr, st->batch_items, st->bytes);
    if (bc->print_acks) {
        printf("ack batch=%" PRIu64 " items=%" PRIu64 " line=%" PRIu64 "\n", st->batches, st->items, st->acked_line);
        fflush(stdout);
    }
}

static int run_batch(opts *o)
{
    tm_db *db = NULL;
    tm_error e = {0, ""};
    tm_load_stats st;
    batch_ctx bc = {{0}, NULL, GIVEN(o, O_PRINT_ACKS)};
    tm_batch_load_opts lo = {ARG(o, O_TABLE), NULL, o->batch, batch_next, batch_ack, &bc};
    const char *file = ARG(o, O_FILE);
    int ret;
    if ((ret = need(o, O_TABLE)) || (ret = need(o, O_FILE))) return ret;
    lo.source = strcmp(file, "-") ? file : "stdin";
    bc.L.line = (buf)BUF_INIT_MAX(LINE_MAX_BYTES);
    if (!(bc.L.blk = malloc(BLOCK))) return fail(err_set(TM_ENOMEM, "out of memory"));
    if (!strcmp(file, "-")) bc.L.f = stdin;
    else if (!(bc.L.f = fopen(file, "rb"))) {
        ret = fail(err_sys(TM_EIO, errno, "%s", file));
        goto out;
    }
    if ((ret = db_open(o, 0, &db))) goto out;
    bc.pr = cli_progress_new(PROG, "batch-write", 0);
    struct stat fst;   /* a file's size gives a percentage and an ETA; a pipe's does not */
    if (bc.L.f != stdin && !fstat(fileno(bc.L.f), &fst) && S_ISREG(fst.st_mode))
        progress_set_total_bytes(bc.pr, (uint64_t)fst.st_size);
    if (tm_batch_load(db, &lo, &st, &e)) {
        /* what is loaded is failure information: shown under --quiet too */
        progress_free(bc.pr);
        bc.pr = NULL;
        fprintf(stderr, "%s: batch-write stopped: %" PRIu64 " items in %" PRIu64 " batches are loaded and durable "
                "(input lines 1..%" PRIu64 " of %s); nothing after that was written\n", PROG, st.items,
                st.batches, st.acked_line, lo.source);
        ret = report(&e);
        goto out;
    }
    double el = progress_elapsed(bc.pr);
    cli_progress_done(bc.pr, "loaded %" PRIu64 " items in %" PRIu64 " batch%s from %s in %.1f s (%.0f items/s)",
                  st.items, st.batches, st.batches == 1 ? "" : "es", lo.source, el, el > 0 ? (double)st.items / el : 0.0);
    bc.pr = NULL;
out:
    progress_free(bc.pr);
    tm_db_close(db);
    if (bc.L.f && bc.L.f != stdin) fclose(bc.L.f);
    free(bc.L.blk);
    buf_free(&bc.L.line);
    return ret;
}

/* ================================================================ PITR, snapshot, log */

static int run_pitr_set(opts *o, int enable)
{
    cJSON *resp, *req = table_req(o), *spec;
    int ret;
    if ((ret = need(o, O_TABLE))) {
        cJSON_Delete(req);
        return ret;
    }
    spec = cJSON_AddObjectToObject(req, "PointInTimeRecoverySpecification");
    cJSON_AddBoolToObject(spec, "PointInTimeRecoveryEnabled", enable);
    if (GIVEN(o, O_PERIOD)) cJSON_AddNumberToObject(spec, "RecoveryPeriodInDays", o->period);
    if ((ret = invoke(o, 0, tm_update_continuous_backups, req, &resp))) return ret;
    print_resp(o, "UpdateContinuousBackups", resp);
    cJSON_Delete(resp);
    return 0;
}

static int run_pitr_enable(opts *o) { return run_pitr_set(o, 1); }
static int run_pitr_disable(opts *o) { return run_pitr_set(o, 0); }
static int run_pitr_status(opts *o) { return run_simple(o, 1, tm_describe_continuous_backups, "DescribeContinuousBackups"); }

static int run_snapshot(opts *o)
{
    cJSON *resp, *req = table_req(o);
    int ret;
    if ((ret = need(o, O_TABLE))) goto out;
    if (ARG(o, O_SNAP_EVERY) || ARG(o, O_SNAP_WRITES)) {
        cJSON *pol = cJSON_AddObjectToObject(req, "SnapshotPolicy");
        if ((ret = add_snapshot_policy(o, pol, "EverySeconds", "EveryWrites"))) goto out;
    }
    int policy = cJSON_GetObjectItem(req, "SnapshotPolicy") != NULL;
    if ((ret = invoke(o, 0, tm_snapshot, req, &resp))) return ret;
    if (policy) print_item_resp(o, "TidemarkSnapshot", resp);   /* one line, as it always was */
    else print_resp(o, "TidemarkSnapshot", resp);
    cJSON_Delete(resp);
    return 0;
out:
    cJSON_Delete(req);
    return ret;
}

static const char *str_of(const cJSON *o, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, name));
    return s ? s : "";
}

static uint64_t num_of(const cJSON *o, const char *name)
{
    return (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, name));
}

static int run_snapshot_verify(opts *o)
{
    cJSON *resp;
    const cJSON *s;
    size_t ok = 0, unverifiable = 0, damaged = 0;
    const char *t = ARG(o, O_TABLE);
    int ret;
    if ((ret = need(o, O_TABLE)) || (ret = invoke(o, 1, tm_snapshot_verify, table_req(o), &resp))) return ret;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(resp, "Snapshots")) {
        const char *st = str_of(s, "Status");
        if (!strcmp(st, "VERIFIED")) {
            ok++;
        } else if (!strcmp(st, "UNVERIFIABLE")) {
            unverifiable++;
            printf("%s: snapshot verify: table %s: snapshot %s: no checksum (written by an older tidemark): "
                   "cannot be verified, not used by restores\n", PROG, t, str_of(s, "Name"));
        } else {
            damaged++;
            printf("%s: snapshot verify: table %s: snapshot %s: %s\n", PROG, t, str_of(s, "Name"), str_of(s, "Problem"));
        }
    }
    cJSON_Delete(resp);
    if (damaged) {
        printf("%s: snapshot verify: table %s: %zu damaged snapshot%s (%zu verified)\n", PROG, t, damaged,
               damaged == 1 ? "" : "s", ok);
        return tm_err_exit(TM_ERR_DATA_CORRUPTED);
    }
    printf("%s: snapshot verify: table %s: OK, %zu snapshot%s verified", PROG, t, ok, ok == 1 ? "" : "s");
    if (unverifiable) printf(", %zu without a checksum", unverifiable);
    printf("\n");
    return 0;
}

static int run_log_verify(opts *o)
{
    cJSON *resp;
    const cJSON *p, *probs;
    const char *t = ARG(o, O_TABLE);
    int ret;
    if ((ret = need(o, O_TABLE)) || (ret = invoke(o, 1, tm_log_verify, table_req(o), &resp))) return ret;
    probs = cJSON_GetObjectItem(resp, "Problems");
    cJSON_ArrayForEach(p, probs)
        printf("%s: log verify: table %s: segment %s offset %" PRIu64 ": %s\n", PROG, t, str_of(p, "Segment"),
               num_of(p, "Offset"), str_of(p, "Problem"));
    int n = cJSON_GetArraySize(probs);
    uint64_t records = num_of(resp, "Records"), nseg = num_of(resp, "Segments");
    if (n) {
        printf("%s: log verify: table %s: %d problem%s found (%" PRIu64 " valid records)\n", PROG, t, n,
               n == 1 ? "" : "s", records);
        ret = tm_err_exit(TM_ERR_DATA_CORRUPTED);
    } else {
        printf("%s: log verify: table %s: OK, %" PRIu64 " records in %" PRIu64 " segment%s, through seq %" PRIu64
               " (the items' seq %" PRIu64 ")\n", PROG, t, records, nseg, nseg == 1 ? "" : "s",
               num_of(resp, "LastSeq"), num_of(resp, "ItemsSeq"));
    }
    cJSON_Delete(resp);
    return ret;
}

static int run_items_verify(opts *o)
{
    cJSON *resp;
    const cJSON *p;
    const char *t = ARG(o, O_TABLE);
    int ret;
    if ((ret = need(o, O_TABLE)) || (ret = invoke(o, 1, tm_items_verify, table_req(o), &resp))) return ret;
    uint64_t problems = num_of(resp, "ProblemCount"), items = num_of(resp, "Items"), seq = num_of(resp, "Seq");
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(resp, "Problems")) {
        if (cJSON_GetObjectItem(p, "Key")) printf("%s: items verify: table %s: %s: %s\n", PROG, t, str_of(p, "Key"), str_of(p, "Problem"));
        else printf("%s: items verify: table %s: %s\n", PROG, t, str_of(p, "Problem"));
    }
    if (problems) {
        int shown = cJSON_GetArraySize(cJSON_GetObjectItem(resp, "Problems"));
        if (problems > (uint64_t)shown)
            printf("%s: items verify: table %s: ... and %" PRIu64 " more\n", PROG, t, problems - (uint64_t)shown);
        printf("%s: items verify: table %s: %" PRIu64 " problem%s found in %" PRIu64 " items at seq %" PRIu64
               " (file %s)\n", PROG, t, problems, problems == 1 ? "" : "s", items, seq, str_of(resp, "File"));
        ret = tm_err_exit(TM_ERR_DATA_CORRUPTED);
    } else if (cJSON_IsTrue(cJSON_GetObjectItem(resp, "Compared"))) {
        printf("%s: items verify: table %s: OK, %" PRIu64 " items at seq %" PRIu64 " match the rebuild from %s "
               "and %" PRIu64 " log records\n", PROG, t, items, seq,
               !strcmp(str_of(resp, "RebuildSeed"), "SNAPSHOT") ? "the newest snapshot" : "an empty table",
               num_of(resp, "RebuildRecords"));
    } else {
        printf("%s: items verify: table %s: %" PRIu64 " items at seq %" PRIu64 " are readable and consistent "
               "(keys, sizes, totals); contents not compared: %s\n", PROG, t, items, seq, str_of(resp, "NotCompared"));
        if (cJSON_IsTrue(cJSON_GetObjectItem(resp, "RebuildFailed"))) ret = tm_err_exit(TM_ERR_DATA_CORRUPTED);
    }
    cJSON_Delete(resp);
    return ret;
}

static int run_log_list(opts *o)
{
    cJSON *resp;
    const cJSON *s;
    int ret;
    if ((ret = need(o, O_TABLE)) || (ret = invoke(o, 1, tm_log_list, table_req(o), &resp))) return ret;
    if (o->json) print_resp(o, "TidemarkLogList", resp);
    else
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(resp, "Segments"))
            printf("%-28s seq %10" PRIu64 "..%-10" PRIu64 " %s .. %s %10" PRIu64 " bytes %-6s %s\n", str_of(s, "Name"),
                   num_of(s, "FirstSeq"), num_of(s, "LastSeq"), str_of(s, "FirstTime"), str_of(s, "LastTime"),
                   num_of(s, "Bytes"), cJSON_IsTrue(cJSON_GetObjectItem(s, "Sealed")) ? "sealed" : "active",
                   str_of(s, "Codec"));
    cJSON_Delete(resp);
    return 0;
}

/* ================================================================ call */

/* tidemark call <Operation> [--request JSON|@FILE]: the raw wire response, or the wire error
 * {"__type","message"} on stdout with the kind's exit status. */
static int run_call(opts *o)
{
    tm_db *db = NULL;
    tm_error e = {0, ""};
    cJSON *req = NULL, *resp = NULL;
    const char *text = ARG(o, O_REQUEST);
    buf b = BUF_INIT;
    int k;
    if (!o->operation) return cli_usage(PROG, "the operation is required, e.g. tidemark call DescribeTable "
                                    "--request '{\"TableName\":\"T\"}'");
    if (text && text[0] == '@') {
        if (fsx_read_file(text + 1, (size_t)64 << 20, &b)) return fail(TM_EIO);
        text = b.data ? b.data : "";
    }
    if (text && !(req = cJSON_Parse(text))) k = tm_error_set(&e, TM_ERR_SERIALIZATION, "the request is not valid JSON");
    else if (!(k = tm_db_open(o->home, 0, &db, &e))) {
        tm_db_set_notice(db, notice, NULL);
        k = tm_call(db, o->operation, req, &resp, &e);
    }
    buf_free(&b);
    cJSON_Delete(req);
    tm_db_close(db);
    cJSON *out = k ? tm_error_json(&e) : resp;
    char *s = cJSON_PrintUnformatted(out);
    if (s) puts(s);
    free(s);
    cJSON_Delete(out);
    if (k) cJSON_Delete(resp);
    return k ? tm_err_exit(k) : 0;
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

static void put_bar(int glyph_idx, uint64_t cells)
{
    static const char *glyph[] = {"\xe2\x96\x88", "\xe2\x96\x93", "\xe2\x96\x91"};   /* █ ▓ ░ */
    for (uint64_t i = 0; i < cells; i++) fputs(glyph[glyph_idx], stdout);
}

/* The chart's look: colours on a terminal, bar width from its width, labels to the second
 * when the width is not whole minutes. */
typedef struct chart {
    int seconds, lblw, barw;
    uint64_t max, usual;
    const char *red, *dim, *off;
    char unit[32], units[48];    /* "minute", "minutes"; "10s", "intervals of 10s" */
} chart;

/* One chart row: the interval's bar, split by kind, its count and the burst mark. The label
 * is the interval's start (2025-11-12T10:15:00Z) cut to its minute, or to its second. */
static void tl_print_row(const chart *ch, const cJSON *b)
{
    uint64_t w = num_of(b, "Writes"), puts = num_of(b, "Puts"), upd = num_of(b, "Updates");
    int burst = cJSON_IsTrue(cJSON_GetObjectItem(b, "Burst"));
    char lbl[32];
    if (ch->seconds) snprintf(lbl, sizeof lbl, "%.19sZ", str_of(b, "Start"));
    else snprintf(lbl, sizeof lbl, "%.16sZ", str_of(b, "Start"));
    uint64_t cells = ch->max ? (w * (uint64_t)ch->barw + ch->max - 1) / ch->max : 0;
    /* cells per kind, rounded, so that a 1-cell row shows its main kind */
    uint64_t cp = w ? (2 * cells * puts + w) / (2 * w) : 0;
    uint64_t cu = w ? (2 * cells * upd + w) / (2 * w) : 0;
    if (cp > cells) cp = cells;
    if (cu > cells - cp) cu = cells - cp;
    printf("%-*s %s", ch->lblw, lbl, burst ? ch->red : "");
    put_bar(0, cp);
    put_bar(1, cu);
    put_bar(2, cells - cp - cu);
    printf("%s%*s %8" PRIu64, burst ? ch->off : "", (int)(ch->barw - (int)cells), "", w);
    if (w) printf("  %s(+%" PRIu64 " ~%" PRIu64 " -%" PRIu64 ")%s", ch->dim, puts, upd, num_of(b, "Deletes"), ch->off);
    uint64_t before = num_of(b, "UsualWritesBefore");   /* the rate it was judged against */
    if (burst && before) printf("  %s\xe2\x97\x80 BURST x%.0f%s", ch->red, (double)w / (double)before, ch->off);
    else if (burst) printf("  %s\xe2\x97\x80 BURST (quiet before)%s", ch->red, ch->off);
    putchar('\n');
}

/* "2025-11-12T08:00:30.000000Z" -> "2025-11-12T08:00:30Z" (the chart's header). */
static void whole_second(const char *ts, char *out, size_t n)
{
    const char *dot = strchr(ts, '.');
    if (dot) snprintf(out, n, "%.*sZ", (int)(dot - ts), ts);
    else snprintf(out, n, "%s", ts);
}

/* "Name 12, Other 3" from a Touched list ({"Prefix"|"Name", "Writes"}), at most n of them. */
static void tl_tops(const cJSON *arr, const char *key, int n, char *out, size_t cap)
{
    const cJSON *x;
    size_t len = 0;
    out[0] = 0;
    cJSON_ArrayForEach(x, arr) {
        if (n-- <= 0 || len >= cap) break;
        len += (size_t)snprintf(out + len, cap - len, "%s%s %" PRIu64, len ? ", " : "", str_of(x, key), num_of(x, "Writes"));
    }
}

/* Per burst: its times and the state before it, what it touched, the export that undoes it. */
static void tl_print_burst(const chart *ch, const char *name, const cJSON *b)
{
    const char *g = cJSON_IsString(cJSON_GetObjectItem(b, "LastGoodSecond")) ? str_of(b, "LastGoodSecond")
                                                                              : str_of(b, "LastGoodTime");
    const cJSON *t = cJSON_GetObjectItem(b, "Touched");
    printf("%sburst%s: %s .. %s, %" PRIu64 " writes; state before it: %s\n", ch->red, ch->off, str_of(b, "FirstWrite"),
           str_of(b, "LastWrite"), num_of(b, "Writes"), g);
    if (cJSON_IsString(cJSON_GetObjectItem(b, "LastWriteBefore")))
        printf("  last write before it: %s (usual rate before it %" PRIu64 " per %s)\n", str_of(b, "LastWriteBefore"),
               num_of(b, "UsualWritesBefore"), ch->unit);
    printf("  %" PRIu64 " puts, %" PRIu64 " updates, %" PRIu64 " deletes", num_of(b, "Puts"), num_of(b, "Updates"),
           num_of(b, "Deletes"));
    if (t) {
        char pre[512], att[512];
        tl_tops(cJSON_GetObjectItem(t, "KeyPrefixes"), "Prefix", 5, pre, sizeof pre);
        tl_tops(cJSON_GetObjectItem(t, "Attributes"), "Name", 5, att, sizeof att);
        printf("; %s%" PRIu64 " partition keys\n  key prefixes: %s\n  attributes changed: %s",
               cJSON_IsTrue(cJSON_GetObjectItem(t, "PartitionKeysExact")) ? "" : "about ", num_of(t, "PartitionKeys"),
               pre[0] ? pre : "-", att[0] ? att : "-");
    }
    printf("\n  undo: tidemark-export --table %s --to DEST --incremental --from %s --until %s\n", name,
           str_of(b, "ExportFrom"), str_of(b, "ExportUntil"));
}

/* The TidemarkTimeline response as a bar chart, quiet runs folded, then the totals and bursts. */
static void tl_print_chart(const cJSON *r)
{
    int tty = isatty(1);
    const char *by = str_of(r, "By");
    chart ch = {num_of(r, "BucketSeconds") % 60 != 0, 17, term_width() - 18 - 12 - 34, 0,
                num_of(r, "UsualWritesPerInterval"), tty ? "\033[1;31m" : "", tty ? "\033[2m" : "",
                tty ? "\033[0m" : "", "", ""};
    const cJSON *iv = cJSON_GetObjectItem(r, "Intervals"), *b;
    if (!cJSON_GetObjectItem(r, "From")) {
        printf("table %s: no writes in the change log\n", str_of(r, "TableName"));
        return;
    }
    snprintf(ch.unit, sizeof ch.unit, "%s", by);
    if (by[0] >= '0' && by[0] <= '9') snprintf(ch.units, sizeof ch.units, "intervals of %s", by);
    else snprintf(ch.units, sizeof ch.units, "%ss", by);
    if (ch.seconds) ch.lblw = 20;
    if (ch.barw < 20) ch.barw = 20;
    if (ch.barw > 60) ch.barw = 60;
    cJSON_ArrayForEach(b, iv) if (num_of(b, "Writes") > ch.max) ch.max = num_of(b, "Writes");
    char a[64], z[64];
    whole_second(str_of(r, "From"), a, sizeof a);
    whole_second(str_of(r, "To"), z, sizeof z);
    printf("writes per %s, table %s, %s .. %s (UTC)\n", ch.unit, str_of(r, "TableName"), a, z);
    printf("%s\xe2\x96\x88 puts (new items)  \xe2\x96\x93 updates (existing items replaced or edited)  "
           "\xe2\x96\x91 deletes%s\n\n", ch.dim, ch.off);
    for (b = iv ? iv->child : NULL; b; b = b->next) {
        size_t quiet = 0;
        const cJSON *k = b;
        while (k && !num_of(k, "Writes")) k = k->next, quiet++;
        if (quiet >= 3) {   /* quiet runs are folded */
            printf("%s%*s   \xc2\xb7 %zu quiet %s%s\n", ch.dim, ch.lblw, "", quiet, ch.units, ch.off);
            if (!k) break;
            b = k->prev;
            continue;
        }
        tl_print_row(&ch, b);
    }
    printf("\n%" PRIu64 " writes (%" PRIu64 " puts, %" PRIu64 " updates, %" PRIu64 " deletes); usual rate %" PRIu64
           " per %s\n", num_of(r, "Writes"), num_of(r, "Puts"), num_of(r, "Updates"), num_of(r, "Deletes"), ch.usual,
           ch.unit);
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(r, "Bursts")) tl_print_burst(&ch, str_of(r, "TableName"), b);
}

/* ---------------------------------------------------------------- --svg */

/* The SVG is written by hand: a few rects and texts, no library needed. Geometry in px. */
#define SVG_W 960
#define SVG_H 360
#define SVG_L 70     /* left margin: the y axis labels */
#define SVG_R 20
#define SVG_T 50     /* top: the title and burst labels */
#define SVG_B 50     /* bottom: the x axis labels */

/* An ISO time of the response in µs (0 if it does not parse). */
static int64_t tl_us(const cJSON *o, const char *member)
{
    int64_t us = 0;
    return clock_parse(str_of(o, member), &us) ? 0 : us;
}

/* The writes per interval as bars (bursts red), each burst a shaded band from its first to its
 * last write labelled with its times, the axes labelled with the range and the largest count. */
static int tl_svg(const cJSON *r, buf *o)
{
    const cJSON *iv = cJSON_GetObjectItem(r, "Intervals"), *b;
    int n = cJSON_GetArraySize(iv), i = 0, k = 0;
    uint64_t max = 1;
    cJSON_ArrayForEach(b, iv) if (num_of(b, "Writes") > max) max = num_of(b, "Writes");
    double pw = SVG_W - SVG_L - SVG_R, ph = SVG_H - SVG_T - SVG_B, bw = n ? pw / n : pw;
    int64_t t0 = n ? tl_us(cJSON_GetArrayItem(iv, 0), "Start") : 0, span = (int64_t)num_of(r, "BucketSeconds") * 1000000 * (n ? n : 1);
    buf_printf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"20\" font-size=\"15\">writes per %s, table %s (UTC)</text>\n",
               SVG_W, SVG_H, SVG_W, SVG_H, SVG_L, str_of(r, "By"), str_of(r, "TableName"));
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(r, "Bursts")) {
        double x0 = SVG_L + pw * (double)(tl_us(b, "FirstWrite") - t0) / (double)span;
        double x1 = SVG_L + pw * (double)(tl_us(b, "LastWrite") - t0) / (double)span;
        if (x1 - x0 < 3) x1 = x0 + 3;   /* a burst of one instant stays visible */
        buf_printf(o, "<g class=\"burst\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"#d62728\" "
                   "fill-opacity=\"0.15\" stroke=\"#d62728\"/>\n<text x=\"%.1f\" y=\"%d\" fill=\"#d62728\">burst %d: "
                   "%s .. %s, %" PRIu64 " writes; restore to %s</text></g>\n",
                   x0, SVG_T, x1 - x0, ph, x0, SVG_T - 6 - 14 * (k % 2), k + 1, str_of(b, "FirstWrite"),
                   str_of(b, "LastWrite"), num_of(b, "Writes"), str_of(b, "RestoreTo"));
        k++;
    }
    cJSON_ArrayForEach(b, iv) {
        uint64_t w = num_of(b, "Writes");
        double h = ph * (double)w / (double)max;
        if (w) buf_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s: %" PRIu64
                          " writes</title></rect>\n", SVG_L + i * bw, SVG_T + ph - h, bw > 2 ? bw - 1 : bw, h,
                          cJSON_IsTrue(cJSON_GetObjectItem(b, "Burst")) ? "#d62728" : "#4c78a8", str_of(b, "Start"), w);
        i++;
    }
    buf_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n"
               "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n"
               "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%" PRIu64 "</text>\n"
               "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
               SVG_L, SVG_T + (int)ph, SVG_W - SVG_R, SVG_T + (int)ph, SVG_L, SVG_T, SVG_L, SVG_T + (int)ph,
               SVG_L - 6, SVG_T + 10, max, SVG_L - 6, SVG_T + (int)ph);
    if (n)
        buf_printf(o, "<text x=\"%d\" y=\"%d\">%s</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
                   SVG_L, SVG_H - SVG_B + 20, str_of(cJSON_GetArrayItem(iv, 0), "Start"), SVG_W - SVG_R,
                   SVG_H - SVG_B + 20, str_of(cJSON_GetArrayItem(iv, n - 1), "Start"));
    return buf_puts(o, "</svg>\n");
}

/* --from/--to: a time for people (clock_parse) into the request as a wire time. */
static int add_time_arg(const opts *o, cJSON *req, const char *member, int id)
{
    int64_t us;
    if (!ARG(o, id)) return 0;
    if (clock_parse(ARG(o, id), &us)) return cli_usage(PROG, "--%s: %s", opt_name(id), err_msg());
    tm_json_time(req, member, us);
    return 0;
}

/* TidemarkTimeline; prints its response (--json: as it is, one line) or a chart of it, and
 * draws it into --svg FILE (replaced atomically). */
static int run_timeline(opts *o)
{
    cJSON *resp, *req = table_req(o);
    buf svg = BUF_INIT;
    int ret;
    add_str_arg(o, req, "By", O_BY);
    if ((ret = need(o, O_TABLE)) || (ret = add_time_arg(o, req, "From", O_FROM)) ||
        (ret = add_time_arg(o, req, "To", O_TO))) {
        cJSON_Delete(req);
        return ret;
    }
    if ((ret = invoke(o, 1, tm_timeline, req, &resp))) return ret;
    if (o->json) print_compact(resp);
    else tl_print_chart(resp);
    if (ARG(o, O_SVG)) {
        int rc = tl_svg(resp, &svg);
        if (rc || (rc = fsx_write_atomic(ARG(o, O_SVG), svg.data, svg.len))) ret = fail(rc);
    }
    buf_free(&svg);
    cJSON_Delete(resp);
    return ret;
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

/* ================================================================ serve */

static volatile sig_atomic_t serve_stop;
static void on_stop(int sig) { (void)sig; serve_stop = 1; }
static void serve_log(void *ctx, const char *line) { (void)ctx; fprintf(stderr, "%s serve: %s\n", PROG, line); }

static int run_serve(opts *o)
{
    serve_options so = SERVE_OPTIONS_INIT;
    tm_error e = {0, ""};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    so.home = o->home;
    so.listen = ARG(o, O_LISTEN);
    so.no_auth = GIVEN(o, O_NO_AUTH);
    so.credentials = ARG(o, O_CREDENTIALS);
    so.log = serve_log;
    int k = serve_run(&so, &serve_stop, &e);
    if (k) fprintf(stderr, "%s: serve: %s\n", PROG, e.message);
    return k ? tm_err_exit(k) : 0;
}

/* A word that starts two-word commands ("pitr" of "pitr enable") without a known second word:
 * their help, or which they are, with a did-you-mean for a typo. -1: not such a word. */
static int group_command(int argc, char **argv, int help)
{
    const char *word = argv[optind], *next = optind + 1 < argc ? argv[optind + 1] : "", *subs[NCOMMANDS];
    size_t len = strlen(word), n = 0, at = 0;
    char list[256] = "";
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strncmp(commands[i].name, word, len) || commands[i].name[len] != ' ') continue;
        for (int j = optind + 1; j < argc; j++) help |= !strcmp(argv[j], "--help") || !strcmp(argv[j], "-h");
        if (help) {
            print_command_help(&commands[i]);
            putchar('\n');
        }
        subs[n] = commands[i].name + len + 1;
        at += (size_t)snprintf(list + at, at < sizeof list ? sizeof list - at : 0, "%s%s", n ? ", " : "", subs[n]);
        n++;
    }
    if (!n || help) return n ? 0 : -1;
    const char *s = *next ? cli_suggest(next, subs, n, sizeof *subs) : NULL;
    if (s) return cli_usage(PROG, "unknown command '%s %s'; did you mean '%s %s'?", word, next, word, s);
    return cli_usage(PROG, "%s needs one of: %s (got '%s')", word, list, next);
}

int main(int argc, char **argv)
{
    opts o;
    int c, help = 0;
    memset(&o, 0, sizeof o);
    o.batch = 1000;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:hq", long_opts, NULL)) != -1) {
        /* "+": stop at the command; its own options are parsed below with the same table. */
        if (c == O_HELP || c == 'h') help = 1;
        else if (c == O_VERSION) { printf("tidemark %s\n", TIDEMARK_VERSION); return 0; }
        else if (c == O_DATA) ARG(&o, O_DATA) = optarg;
        else if (c == O_JSON) o.json = 1;
        else if (c == O_QUIET || c == 'q') cli_set_quiet(1);
        else if (c == '?' || c == ':') return cli_bad_option(PROG, argv, "+:hq", long_opts);
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
        int ret = group_command(argc, argv, help);
        if (ret >= 0) return ret;
        return cli_unknown_command(PROG, argv[optind], commands, NCOMMANDS, sizeof *commands);
    }
    cli_set_command(cmd->name);
    /* The command's options (globals too: aws-style, --json may follow the command). */
    int sub_argc = argc - optind - words + 1;
    char **sub_argv = argv + optind + words - 1;
    optind = 0;   /* glibc: 0 re-initialises the parser (the first pass used "+") */
    while ((c = getopt_long(sub_argc, sub_argv, ":hq", long_opts, NULL)) != -1) {
        if (c == '?' || c == ':') return cli_bad_option(PROG, sub_argv, ":hq", long_opts);
        if (c == 'h' || c == O_HELP) { help = 1; continue; }
        if (c == O_VERSION) { printf("tidemark %s\n", TIDEMARK_VERSION); return 0; }
        if (c == O_JSON) { o.json = 1; continue; }
        if (c == O_QUIET || c == 'q') { cli_set_quiet(1); continue; }
        if (c == O_DATA) { ARG(&o, O_DATA) = optarg; continue; }
        int ok = 0;
        for (const int *a = cmd->allowed; *a != O_END; a++) ok |= *a == c;
        if (!ok) return cli_usage(PROG, "option --%s does not apply to this command", opt_name(c));
        if (GIVEN(&o, c) && c != O_FORWARD && c != O_BACKWARD)
            return cli_usage(PROG, "option --%s given twice", opt_name(c));
        GIVEN(&o, c) = 1;
        ARG(&o, c) = optarg ? optarg : "";
        uint64_t v;
        switch (c) {
        case O_FORWARD: o.backward = 0; break;
        case O_BACKWARD: o.backward = 1; break;
        case O_LIMIT:
            if (parse_u64(optarg, UINT32_MAX, &v) || v == 0)
                return cli_usage(PROG, "--limit must be a positive integer, not '%s'", optarg);
            o.limit = v;
            break;
        case O_SEGMENT:
            if (parse_u64(optarg, 999999, &v)) return cli_usage(PROG, "--segment must be 0..999999, not '%s'", optarg);
            o.segment = (uint32_t)v;
            break;
        case O_TOTAL:
            if (parse_u64(optarg, 1000000, &v) || v == 0)
                return cli_usage(PROG, "--total-segments must be 1..1000000, not '%s'", optarg);
            o.total = (uint32_t)v;
            break;
        case O_BATCH:
            if (parse_u64(optarg, 1000000, &v) || v == 0)
                return cli_usage(PROG, "--batch-size must be 1..1000000, not '%s'", optarg);
            o.batch = v;
            break;
        case O_PERIOD:
            if (parse_u64(optarg, INT_MAX, &v)) v = 0;
            o.period = (int)v;
            if (v < 1 || v > TABLE_PITR_MAX_DAYS)
                return cli_usage(PROG, "--recovery-period-in-days must be between 1 and 35, not '%s'", optarg);
            break;
        default: break;
        }
    }
    if (help) {
        print_command_help(cmd);
        return 0;
    }
    if (cmd->run == run_call && optind < sub_argc) o.operation = sub_argv[optind++];
    if (optind < sub_argc) return cli_usage(PROG, "unexpected argument '%s'", sub_argv[optind]);
    if (GIVEN(&o, O_SEGMENT) && GIVEN(&o, O_TOTAL) && o.segment >= o.total)
        return cli_usage(PROG, "--segment must be less than --total-segments (got %s)", ARG(&o, O_SEGMENT));
    o.home = cli_home(ARG(&o, O_DATA));
    int ret = cmd->run(&o);
    if (fflush(stdout) && !ret) ret = fail(err_sys(TM_EIO, errno, "writing the output"));
    return ret;
}
