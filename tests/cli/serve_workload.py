#!/usr/bin/env python3
"""serve_workload.py: the boto3 workload of tests/cli/serve_boto3.sh, run against a DynamoDB
endpoint (tidemark serve, dynalite); prints one JSON line per step with what the step saw, so
that two endpoints can be compared result by result.

usage: serve_workload.py ENDPOINT_URL > results.jsonl
Steps: conditional writes, begins_with queries, pagination (a Limit that ends exactly at the
last item included), a 4-segment parallel scan, batch writes with retries of UnprocessedItems,
updates (arithmetic, if_not_exists, list_append, REMOVE, ADD, DELETE) with each ReturnValues,
BatchGetItem, Select COUNT, ProjectionExpression, pages that end after 1 MB read."""
import json, sys, threading, time
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ep = sys.argv[1]
c = boto3.client("dynamodb", endpoint_url=ep, region_name="us-east-1",
                 config=Config(retries={"max_attempts": 2}))
T = "Work"


def out(step, value):
    print(json.dumps({"step": step, "value": value}, sort_keys=True), flush=True)


def err(f):
    try:
        f()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


def key(p, s):
    return {"pk": {"S": p}, "sk": {"S": s}}


def norm(items):
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


c.create_table(TableName=T, BillingMode="PAY_PER_REQUEST",
               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}],
               KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}])
for _ in range(100):
    if c.describe_table(TableName=T)["Table"]["TableStatus"] == "ACTIVE":
        break
    time.sleep(0.05)

