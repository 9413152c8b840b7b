#!/usr/bin/python3
"""report.py - turns the latest bench/results/*.json of each server into the
results section of bench/README.md (Markdown tables, between the
`<!-- results:begin -->` and `<!-- results:end -->` markers) and the chart
bench/results/ratios.png (gnuplot): median dynamofs/boto3 ratio per workload,
one bar per server and delay, on a log scale, with the targets as marks and
the FUSE floor's ratio to boto3 (the best a FUSE file system reached with
the workload's command, bench/fusefloor.c's fastest variant for it) as
circles. The 0 ms tables show both floors: the new one (the workload's best
variant) and the old one (mounted like dynamofs).

usage: report.py [RESULTS.json ...]   (default: the newest full run of each
                                       server, else its newest --quick run)
"""
import glob
import json
import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(BENCH, "results")
README = os.path.join(BENCH, "README.md")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def latest():
    files = sorted(glob.glob(os.path.join(RESULTS, "*.json")))
    best = {}
    for f in files:
        try:
            r = json.load(open(f))
        except (OSError, ValueError):
            continue
        key = r["server"]
        # a full run beats a quick one; then the newest
        rank = (not r.get("quick"), r["date"])
        if key not in best or rank >= best[key][0]:
            best[key] = (rank, f, r)
    return [(f, r) for _, f, r in sorted(best.values(), key=lambda x: x[2]["server"])]


def fmt(x):
    if x is None:
        return "-"
    if float(x).is_integer() and abs(x) < 1e6 and isinstance(x, (int, float)) and x >= 1:
        return "%d" % x
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def target_text(w):
    t = w["target"]
    parts = []
    if "ratio" in t:
        parts.append(">= %gx" % t["ratio"])
    if "ceiling_c8" in t:
        parts.append(">= %g of c8" % t["ceiling_c8"])
    if "ratio_b2" in t:
        parts.append(">= %gx the %s" % (t["ratio_b2"], w["summary"].get("b2_title", "second boto3 side")))
    if "ceiling" in t:
        parts.append(">= %g of %s" % (t["ceiling"][1], t["ceiling"][0]))
    if "requests" in t:
        parts.append("<= %d requests" % t["requests"])
    if "of_floor" in t:
        parts.append(">= %g of floor" % t["of_floor"])
    if not parts:
        return "-"
    met = w["summary"]["target_met"]
    return " and ".join(parts) + (" **met**" if met else " not met")


FLOOR_HEAD = (" FUSE floor items/s (variant) | floor/boto3 | of floor "
              "| old floor items/s | of old floor |")


def floor_cells(s):
    """The FUSE floor's columns of a 0 ms row: the new floor's items/s
    median (min-max) and variant, floor/boto3 (median of rounds),
    dynamofs/floor, then the old floor's items/s and dynamofs/old floor; "-"
    where the floor was not measured (other workloads, older results, whose
    only floor was the old one)."""
    f, o = s.get("floor_items_per_s"), s.get("floor_old_items_per_s")
    if not f:
        return ["-"] * 5
    if not o and "floor_variant" not in s:  # results from before the redo
        return ["-", "-", "-", "%s (%s-%s)" % (
            fmt(f["median"]), fmt(f["min"]), fmt(f["max"])), fmt(s["of_floor"])]
    cells = ["%s (%s-%s) `%s`" % (fmt(f["median"]), fmt(f["min"]), fmt(f["max"]),
                                   s["floor_variant"]),
             fmt(s["floor_ratio"]["median"]), fmt(s["of_floor"])]
    if o:
        cells += ["%s (%s-%s)" % (fmt(o["median"]), fmt(o["min"]), fmt(o["max"])),
                  fmt(s["of_floor_old"])]
    else:
        cells += ["-", "-"]
    return cells


def table(run):
    # At 0 ms: the FUSE floor (bench/fusefloor) after the ratio.
    floor = run["delay_ms"] == 0
    rows = ["| workload | items | dynamofs items/s median (min-max) | boto3 items/s median "
            "| ratio median (min-max) |"
            + (FLOOR_HEAD if floor else "")
            + " of raw ceiling c1 / c8 (/ conditional c1) | requests | daemon CPU ms/item "
            "| requests in flight | target |",
            "| --- | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: | ---: | ---: |" if floor else "")
            + " ---: | ---: | ---: | ---: | --- |"]
    for w in run["workloads"]:
        s = w["summary"]
        a, b, r = s["dynamofs_items_per_s"], s["boto3_items_per_s"], s["ratio"]
        fr = s["fraction_of_ceiling"]
        frs = " / ".join(fmt(fr[k]) for k in w["ceiling_keys"]) or "-"
        if w["items"] == 1:  # a single listing: show times instead of rates
            aa = "%.0f ms" % (1000 * s["dynamofs_seconds_median"])
            bb = "%.0f ms" % (1000 * s["boto3_seconds_median"])
        else:
            aa = "%s (%s-%s)" % (fmt(a["median"]), fmt(a["min"]), fmt(a["max"]))
            bb = fmt(b["median"])
        # a warm pass (1w) can need no request at all
        ops = ", ".join("%s %d" % kv for kv in sorted(s["ops"].items())) or "none"
        fl = "".join(" %s |" % c for c in floor_cells(s)) if floor else ""
        rows.append("| %s: %s | %d | %s | %s | %s (%s-%s) |%s %s | %s (%s) | %s | %s | %s |" % (
            w["id"].split("-")[0], w["title"].replace("|", "\\|"), w["items"], aa, bb,
            fmt(r["median"]), fmt(r["min"]), fmt(r["max"]), fl, frs,
            fmt(s["requests"]["median"]) if s["requests"]["median"] else "0", ops,
            fmt(s["daemon_cpu_ms_per_item"]), fmt(s.get("in_flight")), target_text(w)))
    rss = run.get("rss")
    if rss:
        rows.append("| 7: daemon peak RSS (VmHWM) after all workloads in one mount "
                    "| - | %.1f MiB | - | - |%s - | - | - | - | <= %d MiB %s |" % (
                        rss["vmhwm_kib"] / 1024, " - | - | - | - | - |" if floor else "",
                        rss["limit_kib"] // 1024,
                        "**met**" if rss["target_met"] else "not met"))
    return "\n".join(rows)


