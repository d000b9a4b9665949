#!/usr/bin/env bash
# serve_jssdk.sh: the JavaScript SDK (@aws-sdk/client-dynamodb from npm, unpinned, in .deps/ by
# scripts/deps.sh) against `tidemark serve`, for what Debian's awscli and botocore models lack:
# RecoveryPeriodInDays (UpdateContinuousBackups in, both Describe answers out), ExportType and
# IncrementalExportSpecification (a full export then an incremental one of a window, to s3rver
# behind the strict SigV4 proxy: IN_PROGRESS then COMPLETED, the specification given back by
# DescribeExport and ListExports, the window's changes counted), and the SDK's exception
# classes for refused ones. Every request is SigV4-signed by the SDK and checked by the server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SDK="$TM_ROOT/.deps/node_modules/@aws-sdk/client-dynamodb"
command -v node >/dev/null || { echo "SKIP: no node"; exit 0; }
[ -f "$SDK/package.json" ] || fail "@aws-sdk/client-dynamodb is missing ($SDK): run make deps"
make_home
work=$TM_HOME/work
mkdir -p "$work"

aws_env S3RVER S3RVER
export AWS_REGION=us-east-1   # the JavaScript SDK reads this one
bucket=tm-jssdk
start_s3 "$work" "$bucket"

AWS_ENDPOINT_URL_S3=$S3_EP start_serve "$work/serve.log"
port=$SRV_PORT

cat >"$work/sdk.js" <<'JS'
const ddb = require("@aws-sdk/client-dynamodb");
const [endpoint, bucket] = process.argv.slice(2);
const c = new ddb.DynamoDBClient({endpoint, region: "us-east-1", maxAttempts: 1});
const send = (Cmd, input) => c.send(new Cmd(input));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (step, value) => console.log(JSON.stringify({step, value}));
const put = (pk, v) => send(ddb.PutItemCommand, {TableName: "Orders", Item: {pk: {S: pk}, v: {N: String(v)}}});
async function errorOf(p) {
  try { await p; return "ok"; } catch (e) { return e.name + (e instanceof ddb.DynamoDBServiceException ? "" : " (not a service exception)"); }
}
async function finished(arn) {
  for (let i = 0; i < 300; i++) {
    const d = (await send(ddb.DescribeExportCommand, {ExportArn: arn})).ExportDescription;
    if (d.ExportStatus !== "IN_PROGRESS") return d;
    await sleep(100);
  }
  throw new Error("export " + arn + " still IN_PROGRESS");
}
(async () => {
  const tarn = "arn:aws:dynamodb:us-east-1:000000000000:table/Orders";
  await send(ddb.CreateTableCommand, {TableName: "Orders", BillingMode: "PAY_PER_REQUEST",
    KeySchema: [{AttributeName: "pk", KeyType: "HASH"}], AttributeDefinitions: [{AttributeName: "pk", AttributeType: "S"}]});
  let r = await send(ddb.UpdateContinuousBackupsCommand, {TableName: "Orders",
    PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 7}});
  let p = r.ContinuousBackupsDescription.PointInTimeRecoveryDescription;
  out("pitr_update", [p.PointInTimeRecoveryStatus, p.RecoveryPeriodInDays]);
  p = (await send(ddb.DescribeContinuousBackupsCommand, {TableName: "Orders"})).ContinuousBackupsDescription.PointInTimeRecoveryDescription;
  out("pitr_describe", [p.PointInTimeRecoveryStatus, p.RecoveryPeriodInDays, p.EarliestRestorableDateTime instanceof Date]);
  out("pitr_period_refused", await errorOf(send(ddb.UpdateContinuousBackupsCommand, {TableName: "Orders",
    PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 36}})));
  for (let i = 0; i < 5; i++) await put("a" + i, i);
  await sleep(1100);
  const from = new Date();
  await sleep(1100);
  await put("a0", 100);                                                     // a change
  await put("b0", 1);                                                       // a new item
  await send(ddb.DeleteItemCommand, {TableName: "Orders", Key: {pk: {S: "a1"}}});  // a delete
  await sleep(1100);
  const to = new Date();
  await sleep(1100);
  await put("c0", 1);                                                       // after the window
  r = await send(ddb.ExportTableToPointInTimeCommand, {TableArn: tarn, S3Bucket: bucket, S3Prefix: "full",
    ExportType: "FULL_EXPORT"});
  out("full_answered", [r.ExportDescription.ExportStatus, r.ExportDescription.ExportType]);
  let d = await finished(r.ExportDescription.ExportArn);
  out("full_done", [d.ExportStatus, d.ExportType, d.ItemCount, d.FailureMessage || null]);
  const spec = {ExportFromTime: from, ExportToTime: to, ExportViewType: "NEW_AND_OLD_IMAGES"};
  r = await send(ddb.ExportTableToPointInTimeCommand, {TableArn: tarn, S3Bucket: bucket, S3Prefix: "inc",
    ExportType: "INCREMENTAL_EXPORT", IncrementalExportSpecification: spec});
  out("inc_answered", [r.ExportDescription.ExportStatus, r.ExportDescription.ExportType]);
  d = await finished(r.ExportDescription.ExportArn);
  const s = d.IncrementalExportSpecification || {};
  out("inc_done", [d.ExportStatus, d.ExportType, d.ItemCount, d.FailureMessage || null]);
  const near = (a, b) => a instanceof Date && Math.abs(a.getTime() - b.getTime()) < 1000;   // to the second
  out("inc_spec", [near(s.ExportFromTime, from), near(s.ExportToTime, to), s.ExportViewType]);
  const l = (await send(ddb.ListExportsCommand, {TableArn: tarn})).ExportSummaries || [];
  out("list", l.map((x) => x.ExportType).sort());
  out("inc_without_spec", await errorOf(send(ddb.ExportTableToPointInTimeCommand, {TableArn: tarn, S3Bucket: bucket,
    ExportType: "INCREMENTAL_EXPORT"})));
  out("spec_with_full", await errorOf(send(ddb.ExportTableToPointInTimeCommand, {TableArn: tarn, S3Bucket: bucket,
    ExportType: "FULL_EXPORT", IncrementalExportSpecification: spec})));
  out("no_table", await errorOf(send(ddb.DescribeContinuousBackupsCommand, {TableName: "Nope"})));
})().catch((e) => { console.log(JSON.stringify({step: "error", value: String(e && e.stack || e)})); process.exit(1); });
JS
NODE_NO_WARNINGS=1 NODE_PATH="$TM_ROOT/.deps/node_modules" node "$work/sdk.js" "http://127.0.0.1:$port" "$bucket" >"$work/out.jsonl" ||
  fail "the SDK run failed: $(tail -3 "$work/out.jsonl")"
get() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["step"] == sys.argv[2]: print(json.dumps(d["value"]))' "$work/out.jsonl" "$1"; }
assert_eq '["ENABLED", 7]' "$(get pitr_update)" "UpdateContinuousBackups with RecoveryPeriodInDays"
assert_eq '["ENABLED", 7, true]' "$(get pitr_describe)" "DescribeContinuousBackups: RecoveryPeriodInDays"
assert_eq '"ValidationException"' "$(get pitr_period_refused)" "RecoveryPeriodInDays 36"
assert_eq '["IN_PROGRESS", "FULL_EXPORT"]' "$(get full_answered)" "full export answered"
assert_eq '["COMPLETED", "FULL_EXPORT", 6, null]' "$(get full_done)" "full export: a0 a2 a3 a4 b0 c0"
assert_eq '["IN_PROGRESS", "INCREMENTAL_EXPORT"]' "$(get inc_answered)" "incremental export answered"
assert_eq '["COMPLETED", "INCREMENTAL_EXPORT", 3, null]' "$(get inc_done)" "incremental: a0, b0, a1 deleted"
assert_eq '[true, true, "NEW_AND_OLD_IMAGES"]' "$(get inc_spec)" "IncrementalExportSpecification given back"
assert_eq '["FULL_EXPORT", "INCREMENTAL_EXPORT"]' "$(get list)" "ListExports: both, with their ExportType"
assert_eq '"ValidationException"' "$(get inc_without_spec)" "INCREMENTAL_EXPORT without a specification"
assert_eq '"ValidationException"' "$(get spec_with_full)" "a specification with FULL_EXPORT"
assert_eq '"ResourceNotFoundException"' "$(get no_table)" "a missing table"
echo "serve_jssdk: OK"
