#!/usr/bin/python3
"""stormcheck.py - the before and after of tests/e2e/storm.bats: seeds the
items a write storm goes over, and then checks, with boto3 against the server
itself (not through the fault proxy), that no acknowledged write was lost.

usage: stormcheck.py prepare TABLE DIR N   (endpoint from DYNAMOFS_ENDPOINT)
  Puts N items c0.. (for cp) and N items s0.. (for sed -i) into TABLE (hash
  key "id", S) and writes, under DIR/want, each file's intended bytes: new
  text for c*, the sed result for s*, and new items n0.. (for a program that
  writes new files). Numbers are written with spare zeros ("1.50") and sets
  out of order, so a server's echo of them is not the text sent.
usage: stormcheck.py check TABLE DIR MNTDIR
  For every file NAME of DIR/want, DIR/res/NAME.rc and NAME.err (cp, sed) or
  NAME.out (fsprobe.py) say how its write ended. A write that reported
  success must be stored exactly (compared as DynamoDB values); a write that
  failed after its bytes were given must have them readable in
  MNTDIR/.NAME.rejected, and the item must be the old one or the new one.
  A write that failed before any byte was given (open, stat, read of the
  source) needs neither. Prints one line a violation and a summary; exits 1
  when there was a violation.
"""
import json
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddbtool  # noqa: E402

# Messages of failures that come before the file got any byte: the write
# never began, so nothing was acknowledged and nothing must be kept.
BEFORE_BYTES = ("cannot stat", "cannot create regular file",
                "can't read", "couldn't open", "cannot open", "open:")


def plain(item):
    return ddbtool.render_plain(item, "id")


def seed_item(name, v):
    return {"id": {"S": name}, "v": {"S": v}, "n": {"N": "7"},
            "tags": {"SS": ["a", "b"]}}


def prepare(table, d, n):
    os.makedirs(os.path.join(d, "want"), exist_ok=True)
    os.makedirs(os.path.join(d, "res"), exist_ok=True)
    c = ddbtool.client()
    for i in range(n):
        for prefix in ("c", "s"):
            name = "%s%d.json" % (prefix, i)
            item = seed_item(name[:-5], "old")
            c.put_item(TableName=table, Item=ddbtool.unwire(item))
    for i in range(n):
        for prefix in ("c", "n"):
            name = "%s%d" % (prefix, i)
            text = ('{\n  "id": "%s",\n  "n": 1.50,\n  "ns": {"$NS": [3, 2.0, 10]},\n'
                    '  "tags": {"$SS": ["z", "b", "m"]},\n  "v": "new %s %s"\n}\n'
                    % (name, name, "x" * (i * 37 % 300)))
            open(os.path.join(d, "want", name + ".json"), "w").write(text)
        name = "s%d" % i
        text = plain(seed_item(name, "old")).replace('"old"', '"new-%s"' % name)
        open(os.path.join(d, "want", name + ".json"), "w").write(text)


def value(text):
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def same(text, item):
    """Whether the file text is the item, as DynamoDB values (numbers by
    value, sets as sets)."""
    def norm(v):
        if isinstance(v, dict):
            if len(v) == 1 and next(iter(v)) in ("$SS", "$NS", "$BS"):
                (k, m), = v.items()
                return (k, frozenset(m))
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v
    return item is not None and norm(value(text)) == norm(value(plain(item)))


def get(c, table, key):
    r = c.get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True)
    return ddbtool.wire(r["Item"]) if "Item" in r else None


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def check(table, d, mnt):
    c = ddbtool.client()
    bad = []
    counts = {"ok": 0, "failed-kept": 0, "failed-before": 0}
    for fname in sorted(os.listdir(os.path.join(d, "want"))):
        name = fname[:-5]
        want = read(os.path.join(d, "want", fname))
        res = os.path.join(d, "res", fname)
        out = read(res + ".out")
        if out is not None:
            out = out.strip()
            ok = out == "ok"
            why = out
        else:
            rc = read(res + ".rc")
            if rc is None:
                bad.append("%s: no result recorded" % fname)
                continue
            ok = rc.strip() == "0"
            why = (read(res + ".err") or "").strip()
        item = get(c, table, name)
        old = None if name.startswith("n") else seed_item(name, "old")
        if ok:
            counts["ok"] += 1
            if not same(want, item):
                bad.append("%s: acknowledged but the server has %s"
                           % (fname, json.dumps(item)))
            continue
        kept = read(os.path.join(mnt, "." + fname + ".rejected"))
        if kept is None and any(w in why for w in BEFORE_BYTES):
            counts["failed-before"] += 1
            if not (item == old or (old is None and item is None)):
                bad.append("%s: failed before writing (%s) but the item is %s"
                           % (fname, why, json.dumps(item)))
            continue
        counts["failed-kept"] += 1
        if kept != want:
            bad.append("%s: failed (%s) and .%s.rejected %s" % (
                fname, why, fname,
                "is missing" if kept is None else "differs"))
        if not (item is None and old is None) and item != old and \
                not same(want, item):
            bad.append("%s: failed (%s) and the item is neither old nor new: %s"
                       % (fname, why, json.dumps(item)))
    total = sum(counts.values())
    # Throttling and 5xx at these rates leave most writes acknowledged;
    # a storm in which few were tests nothing (every put failing would
    # keep every byte and break no rule above).
    if counts["ok"] < total // 4:
        bad.append("only %d of %d writes were acknowledged" % (counts["ok"], total))
    for b in bad:
        print("VIOLATION " + b)
    print("writes: %d acknowledged, %d failed with bytes kept, %d failed "
          "before any byte; %d violations"
          % (counts["ok"], counts["failed-kept"], counts["failed-before"],
             len(bad)))
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "prepare":
        return prepare(argv[2], argv[3], int(argv[4]))
    if len(argv) >= 5 and argv[1] == "check":
        return check(argv[2], argv[3], argv[4])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
