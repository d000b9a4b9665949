#!/usr/bin/python3
"""gen_items.py N [SEED] [VERSION]: N DynamoDB-JSON items ({"Item":...} lines) with every type,
for the export CLI tests: pk S "u<i % 97>...", sk N, and S (unicode, quotes, empty), N in odd
spellings ("00042", "1.5E2", "-0.000"), B, SS, NS, BS, M, L, NULL, BOOL. VERSION changes "ver"
and "amount" so that two loads differ. Deterministic."""
import base64
import json
import random
import sys

n = int(sys.argv[1])
rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
ver = int(sys.argv[3]) if len(sys.argv) > 3 else 1
odd = ["00042", "1.5E2", "-0.000", "1e-5", "123456789012345678901234567890.12345678", "-7"]
for i in range(n):
    it = {
        "pk": {"S": "u%02d-\u00e9\"q\\%d" % (i % 97, i % 5)},
        "sk": {"N": str(i)},
        "ver": {"N": str(ver)},
        "amount": {"N": "%d.%02d" % (rnd.randrange(10000) * ver, rnd.randrange(100))},
        "odd": {"N": odd[i % len(odd)]},
        "text": {"S": " ".join(rnd.choice(["alpha", "beta", "\u00fcml", "tab\t", "x"])
                               for _ in range(rnd.randrange(0, 12)))},
        "bin": {"B": base64.b64encode(bytes(rnd.randrange(256) for _ in range(i % 9))).decode()},
        "tags": {"SS": sorted({"t%d" % rnd.randrange(5) for _ in range(3)})},
        "nums": {"NS": sorted({str(rnd.randrange(-50, 50)) for _ in range(3)})},
        "blobs": {"BS": ["AAE=", "/w=="]},
        "m": {"M": {"deep": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": i % 2 == 0},
                                               {"N": "0.10"}]}}}, "e": {"M": {}}}},
        "l": {"L": []},
    }
    if i % 3 == 0:
        del it["text"]
    print(json.dumps({"Item": it}, separators=(",", ":")))
