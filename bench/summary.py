#!/usr/bin/env python3
"""bench/summary.py: the benchmarks' results file and its one summary.

  summary.py add FILE KIND key=value...   appends one JSON line to FILE (bench/lib.sh's row,
                                          note; run.sh's run header). Numbers stay numbers.
  summary.py get FILE OP FIELD            prints FIELD of the first row whose op is OP
  summary.py render FILE OUTDIR           writes OUTDIR/results.md (every row and note),
                                          summary.md, summary.json and summary.svg, and prints
                                          the summary table

results.jsonl, one object a line:
  {"kind":"run", "date", "commit", "items", "cores", "quick"}          (first, from run.sh)
  {"kind":"row", "script", "what", "tidemark_s", "ref_s", "note", "t", "load1",
   optional "op", "ref", "goal", "rss", "anon", "ref_rss"}             (KiB for memory)
  {"kind":"note", "script", "what", "value", "note", "t", "load1"}
  {"kind":"failed", "script", "status"}                                (run.sh: a script failed)
The summary has one line per op: the op's fastest reference among its rows with a goal (the
strongest one a user could pick), the ratio tidemark / reference, met when ratio <= goal.
"""
import html, json, math, os, sys, time

NUM = {"tidemark_s", "ref_s", "goal", "rss", "anon", "ref_rss", "items", "cores"}


def add(path, kind, kvs):
    rec = {"kind": kind}
    for kv in kvs:
        k, _, v = kv.partition("=")
        if v == "" or v == "?":
            continue
        if k in NUM:
            try:
                v = float(v) if "." in v else int(v)
            except ValueError:
                sys.exit(f"summary.py: {k}={v!r} is not a number ({rec.get('what', kind)})")
        rec[k] = v
    rec["t"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open("/proc/loadavg") as f:
        rec["load1"] = float(f.read().split()[0])
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def get(path, op, field):
    if not os.path.exists(path):
        return
    for r in load(path):
        if r.get("kind") == "row" and r.get("op") == op and field in r:
            print(r[field])
            return


def mib(kib):
    return "%.0f MiB" % (kib / 1024) if kib is not None else ""


def secs(s):
    return "%.3f s" % s


def summarize(recs):
    ops, order = {}, []
    for r in recs:
        if r.get("kind") != "row" or "goal" not in r or "op" not in r:
            continue
        if r["op"] not in ops:
            order.append(r["op"])
        best = ops.get(r["op"])
        if best is None or r["ref_s"] < best["ref_s"]:
            ops[r["op"]] = r
    out = []
    for op in order:
        r = ops[op]
        ratio = r["tidemark_s"] / r["ref_s"]
        mem = mib(r.get("rss"))
        if "anon" in r:
            mem += " (heap %s)" % mib(r["anon"])
        others = [x for x in recs if x.get("kind") == "row" and x.get("op") == op and x is not r]
        out.append({"operation": op, "tidemark_s": r["tidemark_s"], "reference": r.get("ref", "?"),
                    "reference_s": r["ref_s"], "ratio": round(ratio, 3), "goal": r["goal"],
                    "peak_rss_kib": r.get("rss"), "peak_heap_kib": r.get("anon"),
                    "peak_memory": mem, "met": ratio <= r["goal"],
                    "other_references": {x.get("ref", x["what"]): x["ref_s"] for x in others}})
    return out


def table(rows):
    lines = ["| operation | tidemark | reference (strongest) | ratio | goal | peak memory | met |",
             "|---|---|---|---|---|---|---|"]
    for s in rows:
        lines.append("| %s | %s | %s %s | %.2fx | <= %.2fx | %s | %s |" % (
            s["operation"], secs(s["tidemark_s"]), s["reference"], secs(s["reference_s"]),
            s["ratio"], s["goal"], s["peak_memory"] or "-", "met" if s["met"] else "MISSED"))
    return "\n".join(lines)


def svg(rows, title, subtitle):
    """One horizontal bar per operation: its ratio on a log scale, a black marker at its goal."""
    W, left, right, top, bh, gap = 1000, 340, 150, 80, 22, 10
    vals = [s["ratio"] for s in rows] + [s["goal"] for s in rows] or [1]
    lo = 10 ** math.floor(math.log10(min(min(vals), 0.5)))
    hi = 10 ** math.ceil(math.log10(max(max(vals), 2)))
    span = W - left - right
    x = lambda v: left + span * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    H = top + len(rows) * (bh + gap) + 40
    e = html.escape
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="20" font-size="15" font-weight="bold">%s</text>' % e(title),
         '<text x="10" y="38" fill="#333">%s</text>' % e(subtitle),
         '<text x="10" y="56">bar: tidemark time / strongest reference time (log scale; shorter is better); '
         'black mark: the goal</text>',
         '<rect x="%d" y="30" width="12" height="12" fill="#2e7d32"/><text x="%d" y="40">met</text>' % (W - 150, W - 134),
         '<rect x="%d" y="30" width="12" height="12" fill="#c62828"/><text x="%d" y="40">missed</text>' % (W - 95, W - 79)]
    ybot = top + len(rows) * (bh + gap)
    d = lo
    while d <= hi * 1.001:
        for m in (1, 2, 5):
            v = d * m
            if lo <= v <= hi * 1.001:
                o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>' % (
                    x(v), top - 8, x(v), ybot, "#999" if m == 1 else "#ddd"))
                o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%gx</text>' % (x(v), ybot + 15, v))
        d *= 10
    for i, s in enumerate(rows):
        y = top + i * (bh + gap)
        colour = "#2e7d32" if s["met"] else "#c62828"
        o.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 8, y + bh - 6, e(s["operation"])))
        o.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (left, y, max(x(s["ratio"]) - left, 1), bh, colour))
        gx = x(s["goal"])
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="3"/>' % (gx, y - 4, gx, y + bh + 4))
        o.append('<text x="%d" y="%d">%.2fx (goal &#8804; %.2fx)</text>' % (
            W - right + 8, y + bh - 6, s["ratio"], s["goal"]))
    o.append("</svg>")
    return "\n".join(o) + "\n"