# conditional writes
new = dict(TableName=T, Item={**key("c", "1"), "v": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
out("put_if_absent", [err(lambda: c.put_item(**new)), err(lambda: c.put_item(**new))])
out("update_if", [
    err(lambda: c.update_item(TableName=T, Key=key("c", "1"), UpdateExpression="SET v = v + :one",
                              ConditionExpression="v < :lim", ExpressionAttributeValues={":one": {"N": "1"}, ":lim": {"N": "2"}})),
    err(lambda: c.update_item(TableName=T, Key=key("c", "1"), UpdateExpression="SET v = v + :one",
                              ConditionExpression="v < :lim", ExpressionAttributeValues={":one": {"N": "1"}, ":lim": {"N": "2"}}))])
out("delete_if", [
    err(lambda: c.delete_item(TableName=T, Key=key("c", "1"), ConditionExpression="v = :x",
                              ExpressionAttributeValues={":x": {"N": "9"}})),
    c.get_item(TableName=T, Key=key("c", "1"), ConsistentRead=True).get("Item")])

# batch writes with retries
reqs = [{"PutRequest": {"Item": {**key("p1" if i % 3 else "p2", "%s#%03d" % ("item" if i % 2 else "other", i)),
                                 "n": {"N": str(i)}, "tags": {"SS": ["a", "b%d" % (i % 4)]}}}} for i in range(90)]
rounds = 0
for i in range(0, len(reqs), 25):
    batch = {T: reqs[i:i + 25]}
    while batch:
        rounds += 1
        r = c.batch_write_item(RequestItems=batch)
        batch = r.get("UnprocessedItems") or None
out("batch_write", {"rounds_at_least": rounds >= 4})
out("scan_count", c.scan(TableName=T, Select="COUNT")["Count"])

# begins_with queries
q = c.query(TableName=T, KeyConditionExpression="pk = :p AND begins_with(sk, :pre)",
            ExpressionAttributeValues={":p": {"S": "p1"}, ":pre": {"S": "item#"}})
out("begins_with", [i["sk"]["S"] for i in q["Items"]])
q = c.query(TableName=T, KeyConditionExpression="pk = :p AND begins_with(sk, :pre)", ScanIndexForward=False,
            ExpressionAttributeValues={":p": {"S": "p2"}, ":pre": {"S": "other#"}}, ProjectionExpression="sk, n")
out("begins_with_desc_projected", q["Items"])


# pagination: Limit 7, and a Limit that ends exactly at the last item
def pages(limit, **kw):
    sizes, seen, esk = [], [], None
    while True:
        a = dict(TableName=T, Limit=limit, **kw)
        if esk:
            a["ExclusiveStartKey"] = esk
        r = c.query(**a) if "KeyConditionExpression" in kw else c.scan(**a)
        sizes.append(len(r["Items"]))
        seen += [i["sk"]["S"] for i in r["Items"]]
        esk = r.get("LastEvaluatedKey")
        if not esk:
            return {"sizes": sizes, "items": sorted(seen)}


kc = dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p2"}})
n2 = c.query(TableName=T, Select="COUNT", **kc)["Count"]
out("query_pages_7", pages(7, **kc))
out("query_pages_exact", pages(n2, **kc))
out("scan_pages_13", {"n": len(pages(13)["items"])})
out("filter_pages", pages(10, FilterExpression="n > :x", ExpressionAttributeValues={":x": {"N": "50"}})["items"])

# parallel scan: 4 segments in threads, every item exactly once
got = [[] for _ in range(4)]


def seg(s):
    esk = None
    while True:
        a = dict(TableName=T, Segment=s, TotalSegments=4, Limit=11)
        if esk:
            a["ExclusiveStartKey"] = esk
        r = boto3.client("dynamodb", endpoint_url=ep, region_name="us-east-1").scan(**a)
        got[s] += [(i["pk"]["S"], i["sk"]["S"]) for i in r["Items"]]
        esk = r.get("LastEvaluatedKey")
        if not esk:
            return


th = [threading.Thread(target=seg, args=(s,)) for s in range(4)]
[t.start() for t in th]
[t.join() for t in th]
allk = [k for g in got for k in g]
out("parallel_scan", {"total": len(allk), "distinct": len(set(allk))})

# updates with each ReturnValues
k1 = key("u", "1")
c.put_item(TableName=T, Item={**k1, "n": {"N": "5"}, "l": {"L": [{"S": "a"}]}, "s": {"SS": ["x", "y"]}, "gone": {"S": "z"}})
seq = [
    ("SET n = n + :d, m = if_not_exists(m, :z)", {":d": {"N": "2.5"}, ":z": {"N": "0"}}, "ALL_NEW"),
    ("SET l = list_append(l, :l) REMOVE gone", {":l": {"L": [{"N": "1"}]}}, "ALL_OLD"),
    ("ADD n :d, s :s", {":d": {"N": "-1"}, ":s": {"SS": ["w"]}}, "UPDATED_NEW"),
    ("DELETE s :s", {":s": {"SS": ["x"]}}, "UPDATED_OLD"),
    ("SET m = m - :d", {":d": {"N": "100000000000000000000000000000000000001"}}, "NONE"),
]
res = []
for expr, vals, rv in seq:
    try:
        r = c.update_item(TableName=T, Key=k1, UpdateExpression=expr, ExpressionAttributeValues=vals, ReturnValues=rv)
    except ClientError as e:
        r = {"Attributes": {"error": {"S": e.response["Error"]["Code"]}}}
    a = r.get("Attributes", {})
    for v in a.values():
        if "SS" in v:
            v["SS"].sort()
    res.append(a)
it = c.get_item(TableName=T, Key=k1)["Item"]
it["s"]["SS"].sort()
out("updates", {"returns": res, "final": it})
out("put_all_old", c.put_item(TableName=T, Item={**k1, "n": {"N": "1"}}, ReturnValues="ALL_OLD")["Attributes"]["m"])
out("delete_all_old", c.delete_item(TableName=T, Key=k1, ReturnValues="ALL_OLD")["Attributes"])

# BatchGetItem, projection, count
r = c.batch_get_item(RequestItems={T: {"Keys": [key("p1", "item#001"), key("p2", "other#000"), key("no", "ne")],
                                       "ProjectionExpression": "pk, sk, n"}})
out("batch_get", norm(r["Responses"][T]))
out("get_projected", c.get_item(TableName=T, Key=key("p1", "item#001"), ProjectionExpression="tags, n")["Item"])
out("count_filtered", c.scan(TableName=T, Select="COUNT", FilterExpression="contains(tags, :t)",
                             ExpressionAttributeValues={":t": {"S": "b1"}})["Count"])
out("missing_item", c.get_item(TableName=T, Key=key("zz", "zz")).get("Item"))

# a Query or Scan page ends after 1 MB read (DynamoDB's rule): 300 items of about 10 KB
big = "x" * 10000
for i in range(0, 300, 25):
    batch = {T: [{"PutRequest": {"Item": {**key("big", "%03d" % j), "blob": {"S": big}}}} for j in range(i, i + 25)]}
    while batch:
        batch = c.batch_write_item(RequestItems=batch).get("UnprocessedItems") or None


def big_pages(read, **kw):
    sizes, seen, esk = [], 0, None
    while True:
        a = dict(TableName=T, **kw)
        if esk:
            a["ExclusiveStartKey"] = esk
        r = read(**a)
        sizes.append(r["Count"])
        seen += len(r.get("Items", []))
        esk = r.get("LastEvaluatedKey")
        if not esk:
            # a query's first page holds only big items; a scan's order is the endpoint's own
            first = {"first_page_under_120": sizes[0] < 120} if read == c.query else {}
            return {"pages_at_least_3": len(sizes) >= 3, "count": sum(sizes), "items": seen, **first}


out("query_1mb_pages", big_pages(c.query, KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={":p": {"S": "big"}}))
out("scan_1mb_pages_count", big_pages(c.scan, Select="COUNT"))
