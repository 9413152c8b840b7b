#!/usr/bin/python3
"""bench.py - the benchmark driver that bench/run starts once a local DynamoDB
is up and dynamofs and bench/ddbraw are built. Seeds the tables, measures the
raw-HTTP ceiling, then runs every workload through a dynamofs mount (A) and
the same work with boto3 (B) in interleaved rounds A B A B ..., at each
delay of --delays (through bench/delayproxy.py when > 0), and writes one JSON
file of results.

Each dynamofs run gets a fresh mount (cold cache, as a first `cat` would
see), mounted before the clock starts and unmounted after it stops; the
daemon runs with `-f -o log=debug`, and its log gives the request count of
the run (`request op=` lines). Items/s is items / wall seconds; the ratio of
a round is dynamofs items/s / boto3 items/s.

With --fusefloor, each round at 0 ms of workloads 1, 1w, 2, 3a, 3b, 4 and 6
also runs the A command over bench/fusefloor, an in-memory FUSE file system
that serves a copy of the same files, taken through a dynamofs mount at the
start of the 0 ms pass, twice: as the workload's best variant (F, the FUSE
floor, FLOOR_VARIANTS: the most items/s a FUSE file system can reach here
with that command) and as the old floor (F0, mounted like dynamofs: same
libfuse API, loop and INIT). Each gets a fresh mount too, and its output is
checked (bytes, counts).
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import boto3
from botocore.config import Config

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, ".work")
MNT = os.path.join(WORK, "mnt")
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

SIZES = {
    # Devices partitions x items, hash-only items, the wide partition,
    # random reads, files loaded, items edited with sed -i
    "full": dict(parts=100, per=100, hash=100000, wide=10000, reads=1000,
                 load=10000, sed=1000, jsonl=10000),
    "quick": dict(parts=20, per=20, hash=10000, wide=2000, reads=200,
                  load=1000, sed=200, jsonl=2000),
}
# With a delay the write workloads take DELAY per request: they run on a
# tenth (load) and a fifth (sed) of the items so that a full run stays under
# 15 minutes. Items/s stays comparable.
DELAY_SCALE = dict(load=10, sed=5)

ENV = dict(os.environ)
ENV.update(AWS_ACCESS_KEY_ID=os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
           AWS_SECRET_ACCESS_KEY=os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"),
           AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
           LC_ALL="C")
for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
          "AWS_ENDPOINT_URL_DYNAMODB"):
    ENV.pop(k, None)
os.environ.update({k: ENV[k] for k in ("AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY", "AWS_REGION")})

PIDFILE = os.path.join(WORK, "pids")
# The copy of the tables the FUSE floor serves (see Bench.floor_source).
FLOOR_SRC = os.path.join(WORK, "floor-src")
# The workloads with a floor pass (id prefixes), at 0 ms only.
FLOOR_IDS = ("1-", "1w-", "2-", "3a-", "3b-", "4-", "6-")
# The FUSE floor of each workload: the fusefloor variant that served its
# command fastest (bench/floorbench.py, README "The FUSE floor, redone"),
# as "PRESET+opt+...": fusefloor --variant=PRESET --opt ... The old floor
# (dynamofs's way: high-level API, multi-threaded, every open answered) is
# FLOOR_OLD. The low-level variants are read-only: the write workloads
# (3a, 3b, 4) get the best high-level one.
FLOOR_OLD = "old"
# Chosen again on a quiet machine (README, "The FUSE floor, redone": the
# first choice, made under load, favoured one thread, which is slower here
# for every workload once the machine is quiet).
FLOOR_VARIANTS = {"1-": "ll-noopen+ro", "1w-": "ll-noopen+ro",
                  "2-": "ll-noopen+ro", "3a-": "old", "3b-": "old",
                  "4-": "old", "6-": "ll-noopen+ro"}


def floor_variant(wid):
    for k, v in FLOOR_VARIANTS.items():
        if wid.startswith(k):
            return v
    return FLOOR_OLD


def floor_argv(variant):
    """fusefloor's options for a variant "PRESET+opt+opt"."""
    name, *extra = variant.split("+")
    return ["--variant=" + name] + ["--" + x for x in extra]


def picked(wid, only):
    """Whether --only's prefixes pick workload wid: "3" picks 3a-.. and
    3b-.., "1" picks 1-cat-all but not 10-jsonl-update."""
    if not only:
        return True
    return any(wid.startswith(o) and not wid[len(o):len(o) + 1].isdigit()
               for o in only)


def say(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def note_pid(pid):
    with open(PIDFILE, "a") as f:
        f.write("%d\n" % pid)


def cpu_of(pid):
    """utime + stime of a process (all threads), in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, IndexError, ValueError):
        return None


def status_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ---- items ----------------------------------------------------------------

def info_of(seed):
    """The info map of a Devices-shaped item (tests/data/devices.json)."""
    r = random.Random(seed)
    return {"info_timestamp": str(1612519200 + seed * 100),
            "temperature1": Decimal("%.1f" % r.uniform(10, 50)),
            "temperature2": Decimal("%.1f" % r.uniform(10, 50)),
            "temperature3": Decimal("%.2f" % r.uniform(300, 1500)),
            "temperature4": Decimal("%.1f" % r.uniform(10, 50)),
            "temperature5": Decimal("%.1f" % r.uniform(10, 50))}


def info_text(seed):
    info = info_of(seed)
    return json.dumps({"info": {k: (float(v) if isinstance(v, Decimal) else v)
                                for k, v in info.items()}}, indent=2) + "\n"


# ---- the mount ------------------------------------------------------------

def start_daemon(argv, log, what, timeout):
    """Starts argv (a FUSE daemon in the foreground, stderr to log) and
    waits until MNT is mounted; returns (proc, log file). Raises, with the
    log's tail, when it exits or does not mount within timeout seconds."""
    unmount_stale()
    os.makedirs(MNT, exist_ok=True)
    logf = open(log, "w")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=logf,
                            env=ENV)
    note_pid(proc.pid)
    deadline = time.monotonic() + timeout
    while not os.path.ismount(MNT):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            logf.close()
            raise RuntimeError("%s did not mount: %s" % (
                what, open(log).read()[-2000:]))
        time.sleep(0.01)
    return proc, logf