def render(path, outdir):
    recs = load(path)
    run = next((r for r in recs if r["kind"] == "run"), {})
    loads = [r["load1"] for r in recs if "load1" in r]
    head = "tidemark benchmarks, %s, commit %s, %s cores, BENCH_ITEMS=%s%s%s" % (
        run.get("date", "?"), run.get("commit", "?"), run.get("cores", "?"), run.get("items", "?"),
        " (bench-quick)" if run.get("quick") == "1" else "",
        ", BENCH_ONLY=%s" % run["only"] if run.get("only") else "")
    noise = "load average (1 min) at each result: %.2f .. %.2f" % (min(loads), max(loads)) if loads else ""
    failed = ["%s (exit %s)" % (r["script"], r.get("status", "?")) for r in recs if r["kind"] == "failed"]
    if failed:
        noise += "\n\nFAILED, no results or partial results: %s" % ", ".join(failed)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("# %s\n\n%s\n\n| what | tidemark | reference | ratio | note |\n|---|---|---|---|---|\n" % (head, noise))
        for r in recs:
            if r["kind"] == "row":
                f.write("| %s | %s | %s%s | %.2fx | %s |\n" % (
                    r["what"], secs(r["tidemark_s"]), (r["ref"] + " ") if "ref" in r else "",
                    secs(r["ref_s"]), r["tidemark_s"] / r["ref_s"], r.get("note", "")))
            elif r["kind"] == "note":
                f.write("| %s | %s | | | %s |\n" % (r["what"], r.get("value", ""), r.get("note", "")))
    rows = summarize(recs)
    t = table(rows)
    met = sum(s["met"] for s in rows)
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write("# %s\n\n%s\n\n%s\n\n%d of %d goals met\n" % (head, noise, t, met, len(rows)))
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump({"run": run, "failed": failed, "noise": {"load1_min": min(loads, default=None), "load1_max": max(loads, default=None)},
                   "summary": rows, "results": [r for r in recs if r["kind"] != "run"]}, f, indent=1)
        f.write("\n")
    with open(os.path.join(outdir, "summary.svg"), "w") as f:
        f.write(svg(rows, "tidemark benchmarks: %d of %d goals met" % (met, len(rows)), head))
    print("\n# %s\n%s\n\n%s\n\n%d of %d goals met. Details: %s; also %s, %s" % (
        head, noise, t, met, len(rows), os.path.join(outdir, "results.md"),
        os.path.join(outdir, "summary.json"), os.path.join(outdir, "summary.svg")))


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "add":
        add(a[1], a[2], a[3:])
    elif len(a) == 4 and a[0] == "get":
        get(a[1], a[2], a[3])
    elif len(a) == 3 and a[0] == "render":
        render(a[1], a[2])
    else:
        sys.exit(__doc__)


main()
