#!/usr/bin/python3
# gen.py - writes tests/data/codec/<case>/{ddb.json,plain.json} with Python's
# json.dumps(indent=2, ensure_ascii=False), independently of the C codec.
#
# Every case is a wire item (DynamoDB JSON, numbers as strings). The key
# schema is always partition key "pk", sort key "sk" (either may be absent).
# ddb.json is the item in canonical order (pk, sk, then names by UTF-8 bytes,
# nested maps by key bytes, SS by bytes, NS by value, BS by decoded bytes);
# plain.json is SPEC section 4's form of it. Numbers keep their text exactly:
# they go through json.dumps as placeholder strings, pasted back afterwards.
import base64
import decimal
import json
import os
import sys

TAGS = ("$B", "$SS", "$NS", "$BS", "$M")
BIG = "-1234567890123456789012345678901234567.8"


def nest(depth):
    # depth list/map containers inside one another around a string; with
    # the item as level 1 that is depth + 1 levels.
    v = {"S": "deep"}
    for i in range(depth):
        v = {"L": [v]} if i % 2 else {"M": {"k": v}}
    return v


# What DynamoDB Local and dynalite return for 1E-130 and the largest number.
TINY = "0." + "0" * 129 + "1"
HUGE = "9" * 38 + "0" * 88

CASES = {
    "scalars": {
        "pk": {"S": "a"}, "sk": {"S": "b"}, "s": {"S": "hello"},
        "empty": {"S": ""}, "n": {"N": "1.5"}, "t": {"BOOL": True},
        "f": {"BOOL": False}, "z": {"NULL": True},
    },
    "numbers": {
        "pk": {"S": "n"}, "sk": {"N": "-7.5"},
        "d38": {"N": "12345678901234567890123456789012345678"},
        "d38neg": {"N": "-99999999999999999999999999999999999999"},
        "d38frac": {"N": BIG},
        "tiny": {"N": TINY}, "tinyneg": {"N": "-" + TINY},
        "huge": {"N": HUGE}, "hugeneg": {"N": "-" + HUGE},
        "point1": {"N": "0.1"}, "zero": {"N": "0"}, "int": {"N": "100"},
        "micro": {"N": "0.000001"}, "exp": {"N": "1E+5"},
        "expneg": {"N": "-2.5e-7"},
    },
    "strings": {
        "pk": {"S": "s"},
        "latin": {"S": "h\u00e9llo w\u00f6rld"},
        "cjk": {"S": "\u65e5\u672c\u8a9e"},
        "emoji": {"S": "\U0001F600\U0001F44D\U0001F3FD"},
        "controls": {"S": "\x00\x01\x1f\x7f\b\f\n\r\t end"},
        "quotes": {"S": "say \"hi\" \\ / '"},
        "seps": {"S": "\u2028\u2029\ufeff\u00a0"},
        "name \"quoted\"\n\u00e9": {"S": "odd name"},
    },
    "binary": {
        "pk": {"S": "b"}, "b": {"B": "AAEC/w=="}, "b0": {"B": ""},
        "b1": {"B": "/w=="}, "b2": {"B": "AQI="},
        "bs": {"BS": ["/w==", "AA==", "AQI=", "AAA="]},
    },
    "sets": {
        "pk": {"S": "sets"},
        "ss": {"SS": ["b", "a", "B", "\u00e9", "\U0001F600", "", "ab"]},
        "ns": {"NS": ["10", "-1", "0.5", "3", "100", "-0.000001",
                      "12345678901234567890123456789012345678000",
                      TINY, "-" + HUGE, "0"]},
        "ss1": {"SS": ["only"]},
    },
    "containers": {
        "pk": {"S": "c"}, "l0": {"L": []}, "m0": {"M": {}},
        "list": {"L": [{"N": "3"}, {"N": "1"}, {"S": "2"}, {"NULL": True},
                       {"L": []}, {"M": {"b": {"S": "x"}, "a": {"S": "y"}}},
                       {"SS": ["y", "x"]}]},
        "map": {"M": {"zeta": {"BOOL": False}, "alpha": {"M": {
            "y": {"N": "2"}, "x": {"L": [{"M": {}}]}}},
            "Beta": {"B": "AA=="}}},
    },
    "escape_m": {
        "pk": {"S": "e"},
        "$B": {"S": "a top-level name is never a tag"},
        "m1": {"M": {"$SS": {"SS": ["a"]}}},
        "m2": {"M": {"$M": {"M": {}}}},
        "m3": {"M": {"$SS": {"S": "x"}, "y": {"N": "1"}}},
        "m4": {"M": {"$B": {"B": "AA=="}}},
        "m5": {"M": {"$X": {"S": "not a tag"}}},
        "m6": {"M": {"$NS": {"L": [{"N": "1"}]}}},
        "m7": {"M": {"$BS": {"NULL": True}}},
        "m8": {"M": {"$M": {"M": {"$SS": {"S": "x"}}}}},
    },
    "key_order": {
        "sk": {"S": "s"}, "pk": {"S": "k"}, "Z": {"N": "1"},
        "a": {"N": "2"}, "A": {"N": "3"}, "_": {"N": "4"},
        "\u00e9": {"N": "5"}, "zz": {"N": "6"}, "z": {"N": "7"},
        "10": {"N": "8"}, "9": {"N": "9"}, "\U0001F600": {"N": "10"},
        "\uffff": {"N": "11"},
        "nested": {"M": {"b": {"S": "1"}, "a": {"S": "2"}, "B": {"S": "3"},
                         "pk": {"S": "4"}}},
    },
    "nest32": {"pk": {"S": "deep"}, "a": nest(31)},
    "hash_only": {"pk": {"N": "42"}, "x": {"S": "y"}},
    "empty": {},
}


