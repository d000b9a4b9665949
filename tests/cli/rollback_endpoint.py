#!/usr/bin/env python3
"""rollback_endpoint.py: seeding and checking a DynamoDB-API endpoint (dynalite) for
rollback_endpoint.sh, with boto3.
  seed URL TABLE FILE       create TABLE (pk:S) and write every {"Item":..} line of FILE
  dump URL TABLE            every item, one compact JSON line each, sorted
  race URL TABLE KEYS OUT SECONDS   writes v = -<n> to KEYS (comma list) again and again until
                            SECONDS pass; OUT gets the last value written per key (JSON)"""
import json, sys, time
import boto3
from boto3.dynamodb.types import TypeDeserializer

def client(url):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDROLLBACK", aws_secret_access_key="secret")

def main():
    cmd, url, table = sys.argv[1:4]
    c = client(url)
    if cmd == "seed":
        c.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       BillingMode="PAY_PER_REQUEST")
        c.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.1})
        for l in open(sys.argv[4]):
            if l.strip():
                c.put_item(TableName=table, Item=json.loads(l)["Item"])
    elif cmd == "dump":
        items, kw = [], {}
        while True:
            r = c.scan(TableName=table, ConsistentRead=True, **kw)
            items += r["Items"]
            if "LastEvaluatedKey" not in r:
                break
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
        for it in sorted(items, key=lambda i: i["pk"]["S"]):
            print(json.dumps({"Item": it}, sort_keys=True, separators=(",", ":")))
    elif cmd == "race":
        keys, out, until = sys.argv[4].split(","), sys.argv[5], time.time() + float(sys.argv[6])
        last, n = {}, 0
        while time.time() < until:
            for k in keys:
                n += 1
                c.update_item(TableName=table, Key={"pk": {"S": k}}, UpdateExpression="SET v = :v",
                              ExpressionAttributeValues={":v": {"N": str(-n)}})
                last[k] = str(-n)
        json.dump(last, open(out, "w"))

main()
