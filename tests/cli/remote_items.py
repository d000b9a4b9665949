#!/usr/bin/env python3
"""remote_items.py: the item sets remote_export.sh and remote_import.sh compare.

  gen N                       N items of every attribute type, one DynamoDB JSON line each
  canon FILE...|-             lines of items ({"Item":{...}} or bare) -> canonical, sorted;
                              fails on a duplicate key (pk, sk)
  dump URL TABLE              a table's items through boto3 (a paginated Scan), canonical
  seed URL TABLE FILE         creates TABLE (pk S, sk N; on demand) and writes FILE's items
"""
import json
import sys


def canon_value(v):
    (t, x), = v.items()
    if t in ("SS", "NS", "BS"):
        return {t: sorted(x)}
    if t == "M":
        return {t: {k: canon_value(y) for k, y in x.items()}}
    if t == "L":
        return {t: [canon_value(y) for y in x]}
    return {t: x}


def canon(item):
    return json.dumps({k: canon_value(v) for k, v in item.items()}, sort_keys=True,
                      separators=(",", ":"))


def emit(items):
    seen = set()
    out = []
    for it in items:
        key = (json.dumps(it.get("pk")), json.dumps(it.get("sk")))
        if key in seen:
            sys.exit("duplicate key %s" % (key,))
        seen.add(key)
        out.append(canon(it))
    sys.stdout.write("".join(line + "\n" for line in sorted(out)))


def gen(n):
    for i in range(n):
        it = {"pk": {"S": "p%03d" % (i % 101)}, "sk": {"N": str(i)},
              "s": {"S": "text %d " % i + "x" * (i % 60)},
              "n": {"N": "%d.%d" % (i, i % 7) if i % 7 else str(-i)},
              "m": {"M": {"a": {"L": [{"N": "1"}, {"S": "\u00e9\u6f22"}, {"NULL": True}]},
                          "b": {"BOOL": i % 2 == 0}}}}
        if i % 3 == 0:
            it["ss"] = {"SS": ["b%d" % i, "a%d" % i]}
        if i % 5 == 0:
            it["ns"] = {"NS": ["3", str(i + 10)]}
        if i % 11 == 0:
            it["bin"] = {"B": "AAEC/w=="}
        print(json.dumps(it, separators=(",", ":")))


def read_lines(paths):
    for p in paths:
        f = sys.stdin if p == "-" else open(p)
        for line in f:
            line = line.strip()
            if line:
                d = json.loads(line)
                yield d.get("Item", d)


def client(url):
    import boto3
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDREMOTE", aws_secret_access_key="secret")


def dump(url, table):
    c = client(url)
    items = []
    for page in c.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    # boto3 gives B as bytes: back to base64 as the export writes it
    import base64

    def fix(v):
        (t, x), = v.items()
        if t == "B":
            return {t: base64.b64encode(x).decode()}
        if t == "BS":
            return {t: [base64.b64encode(y).decode() for y in x]}
        if t == "M":
            return {t: {k: fix(y) for k, y in x.items()}}
        if t == "L":
            return {t: [fix(y) for y in x]}
        return v
    emit({k: fix(v) for k, v in it.items()} for it in items)


def seed(url, table, path):
    c = client(url)
    c.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "N"}])
    c.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.1})
    import base64
    rows = list(read_lines([path]))

    def fix(v):
        (t, x), = v.items()
        if t == "B":
            return {t: base64.b64decode(x)}
        if t == "M":
            return {t: {k: fix(y) for k, y in x.items()}}
        if t == "L":
            return {t: [fix(y) for y in x]}
        return v
    for i in range(0, len(rows), 25):
        req = [{"PutRequest": {"Item": {k: fix(v) for k, v in r.items()}}} for r in rows[i:i + 25]]
        while req:
            un = c.batch_write_item(RequestItems={table: req}).get("UnprocessedItems", {})
            req = un.get(table, [])


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(int(args[0]))
    elif cmd == "canon":
        emit(read_lines(args or ["-"]))
    elif cmd == "dump":
        dump(*args)
    elif cmd == "seed":
        seed(*args)
    else:
        sys.exit(__doc__)
