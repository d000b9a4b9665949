#!/usr/bin/env python3
"""Checks a crash-test table after recovery, from `tidemark scan` on stdin.
Usage: check.py K ACKED   (ACKED: the highest batch id the writers had acknowledged)
Every batch 1..ACKED is whole; no batch is partly present; batches present are 1..M with
M = ACKED or ACKED + 1 (the one a kill interrupted after its commit, before its ack was printed);
"last" holds batch M. Prints M."""
import re, sys
from collections import Counter
k, acked = int(sys.argv[1]), int(sys.argv[2])
per = Counter()
last = None
# Attributes come in name order (batch, k, pad): a regex is enough and much faster than json.
pat = re.compile(r'^\{"Item":\{"batch":\{"N":"(\d+)"\},"k":\{"S":"([^"]+)"\}')
for line in sys.stdin:
    m = pat.match(line)
    if not m:
        if '"probe"' in line:
            continue
        sys.exit("unexpected item: " + line.strip())
    batch, key = int(m.group(1)), m.group(2)
    if key == "last":
        last = batch
    else:
        b = int(key[1:].split("-")[0])
        if batch != b:
            sys.exit("item %s carries batch %d" % (key, batch))
        per[b] += 1
bad = {b: n for b, n in per.items() if n != k}
if bad:
    sys.exit("half-applied batches (batch: items of %d): %s" % (k, dict(sorted(bad.items())[:10])))
m = max(per) if per else 0
missing = [b for b in range(1, m + 1) if b not in per]
if missing:
    sys.exit("batches missing below %d: %s" % (m, missing[:10]))
if m < acked:
    sys.exit("acknowledged batch %d is lost (only 1..%d present)" % (acked, m))
if m > acked + 1:
    sys.exit("batches up to %d present but only %d acknowledged and one in flight" % (m, acked))
if m and last != m:
    sys.exit('"last" holds batch %s, the newest batch present is %d' % (last, m))
print(m)