def bkey(s):
    return s.encode("utf-8", "surrogatepass")


def canon_av(av):
    (t, v), = av.items()
    if t == "M":
        return {t: canon_map(v)}
    if t == "L":
        return {t: [canon_av(x) for x in v]}
    if t == "SS":
        return {t: sorted(v, key=bkey)}
    if t == "NS":
        return {t: sorted(v, key=decimal.Decimal)}
    if t == "BS":
        return {t: sorted(v, key=base64.b64decode)}
    return {t: v}


def canon_map(m, top=False):
    rank = {"pk": 0, "sk": 1} if top else {}
    names = sorted(m, key=lambda k: (rank.get(k, 2), bkey(k)))
    return {k: canon_av(m[k]) for k in names}


class Numbers:
    def __init__(self):
        self.texts = []

    def __call__(self, text):
        self.texts.append(text)
        return "\x00NUM%d\x00" % (len(self.texts) - 1)

    def paste(self, out):
        for i, t in enumerate(self.texts):
            out = out.replace('"\\u0000NUM%d\\u0000"' % i, t, 1)
        return out


def plain_av(av, num):
    (t, v), = av.items()
    if t == "S":
        return v
    if t == "N":
        return num(v)
    if t == "BOOL":
        return v
    if t == "NULL":
        return None
    if t == "B":
        return {"$B": v}
    if t in ("SS", "BS"):
        return {"$" + t: v}
    if t == "NS":
        return {"$NS": [num(x) for x in v]}
    if t == "L":
        return [plain_av(x, num) for x in v]
    m = {k: plain_av(x, num) for k, x in v.items()}
    if len(m) == 1 and next(iter(m)) in TAGS:
        return {"$M": m}
    return m


def dumps(x):
    return json.dumps(x, indent=2, ensure_ascii=False) + "\n"


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    for name, item in CASES.items():
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        canon = canon_map(item, top=True)
        num = Numbers()
        plain = num.paste(dumps({k: plain_av(v, num)
                                 for k, v in canon.items()}))
        for fn, text in (("ddb.json", dumps(canon)),
                         ("plain.json", plain)):
            with open(os.path.join(d, fn), "w", encoding="utf-8",
                      newline="") as f:
                f.write(text)
    print("wrote %d cases" % len(CASES), file=sys.stderr)


if __name__ == "__main__":
    main()
