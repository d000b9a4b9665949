#!/usr/bin/env python3
"""Chat-history items, one {"Item":...} DynamoDB JSON line each (about 250-300 bytes): user id
partition key, thread#<n>#<ms> sort key, text, tokens, and a small map. Deterministic (seed 42).
Usage: gen_items.py N [seed]"""
import json, random, sys
n = int(sys.argv[1])
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
words = ("the quick brown fox jumps over lazy dog model token reply prompt thread user bot "
         "answer question data table index").split()
w = sys.stdout.write
for i in range(n):
    uid = "user#%06d" % random.randrange(n // 20 + 1)
    ts = 1700000000000 + i * 37
    text = " ".join(random.choice(words) for _ in range(random.randint(10, 30)))
    item = {"user_id": {"S": uid}, "sk": {"S": "thread#%05d#%d" % (random.randrange(500), ts)},
            "text": {"S": text}, "tokens": {"N": str(random.randint(1, 4000))},
            "meta": {"M": {"model": {"S": random.choice(["m1", "m2", "m3"])},
                           "temp": {"N": "0.%d" % random.randint(0, 9)}, "ok": {"BOOL": True}}}}
    w(json.dumps({"Item": item}, separators=(",", ":")) + "\n")
