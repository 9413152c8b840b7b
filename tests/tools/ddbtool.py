#!/usr/bin/python3
"""ddbtool.py - boto3 on the other side of the mount: creates tables, writes
items the way applications do, and reads them back for the tests and the demo.

usage: ddbtool.py COMMAND ARGS...   (endpoint from DYNAMOFS_ENDPOINT)
  create TABLE HASH:T [RANGE:T]     create (on demand) and wait until ACTIVE
  delete-table TABLE                delete and wait until gone
  tables                            one table name a line
  load TABLE FILE                   put a JSON array of items with batch_writer
  put TABLE ITEM                    put an item given in DynamoDB JSON
  update TABLE KEY EXPR VALUES [NAMES]  UpdateItem (KEY, VALUES in DynamoDB JSON;
                                    NAMES: ExpressionAttributeNames as JSON)
  delete TABLE KEY                  DeleteItem
  get TABLE KEY                     the item as compact sorted DynamoDB JSON, or NONE
  render TABLE KEY HASH [RANGE]     the item as SPEC section 4's plain file, by an
                                    independent Python implementation
  count TABLE                       number of items (Scan, Select COUNT)
  query-pages TABLE HASH VALUE      how many pages a Query of one partition takes
  scan-pages TABLE [N]              how many pages a plain Scan of the table takes
                                    (with N: how many hold its first N items)
  fill TABLE N [PREFIX [PAD]]       write N items with keys PREFIX0..PREFIXn-1 (and PAD bytes)
  get-norm TABLE KEY                as get, with set members sorted (sets keep no order)
  scan TABLE                        every item (consistent Scan) as get-norm prints it,
                                    one a line, sorted
  scan-lines TABLE [PART]           every item as a .items.jsonl line (sorted), or a
                                    partition's in sort-key order
  scan-keys TABLE                   every item's key as compact sorted DynamoDB JSON,
                                    one a line, sorted
  schema TABLE                      the key schema as HASH:T[ RANGE:T], then the
                                    billing mode on a second line
  gone TABLE                        wait (up to 60 s) until the table no longer
                                    exists; exit 1 if it still does
  fill-part TABLE N PART [PREFIX [PAD]]   N items {HASH: PART, RANGE: PREFIXi, v: 1} in a
                                    hash+range table (string keys)
"""
import base64
import json
import os
import sys
from decimal import Decimal

import boto3

ENDPOINT = os.environ.get("DYNAMOFS_ENDPOINT", "http://127.0.0.1:8000")


def client():
    return boto3.client("dynamodb", endpoint_url=ENDPOINT,
                        region_name=os.environ.get("AWS_REGION", "us-east-1"))


def resource():
    return boto3.resource("dynamodb", endpoint_url=ENDPOINT,
                          region_name=os.environ.get("AWS_REGION", "us-east-1"))


def create(table, hash_spec, range_spec=None):
    attrs, schema = [], []
    for spec, kind in ((hash_spec, "HASH"), (range_spec, "RANGE")):
        if not spec:
            continue
        name, _, typ = spec.partition(":")
        attrs.append({"AttributeName": name, "AttributeType": typ or "S"})
        schema.append({"AttributeName": name, "KeyType": kind})
    c = client()
    c.create_table(TableName=table, AttributeDefinitions=attrs, KeySchema=schema,
                   BillingMode="PAY_PER_REQUEST")
    c.get_waiter("table_exists").wait(TableName=table,
                                      WaiterConfig={"Delay": 0.2, "MaxAttempts": 200})


def batch_put(table, items, threads=4):
    """Puts items (DynamoDB JSON) with BatchWriteItem from a few threads, so
    that a test table of 20,000 items loads in seconds; UnprocessedItems are
    re-sent until none is left."""
    import threading
    chunks = [items[i:i + 25] for i in range(0, len(items), 25)]
    errors = []

    def work(mine, c):
        try:
            for chunk in mine:
                req = {table: [{"PutRequest": {"Item": i}} for i in chunk]}
                while req:
                    req = c.batch_write_item(RequestItems=req).get(
                        "UnprocessedItems") or None
        except Exception as e:  # reported below, so the test fails
            errors.append(e)

    # clients made here: botocore's client creation is not thread-safe
    ts = [threading.Thread(target=work, args=(chunks[k::threads], client()))
          for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.exit("fill: %s" % errors[0])


def delete_table(table):
    c = client()
    c.delete_table(TableName=table)
    c.get_waiter("table_not_exists").wait(TableName=table,
                                          WaiterConfig={"Delay": 0.2, "MaxAttempts": 200})


def load(table, path):
    items = json.load(open(path), parse_float=Decimal, parse_int=Decimal)
    with resource().Table(table).batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)


