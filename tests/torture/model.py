#!/usr/bin/env python3
"""The torture harness's independent checker: it knows nothing of tidemark's code, only what
the writers were told (their acks) and what the readers print.
  model.py digest [FILE]           items ({"Item":..} or bare, one a line) -> "COUNT SHA256" of
                                   the sorted, key-sorted JSON (attribute order does not count)
  model.py items [FILE]            the same items as {"Item":{..}} lines, attributes sorted
                                   (what tests/crash/check.py reads)
  model.py export-digest EXPDIR    the digest of the data files an export's manifest-files.json
                                   lists (gzip or plain; zstd through the zstd program)
  model.py export-items EXPDIR     their items, as `items` prints them
  model.py loops LOGDIR SCANFILE   put/update loops: every key holds its last acknowledged value
                                   (or the one in flight when its writer was killed), nothing else
  model.py damage FILE SEED MODE   flip one bit (MODE flip) at a seeded offset, truncate (MODE
                                   trunc) to a seeded length, or delete; prints what was done
Exit 1 with one line on stderr when a check fails."""
import glob, gzip, hashlib, json, os, random, re, subprocess, sys


def norm(line):
    line = line.strip()
    if not line:
        return None
    o = json.loads(line)
    if "Item" in o and isinstance(o["Item"], dict) and len(o) == 1:
        o = o["Item"]
    if not o:
        return None     # get-item's {} (no such item), or an empty "Item"
    return json.dumps(o, sort_keys=True, separators=(",", ":"))


def digest_lines(lines):
    items = sorted(x for x in (norm(l) for l in lines) if x is not None)
    h = hashlib.sha256()
    for x in items:
        h.update(x.encode() + b"\n")
    return "%d %s" % (len(items), h.hexdigest()[:16])


def read_data_file(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif raw[:4] == b"\x28\xb5\x2f\xfd":
        raw = subprocess.run(["zstd", "-dc"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    return raw.decode().splitlines()


def export_lines(expdir):
    expdir = expdir.rstrip("/")
    # data file keys are relative to the destination (DEST/AWSDynamoDB/<id>/data/...)
    root = os.path.dirname(os.path.dirname(expdir))
    lines = []
    with open(os.path.join(expdir, "manifest-files.json")) as f:
        for l in f:
            if l.strip():
                lines += read_data_file(os.path.join(root, json.loads(l)["dataFileS3Key"]))
    return lines


def print_items(lines):
    out = sorted(x for x in (norm(l) for l in lines) if x is not None)
    sys.stdout.write("".join('{"Item":%s}\n' % x for x in out))


def loops(logdir, scanfile):
    # LOGDIR/w<N>.log lines: "try KEY V", "ack KEY V", "err KEY V RC". One writer at a time per
    # key; a key's value V rises with each attempt.
    want = {}   # key -> (last acked value or None, value in flight after it or None)
    for path in sorted(glob.glob(os.path.join(logdir, "w*.log"))):
        with open(path) as f:
            lines = f.read().split("\n")
        for l in lines:
            p = l.split()
            if len(p) < 3:
                continue          # a line cut by the kill
            kind, key, v = p[0], p[1], int(p[2])
            acked, flight = want.get(key, (None, None))
            if kind == "try":
                want[key] = (acked, v)
            elif kind == "ack":
                want[key] = (v, None)
            elif kind == "err":
                want[key] = (acked, None)   # told "failed": must not be there
    got = {}
    with open(scanfile) as f:
        for l in f:
            x = norm(l)
            if x is None:
                continue
            o = json.loads(x)
            k = o.get("k", {}).get("S", "")
            if not k.startswith("w"):
                continue
            got[k] = int(o["v"]["N"])
    bad = []
    for key, (acked, flight) in sorted(want.items()):
        ok = {acked, flight} - {None}
        have = got.pop(key, None)
        if have is None and acked is None:
            continue
        if have not in ok:
            bad.append("%s=%s (acked %s, in flight %s)" % (key, have, acked, flight))
    for key, have in sorted(got.items()):
        bad.append("%s=%s never written" % (key, have))
    if bad:
        sys.exit("%d keys wrong: %s" % (len(bad), "; ".join(bad[:5])))
    print(len(want))


def damage(path, seed, mode):
    rnd = random.Random(seed)
    size = os.path.getsize(path)
    if size == 0:
        sys.exit("empty file %s" % path)
    if mode == "flip":
        off = rnd.randrange(size)
        bit = rnd.randrange(8)
        with open(path, "r+b") as f:
            f.seek(off)
            b = f.read(1)[0]
            f.seek(off)
            f.write(bytes([b ^ (1 << bit)]))
        print("flipped bit %d at offset %d of %d" % (bit, off, size))
    elif mode == "delete":
        os.remove(path)
        print("deleted (%d bytes)" % size)
    elif mode == "trunc":
        n = rnd.randrange(size)
        os.truncate(path, n)
        print("truncated from %d to %d bytes" % (size, n))
    else:
        sys.exit("mode flip, trunc or delete")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "digest":
        f = open(a[1]) if len(a) > 1 and a[1] != "-" else sys.stdin
        print(digest_lines(f))
    elif a[0] == "items":
        print_items(open(a[1]) if len(a) > 1 and a[1] != "-" else sys.stdin)
    elif a[0] == "export-digest":
        print(digest_lines(export_lines(a[1])))
    elif a[0] == "export-items":
        print_items(export_lines(a[1]))
    elif a[0] == "loops":
        loops(a[1], a[2])
    elif a[0] == "damage":
        damage(a[1], int(a[2]), a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
