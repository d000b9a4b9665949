#!/usr/bin/python3
"""read_export.py: an independent reader of DynamoDB exports (Debian's python3: gzip, json,
hashlib only; zstd files through the zstd program), for the CLI tests.

  read_export.py export DIR     checks DIR (DEST/AWSDynamoDB/<ID>) byte by byte against
                                FORMATS.md sections 2-3 (one-line summary without newline, member
                                order, .md5 files, md5Checksum, etag, itemCount = lines,
                                '\\n'-terminated manifest lines, _started), then prints every data
                                line canonicalised, sorted: items ({"Item":...}) or records
  read_export.py lines [FILE]   canonicalises {"Item":...} lines (tidemark scan output), sorted
  read_export.py summary DIR    prints "key=value" lines of the summary (for shell checks)

Canonical form: attributes sorted by name, numbers as canonical decimals, set members sorted,
compact JSON. Exit 1 with a message on the first problem."""
import base64
import decimal
import hashlib
import json
import os
import re
import subprocess
import sys
import zlib

FULL = ["version", "exportArn", "startTime", "endTime", "tableArn", "tableId", "exportTime",
        "s3Bucket", "s3Prefix", "s3SseAlgorithm", "s3SseKmsKeyId", "manifestFilesS3Key",
        "billedSizeBytes", "itemCount", "outputFormat"]
INCR = ["version", "exportArn", "startTime", "endTime", "tableArn", "tableId", "exportFromTime",
        "exportToTime", "s3Bucket", "s3Prefix", "s3SseAlgorithm", "s3SseKmsKeyId",
        "manifestFilesS3Key", "billedSizeBytes", "itemCount", "outputFormat", "outputView",
        "exportType"]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def die(msg):
    print("read_export: " + msg, file=sys.stderr)
    sys.exit(1)


def num(s):
    d = decimal.Decimal(s)
    if d == 0:
        return "0"
    t = format(d.normalize(), "f")
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    return t


def canon_value(v):
    (t, x), = v.items()
    if t == "N":
        return {"N": num(x)}
    if t in ("SS", "BS"):
        return {t: sorted(x)}
    if t == "NS":
        return {t: sorted((num(n) for n in x), key=decimal.Decimal)}
    if t == "M":
        return {"M": {k: canon_value(x[k]) for k in sorted(x)}}
    if t == "L":
        return {"L": [canon_value(e) for e in x]}
    return {t: x}


def canon_item(it):
    return {k: canon_value(it[k]) for k in sorted(it)}