def stop_daemon(proc, logf):
    """Unmounts MNT and waits for proc (killed, and MNT lazily unmounted,
    after 60 s)."""
    subprocess.run(["fusermount3", "-u", MNT], stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        subprocess.run(["fusermount3", "-uz", MNT], stderr=subprocess.DEVNULL)
    logf.close()

class Mount:
    """A dynamofs daemon in the foreground (-f -o log=debug) on MNT."""
    count = 0

    def __init__(self, dynamofs, endpoint, opts=""):
        Mount.count += 1
        self.log = os.path.join(WORK, "logs", "daemon-%03d.log" % Mount.count)
        o = "log=debug" + ("," + opts if opts else "")
        self.proc, self.logf = start_daemon(
            [dynamofs, endpoint, MNT, "-f", "-o", o], self.log, "dynamofs", 30)
        self.offset = 0
        self.mark()

    def mark(self):
        """Starts a new section of the log; returns nothing."""
        self.logf.flush()
        self.offset = os.path.getsize(self.log)
        self.cpu0 = cpu_of(self.proc.pid)

    def section(self):
        """Requests logged since mark(): (total, {op: n}), and daemon CPU."""
        time.sleep(0.05)
        with open(self.log, errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
        ops = {}
        ms = 0
        for m in re.finditer(r"request op=(\w+).*? ms=(\d+)", text):
            ops[m.group(1)] = ops.get(m.group(1), 0) + 1
            ms += int(m.group(2))
        cpu = cpu_of(self.proc.pid)
        errors = [l for l in text.splitlines()
                  if " error" in l.lower() and "request op=" not in l][:5]
        return dict(requests=sum(ops.values()), ops=ops, request_ms_sum=ms,
                    daemon_cpu_s=round(cpu - self.cpu0, 3)
                    if cpu is not None and self.cpu0 is not None else None,
                    log_errors=errors)

    def stop(self):
        """Unmounts; returns the daemon's VmHWM and VmRSS in KiB."""
        hwm = status_kib(self.proc.pid, "VmHWM")
        rss = status_kib(self.proc.pid, "VmRSS")
        stop_daemon(self.proc, self.logf)
        return dict(vmhwm_kib=hwm, vmrss_kib=rss)


class FloorMount:
    """bench/fusefloor serving SRC on MNT (in the foreground) as variant
    ("PRESET+opt+..."; see FLOOR_VARIANTS)."""
    count = 0

    def __init__(self, fusefloor, src, variant):
        FloorMount.count += 1
        self.log = os.path.join(WORK, "logs", "floor-%03d.log" % FloorMount.count)
        # Loading 100,000 files into memory takes a while before it mounts.
        self.proc, self.logf = start_daemon(
            [fusefloor] + floor_argv(variant) + [src, MNT], self.log,
            "fusefloor", 120)
        self.cpu0 = cpu_of(self.proc.pid)

    def cpu(self):
        cpu = cpu_of(self.proc.pid)
        return (round(cpu - self.cpu0, 3)
                if cpu is not None and self.cpu0 is not None else None)

    def stop(self):
        """Unmounts; returns the requests fusefloor served over the whole
        mount, per operation (its last line)."""
        stop_daemon(self.proc, self.logf)
        if self.proc.returncode != 0:
            raise RuntimeError("fusefloor exited with %s: %s" % (
                self.proc.returncode, open(self.log).read()[-2000:]))
        for line in open(self.log):
            if line.startswith("fusefloor: requests"):
                return {k: int(v) for k, v in
                        (kv.split("=") for kv in line.split()[2:])}
        return {}


def tree_bytes(top, suffix=""):
    """(files, bytes) of the regular files under top whose names end in
    suffix."""
    files = size = 0
    for d, _, names in os.walk(top):
        for n in names:
            if n.endswith(suffix):
                files += 1
                size += os.path.getsize(os.path.join(d, n))
    return files, size


def unmount_stale():
    if os.path.ismount(MNT):
        subprocess.run(["fusermount3", "-uz", MNT], stderr=subprocess.DEVNULL)


def sh(cmd):
    """Runs a bash command line; returns its stdout. Fails loudly."""
    p = subprocess.run(["/bin/bash", "-o", "pipefail", "-c", cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=ENV, text=True)
    if p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" %
                           (p.returncode, cmd, p.stderr[-2000:]))
    return p.stdout


# ---- the bench --------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.a = args
        self.sizes = dict(SIZES["quick" if args.quick else "full"])
        self.server_pid = args.server_pid
        self.results = dict(
            date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), server=args.server,
            quick=args.quick, rounds=args.rounds, sizes=self.sizes,
            host=dict(cores=os.cpu_count(), kernel=os.uname().release),
            git=sh("cd %s && git rev-parse --short HEAD" % ROOT).strip(),
            dynamofs=args.dynamofs, fusefloor=args.fusefloor or None,
            cache_size_mib=64, runs=[])

    # -- helpers
    def client(self, endpoint):
        return boto3.client("dynamodb", endpoint_url=endpoint,
                            region_name="us-east-1",
                            config=Config(max_pool_connections=16))

    def raw(self, endpoint, *args):
        out = subprocess.run([self.a.ddbraw, endpoint] + [str(x) for x in args],
                             stdout=subprocess.PIPE, env=ENV, text=True,
                             check=True).stdout
        return json.loads(out)

    def server_cpu(self):
        return cpu_of(self.server_pid) if self.server_pid else None

    # -- seeding
    def seed(self, endpoint):
        s = self.sizes
        c = self.client(endpoint)
        have = set(c.list_tables()["TableNames"])
        made = []
        for name, schema in (("Devices", ("device_id", "S", "datacount", "N")),
                             ("Hash", ("id", "S")),
                             ("Wide", ("device_id", "S", "datacount", "N")),
                             ("Load", ("device_id", "S", "datacount", "N"))):
            if name in have:
                continue
            attrs = [{"AttributeName": schema[0], "AttributeType": schema[1]}]
            keys = [{"AttributeName": schema[0], "KeyType": "HASH"}]
            if len(schema) > 2:
                attrs.append({"AttributeName": schema[2], "AttributeType": schema[3]})
                keys.append({"AttributeName": schema[2], "KeyType": "RANGE"})
            c.create_table(TableName=name, AttributeDefinitions=attrs,
                           KeySchema=keys, BillingMode="PAY_PER_REQUEST")
            c.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
            made.append(name)
        t = self.a.seed_threads
        seeded = {}
        if "Devices" in made:
            seeded["Devices"] = self.raw(endpoint, "seed-devices", "Devices",
                                         s["parts"], s["per"], t)
        if "Hash" in made:
            seeded["Hash"] = self.raw(endpoint, "seed-hash", "Hash", s["hash"], t)
        if "Wide" in made:
            seeded["Wide"] = self.raw(endpoint, "seed-wide", "Wide", "big",
                                      s["wide"], t)
        for k, v in seeded.items():
            say("seeded %s: %d items in %.1f s (%.0f items/s)" %
                (k, v["items"], v["seconds"], v["items"] / v["seconds"]))
        self.results["seeding"] = seeded
        # The source tree of the bulk load: N files named like the items.
        src = os.path.join(WORK, "src")
        if os.path.isdir(src) and len(os.listdir(src)) != s["load"]:
            shutil.rmtree(src)
        if not os.path.isdir(src):
            os.makedirs(src)
            for i in range(1, s["load"] + 1):
                with open(os.path.join(src, "%d.json" % i), "w") as f:
                    f.write(info_text(i))

    # -- the ceiling
    def ceiling(self, endpoint):
        s, d = self.sizes, self.a.ceiling_seconds
        out = {}
        for op, args in (("get", ("Hash", s["hash"])),
                         ("put", ("Load", "ceil")),
                         ("query", ("Devices", s["parts"])),
                         ("querywide", ("Wide", "big"))):
            for threads in ((1,) if op == "querywide" else (1, 8)):
                r = self.raw(endpoint, "ceiling", op, threads, d, *args)
                out["%s_c%d" % (op, threads)] = r
                say("ceiling %s c=%d: %.0f requests/s, %.0f items/s" %
                    (op, threads, r["requests_per_s"], r["items_per_s"]))
        # The c=1 PutItem with attribute_not_exists on new keys: what each
        # file cp -r creates costs (3a), on a partition no run used before.
        r = self.raw(endpoint, "ceiling", "cput", 1, d, "Load",
                     "ceilc-%d" % int(time.time() * 1000))
        out["cput_c1"] = r
        say("ceiling cput c=1: %.0f requests/s" % r["requests_per_s"])
        # The bulk files' ceilings: one parallel Scan of Hash in 8 segments
        # (8 connections, pages read and discarded), and BatchWriteItems of
        # 25 new items, 8 in flight.
        for op, args in (("pscan", ("Hash", "-")), ("bwrite", ("Load", "ceilbw"))):
            r = self.raw(endpoint, "ceiling", op, 8, d, *args)
            out["%s_c8" % op] = r
            say("ceiling %s c=8: %.0f requests/s, %.0f items/s" %
                (op, r["requests_per_s"], r["items_per_s"]))
        g1, p1 = out["get_c1"]["items_per_s"], out["put_c1"]["items_per_s"]
        g8, p8 = out["get_c8"]["items_per_s"], out["put_c8"]["items_per_s"]
        # A read-modify-write loop: a GetItem then a PutItem per item.
        out["getput_c1"] = dict(items_per_s=round(1 / (1 / g1 + 1 / p1), 1))
        out["getput_c8"] = dict(items_per_s=round(1 / (1 / g8 + 1 / p8), 1))
        return out

    # -- one side of a round
    def perf_start(self, m, name):
        """With --profile DIR: perf record of the daemon (all its threads,
        call graphs) while the dynamofs side runs, into DIR/NAME.data."""
        if not self.a.profile or not name:
            return None
        os.makedirs(self.a.profile, exist_ok=True)
        out = os.path.join(self.a.profile, name + ".data")
        p = subprocess.Popen(["perf", "record", "-g", "-F", "1999", "-o", out,
                              "-p", str(m.proc.pid), "-q"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        note_pid(p.pid)
        time.sleep(1.0)
        return p

    def perf_stop(self, p):
        if p:
            p.send_signal(signal.SIGINT)
            p.wait()

    def proxy_alive(self):
        p = getattr(self, "proxy", None)
        if p is not None and p.poll() is not None:
            raise RuntimeError("the delay proxy exited (status %s); see "
                               ".work/logs/proxy-*.log" % p.returncode)

    def run_a(self, endpoint, cmd, items, prep=None, check=None, opts="",
              name=None):
        self.proxy_alive()
        m = Mount(self.a.dynamofs, endpoint, opts)
        try:
            if prep:
                prep()
            perf = self.perf_start(m, name)
            m.mark()
            s0, c0 = self.server_cpu(), os.times()
            t0 = time.perf_counter()
            out = sh(cmd)
            dt = time.perf_counter() - t0
            c1, s1 = os.times(), self.server_cpu()
            sec = m.section()
        finally:
            self.perf_stop(perf)
            mem = m.stop()
        # Requests in flight on average: the sum of their times over the
        # wall time (1.0: always exactly one request waiting).
        sec["in_flight"] = round(sec["request_ms_sum"] / 1000 / dt, 3)
        r = dict(seconds=round(dt, 4), items=items,
                 items_per_s=round(items / dt, 1),
                 tools_cpu_s=round(c1.children_user + c1.children_system -
                                   c0.children_user - c0.children_system, 3),
                 server_cpu_s=round(s1 - s0, 3) if s0 is not None else None,
                 **sec, **mem)
        if check:
            r["check"] = check(out)
        return r

    def run_b(self, fn, items):
        self.proxy_alive()
        s0, p0 = self.server_cpu(), time.process_time()
        t0 = time.perf_counter()
        extra = fn()
        dt = time.perf_counter() - t0
        p1, s1 = time.process_time(), self.server_cpu()
        r = dict(seconds=round(dt, 4), items=items,
                 items_per_s=round(items / dt, 1),
                 client_cpu_s=round(p1 - p0, 3),
                 server_cpu_s=round(s1 - s0, 3) if s0 is not None else None)
        if extra is not None:
            r["check"] = extra
        return r

    # -- the workloads; each returns (id, title, items, A, B, ceiling keys)
    def workloads(self, endpoint, delay, c):
        s = dict(self.sizes)
        if delay > 0:
            for k, f in DELAY_SCALE.items():
                s[k] = max(100, s[k] // f)
        M = MNT
        devices = s["parts"] * s["per"]
        src = os.path.join(WORK, "src")
        W = []

        # (1) cat every item of Devices vs a paginated Scan
        def scan_all():
            n = 0
            for page in c.get_paginator("scan").paginate(TableName="Devices"):
                n += len(page["Items"])
            assert n == devices, n
            return n
        cat_all = "find %s/Devices -name '*.json' -exec cat {} + | wc -c" % M
        W.append(dict(id="1-cat-all", title="cat every item of Devices",
                      items=devices, a=lambda r: (cat_all, None),
                      b=scan_all, ceiling=("query_c1", "query_c8"),
                      target=dict(ratio=1.0, of_floor=0.8)))
        # (1w) the same command again on the same mount, within cache_ttl:
        # the first pass (untimed, after the mount and before the clock)
        # fills the caches, the second is timed
        W.append(dict(id="1w-cat-all-warm", title="cat every item of Devices again, "
                      "warm (same mount, within cache_ttl)",
                      items=devices, a=lambda r: (cat_all, None),
                      a_prep=lambda: sh(cat_all),
                      b=scan_all, ceiling=("query_c1", "query_c8"),
                      target=dict(ratio=5)))

        # (2) 1,000 random items, 8 readers, vs get_item in 8 threads
        def keys_of(r):
            return ["k%06d" % i for i in
                    random.Random(1000 + r).sample(range(s["hash"]), s["reads"])]

        def read_a(r):
            lst = os.path.join(WORK, "read-list")
            with open(lst, "w") as f:
                for k in keys_of(r):
                    f.write("%s/Hash/%s.json\n" % (M, k))
            return ("xargs -P8 -n50 cat < %s | wc -c" % lst, None)

        def read_b(r):
            keys = keys_of(r)

            def get(k):
                return len(c.get_item(TableName="Hash",
                                      Key={"id": {"S": k}})["Item"])
            with ThreadPoolExecutor(8) as ex:
                return sum(1 for _ in ex.map(get, keys))
        W.append(dict(id="2-random-read", title="read %d random items, 8 readers"
                      % s["reads"], items=s["reads"], a=read_a, b=read_b,
                      ceiling=("get_c1", "get_c8"),
                      target=dict(ratio=5, ceiling_c8=0.6)))

        # (3) bulk load, cp -r and xargs -P8 cp, vs batch_writer
        def load_b(part):
            def fn():
                t = boto3.resource("dynamodb", endpoint_url=endpoint,
                                   region_name="us-east-1").Table("Load")
                with t.batch_writer() as bw:
                    for i in range(1, s["load"] + 1):
                        bw.put_item(Item=dict(device_id=part,
                                              datacount=Decimal(i),
                                              **{"info": info_of(i)}))
            return fn

        src_files = s["load"]
        if delay > 0:
            # the first fifth of the source files
            src_sub = os.path.join(WORK, "src-%d" % s["load"])
            if not os.path.isdir(src_sub):
                os.makedirs(src_sub)
                for i in range(1, s["load"] + 1):
                    shutil.copy(os.path.join(src, "%d.json" % i), src_sub)
            src_files, src = s["load"], src_sub
        W.append(dict(id="3a-load-cp-r", title="bulk load %d files, cp -r" % src_files,
                      items=src_files,
                      a=lambda r: ("cp -r %s %s/Load/cpr-d%d-r%d" % (src, M, delay, r),
                                   ("Load", "cpr-d%d-r%d" % (delay, r))),
                      b=lambda r: load_b("bw-d%d-r%d-a" % (delay, r))(),
                      ceiling=("put_c1", "put_c8", "cput_c1"),
                      target=dict(ceiling=("cput_c1", 0.85))))
        # xargs -n: the files split evenly over the 8 workers, in rounds of
        # 8 cp runs (10,000 files: -n125, 80 runs; 1,000: 8 runs). With
        # -n100, 1,000 files were 10 runs and the last 2 ran alone, so for
        # a fifth of the time only 2 of the 8 workers were writing.
        xn = -(-src_files // (8 * max(1, round(src_files / 1000))))
        W.append(dict(id="3b-load-xargs", title="bulk load %d files, xargs -P8 cp"
                      % src_files, items=src_files,
                      a=lambda r: ("mkdir %s/Load/xp-d%d-r%d && cd %s && ls -U | "
                                   "xargs -P8 -n%d cp -t %s/Load/xp-d%d-r%d/"
                                   % (M, delay, r, src, xn, M, delay, r),
                                   ("Load", "xp-d%d-r%d" % (delay, r))),
                      b=lambda r: load_b("bw-d%d-r%d-b" % (delay, r))(),
                      ceiling=("put_c1", "put_c8"), target=dict(ratio=1.5)))

        # (3c) the same files again with xargs -P8 cp, over the items 3b
        # made in that round: cp opens existing files with O_TRUNC, and with
        # conflicts=check (the default) each close is a PutItem conditional
        # on the item this cp saw, sent alone (a condition cannot ride in a
        # BatchWriteItem)
        def reload_a(r):
            return ("cd %s && ls -U | xargs -P8 -n%d cp -t %s/Load/xp-d%d-r%d/"
                    % (src, xn, M, delay, r), ("Load", "xp-d%d-r%d" % (delay, r)))
        W.append(dict(id="3c-reload-xargs", title="reload %d existing items, xargs -P8 cp"
                      % src_files, items=src_files, a=reload_a,
                      b=lambda r: load_b("bw-d%d-r%d-b" % (delay, r))(),
                      ceiling=("put_c1", "put_c8"), target=dict()))
        # (3c-overwrite) 3c's command over the same items, on a mount with
        # -o conflicts=overwrite (run_a passes "opts" to each fresh mount):
        # the puts are unconditional and concurrent closes share
        # BatchWriteItems (src/putq.c); 3c minus this is the check's cost
        W.append(dict(id="3c-overwrite", title="reload %d existing items, xargs -P8 cp, "
                      "conflicts=overwrite" % src_files, items=src_files, a=reload_a,
                      opts="conflicts=overwrite",
                      b=lambda r: load_b("bw-d%d-r%d-b" % (delay, r))(),
                      ceiling=("put_c1", "put_c8"), target=dict()))

        # (4) sed -i over N items vs a get+put loop
        nparts = max(1, s["sed"] // s["per"])
        sed_items = nparts * s["per"]
        sed_parts = [str(10001 + i) for i in range(nparts)]

        def sed_b():
            for p in sed_parts:
                for i in range(1, s["per"] + 1):
                    key = {"device_id": {"S": p}, "datacount": {"N": str(i)}}
                    item = c.get_item(TableName="Devices", Key=key)["Item"]
                    ts = item["info"]["M"]["info_timestamp"]
                    ts["S"] = "1" + ts["S"]
                    c.put_item(TableName="Devices", Item=item)
        W.append(dict(id="4-sed-i", title="sed -i over %d items" % sed_items,
                      items=sed_items,
                      a=lambda r: ("sed -i 's/\"info_timestamp\": \"/&1/' " +
                                   " ".join("%s/Devices/%s/*.json" % (M, p)
                                            for p in sed_parts), None),
                      b=sed_b, ceiling=("getput_c1", "put_c1"),
                      target=dict(ratio=2)))

        # (5) listings: first entry of a big table and partition, ls -l
        def first_scan():
            c.scan(TableName="Hash")
            return None

        def first_query():
            c.query(TableName="Wide", KeyConditionExpression="#h = :h",
                    ExpressionAttributeNames={"#h": "device_id"},
                    ExpressionAttributeValues={":h": {"S": "big"}})
            return None
        W.append(dict(id="5a-ls-U-head-table", title="ls -U | head -1, %d-item table"
                      % s["hash"], items=1,
                      a=lambda r: ("(ls -U %s/Hash || [ $? = 141 ]) | head -1" % M, None),
                      b=first_scan, ceiling=(), target=dict(requests=2)))
        W.append(dict(id="5b-ls-U-head-part", title="ls -U | head -1, %d-item partition"
                      % s["wide"], items=1,
                      a=lambda r: ("(ls -U %s/Wide/big || [ $? = 141 ]) | head -1" % M,
                                   None),
                      b=first_query, ceiling=(), target=dict(requests=2)))
        W.append(dict(id="5c-ls-l-part", title="ls -l, %d-item partition" % s["wide"],
                      items=s["wide"],
                      a=lambda r: ("ls -l %s/Wide/big | wc -l" % M, None),
                      b=lambda: sum(len(p["Items"]) for p in c.get_paginator("query").paginate(
                          TableName="Wide", KeyConditionExpression="#h = :h",
                          ExpressionAttributeNames={"#h": "device_id"},
                          ExpressionAttributeValues={":h": {"S": "big"}})),
                      ceiling=("querywide_c1",), target=dict()))

        # (6) grep -rl over Devices vs a Scan searched in Python
        pat = re.compile(r'"temperature1": \{"N": "4')

        def grep_b():
            n = 0
            for page in c.get_paginator("scan").paginate(TableName="Devices"):
                for it in page["Items"]:
                    if pat.search(json.dumps(it)):
                        n += 1
            return n
        W.append(dict(id="6-grep-rl", title="grep -rl over Devices", items=devices,
                      a=lambda r: ("grep -rl '\"temperature1\": 4' %s/Devices | wc -l" % M,
                                   None),
                      b=grep_b, ceiling=("query_c1", "query_c8"),
                      target=dict()))

        # (8) the whole Hash table as JSON lines (.items.jsonl, a parallel
        # Scan of up to 8 segments) vs a paginated scan (B) and a parallel
        # scan in 8 threads (B2), all items deserialized by boto3
        def scan_hash():
            n = 0
            for page in c.get_paginator("scan").paginate(TableName="Hash"):
                n += len(page["Items"])
            assert n == s["hash"], n
            return n

        def pscan_hash():
            def seg(i):
                n = 0
                for page in c.get_paginator("scan").paginate(
                        TableName="Hash", Segment=i, TotalSegments=8):
                    n += len(page["Items"])
                return n
            with ThreadPoolExecutor(8) as ex:
                n = sum(ex.map(seg, range(8)))
            assert n == s["hash"], n
            return n

        def lines_are(want):
            def check(out):
                if int(out) != want:
                    raise RuntimeError("%d lines, want %d" % (int(out), want))
            return check
        W.append(dict(id="8-jsonl-read", title="wc -l of Hash/.items.jsonl (%d items)"
                      % s["hash"], items=s["hash"],
                      a=lambda r: ("wc -l < %s/Hash/.items.jsonl" % M, None),
                      a_check=lines_are(s["hash"]),
                      b=scan_hash, b2=pscan_hash,
                      b2_title="parallel scan, 8 threads",
                      ceiling=("pscan_c8",), rss=False,
                      target=dict(ratio=3, ratio_b2=1.5, ceiling=("pscan_c8", 0.6))))

        # (9) cat of 10,000 JSON lines (workload 3's items, a new partition
        # each round) >> Load/.items.jsonl vs batch_writer of the same items.
        # The file is written before the clock starts.
        nj = s["jsonl"]
        jfile = os.path.join(WORK, "%dk.jsonl" % (nj // 1000))

        def jsonl_a(r):
            part = "jl-d%d-r%d-a" % (delay, r)
            with open(jfile, "w") as f:
                for i in range(1, nj + 1):
                    f.write(json.dumps(dict(
                        device_id=part, datacount=i,
                        info={k: (float(v) if isinstance(v, Decimal) else v)
                              for k, v in info_of(i).items()}),
                        separators=(",", ":")) + "\n")
            return ("cat %s >> %s/Load/.items.jsonl" % (jfile, M), ("Load", part))

        def jsonl_b(r):
            t = boto3.resource("dynamodb", endpoint_url=endpoint,
                               region_name="us-east-1").Table("Load")
            part = "jl-d%d-r%d-b" % (delay, r)
            with t.batch_writer() as bw:
                for i in range(1, nj + 1):
                    bw.put_item(Item=dict(device_id=part, datacount=Decimal(i),
                                          info=info_of(i)))
        W.append(dict(id="9-jsonl-load", title="cat %d lines >> Load/.items.jsonl" % nj,
                      items=nj, a=jsonl_a, b=jsonl_b, ceiling=("bwrite_c8",),
                      rss=False, target=dict(ratio=2, ceiling=("bwrite_c8", 0.6))))

        # (10) a filtered bulk update: jq over Devices/.items.jsonl, every
        # item with datacount % 4 == 0 gets x = ROUND, written back through
        # the same file, vs a resource scan + filter + batch_writer
        upd = devices // 4

        def count_x(x):
            n = 0
            for page in c.get_paginator("scan").paginate(
                    TableName="Devices", Select="COUNT",
                    FilterExpression="x = :x",
                    ExpressionAttributeValues={":x": {"N": str(x)}}):
                n += page["Count"]
            return n

        def update_b(r):
            t = boto3.resource("dynamodb", endpoint_url=endpoint,
                               region_name="us-east-1").Table("Devices")
            n, kw = 0, {}
            with t.batch_writer() as bw:
                while True:
                    page = t.scan(**kw)
                    for it in page["Items"]:
                        if it["datacount"] % 4 == 0:
                            it["x"] = Decimal(1000 + r)
                            bw.put_item(Item=it)
                            n += 1
                    if "LastEvaluatedKey" not in page:
                        break
                    kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            assert n == upd, n
            return n
        W.append(dict(id="10-jsonl-update",
                      title="jq select | .x = R over Devices/.items.jsonl, written back (%d of %d items)"
                      % (upd, devices), items=upd,
                      a=lambda r: ("jq -c 'select(.datacount %% 4 == 0) | .x = %d' "
                                   "%s/Devices/.items.jsonl | (cat > %s/Devices/.items.jsonl)"
                                   % (r, M, M), None),
                      after=lambda r: count_x(r), b=update_b, ceiling=(),
                      rss=False, target=dict()))

        # The FUSE floor's checks (bench/fusefloor over FLOOR_SRC, 0 ms):
        # each run must have served every byte, stored every file.
        FD = os.path.join(FLOOR_SRC, "Devices")

        def expect(what, got, want):
            if got != want:
                raise RuntimeError("FUSE floor %s: got %r, want %r" % (what, got, want))
            return got

        def bytes_of(files):
            return sum(os.path.getsize(f) for f in files)

        def loaded(name):
            def check(r, out, state):
                got = tree_bytes(os.path.join(M, "Load", name(r)))
                return expect("%s files, bytes" % name(r), got,
                              tree_bytes(src))
            return check

        def grep_count():
            n = 0
            for d, _, names in os.walk(FD):
                for f in names:
                    with open(os.path.join(d, f)) as fh:
                        n += '"temperature1": 4' in fh.read()
            return n

        def sed_bytes():
            return sum(tree_bytes(os.path.join(M, "Devices", p), ".json")[1]
                       for p in sed_parts)
        floor = {
            "1-cat-all": dict(same_as_a=True, check=lambda r, out, st: expect(
                "bytes cat", int(out), tree_bytes(FD, ".json")[1])),
            "1w-cat-all-warm": dict(
                same_as_a=True, pre=lambda r: sh(cat_all),
                check=lambda r, out, st: expect(
                    "bytes cat", int(out), tree_bytes(FD, ".json")[1])),
            "2-random-read": dict(same_as_a=True, check=lambda r, out, st: expect(
                "bytes cat", int(out), bytes_of(
                    os.path.join(FLOOR_SRC, "Hash", k + ".json") for k in keys_of(r)))),
            "3a-load-cp-r": dict(check=loaded(lambda r: "cpr-d%d-r%d" % (delay, r))),
            "3b-load-xargs": dict(check=loaded(lambda r: "xp-d%d-r%d" % (delay, r))),
            # each edited file is one byte longer ("1" before the timestamp)
            "4-sed-i": dict(pre=lambda r: expect(
                                "bytes before sed", sed_bytes(), sum(
                                    tree_bytes(os.path.join(FD, p), ".json")[1]
                                    for p in sed_parts)),
                            check=lambda r, out, st: expect(
                                "bytes added by sed", sed_bytes() - st, sed_items)),
            "6-grep-rl": dict(same_as_a=True, check=lambda r, out, st: expect(
                "files found", int(out), grep_count())),
        }
        for w in W:
            if w["id"] in floor and w["id"].startswith(FLOOR_IDS):
                w["floor"] = floor[w["id"]]
        return W, s

    def run_delay(self, endpoint, delay):
        c = self.client(endpoint)
        c.list_tables()
        run = dict(delay_ms=delay, endpoint=endpoint)
        if delay == self.a.delays[0]:
            self.warm_up(c)
        say("delay %g ms: ceiling" % delay)
        run["ceiling"] = self.ceiling(endpoint) if not self.a.no_ceiling else None
        W, s = self.workloads(endpoint, delay, c)
        run["sizes"] = s
        run["workloads"] = []
        only = set(self.a.only.split(",")) if self.a.only else None
        chosen = [w for w in W if picked(w["id"], only)]
        floor = False
        if self.a.fusefloor and delay == 0:
            floor = any(w.get("floor") for w in chosen)
            if floor:
                run["floor_source"] = self.floor_source(endpoint, chosen, s)
        for w in chosen:
            rounds = []
            for r in range(1, self.a.rounds + 1):
                cmd, verify = w["a"](r)
                a = self.run_a(endpoint, cmd, w["items"], prep=w.get("a_prep"),
                               check=lambda out: out.strip()[-200:],
                               opts=w.get("opts", ""),
                               name="%s-d%g-r%d" % (w["id"], delay, r))
                if verify:
                    got = 0
                    for p in c.get_paginator("query").paginate(
                            TableName=verify[0], Select="COUNT",
                            KeyConditionExpression="#h = :h",
                            ExpressionAttributeNames={"#h": "device_id"},
                            ExpressionAttributeValues={":h": {"S": verify[1]}}):
                        got += p["Count"]
                    a["stored"] = got
                    if got != w["items"]:
                        raise RuntimeError("%s: %d of %d items stored" %
                                           (w["id"], got, w["items"]))
                if w.get("a_check"):
                    w["a_check"](a["check"])
                if w.get("after"):
                    a["stored"] = got = w["after"](r)
                    if got != w["items"]:
                        raise RuntimeError("%s: %d of %d items stored" %
                                           (w["id"], got, w["items"]))
                bfn = w["b"]
                b = self.run_b((lambda: bfn(r)) if bfn.__code__.co_argcount
                               else bfn, w["items"])
                ratio = a["items_per_s"] / b["items_per_s"]
                rounds.append(dict(round=r, dynamofs=a, boto3=b,
                                   ratio=round(ratio, 3)))
                say("%s delay=%g round %d: dynamofs %.0f items/s (%.2f s, %d req)"
                    ", boto3 %.0f items/s (%.2f s), ratio %.2f" %
                    (w["id"], delay, r, a["items_per_s"], a["seconds"],
                     a["requests"], b["items_per_s"], b["seconds"], ratio))
                if w.get("b2"):
                    b2 = self.run_b(w["b2"], w["items"])
                    rounds[-1]["boto3_b2"] = b2
                    rounds[-1]["ratio_b2"] = round(
                        a["items_per_s"] / b2["items_per_s"], 3)
                    say("%s delay=%g round %d: boto3 (%s) %.0f items/s (%.2f s), "
                        "ratio %.2f" % (w["id"], delay, r, w["b2_title"],
                                        b2["items_per_s"], b2["seconds"],
                                        rounds[-1]["ratio_b2"]))
                if floor and w.get("floor"):
                    # the workload's floor variant, then the old floor
                    for key, v in (("floor", floor_variant(w["id"])),
                                   ("floor_old", FLOOR_OLD)):
                        f = self.run_floor(w, r, cmd, a, v)
                        rounds[-1][key] = f
                        rounds[-1][key + "_ratio"] = round(
                            f["items_per_s"] / b["items_per_s"], 3)
                        say("%s delay=%g round %d: FUSE floor %s %.0f items/s "
                            "(%.2f s), floor/boto3 %.2f, dynamofs/floor %.2f" %
                            (w["id"], delay, r, v, f["items_per_s"], f["seconds"],
                             rounds[-1][key + "_ratio"],
                             a["items_per_s"] / f["items_per_s"]))
            run["workloads"].append(self.summarize(w, rounds, run["ceiling"]))
        if picked("7-rss", only) and delay == self.a.delays[0]:
            run["rss"] = self.rss_pass(endpoint, W, delay)
        return run

    def floor_source(self, endpoint, W, s):
        """The files the FUSE floor serves: the tables the floor workloads
        read, copied out of a dynamofs mount (so each file has dynamofs's
        bytes), and an empty Load for the bulk loads."""
        t0 = time.perf_counter()
        tables = []
        if any(w.get("floor") and w["id"].split("-")[0] in ("1", "1w", "4", "6")
               for w in W):
            tables.append(("Devices", s["parts"] * s["per"]))
        if any(w.get("floor") and w["id"].startswith("2-") for w in W):
            tables.append(("Hash", s["hash"]))
        if os.path.isdir(FLOOR_SRC):
            shutil.rmtree(FLOOR_SRC)
        os.makedirs(os.path.join(FLOOR_SRC, "Load"))
        m = Mount(self.a.dynamofs, endpoint)
        try:
            for t, _ in tables:
                sh("cp -r %s/%s %s/" % (MNT, t, FLOOR_SRC))
        finally:
            m.stop()
        out = dict(tables={}, seconds=0)
        for t, want in tables:
            files, size = tree_bytes(os.path.join(FLOOR_SRC, t), ".json")
            if files != want:
                raise RuntimeError("floor source: %d of %d %s files copied" %
                                   (files, want, t))
            out["tables"][t] = dict(files=files, bytes=size)
        out["seconds"] = round(time.perf_counter() - t0, 1)
        say("floor source: %s in %.1f s" % (", ".join(
            "%s %d files, %d bytes" % (t, v["files"], v["bytes"])
            for t, v in out["tables"].items()), out["seconds"]))
        return out

    def run_floor(self, w, r, cmd, a, variant):
        """The A command of round r over a fresh fusefloor mount of
        FLOOR_SRC served as variant; its output checked by the workload's
        floor check (and against the A run's, where the command prints a
        count)."""
        fl = w["floor"]
        m = FloorMount(self.a.fusefloor, FLOOR_SRC, variant)
        requests = {}
        try:
            state = fl["pre"](r) if fl.get("pre") else None
            cpu0, c0 = m.cpu(), os.times()
            t0 = time.perf_counter()
            out = sh(cmd)
            dt = time.perf_counter() - t0
            c1, cpu1 = os.times(), m.cpu()
            check = fl["check"](r, out, state)
            if fl.get("same_as_a") and out.strip() != a.get("check"):
                raise RuntimeError("%s round %d: the floor printed %r, dynamofs %r" %
                                   (w["id"], r, out.strip(), a.get("check")))
        finally:
            requests = m.stop()
        # requests: over the whole mount, so with 1w's untimed first pass
        return dict(variant=variant, requests=requests,
                    seconds=round(dt, 4), items=w["items"],
                    items_per_s=round(w["items"] / dt, 1),
                    daemon_cpu_s=round(cpu1 - cpu0, 3)
                    if cpu0 is not None and cpu1 is not None else None,
                    tools_cpu_s=round(c1.children_user + c1.children_system -
                                      c0.children_user - c0.children_system, 3),
                    check=check)

    def warm_up(self, c):
        """Untimed: the server's JIT (DynamoDB Local) and caches see every
        request type once before the first measurement."""
        t0 = time.perf_counter()
        for _ in range(2):
            for page in c.get_paginator("scan").paginate(TableName="Devices"):
                pass
            for page in c.get_paginator("query").paginate(
                    TableName="Wide", KeyConditionExpression="#h = :h",
                    ExpressionAttributeNames={"#h": "device_id"},
                    ExpressionAttributeValues={":h": {"S": "big"}}):
                pass
        self.raw(self.a.endpoint, "ceiling", "get", 4, 1, "Hash", self.sizes["hash"])
        self.raw(self.a.endpoint, "ceiling", "put", 4, 1, "Load", "warm")
        # A parallel Scan of Hash: cold, DynamoDB Local reads it at less
        # than half the rate it reaches once warm (61,000-74,000 items/s
        # against 146,000-158,000 in 8 segments)
        self.raw(self.a.endpoint, "ceiling", "pscan", 8, 1, "Hash", "-")
        say("warm-up %.1f s" % (time.perf_counter() - t0))

    def summarize(self, w, rounds, ceiling):
        A = [x["dynamofs"]["items_per_s"] for x in rounds]
        B = [x["boto3"]["items_per_s"] for x in rounds]
        R = [x["ratio"] for x in rounds]
        req = [x["dynamofs"]["requests"] for x in rounds]
        summ = dict(
            dynamofs_items_per_s=dict(median=statistics.median(A), min=min(A), max=max(A)),
            boto3_items_per_s=dict(median=statistics.median(B), min=min(B), max=max(B)),
            ratio=dict(median=round(statistics.median(R), 3), min=min(R), max=max(R)),
            dynamofs_seconds_median=statistics.median(x["dynamofs"]["seconds"] for x in rounds),
            boto3_seconds_median=statistics.median(x["boto3"]["seconds"] for x in rounds),
            requests=dict(median=statistics.median(req), min=min(req), max=max(req)),
            requests_per_item=round(statistics.median(req) / w["items"], 3),
            daemon_cpu_ms_per_item=round(1000 * statistics.median(
                x["dynamofs"]["daemon_cpu_s"] or 0 for x in rounds) / w["items"], 4),
            ops=rounds[len(rounds) // 2]["dynamofs"]["ops"])
        summ["in_flight"] = statistics.median(x["dynamofs"]["in_flight"] for x in rounds)
        H = [x["dynamofs"].get("vmhwm_kib") for x in rounds]
        if all(H):
            summ["vmhwm_kib"] = dict(median=statistics.median(H), min=min(H), max=max(H))
        if all("ratio_b2" in x for x in rounds):
            B2 = [x["boto3_b2"]["items_per_s"] for x in rounds]
            R2 = [x["ratio_b2"] for x in rounds]
            summ["b2_title"] = w["b2_title"]
            summ["boto3_b2_items_per_s"] = dict(median=statistics.median(B2),
                                                min=min(B2), max=max(B2))
            summ["boto3_b2_seconds_median"] = statistics.median(
                x["boto3_b2"]["seconds"] for x in rounds)
            summ["ratio_b2"] = dict(median=round(statistics.median(R2), 3),
                                    min=min(R2), max=max(R2))
        # floor: the workload's best fusefloor variant (the "of floor"
        # column); floor_old: the old floor, mounted like dynamofs
        for key in ("floor", "floor_old"):
            F = [x[key]["items_per_s"] for x in rounds if key in x]
            if not F:
                continue
            FR = [x[key + "_ratio"] for x in rounds if key in x]
            summ[key + "_variant"] = rounds[0][key]["variant"]
            summ[key + "_items_per_s"] = dict(median=statistics.median(F),
                                              min=min(F), max=max(F))
            summ[key + "_ratio"] = dict(median=round(statistics.median(FR), 3),
                                        min=min(FR), max=max(FR))
            summ["of_" + key] = round(summ["dynamofs_items_per_s"]["median"] /
                                      summ[key + "_items_per_s"]["median"], 3)
            summ[key + "_seconds_median"] = statistics.median(
                x[key]["seconds"] for x in rounds if key in x)
            summ[key + "_cpu_ms_per_item"] = round(1000 * statistics.median(
                x[key]["daemon_cpu_s"] or 0 for x in rounds if key in x)
                / w["items"], 4)
            summ[key + "_requests"] = rounds[len(rounds) // 2][key]["requests"]
        fr = {}
        for k in (w["ceiling"] if ceiling else ()):
            fr[k] = round(summ["dynamofs_items_per_s"]["median"] /
                          ceiling[k]["items_per_s"], 3)
        summ["fraction_of_ceiling"] = fr
        t = w["target"]
        met = []
        if "ratio" in t:
            met.append(summ["ratio"]["median"] >= t["ratio"])
        if "ceiling_c8" in t:
            met.append(fr.get("get_c8", 0) >= t["ceiling_c8"])
        if "ratio_b2" in t:
            met.append(summ.get("ratio_b2", {}).get("median", 0) >= t["ratio_b2"])
        if "ceiling" in t:
            met.append(fr.get(t["ceiling"][0], 0) >= t["ceiling"][1])
        if "requests" in t:
            met.append(max(req) <= t["requests"])
        if "of_floor" in t:
            # unmeasured (no floor pass at this delay): not held against it
            if "of_floor" in summ:
                met.append(summ["of_floor"] >= t["of_floor"])
        summ["target_met"] = all(met) if met else None
        return dict(id=w["id"], title=w["title"], items=w["items"], target=t,
                    mount_opts=w.get("opts", ""),
                    ceiling_keys=list(w["ceiling"]), summary=summ, rounds=rounds)

    def rss_pass(self, endpoint, W, delay):
        """(7) every workload once in one mount, then its VmHWM."""
        m = Mount(self.a.dynamofs, endpoint)
        t0 = time.perf_counter()
        try:
            for w in W:
                if w.get("rss") is False:
                    continue
                cmd, _ = w["a"](self.a.rounds + 1)
                sh(cmd)
            m.mark()
        finally:
            mem = m.stop()
        limit = (32 + self.results["cache_size_mib"]) * 1024
        say("rss delay=%g: VmHWM %d KiB (target <= %d KiB) after %.1f s" %
            (delay, mem["vmhwm_kib"] or 0, limit, time.perf_counter() - t0))
        return dict(**mem, limit_kib=limit,
                    target_met=bool(mem["vmhwm_kib"] and mem["vmhwm_kib"] <= limit),
                    seconds=round(time.perf_counter() - t0, 1))

    def keep_earlier(self):
        """A run of some delays completes today's file of the same server
        and sizes: its runs at other delays are kept."""
        try:
            old = json.load(open(self.a.out))
        except (OSError, ValueError):
            return
        if old.get("server") == self.a.server and old.get("sizes") == self.sizes:
            self.results["runs"] = [r for r in old.get("runs", [])
                                    if r["delay_ms"] not in self.a.delays]

    def main(self):
        os.makedirs(os.path.join(WORK, "logs"), exist_ok=True)
        self.keep_earlier()
        say("seeding %s" % self.a.endpoint)
        self.seed(self.a.endpoint)
        for delay in self.a.delays:
            proxy = None
            endpoint = self.a.endpoint
            try:
                if delay > 0:
                    port = self.a.endpoint.rsplit(":", 1)[1]
                    plog = open(os.path.join(WORK, "logs", "proxy-%g.log" % delay), "w")
                    proxy = subprocess.Popen(
                        [sys.executable, os.path.join(BENCH, "delayproxy.py"), port,
                         "--delay-ms", str(delay)], stdout=subprocess.PIPE,
                        stderr=plog, text=True)
                    note_pid(proxy.pid)
                    endpoint = "http://127.0.0.1:%s" % proxy.stdout.readline().strip()
                self.proxy = proxy
                self.results["runs"].append(self.run_delay(endpoint, delay))
                self.results["runs"].sort(key=lambda r: r["delay_ms"])
            finally:
                if proxy:
                    proxy.terminate()
                    proxy.wait()
            self.save()
        return 0

    def save(self):
        tmp = self.a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.results, f, indent=1)
            f.write("\n")
        os.rename(tmp, self.a.out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--server-pid", type=int, default=0)
    ap.add_argument("--dynamofs", required=True)
    ap.add_argument("--ddbraw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--delays", default="0,5")
    ap.add_argument("--only", default="", help="workload id prefixes, e.g. 1,3a")
    ap.add_argument("--seed-threads", type=int, default=4)
    ap.add_argument("--ceiling-seconds", type=float, default=2.0)
    ap.add_argument("--profile", default="",
                    help="perf record every dynamofs run into this directory")
    ap.add_argument("--no-ceiling", action="store_true")
    ap.add_argument("--fusefloor", default="",
                    help="bench/fusefloor: run the FUSE floor pass at 0 ms")
    a = ap.parse_args()
    a.delays = [float(x) if "." in x else int(x) for x in a.delays.split(",") if x]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return Bench(a).main()
    finally:
        unmount_stale()


if __name__ == "__main__":
    sys.exit(main())
