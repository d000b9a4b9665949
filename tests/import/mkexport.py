#!/usr/bin/env python3
"""Fixtures for the tidemark-import CLI tests (tests/cli/import_*.sh).

  mkexport.py items N [SEED]          N varied items ({"Item":...} lines): every attribute type,
                                      pk:S + sk:N keys, deterministic
  mkexport.py export --items F --out DIR [--prefix P] [--files K] [--schema pk:S,sk:N]
                     [--zstd] [--table T]
                                      writes an export laid out as AWS does (FORMATS.md section 2)
                                      under DIR[/P]/AWSDynamoDB/<id>/ and prints that directory;
                                      --schema adds tidemark-schema.json (as tidemark-export)
  mkexport.py canon < lines           canonical form of item lines, sorted (to compare tables)
  mkexport.py remd5 DIR               recomputes manifest .md5 files after a deliberate edit
"""
import base64, gzip, hashlib, json, os, random, subprocess, sys


def items(n, seed=1):
    r = random.Random(seed)
    out = []
    for i in range(n):
        it = {"pk": {"S": "user#%04d" % r.randrange(max(1, n // 5))}, "sk": {"N": str(i)},
              "s": {"S": "héllo \"q\" \\ %d\n" % i}, "n": {"N": str(r.randint(-10**6, 10**6))},
              "f": {"N": "%d.%d" % (r.randint(0, 99), r.randint(1, 9))},
              "b": {"B": base64.b64encode(bytes([i % 256, 0, 255])).decode()},
              "bool": {"BOOL": i % 2 == 0}, "nul": {"NULL": True},
              "ss": {"SS": ["a%d" % i, "b"]}, "ns": {"NS": ["1", str(i + 2)]},
              "bs": {"BS": [base64.b64encode(b"x").decode()]},
              "m": {"M": {"k": {"S": "v"}, "deep": {"L": [{"N": "1"}, {"S": "two"}]}}},
              "l": {"L": [{"BOOL": False}, {"M": {}}]}}
        if i % 7 == 0:
            del it["m"]
        out.append(json.dumps({"Item": it}, separators=(",", ":"), ensure_ascii=False))
    return out


def norm(v):
    (t, x), = v.items()
    if t in ("SS", "NS", "BS"):
        return {t: sorted(x)}
    if t == "M":
        return {t: {k: norm(y) for k, y in x.items()}}
    if t == "L":
        return {t: [norm(y) for y in x]}
    return v


def canon(lines):
    res = []
    for l in lines:
        if not l.strip():
            continue
        o = json.loads(l)
        o = o.get("Item", o)
        res.append(json.dumps({k: norm(v) for k, v in o.items()}, sort_keys=True,
                              ensure_ascii=False))
    return sorted(res)


def b64md5(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def export(args):
    opts = {"--prefix": "", "--files": "2", "--schema": "", "--table": "T"}
    flags = set()
    i = 0
    while i < len(args):
        if args[i] in ("--zstd",):
            flags.add(args[i]); i += 1
        else:
            opts[args[i]] = args[i + 1]; i += 2
    lines = [l.rstrip("\n") for l in open(opts["--items"], encoding="utf-8") if l.strip()]
    eid = "01700000000000-0123abcd"
    prefix = opts["--prefix"]
    rel = (prefix + "/" if prefix else "") + "AWSDynamoDB/" + eid
    root = os.path.join(opts["--out"], rel)
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    open(os.path.join(root, "_started"), "w").close()
    k = int(opts["--files"])
    ext = ".json.zst" if "--zstd" in flags else ".json.gz"
    mf = []
    for f in range(k):
        part = lines[f::k]
        raw = "".join(l + "\n" for l in part).encode()
        name = "file%02d%s" % (f, ext)
        path = os.path.join(root, "data", name)
        if "--zstd" in flags:
            data = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE,
                                  check=True).stdout
        else:
            data = gzip.compress(raw, mtime=0)
        open(path, "wb").write(data)
        md5 = hashlib.md5(data).digest()
        mf.append('{"itemCount":%d,"md5Checksum":"%s","etag":"%s-1","dataFileS3Key":"%s"}\n' % (
            len(part), base64.b64encode(md5).decode(), hashlib.md5(md5).hexdigest(),
            rel + "/data/" + name))
    files = "".join(mf).encode()
    open(os.path.join(root, "manifest-files.json"), "wb").write(files)
    open(os.path.join(root, "manifest-files.md5"), "w").write(b64md5(files))
    if opts["--schema"]:
        ks, ad = [], []
        for j, spec in enumerate(opts["--schema"].split(",")):
            n, t = spec.split(":")
            ks.append({"AttributeName": n, "KeyType": "HASH" if j == 0 else "RANGE"})
            ad.append({"AttributeName": n, "AttributeType": t})
        sch = {"TableName": opts["--table"], "TableId": "00000000-0000-0000-0000-000000000000",
               "KeySchema": ks, "AttributeDefinitions": ad,
               "ExportTime": "2023-11-14T22:13:20.000000Z", "ExportType": "FULL_EXPORT"}
        open(os.path.join(root, "tidemark-schema.json"), "w").write(
            json.dumps(sch, separators=(",", ":")) + "\n")
    summary = ('{"version":"2020-06-30","exportArn":"arn:aws:dynamodb:us-east-1:000000000000:'
               'table/%s/export/%s","startTime":"2023-11-14T22:13:20.000Z","endTime":'
               '"2023-11-14T22:13:21.000Z","tableArn":"arn:aws:dynamodb:us-east-1:000000000000:'
               'table/%s","tableId":"00000000-0000-0000-0000-000000000000","exportTime":'
               '"2023-11-14T22:13:20.000Z","s3Bucket":"bkt","s3Prefix":%s,"s3SseAlgorithm":'
               '"AES256","s3SseKmsKeyId":null,"manifestFilesS3Key":"%s/manifest-files.json",'
               '"billedSizeBytes":0,"itemCount":%d,"outputFormat":"DYNAMODB_JSON"}') % (
        opts["--table"], eid, opts["--table"], json.dumps(prefix) if prefix else "null", rel,
        len(lines))
    open(os.path.join(root, "manifest-summary.json"), "w").write(summary)
    open(os.path.join(root, "manifest-summary.md5"), "w").write(b64md5(summary.encode()))
    print(root)


def remd5(d):
    for n in ("manifest-files", "manifest-summary"):
        p = os.path.join(d, n + ".json")
        if os.path.exists(p):
            open(os.path.join(d, n + ".md5"), "w").write(b64md5(open(p, "rb").read()))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "items":
        print("\n".join(items(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)))
    elif cmd == "export":
        export(sys.argv[2:])
    elif cmd == "canon":
        sys.stdout.write("".join(l + "\n" for l in canon(sys.stdin)))
    elif cmd == "remd5":
        remd5(sys.argv[2])
    else:
        sys.exit(__doc__)
