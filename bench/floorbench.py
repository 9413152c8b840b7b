#!/usr/bin/python3
"""floorbench.py - times bench/fusefloor's variants alone (no DynamoDB, no
dynamofs) on the commands of workloads 1, 1w, 2, 3a, 3b, 4 and 6, in interleaved
rounds (variant A B C ... per workload, then again), and counts the FUSE
requests each run cost per file (fusefloor prints them at exit). It is how
bench/README.md "The FUSE floor, redone" chose the floor of each workload.

The files have the shapes of dynamofs's renderings (Devices 100 x 100 items,
Hash 100,000 items, 10,000 files to load), written once into
bench/.work/floorlab/.

usage: floorbench.py FUSEFLOOR [--rounds N] [--variants A,B,..]
                     [--workloads 1,1w,2,6,3a,3b,4] [--out FILE.json]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.join(BENCH, ".work", "floorlab")
MNT = os.path.join(LAB, "mnt")
ENV = dict(os.environ, LC_ALL="C")

# A variant is a fusefloor preset, then options: "ll-noopen-s+ro" runs
# fusefloor --variant=ll-noopen-s --ro.
VARIANTS = ["old", "old-s", "ll", "ll-s", "ll-keep-s", "ll-noopen",
            "ll-noopen-s", "ll-noopen-s+ro", "ll-noopen-s+opendir=answer",
            "ll-noopen-flush", "ll-noopen-flush-s",
            "ll-noopen-flush-s+opendir=answer"]


def info(r):
    return ('  "info": {\n    "info_timestamp": "%d",\n'
            '    "temperature1": %.1f,\n    "temperature2": %.1f,\n'
            '    "temperature3": %.2f,\n    "temperature4": %.1f,\n'
            '    "temperature5": %.1f\n  }\n}\n' % (
                1612519200 + r.randrange(100000), r.uniform(10, 500),
                r.uniform(10, 500), r.uniform(300, 9000),
                r.uniform(10, 500), r.uniform(10, 500)))


def make_sources():
    """dev/ (Devices, an empty Load), hash/ (Hash), load/ (3a's files)."""
    r = random.Random(16)
    dev = os.path.join(LAB, "dev")
    if not os.path.isdir(dev):
        os.makedirs(os.path.join(dev, "Load"))
        for p in range(10001, 10101):
            d = os.path.join(dev, "Devices", str(p))
            os.makedirs(d)
            for i in range(1, 101):
                with open(os.path.join(d, "%d.json" % i), "w") as f:
                    f.write('{\n  "device_id": "%d",\n  "datacount": %d,\n'
                            % (p, i) + info(r))
    hsh = os.path.join(LAB, "hash")
    if not os.path.isdir(hsh):
        os.makedirs(os.path.join(hsh, "Hash"))
        for i in range(100000):
            with open(os.path.join(hsh, "Hash", "k%06d.json" % i), "w") as f:
                f.write('{\n  "id": "k%06d",\n' % i + info(r))
    load = os.path.join(LAB, "load")
    if not os.path.isdir(load):
        os.makedirs(load)
        for i in range(1, 10001):
            with open(os.path.join(load, "%d.json" % i), "w") as f:
                f.write("{\n" + info(r))
    return dev, hsh, load


def sh(cmd):
    p = subprocess.run(["/bin/bash", "-o", "pipefail", "-c", cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=ENV, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (cmd, p.stderr[-1000:]))
    return p.stdout


def counts_of(log):
    for line in open(log):
        if line.startswith("fusefloor: requests"):
            return {k: int(v) for k, v in
                    (kv.split("=") for kv in line.split()[2:])}
    return {}


def run(fusefloor, variant, src, cmds):
    """Mounts src with variant, runs cmds (the last one timed); returns
    (seconds, output, request counts over the whole mount)."""
    os.makedirs(MNT, exist_ok=True)
    log = os.path.join(LAB, "floor.log")
    with open(log, "w") as lf:
        # "PRESET+opt+opt": the preset and --opt options after it
        name, *extra = variant.split("+")
        p = subprocess.Popen([fusefloor, "--variant=" + name] +
                             ["--" + x for x in extra] + [src, MNT],
                             stdout=subprocess.DEVNULL, stderr=lf)
    t = time.monotonic()
    while not os.path.ismount(MNT):
        if p.poll() is not None or time.monotonic() - t > 120:
            p.kill()
            raise RuntimeError("fusefloor did not mount: " + open(log).read())
        time.sleep(0.01)
    try:
        for c in cmds[:-1]:
            sh(c)
        t0 = time.perf_counter()
        out = sh(cmds[-1])
        dt = time.perf_counter() - t0
    finally:
        subprocess.run(["fusermount3", "-u", MNT])
        p.wait(timeout=60)
    return dt, out.strip(), counts_of(log)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fusefloor")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--workloads", default="1,1w,2,6,3a")
    ap.add_argument("--out", default=os.path.join(LAB, "results.json"))
    a = ap.parse_args()
    dev, hsh, load = make_sources()
    keys = random.Random(1001).sample(range(100000), 1000)
    lst = os.path.join(LAB, "read-list")
    with open(lst, "w") as f:
        for k in keys:
            f.write("%s/Hash/k%06d.json\n" % (MNT, k))
    cat = "find %s/Devices -name '*.json' -exec cat {} + | wc -c" % MNT
    W = {
        "1": (dev, [cat], 10000),
        "1w": (dev, [cat, cat], 10000),
        "2": (hsh, ["xargs -P8 -n50 cat < %s | wc -c" % lst], 1000),
        "6": (dev, ["grep -rl '\"temperature1\": 4' %s/Devices | wc -l" % MNT],
              10000),
        # the source read once untimed: cold, its 10,000 files come from
        # the disk (2.6 s against 0.4 s when another run had pushed them
        # out of the page cache)
        "3a": (dev, ["cat %s/* > /dev/null" % load,
                     "cp -r %s %s/Load/cpr" % (load, MNT)], 10000),
        "3b": (dev, ["cat %s/* > /dev/null" % load,
                     "mkdir %s/Load/xp && cd %s && ls -U | xargs -P8 -n1250 "
                     "cp -t %s/Load/xp/" % (MNT, load, MNT)], 10000),
        # sed -i over 10 partitions (1,000 files), as bench.py's 4
        "4": (dev, ["sed -i 's/\"info_timestamp\": \"/&1/' " + " ".join(
            "%s/Devices/%d/*.json" % (MNT, p) for p in range(10001, 10011))],
              1000),
    }
    variants = a.variants.split(",")
    res = {}
    for r in range(1, a.rounds + 1):
        for w in a.workloads.split(","):
            src, cmds, items = W[w]
            for v in variants:
                if w in ("3a", "3b", "4") and not v.startswith("old"):
                    continue  # the low-level floor is read-only
                dt, out, cnt = run(a.fusefloor, v, src, cmds)
                res.setdefault(w, {}).setdefault(v, []).append(
                    dict(seconds=round(dt, 4), items_per_s=round(items / dt, 1),
                         out=out, counts=cnt))
                print("round %d %s %s: %.0f items/s (%.3f s) %s" % (
                    r, w, v, items / dt, dt, cnt), file=sys.stderr, flush=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    # The table: median (min-max), ratio to old's median, requests per file
    for w, vs in res.items():
        items = W[w][2]
        old = statistics.median(x["items_per_s"] for x in vs.get("old", next(iter(vs.values()))))
        print("\nworkload %s" % w)
        for v, xs in vs.items():
            ips = [x["items_per_s"] for x in xs]
            c = xs[len(xs) // 2]["counts"]
            outs = set(x["out"] for x in xs)
            print("| %s | %.0f (%.0f-%.0f) | %.2f | %s | %s |" % (
                v, statistics.median(ips), min(ips), max(ips),
                statistics.median(ips) / old,
                ", ".join("%s %.2f" % (k, n / items) for k, n in c.items()),
                "/".join(sorted(outs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