def ceiling_table(run):
    c = run["ceiling"]
    if not c:
        return ""
    rows = ["| raw request | c=1 requests/s | c=1 items/s | c=8 requests/s | c=8 items/s |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for op, title in (("get", "GetItem (hash table)"), ("put", "PutItem"),
                      ("cput", "PutItem, attribute_not_exists on a new key (3a's)"),
                      ("query", "Query (one Devices partition)"),
                      ("querywide", "Query, every page of the wide partition"),
                      ("pscan", "Scan of all of Hash, 8 segments (whole passes)"),
                      ("bwrite", "BatchWriteItem, 25 new items")):
        c1, c8 = c.get(op + "_c1"), c.get(op + "_c8")
        if not c1 and not c8:
            continue
        rows.append("| %s | %s | %s | %s | %s |" % (
            title, fmt(c1["requests_per_s"]) if c1 else "-",
            fmt(c1["items_per_s"]) if c1 else "-",
            fmt(c8["requests_per_s"]) if c8 else "-",
            fmt(c8["items_per_s"]) if c8 else "-"))
    return "\n".join(rows)


def section(runs):
    out = [BEGIN, "", "Generated by `bench/report.py` from "
           + ", ".join("`results/%s`" % os.path.basename(f) for f, _ in runs) + ".",
           "", "![dynamofs/boto3 ratios](results/ratios.png)", ""]
    for f, r in runs:
        for run in r["runs"]:
            out.append("### %s, %g ms added latency (%s%s, %d rounds, git %s)" % (
                r["server"], run["delay_ms"], r["date"][:10],
                ", --quick" if r["quick"] else "", r["rounds"], r["git"]))
            out.append("")
            out.append(table(run))
            out.append("")
            out.append(ceiling_table(run))
            out.append("")
    out.append(END)
    return "\n".join(out)


def chart(runs):
    series = []
    for f, r in runs:
        for run in r["runs"]:
            series.append(("%s %g ms" % (r["server"], run["delay_ms"]),
                           {w["id"]: w for w in run["workloads"]}))
    if not series:
        return
    ids = []
    for _, ws in series:
        for i in ws:
            if i not in ids:
                ids.append(i)
    dat = os.path.join(BENCH, ".work", "ratios.dat")
    os.makedirs(os.path.dirname(dat), exist_ok=True)
    with open(dat, "w") as f:
        f.write("workload\t" + "\t".join('"%s"' % s for s, _ in series)
                + "\ttarget\tfloor\n")
        for i in ids:
            vals = []
            tgt = "NaN"
            floors = []
            for _, ws in series:
                w = ws.get(i)
                vals.append("%g" % w["summary"]["ratio"]["median"] if w else "NaN")
                if w and "ratio" in w["target"]:
                    tgt = "%g" % w["target"]["ratio"]
                if w and w["summary"].get("floor_ratio"):
                    floors.append(w["summary"]["floor_ratio"]["median"])
            # The best any file system built like dynamofs reached (the
            # FUSE floor, 0 ms), over the servers measured.
            floor = "%g" % max(floors) if floors else "NaN"
            f.write('"%s"\t%s\t%s\t%s\n' % (i, "\t".join(vals), tgt, floor))
    n = len(series)
    plot = ", ".join(
        "'%s' using %d:xtic(1) title columnheader(%d)" % (dat, k + 2, k + 2)
        for k in range(n))
    plot += (", '%s' using ($0-1):%d with points pt 9 ps 2 lc rgb 'black' "
             "title 'target'" % (dat, n + 2))
    plot += (", '%s' using ($0-1):%d with points pt 6 ps 2 lw 2 lc rgb 'red' "
             "title 'FUSE floor / boto3 (0 ms)'" % (dat, n + 3))
    plot += ", 1 with lines dt 2 lc rgb 'gray40' notitle"
    script = """
set terminal pngcairo size 1200,560 font ',10'
set output '%s'
set title 'dynamofs items/s divided by boto3 items/s (median of rounds; above 1: dynamofs faster)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y 10
set yrange [0.01:100]
set ytics ('0.01' 0.01, '0.1' 0.1, '0.5' 0.5, '1' 1, '2' 2, '5' 5, '10' 10, '100' 100)
set grid ytics
set key outside right top
set xtics rotate by -25
set xrange [-0.6:%g]
plot %s
""" % (os.path.join(RESULTS, "ratios.png"), len(ids) - 0.4, plot)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    if len(sys.argv) > 1:
        runs = [(f, json.load(open(f))) for f in sys.argv[1:]]
    else:
        runs = latest()
    if not runs:
        print("report.py: no results", file=sys.stderr)
        return 1
    chart(runs)
    text = open(README).read() if os.path.exists(README) else ""
    sec = section(runs)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + sec + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## Latest results\n\n" + sec + "\n"
    with open(README, "w") as f:
        f.write(text)
    print("report.py: %s and %s" % (README, os.path.join(RESULTS, "ratios.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