def canonical(item):
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render_plain(item, hash_name, range_name=None, compact=False):
    """SPEC section 4, written independently of the C codec; compact: one
    line of a bulk file (SPEC section 3, .items.jsonl)."""
    numbers = []

    def num(text):
        numbers.append(text)
        return "\x00N%d\x00" % (len(numbers) - 1)

    def conv(v):
        (t, x), = v.items()
        if t == "S":
            return x
        if t == "N":
            return num(x)
        if t in ("BOOL",):
            return x
        if t == "NULL":
            return None
        if t == "B":
            return {"$B": x if isinstance(x, str) else base64.b64encode(x).decode()}
        if t == "SS":
            return {"$SS": sorted(x, key=lambda s: s.encode())}
        if t == "NS":
            return {"$NS": [num(n) for n in sorted(x, key=Decimal)]}
        if t == "BS":
            bs = [b if isinstance(b, str) else base64.b64encode(b).decode() for b in x]
            return {"$BS": sorted(bs, key=base64.b64decode)}
        if t == "L":
            return [conv(e) for e in x]
        if t == "M":
            m = {k: conv(x[k]) for k in sorted(x, key=lambda s: s.encode())}
            if len(m) == 1 and next(iter(m)) in ("$B", "$SS", "$NS", "$BS", "$M"):
                return {"$M": m}
            return m
        raise ValueError(t)

    out = {}
    for k in (hash_name, range_name):
        if k and k in item:
            out[k] = conv(item[k])
    for k in sorted(item, key=lambda s: s.encode()):
        if k not in out:
            out[k] = conv(item[k])
    if compact:
        text = json.dumps(out, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(out, indent=2, ensure_ascii=False)
    for i, n in enumerate(numbers):
        text = text.replace('"\\u0000N%d\\u0000"' % i, n, 1)
    return text + "\n"


def wire(item):
    """boto3's low-level client gives bytes for B; the wire has base64."""
    def fix(v):
        (t, x), = v.items()
        if t == "B":
            return {"B": base64.b64encode(x).decode()}
        if t == "BS":
            return {"BS": [base64.b64encode(b).decode() for b in x]}
        if t == "L":
            return {"L": [fix(e) for e in x]}
        if t == "M":
            return {"M": {k: fix(e) for k, e in x.items()}}
        return v
    return {k: fix(v) for k, v in item.items()}


def unwire(item):
    def fix(v):
        (t, x), = v.items()
        if t == "B":
            return {"B": base64.b64decode(x)}
        if t == "BS":
            return {"BS": [base64.b64decode(b) for b in x]}
        if t == "L":
            return {"L": [fix(e) for e in x]}
        if t == "M":
            return {"M": {k: fix(e) for k, e in x.items()}}
        return v
    return {k: fix(v) for k, v in item.items()}


def norm(item):
    """Set members sorted, so two reads of one item compare equal as text."""
    def fix(v):
        (t, x), = v.items()
        if t == "SS":
            return {"SS": sorted(x, key=lambda m: m.encode())}
        if t == "NS":
            return {"NS": sorted(x, key=Decimal)}
        if t == "BS":
            return {"BS": sorted(x, key=base64.b64decode)}
        if t == "L":
            return {"L": [fix(e) for e in x]}
        if t == "M":
            return {"M": {k: fix(e) for k, e in x.items()}}
        return v
    return {k: fix(v) for k, v in item.items()}


def key_names(table):
    t = client().describe_table(TableName=table)["Table"]
    return [k["AttributeName"] for k in
            sorted(t["KeySchema"], key=lambda k: k["KeyType"] != "HASH")]


def scan_all(table):
    items = []
    for page in client().get_paginator("scan").paginate(TableName=table,
                                                         ConsistentRead=True):
        items.extend(wire(i) for i in page["Items"])
    return items


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "create":
        create(*args)
    elif cmd == "delete-table":
        delete_table(args[0])
    elif cmd == "tables":
        for page in client().get_paginator("list_tables").paginate():
            for t in page["TableNames"]:
                print(t)
    elif cmd == "load":
        load(args[0], args[1])
    elif cmd == "put":
        client().put_item(TableName=args[0], Item=unwire(json.loads(args[1])))
    elif cmd == "update":
        extra = {"ExpressionAttributeNames": json.loads(args[4])} if len(args) > 4 else {}
        client().update_item(TableName=args[0], Key=unwire(json.loads(args[1])),
                             UpdateExpression=args[2],
                             ExpressionAttributeValues=unwire(json.loads(args[3])),
                             **extra)
    elif cmd == "delete":
        client().delete_item(TableName=args[0], Key=unwire(json.loads(args[1])))
    elif cmd == "get":
        r = client().get_item(TableName=args[0], Key=unwire(json.loads(args[1])),
                              ConsistentRead=True)
        print(canonical(wire(r["Item"])) if "Item" in r else "NONE")
    elif cmd == "render":
        r = client().get_item(TableName=args[0], Key=unwire(json.loads(args[1])),
                              ConsistentRead=True)
        sys.stdout.write(render_plain(wire(r["Item"]), *args[2:4]))
    elif cmd == "count":
        n = 0
        for page in client().get_paginator("scan").paginate(TableName=args[0], Select="COUNT"):
            n += page["Count"]
        print(n)
    elif cmd == "query-pages":
        table, hname, value = args[0], args[1], args[2]
        pages = 0
        for page in client().get_paginator("query").paginate(
                TableName=table, KeyConditionExpression="#h = :h",
                ExpressionAttributeNames={"#h": hname},
                ExpressionAttributeValues={":h": {"S": value}}):
            pages += 1
        print(pages)
    elif cmd == "scan-pages":
        # with N: how many of the first pages hold the first N items
        want = int(args[1]) if len(args) > 1 else None
        pages = seen = 0
        for page in client().get_paginator("scan").paginate(TableName=args[0]):
            if want is not None and seen >= want:
                break
            pages += 1
            seen += page["Count"]
        print(pages)
    elif cmd == "fill":
        table, n = args[0], int(args[1])
        prefix = args[2] if len(args) > 2 else ""
        pad = "x" * int(args[3]) if len(args) > 3 else None
        items = []
        for i in range(n):
            item = {"pk": {"S": "%s%d" % (prefix, i)}, "v": {"N": str(i)}}
            if pad:
                item["pad"] = {"S": pad}
            items.append(item)
        batch_put(table, items)
    elif cmd == "get-norm":
        r = client().get_item(TableName=args[0], Key=unwire(json.loads(args[1])),
                              ConsistentRead=True)
        print(canonical(norm(wire(r["Item"]))) if "Item" in r else "NONE")
    elif cmd == "scan":
        for line in sorted(canonical(norm(i)) for i in scan_all(args[0])):
            print(line)
    elif cmd == "render-tree":
        # TABLE DIR: every item rendered by render_plain at DIR/HASH/RANGE.json
        # (DIR/HASH.json without a sort key); for keys that need no escaping.
        table, top = args[0], args[1]
        names = key_names(table)
        for item in scan_all(table):
            parts = [str(next(iter(item[k].values()))) for k in names]
            path = os.path.join(top, *parts) + ".json"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(render_plain(item, *names))
    elif cmd == "scan-lines":
        # TABLE [HASHVALUE]: every item (of one partition, S key) as a
        # .items.jsonl line by render_plain, sorted unless a partition
        # (then in sort-key order, as the Query returns them)
        names = key_names(args[0])
        if len(args) > 1:
            items = []
            for page in client().get_paginator("query").paginate(
                    TableName=args[0], KeyConditionExpression="#h = :h",
                    ExpressionAttributeNames={"#h": names[0]},
                    ExpressionAttributeValues={":h": {"S": args[1]}},
                    ConsistentRead=True):
                items += [wire(i) for i in page["Items"]]
            lines = [render_plain(i, *names, compact=True) for i in items]
        else:
            lines = sorted(render_plain(i, *names, compact=True)
                           for i in scan_all(args[0]))
        sys.stdout.write("".join(lines))
    elif cmd == "scan-keys":
        names = key_names(args[0])
        for line in sorted(canonical({k: i[k] for k in names if k in i})
                           for i in scan_all(args[0])):
            print(line)
    elif cmd == "schema":
        t = client().describe_table(TableName=args[0])["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]}
        order = sorted(t["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
        print(" ".join("%s:%s" % (k["AttributeName"], types[k["AttributeName"]])
                       for k in order))
        print(t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"))
    elif cmd == "gone":
        try:
            client().get_waiter("table_not_exists").wait(
                TableName=args[0], WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        except Exception as e:  # botocore.exceptions.WaiterError
            sys.exit("%s still exists: %s" % (args[0], e))
    elif cmd == "fill-part":
        table, n, part = args[0], int(args[1]), args[2]
        prefix = args[3] if len(args) > 3 else ""
        pad = "x" * int(args[4]) if len(args) > 4 else None
        h, r = key_names(table)
        with resource().Table(table).batch_writer() as batch:
            for i in range(n):
                item = {h: part, r: "%s%d" % (prefix, i), "v": 1}
                if pad:
                    item["pad"] = pad
                batch.put_item(Item=item)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