def dumps(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def canon_line(line, incremental):
    o = json.loads(line)
    if not incremental:
        if list(o) != ["Item"]:
            die("a full export line is not {\"Item\":...}: " + line[:200])
        return dumps({"Item": canon_item(o["Item"])})
    keys = list(o)
    if keys not in (["Metadata", "Keys", "NewImage"], ["Metadata", "Keys", "OldImage", "NewImage"],
                    ["Metadata", "Keys", "OldImage"], ["Metadata", "Keys"]):
        die("record members out of order: %s" % keys)
    ts = o["Metadata"]["WriteTimestampMicros"]["N"]
    if not ts.isdigit():
        die("bad WriteTimestampMicros " + ts)
    out = {"Metadata": {"WriteTimestampMicros": {"N": ts}}, "Keys": o["Keys"]}
    for k in ("OldImage", "NewImage"):
        if k in o:
            out[k] = canon_item(o[k])
    return dumps(out)


def decompress(raw, name):
    if name.endswith(".json.gz"):
        # ONE gzip member, as AWS writes: readers that stop after the first member (Java's
        # GZIPInputStream before JDK 23, zlib.decompressobj(31)) must get every line.
        d = zlib.decompressobj(31)
        out = d.decompress(raw)
        if not d.eof or d.unused_data:
            die(name + ": not one gzip member (%d bytes after the first)" % len(d.unused_data))
        return out
    if name.endswith(".json.zst"):
        return subprocess.run(["zstd", "-dcq"], input=raw, stdout=subprocess.PIPE,
                              check=True).stdout
    die("unknown data file extension: " + name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def b64md5(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def check_export(d):
    d = d.rstrip("/")
    m = re.match(r"^(.*)/AWSDynamoDB/([^/]+)$", d)
    if not m:
        die(d + " is not DEST/AWSDynamoDB/<ID>")
    dest, eid = m.group(1), m.group(2)
    if not re.match(r"^\d{14}-[0-9a-f]{8}$", eid):
        die("ExportId %s is not 14 digits, '-', 8 lowercase hex" % eid)
    if read(d + "/_started") != b"":
        die("_started is not empty")
    summ = read(d + "/manifest-summary.json")
    if summ.endswith(b"\n") or b"\n" in summ:
        die("manifest-summary.json is not one line without newline")
    if read(d + "/manifest-summary.md5").decode() != b64md5(summ):
        die("manifest-summary.md5 does not match")
    s = json.loads(summ)
    inc = s.get("exportType") == "INCREMENTAL_EXPORT"
    if list(s) != (INCR if inc else FULL):
        die("summary members out of order: %s" % list(s))
    if s["version"] != ("2023-08-01" if inc else "2020-06-30"):
        die("version " + s["version"])
    for k in ("startTime", "endTime") + (("exportFromTime", "exportToTime") if inc else ("exportTime",)):
        if not TIME.match(s[k]):
            die("%s is not YYYY-MM-DDTHH:MM:SS.sssZ: %s" % (k, s[k]))
    if not s["exportArn"].endswith(":table/%s/export/%s" % (s["tableArn"].split(":table/")[1], eid)):
        die("exportArn " + s["exportArn"])
    if s["outputFormat"] != "DYNAMODB_JSON" or s["s3SseAlgorithm"] != "AES256":
        die("outputFormat/s3SseAlgorithm")
    files = read(d + "/manifest-files.json")
    if read(d + "/manifest-files.md5").decode() != b64md5(files):
        die("manifest-files.md5 does not match")
    if files and not files.endswith(b"\n"):
        die("manifest-files.json: last line without newline")
    prefix = (s["s3Prefix"] + "/") if s["s3Prefix"] else ""
    if s["manifestFilesS3Key"] != prefix + "AWSDynamoDB/%s/manifest-files.json" % eid:
        die("manifestFilesS3Key " + s["manifestFilesS3Key"])
    total, out = 0, []
    for ln in files.decode().splitlines():
        f = json.loads(ln)
        if list(f) != ["itemCount", "md5Checksum", "etag", "dataFileS3Key"]:
            die("manifest line members: %s" % list(f))
        key = f["dataFileS3Key"]
        folder = "AWSDynamoDB/data/" if inc else "AWSDynamoDB/%s/data/" % eid
        name = key[len(prefix + folder):]
        if not key.startswith(prefix + folder) or not re.match(r"^[a-z2-7]{26}\.json\.(gz|zst)$", name):
            die("dataFileS3Key " + key)
        raw = read(dest + "/" + key[len(prefix):])
        if f["md5Checksum"] != b64md5(raw):
            die("md5Checksum of " + key)
        # The object's ETag: a single PUT's (the MD5 hex), or a one-part multipart upload's as
        # AWS lists it (a local export); several parts cannot be checked without the part size.
        one = hashlib.md5(hashlib.md5(raw).digest()).hexdigest() + "-1"
        if f["etag"] not in (one, hashlib.md5(raw).hexdigest()) and \
                not re.match(r"^[0-9a-f]{32}-([2-9]|[1-9][0-9]+)$", f["etag"]):
            die("etag of %s: %s, want %s" % (key, f["etag"], one))
        if f["itemCount"] == 0 and name.endswith(".gz") and len(raw) != 20:
            die("empty gzip data file of %d bytes (AWS writes 20)" % len(raw))
        data = decompress(raw, name).decode()
        lines = data.split("\n")
        if lines[-1] != "":
            die(key + ": last line without newline")
        lines = lines[:-1]
        if len(lines) != f["itemCount"]:
            die("%s: itemCount %d but %d lines" % (key, f["itemCount"], len(lines)))
        total += len(lines)
        out.extend(canon_line(x, inc) for x in lines)
    if total != s["itemCount"]:
        die("summary itemCount %d but the files hold %d" % (s["itemCount"], total))
    schema = json.loads(read(d + "/tidemark-schema.json"))
    if schema["ExportType"] != ("INCREMENTAL_EXPORT" if inc else "FULL_EXPORT") or \
            schema["TableId"] != s["tableId"] or not schema["KeySchema"]:
        die("tidemark-schema.json does not match the summary")
    for x in sorted(out):
        print(x)


def main():
    if len(sys.argv) < 2:
        die("usage: read_export.py export DIR | lines [FILE] | summary DIR")
    cmd = sys.argv[1]
    if cmd == "export":
        check_export(sys.argv[2])
    elif cmd == "lines":
        src = open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin
        for x in sorted(canon_line(ln, False) for ln in src.read().splitlines() if ln.strip()):
            print(x)
    elif cmd == "summary":
        s = json.loads(read(sys.argv[2].rstrip("/") + "/manifest-summary.json"))
        for k, v in s.items():
            print("%s=%s" % (k, v))
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:          # `| grep -q` stops reading early: not an error here
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
