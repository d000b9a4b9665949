#!/usr/bin/env python3
"""rollback_model.py: tidemark-rollback against a reference model (issue 13).

Random histories on a tidemark table with PITR, in three phases: A (before the window), B (the
window [t0, t1): the "bad load"), C (after the window: legitimate writes to some keys). An
incremental export (NEW_AND_OLD_IMAGES) of [t0, t1), then the rollback. The model keeps the
state after each phase and says, per key the export holds:
  final == state after B   -> the rollback puts the state at t0 back (RESTORE, DELETE, or
                              ALREADY_ROLLED_BACK when it was the same);
  otherwise                -> CONFLICT, left as it is (or ALREADY when C wrote the t0 state).
Every other key keeps its final state. Then: a re-run changes nothing (log seq the same, every
item ALREADY or CONFLICT); the rollback exported and rolled back in turn gives the final state
again (its writes went through the log).

usage: rollback_model.py SEED [KEYS] (programs from PATH, data dir $TIDEMARK_HOME)"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time

def run(*args, stdin=None, ok=(0,)):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit("FAIL: %s exited %d\nstdout: %s\nstderr: %s" % (" ".join(args), p.returncode,
                                                                 p.stdout[-2000:], p.stderr[-2000:]))
    return p

def item(k, v):
    it = {"pk": {"S": k}, "v": {"N": str(v)}}
    if v % 3 == 0:
        it["tag"] = {"S": "t%d" % (v % 7)}
    if v % 5 == 0:
        it["set"] = {"SS": ["a", "b%d" % (v % 4)]}
    return it

def scan(table):
    out = run("tidemark", "scan", "--table", table).stdout
    return {json.loads(l)["Item"]["pk"]["S"]: json.loads(l)["Item"] for l in out.splitlines() if l}

def now():
    return "%.6f" % time.time()

def phase(table, state, rng, keys, ops):
    """ops random writes in rounds: each round one BatchWriteItem call per 25 distinct keys."""
    done = 0
    while done < ops:
        ks = rng.sample(keys, min(25, ops - done))
        reqs = []
        for k in ks:
            if k in state and rng.random() < 0.25:
                reqs.append({"DeleteRequest": {"Key": {"pk": {"S": k}}}})
                del state[k]
            else:
                it = item(k, rng.randrange(10**6))
                reqs.append({"PutRequest": {"Item": it}})
                state[k] = it
        req = json.dumps({"RequestItems": {table: reqs}})
        run("tidemark", "call", "BatchWriteItem", "--request", req)
        done += len(ks)
    return state

def canon(it):
    if it is None:
        return None
    c = dict(it)
    if "set" in c:
        c["set"] = {"SS": sorted(c["set"]["SS"])}
    return json.dumps(c, sort_keys=True)

def main():
    seed = int(sys.argv[1])
    nkeys = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rng = random.Random(seed)
    table = "Model%d" % seed
    work = tempfile.mkdtemp(prefix="rbmodel.", dir=os.environ.get("TIDEMARK_HOME"))
    keys = ["k%04d" % i for i in range(nkeys)]
    run("tidemark", "create-table", "--table", table, "--key", "pk:S")
    run("tidemark", "pitr", "enable", "--table", table)
    state = phase(table, {}, rng, keys, nkeys)            # A
    time.sleep(0.02)
    t0 = now()
    time.sleep(0.02)
    before = dict(state)
    touched_b = set()
    b_keys = rng.sample(keys, nkeys // 2)
    state_b = dict(state)
    for _ in range(3):                                      # B: repeated writes to a subset
        prev = dict(state_b)
        state_b = phase(table, state_b, rng, b_keys, len(b_keys) // 2)
        touched_b |= {k for k in b_keys if canon(prev.get(k)) != canon(state_b.get(k))}
    time.sleep(0.02)
    t1 = now()
    time.sleep(0.02)
    after_b = dict(state_b)
    c_keys = rng.sample(keys, nkeys // 6)
    final = phase(table, dict(after_b), rng, c_keys, len(c_keys))   # C
    assert {k: canon(v) for k, v in scan(table).items()} == {k: canon(v) for k, v in final.items()}, \
        "the table is not the model before the rollback"

    exp = run("tidemark-export", "--table", table, "--to", work + "/exp", "--incremental",
              "--from", t0, "--until", t1).stdout.strip()
    report = work + "/report.jsonl"
    p = run("tidemark-rollback", "--from", exp, "--table", table, "--report", report, ok=(0, 3))
    lines = [json.loads(l) for l in open(report)]
    summary = lines[-1]["RollbackSummary"]
    reports = {r["Keys"]["pk"]["S"]: r for r in lines[:-1]}

    # the model's answer per key
    want, conflicts = {}, set()
    for k in keys:
        b, a, f = canon(before.get(k)), canon(after_b.get(k)), canon(final.get(k))
        in_export = k in reports
        if in_export:
            if f == a:
                want[k] = b
                act = "ALREADY_ROLLED_BACK" if a == b else ("DELETE" if b is None else "RESTORE")
            elif f == b:
                want[k] = f
                act = "ALREADY_ROLLED_BACK"
            else:
                want[k] = f
                act = "CONFLICT"
                conflicts.add(k)
            got = reports[k]["Action"]
            if got != act:
                sys.exit("FAIL seed %d key %s: action %s, model says %s (t0 %s, t1 %s, now %s)"
                         % (seed, k, got, act, b, a, f))
        else:
            want[k] = f
            if k in touched_b and canon(before.get(k)) != canon(after_b.get(k)):
                sys.exit("FAIL seed %d: key %s changed in the window but is not in the export" % (seed, k))
    got = {k: canon(v) for k, v in scan(table).items()}
    want = {k: v for k, v in want.items() if v is not None}
    if got != want:
        bad = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        sys.exit("FAIL seed %d: %d keys differ from the model after the rollback: %s" % (seed, len(bad), bad[:5]))
    if summary["Conflicts"] != len(conflicts):
        sys.exit("FAIL seed %d: %d conflicts reported, model %d" % (seed, summary["Conflicts"], len(conflicts)))
    if p.returncode != (3 if conflicts else 0):
        sys.exit("FAIL seed %d: exit %d with %d conflicts" % (seed, p.returncode, len(conflicts)))
    for k in conflicts:
        r = reports[k]
        if canon(r.get("Current")) != canon(final.get(k)) or canon(r.get("NewImage")) != canon(after_b.get(k)) \
                or canon(r.get("OldImage")) != canon(before.get(k)):
            sys.exit("FAIL seed %d: conflict %s not reported with current, new and old images: %s" % (seed, k, r))

    # a re-run changes nothing
    p2 = run("tidemark-rollback", "--from", exp, "--table", table, "--json", ok=(0, 3))
    l2 = [json.loads(l) for l in p2.stdout.splitlines()]
    s2 = l2[-1]["RollbackSummary"]
    if s2["LogSeqBefore"] != s2["LogSeqAfter"] or s2["Restored"] or s2["Deleted"]:
        sys.exit("FAIL seed %d: the re-run wrote: %s" % (seed, s2))
    if any(r["Action"] not in ("ALREADY_ROLLED_BACK", "CONFLICT") for r in l2[:-1]):
        sys.exit("FAIL seed %d: the re-run found work to do" % seed)
    if {k: canon(v) for k, v in scan(table).items()} != want:
        sys.exit("FAIL seed %d: the re-run changed the table" % seed)

    # the rollback, exported and rolled back, gives the final state again
    seq_written = summary["LogSeqAfter"] - summary["LogSeqBefore"]
    if seq_written != summary["Restored"] + summary["Deleted"]:
        sys.exit("FAIL seed %d: %d log records for %d writes" % (seed, seq_written,
                                                                  summary["Restored"] + summary["Deleted"]))
    time.sleep(0.02)
    t3 = now()
    exp2 = run("tidemark-export", "--table", table, "--to", work + "/exp2", "--incremental",
               "--from", "%.6f" % (float(t1) + 0.001), "--until", t3).stdout.strip()
    run("tidemark-rollback", "--from", exp2, "--table", table, "--since",
        "%.6f" % (time.time() - 3600), ok=(0, 3))
    # exp2 also holds phase C's writes: undoing them too goes back to the state after B
    if {k: canon(v) for k, v in scan(table).items()} != {k: canon(v) for k, v in after_b.items() if v is not None}:
        sys.exit("FAIL seed %d: undoing C and the rollback did not give the state after B" % seed)
    print("ok seed %d: %d records, %d restored, %d deleted, %d already, %d conflicts"
          % (seed, summary["Records"], summary["Restored"], summary["Deleted"],
             summary["AlreadyRolledBack"], summary["Conflicts"]))

main()
