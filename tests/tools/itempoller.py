#!/usr/bin/python3
"""itempoller.py - watches items in DynamoDB (boto3, consistent reads) while
an editor or tool saves them through the mount, and records every distinct
state it saw, so a test can assert that no item was ever absent or partial.

usage:
  itempoller.py watch OUT READY STOP TABLE item KEY...
      GetItem each KEY (DynamoDB JSON) in turn, over and over
  itempoller.py watch OUT READY STOP TABLE scan
      consistent Scan of the whole table, over and over
  itempoller.py check OUT BEFORE AFTER
      BEFORE and AFTER: `ddbtool.py scan TABLE` output taken before the
      poller started and after it stopped. Every state seen for a key must be
      that key's item in BEFORE or in AFTER (NONE if absent there), every
      Scan count must be BEFORE's or AFTER's count, and the poller must have
      polled at least twice. Prints what broke the rule; exit 1 then.

watch touches READY after its first complete poll and stops when STOP
exists (or on SIGTERM), writing OUT: lines "polls<TAB>N", "count<TAB>N"
(scan mode) and "KEY<TAB>STATE" (STATE as ddbtool.py get-norm prints it).
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddbtool  # noqa: E402


def watch(out, ready, stop, table, mode, keys):
    c = ddbtool.client()
    names = ddbtool.key_names(table)
    states, counts, polls = set(), set(), 0
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))

    def keytext(item):
        return ddbtool.canonical({k: item[k] for k in names if k in item})

    while not stopping and not os.path.exists(stop):
        if mode == "item":
            for k in keys:
                r = c.get_item(TableName=table, Key=ddbtool.unwire(json.loads(k)),
                               ConsistentRead=True)
                state = (ddbtool.canonical(ddbtool.norm(ddbtool.wire(r["Item"])))
                         if "Item" in r else "NONE")
                states.add((ddbtool.canonical(json.loads(k)), state))
        else:
            items = ddbtool.scan_all(table)
            counts.add(len(items))
            for i in items:
                states.add((keytext(i), ddbtool.canonical(ddbtool.norm(i))))
        polls += 1
        if polls == 1:
            open(ready, "w").close()
    with open(out + ".tmp", "w") as f:
        f.write("polls\t%d\n" % polls)
        for n in sorted(counts):
            f.write("count\t%d\n" % n)
        for k, s in sorted(states):
            f.write("%s\t%s\n" % (k, s))
    os.rename(out + ".tmp", out)


def check(out, before, after):
    def load(path):
        items = {}
        for line in open(path):
            line = line.strip()
            if line:
                items[line] = json.loads(line)
        return items

    bad = []
    b, a = load(before), load(after)
    # the key of an item: the attributes its state shares with the key text
    # the poller wrote; compare per key
    by_key = {}
    lines = [ln.rstrip("\n").split("\t", 1) for ln in open(out) if ln.strip()]
    polls = 0
    for k, v in lines:
        if k == "polls":
            polls = int(v)
    if polls < 2:
        bad.append("the poller polled only %d times" % polls)
    for k, v in lines:
        if k == "count":
            if int(v) not in (len(b), len(a)):
                bad.append("a Scan saw %s items (before %d, after %d)" % (v, len(b), len(a)))
        elif k != "polls":
            by_key.setdefault(k, set()).add(v)

    def owner(items, key):
        kj = json.loads(key)
        for text, item in items.items():
            if all(item.get(n) == kv for n, kv in kj.items()):
                return text
        return "NONE"

    for key, seen in sorted(by_key.items()):
        allowed = {owner(b, key), owner(a, key)}
        for s in sorted(seen - allowed):
            bad.append("%s was %s (allowed: %s)" % (key, s, " or ".join(sorted(allowed))))
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


def main(argv):
    if len(argv) >= 7 and argv[1] == "watch":
        watch(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7:])
    elif len(argv) == 5 and argv[1] == "check":
        check(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
