#!/usr/bin/env python3
"""restore_expect.py ITEMS.jsonl UPDATES.tsv M... : the expected table after the first M updates
of the restore benchmark, computed independently of tidemark: one line "M count sum rowhash" per
M (rowhash = sum of int(md5("<user_id>|<sk>|<tokens>")[:15], 16), order-independent).
Also writes ITEMS.tsv-style rows for PostgreSQL when --pg-tsv OUT is given first:
  restore_expect.py --pg-tsv OUT ITEMS.jsonl   -> OUT: idx, pk, sk, item JSON (COPY text format)"""
import hashlib, json, sys

def load(items):
    keys, toks = [], []
    with open(items) as f:
        for line in f:
            it = json.loads(line)["Item"]
            keys.append((it["user_id"]["S"], it["sk"]["S"]))
            toks.append(it["tokens"]["N"])
    return keys, toks

def digest(keys, toks):
    s = h = 0
    for (pk, sk), t in zip(keys, toks):
        s += int(t)
        h += int(hashlib.md5(f"{pk}|{sk}|{t}".encode()).hexdigest()[:15], 16)
    return len(keys), s, h

def main():
    if sys.argv[1] == "--pg-tsv":
        out, items = sys.argv[2], sys.argv[3]
        esc = lambda s: s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        with open(items) as f, open(out, "w") as o:
            for i, line in enumerate(f):
                it = json.loads(line)["Item"]
                o.write(f"{i}\t{esc(it['user_id']['S'])}\t{esc(it['sk']['S'])}\t"
                        f"{esc(json.dumps(it, separators=(',', ':')))}\n")
        return
    items, updates, ms = sys.argv[1], sys.argv[2], sorted(int(m) for m in sys.argv[3:])
    keys, toks = load(items)
    done = 0
    with open(updates) as f:
        for m in ms:
            while done < m:
                idx, v, _ = f.readline().split("\t")
                toks[int(idx)] = v
                done += 1
            print(m, *digest(keys, toks))

main()
