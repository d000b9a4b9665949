#!/usr/bin/env python3
"""Crash-test input: batches of K new items b<id>-<i> plus a put of the shared item "last", all
carrying the batch id, so that a check can tell whole batches from half-applied ones.
Usage: gen.py FIRST_BATCH_ID BATCHES K   (write with batch-write --batch-size K+1)"""
import sys
first, n, k = (int(a) for a in sys.argv[1:4])
pad = "x" * 60
out = []
for b in range(first, first + n):
    for i in range(k):
        out.append('{"k":{"S":"b%d-%d"},"batch":{"N":"%d"},"pad":{"S":"%s"}}' % (b, i, b, pad))
    out.append('{"k":{"S":"last"},"batch":{"N":"%d"}}' % b)
sys.stdout.write("\n".join(out) + "\n")
