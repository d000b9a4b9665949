#!/usr/bin/env python3
"""lifecycle_days.py (issue 15): simulated days of writes under a PITR period with a daily
`tidemark-lifecycle run`, checked against a reference model.

Each day: three batch-writes (15 of 40 keys each, at 08, 12 and 16 h plus random minutes, half a
second past the second) and one delete-item at 14 h. The model keeps every record with its time:
record i of a batch is stamped batch time + i us (the engine stamps each write after the last).
After the day's run at 23 h:
  - the window is [max(enable, now - period), now] exactly (never computed from part of the data);
  - the next run would delete nothing (what the window does not need is gone) and refuses nothing;
  - disk stays bounded: log bytes <= LOG_FACTOR x the bytes written in the window + one day, and
    at most period + 3 snapshots;
  - on restore days, restores at the earliest and latest second and at random seconds of the
    window hold exactly the model's items at that time.
usage: lifecycle_days.py --days N --period P [--restore-every K] [--random R] [--seed S]
       [--raise-to P2 --raise-day D]   (the period changed on day D; raised, the window never grows
                                        back past what retention kept, and every second restores)
Prints one line per checked day; exits 1 at the first mismatch."""
import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys

DAY = 86400 * 10**6
T0 = int(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * 10**6
KEYS = 40
PAD = "x" * 80
LOG_FACTOR = 4


def iso(us):
    s = dt.datetime.fromtimestamp(us // 10**6, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return "%s.%06dZ" % (s, us % 10**6)


def parse(s):
    d = dt.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    frac = s[20:-1] if len(s) > 20 else ""
    return int(d.timestamp()) * 10**6 + (int(frac.ljust(6, "0")) if frac else 0)


def tm(at, *args, stdin=None, ok=(0,)):
    env = dict(os.environ, TIDEMARK_CLOCK=iso(at))
    p = subprocess.run(list(args), input=stdin, capture_output=True, text=True, env=env)
    if p.returncode not in ok:
        sys.exit("FAIL: exit %d: %s\n%s%s" % (p.returncode, " ".join(args), p.stdout[-2000:],
                                              p.stderr[-2000:]))
    return p


class Model:
    def __init__(self):
        self.recs = []          # (time_us, key, value or None), ascending
        self.live = {}

    def state_at(self, t):
        s = {}
        for when, k, v in self.recs:
            if when > t:
                break
            if v is None:
                s.pop(k, None)
            else:
                s[k] = v
        return s

    def bytes_since(self, t):
        return sum(len(v or "") + 8 for when, k, v in self.recs if when >= t)


def write_day(table, d, m, rnd):
    base = T0 + d * DAY
    for b, hour in enumerate((8, 12, 16)):
        at = base + hour * 3600 * 10**6 + rnd.randrange(60) * 60 * 10**6 + 500000
        keys = rnd.sample(range(1, KEYS + 1), 15)
        lines = []
        for i, k in enumerate(keys):
            v = "d%db%d-%s" % (d, b, PAD)
            lines.append(json.dumps({"k": {"N": str(k)}, "v": {"S": v}}))
            m.recs.append((at + i, k, v))
            m.live[k] = v
        tm(at, "tidemark", "batch-write", "--table", table, "--file", "-", stdin="\n".join(lines) + "\n")
        if hour == 12 and m.live:
            k = rnd.choice(sorted(m.live))
            at = base + 14 * 3600 * 10**6 + 500000
            tm(at, "tidemark", "delete-item", "--table", table, "--key", json.dumps({"k": {"N": str(k)}}))
            m.recs.append((at, k, None))
            del m.live[k]


def scan(at, table):
    out = tm(at, "tidemark", "scan", "--table", table).stdout
    s = {}
    for line in out.splitlines():
        if line.strip():
            it = json.loads(line)["Item"]
            s[int(it["k"]["N"])] = it["v"]["S"]
    return s


def check_restore(at, table, t, m, n, label):
    target = "R%d-%s" % (n, table)
    args = ["--latest"] if t is None else ["--time", iso(t)]
    tm(at, "tidemark-restore", "--table", table, "--target", target, "-q", *args)
    got = scan(at, target)
    want = m.state_at(at if t is None else t)
    if got != want:
        diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        sys.exit("FAIL: restore of %s at %s (%s): %d keys differ, e.g. %s: got %s, want %s" %
                 (table, label, iso(t) if t else "latest", len(diff), diff[0],
                  got.get(diff[0]), want.get(diff[0])))
    tm(at, "tidemark", "delete-table", "--table", target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--period", type=int, default=35)
    ap.add_argument("--restore-every", type=int, default=1)
    ap.add_argument("--random", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--raise-to", type=int, default=0)
    ap.add_argument("--raise-day", type=int, default=0)
    ap.add_argument("--table", default="Days")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    table, m, n = a.table, Model(), 0
    tm(T0, "tidemark", "create-table", "--table", table, "--key", "k:N")
    tm(T0, "tidemark", "pitr", "enable", "--table", table, "--recovery-period-in-days", str(a.period))
    period, floor = a.period, T0
    for d in range(a.days):
        write_day(table, d, m, rnd)
        now = T0 + d * DAY + 23 * 3600 * 10**6
        if a.raise_to and d == a.raise_day:
            tm(now, "tidemark", "pitr", "enable", "--table", table, "--recovery-period-in-days",
               str(a.raise_to))
            period = a.raise_to
        tm(now, "tidemark-lifecycle", "run", "--table", table, "--recompress-days", "3")
        st = json.loads(tm(now, "tidemark", "pitr", "status", "--table", table).stdout)
        pd = st["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        e, l = parse(pd["EarliestRestorableDateTime"]), parse(pd["LatestRestorableDateTime"])
        want_e = max(T0, now - period * DAY)
        if a.raise_to > a.period and d >= a.raise_day:
            # raised: not back past what the shorter period kept (its base snapshot, at most a
            # day before its start here), never after the new period's start
            if e < floor - DAY:
                sys.exit("FAIL: day %d: earliest %s moved back past what was kept (%s)" % (d, iso(e), iso(floor)))
            if e > max(want_e, floor):
                sys.exit("FAIL: day %d: earliest %s after %s" % (d, iso(e), iso(max(want_e, floor))))
        elif e != want_e:
            sys.exit("FAIL: day %d: earliest %s, want %s" % (d, iso(e), iso(want_e)))
        if l != now:
            sys.exit("FAIL: day %d: latest %s, want %s" % (d, iso(l), iso(now)))
        if not (a.raise_to > a.period and d >= a.raise_day):
            floor = e
        rep = json.loads(tm(now, "tidemark-lifecycle", "report", "--table", table, "--json").stdout)["Tables"][0]
        dels = [x for x in rep.get("NextRun", []) if x["Action"] == "delete"]
        if dels or rep.get("Refused"):
            sys.exit("FAIL: day %d: after the run, the next would still: %s %s" % (d, dels, rep.get("Refused", "")))
        logb, nsnap = rep["LogBytes"], len(rep["Snapshots"])
        bound = LOG_FACTOR * m.bytes_since(e - DAY) + 16384
        if logb > bound or nsnap > period + 3:
            sys.exit("FAIL: day %d: disk not bounded: log %d bytes (bound %d), %d snapshots" % (d, logb, bound, nsnap))
        checked = ""
        if d % a.restore_every == 0 or d == a.days - 1 or (a.raise_to and d == a.raise_day):
            n += 1
            check_restore(now, table, e, m, n, "earliest")
            n += 1
            check_restore(now, table, None, m, n, "latest")
            for _ in range(a.random):
                t = e + rnd.randrange((l - e) // 10**6 + 1) * 10**6
                n += 1
                check_restore(now, table, t, m, n, "random")
            checked = ", restores ok"
        print("day %d: window %s .. %s, log %d bytes, %d snapshots%s" % (d, iso(e), iso(l), logb, nsnap, checked))
    print("lifecycle_days: ok (%d days, period %d)" % (a.days, a.period))


if __name__ == "__main__":
    main()
