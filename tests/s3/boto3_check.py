#!/usr/bin/python3
"""boto3_check.py: boto3 lists and downloads what tidemark wrote, and checks sizes and MD5s.

usage: boto3_check.py ENDPOINT BUCKET MANIFEST
MANIFEST lines: "key<TAB>size<TAB>md5<TAB>parts" (keys from the bucket root), as written by the
store contract suite. Credentials and region come from the usual AWS_* variables.
Exits 0 when every object is listed with its size and downloads with its MD5.
"""
import hashlib
import os
import sys

import boto3
from botocore.config import Config


def main():
    endpoint, bucket, manifest = sys.argv[1:4]
    want = {}
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            key, size, md5, _parts = line.rstrip("\n").split("\t")
            want[key] = (int(size), md5)
    prefix = os.path.commonprefix(list(want))
    prefix = prefix[: prefix.rfind("/") + 1]
    s3 = boto3.client("s3", endpoint_url=endpoint,
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            listed[o["Key"]] = o["Size"]
    bad = 0
    for key, (size, md5) in sorted(want.items()):
        if listed.get(key) != size:
            print(f"boto3: {key!r}: listed size {listed.get(key)}, want {size}")
            bad += 1
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        h = hashlib.md5()
        n = 0
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
            n += len(chunk)
        if h.hexdigest() != md5 or n != size:
            print(f"boto3: {key!r}: got {n} bytes md5 {h.hexdigest()}, want {size} {md5}")
            bad += 1
        else:
            print(f"boto3: ok {key!r} {n} bytes {md5}")
    print(f"boto3: {len(want) - bad}/{len(want)} objects match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
