"""Writes a cross-implementation Avro corpus with fastavro, an Avro implementation independent of avsc.

For each schema: records generated from a seed (random values plus a pool of edge values: extreme longs, NaN and
infinite floats, empty and non-ASCII strings, deep recursion), written by fastavro's schemaless writer, then read back
by fastavro. What fastavro reads back is the expected value: the project's codec must decode the same bytes to the
same thing. Printed as one JSON document on stdout:

  {"generator": "fastavro <version>", "seed": N,
   "corpora": [{"name": ..., "schema": <as registered>, "records": [{"hex": ..., "expected": ...}]}]}

`expected` uses the codec's documented JavaScript mapping, with tags where JSON has no form: {"$bytes": hex} for bytes
and fixed, {"$long": "digits"} for a long beyond ±(2^53 - 1) (the codec gives a bigint), {"$float": "NaN" |
"Infinity" | "-Infinity"}; a decimal is its plain decimal string, a timestamp or time its underlying number.

Usage: python avro-corpus.py [--seed N] [--count N]
"""

import argparse
import io
import json
import math
import random
import struct
import sys
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import fastavro

SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 5

INTEROP = {  # Apache Avro's own interop test schema (share/test/schemas/interop.avsc)
    "type": "record",
    "name": "Interop",
    "namespace": "org.apache.avro",
    "fields": [
        {"name": "intField", "type": "int"},
        {"name": "longField", "type": "long"},
        {"name": "stringField", "type": "string"},
        {"name": "boolField", "type": "boolean"},
        {"name": "floatField", "type": "float"},
        {"name": "doubleField", "type": "double"},
        {"name": "bytesField", "type": "bytes"},
        {"name": "nullField", "type": "null"},
        {"name": "arrayField", "type": {"type": "array", "items": "double"}},
        {
            "name": "mapField",
            "type": {
                "type": "map",
                "values": {"type": "record", "name": "Foo", "fields": [{"name": "label", "type": "string"}]},
            },
        },
        {"name": "unionField", "type": ["boolean", "double", {"type": "array", "items": "bytes"}]},
        {"name": "enumField", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
        {"name": "fixedField", "type": {"type": "fixed", "name": "MD5", "size": 16}},
        {
            "name": "recordField",
            "type": {
                "type": "record",
                "name": "Node",
                "fields": [
                    {"name": "label", "type": "string"},
                    {"name": "children", "type": {"type": "array", "items": "Node"}},
                ],
            },
        },
    ],
}

LOGICAL = {
    "type": "record",
    "name": "Logical",
    "namespace": "interop.logical",
    "fields": [
        {"name": "date", "type": {"type": "int", "logicalType": "date"}},
        {"name": "timeMillis", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "timeMicros", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "timestampMillis", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "timestampMicros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "localTimestampMillis", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "localTimestampMicros", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 4}},
        {"name": "ratio", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 0}},
        {
            "name": "amount",
            "type": {"type": "fixed", "name": "Amount", "size": 8, "logicalType": "decimal", "precision": 18, "scale": 2},
        },
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "prices", "type": {"type": "array", "items": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 3}}},
    ],
}

EDGES = {
    "type": "record",
    "name": "Edges",
    "fields": [
        {"name": "longs", "type": {"type": "array", "items": "long"}},
        {"name": "ints", "type": {"type": "array", "items": "int"}},
        {"name": "floats", "type": {"type": "array", "items": "float"}},
        {"name": "doubles", "type": {"type": "array", "items": "double"}},
        {"name": "strings", "type": {"type": "array", "items": "string"}},
        {"name": "maybe", "type": ["null", "string"]},
        {"name": "scalar", "type": ["null", "long", "string", "double"]},
        {
            "name": "list",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "LinkedList",
                    "fields": [{"name": "value", "type": "long"}, {"name": "next", "type": ["null", "LinkedList"]}],
                },
            ],
        },
        {
            "name": "tree",
            "type": {
                "type": "record",
                "name": "Dir",
                "fields": [
                    {"name": "name", "type": "string"},
                    {"name": "entries", "type": {"type": "map", "values": "Dir"}},
                ],
            },
        },
        {"name": "nested", "type": {"type": "map", "values": {"type": "array", "items": ["null", "boolean", "bytes"]}}},
        {"name": "empty", "type": {"type": "record", "name": "Empty", "fields": []}},
        {
            "name": "event",
            "type": [
                {"type": "record", "name": "Login", "fields": [{"name": "user", "type": "string"}]},
                {"type": "record", "name": "Logout", "fields": [{"name": "user", "type": "string"}, {"name": "forced", "type": "boolean"}]},
            ],
        },
        {"name": "suit", "type": {"type": "enum", "name": "Suit", "symbols": ["SPADES", "HEARTS", "DIAMONDS", "CLUBS"]}},
    ],
}

TOP_LEVEL_UNION = ["null", "long", "string", {"type": "array", "items": "long"}]

SCHEMAS = {"interop": INTEROP, "logical": LOGICAL, "edges": EDGES, "top-level-union": TOP_LEVEL_UNION}

F32_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
EDGE_VALUES = {
    "int": [0, 1, -1, 2**31 - 1, -(2**31)],
    "long": [0, -1, 2**31, -(2**31) - 1, SAFE_INTEGER, SAFE_INTEGER + 1, -SAFE_INTEGER, -SAFE_INTEGER - 1, 2**63 - 1, -(2**63)],
    "float": [math.nan, math.inf, -math.inf, -0.0, 1e-45, F32_MAX, -F32_MAX, 0.1],
    "double": [math.nan, math.inf, -math.inf, -0.0, 5e-324, sys.float_info.max, -sys.float_info.max, 0.1],
    "string": ["", "é", "東京", "🚀 emoji", "a\u0000b", "Zürich — ∑", "x" * 1000],
    "bytes": [b"", b"\x00", b"\xff" * 40],
}


class Generator:
    def __init__(self, rnd, named):
        self.rnd = rnd
        self.named = named

    def value(self, schema, depth=0):
        rnd = self.rnd
        if isinstance(schema, str):
            if schema in self.named:
                return self.value(self.named[schema], depth)
            return self.primitive(schema)
        if isinstance(schema, list):
            branches = schema
            if depth >= MAX_DEPTH and "null" in branches:
                return None
            return self.value(rnd.choice(branches), depth + 1)
        kind = schema["type"]
        logical = schema.get("logicalType")
        if logical is not None:
            return self.logical(schema, logical)
        if kind == "record":
            return {f["name"]: self.value(f["type"], depth + 1) for f in schema["fields"]}
        if kind == "array":
            n = 0 if depth >= MAX_DEPTH else rnd.choice([0, 1, 2, 3, 5, 8])
            return [self.value(schema["items"], depth + 1) for _ in range(n)]
        if kind == "map":
            n = 0 if depth >= MAX_DEPTH else rnd.choice([0, 1, 2, 4])
            return {self.primitive("string") + str(i): self.value(schema["values"], depth + 1) for i in range(n)}
        if kind == "enum":
            return rnd.choice(schema["symbols"])
        if kind == "fixed":
            return rnd.randbytes(schema["size"])
        return self.primitive(kind)

    def primitive(self, kind):
        rnd = self.rnd
        if kind in EDGE_VALUES and rnd.random() < 0.3:
            return rnd.choice(EDGE_VALUES[kind])
        if kind == "null":
            return None
        if kind == "boolean":
            return rnd.random() < 0.5
        if kind == "int":
            return rnd.randint(-(2**31), 2**31 - 1)
        if kind == "long":
            return rnd.randint(-(2**63), 2**63 - 1) if rnd.random() < 0.5 else rnd.randint(-(10**6), 10**6)
        if kind == "float":
            return struct.unpack("<f", struct.pack("<f", rnd.uniform(-1e6, 1e6)))[0]
        if kind == "double":
            return rnd.uniform(-1e12, 1e12)
        if kind == "string":
            alphabet = "abcXYZ019 éüß東京🚀"
            return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        if kind == "bytes":
            return rnd.randbytes(rnd.randint(0, 20))
        raise ValueError(f"no generator for {kind}")

    def logical(self, schema, logical):
        rnd = self.rnd
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        if logical == "date":
            return date(1970, 1, 1) + timedelta(days=rnd.randint(-719162, 2932896))  # years 1 to 9999
        if logical in ("time-millis", "time-micros"):
            micros = rnd.randint(0, 86_399_999_999)
            if logical == "time-millis":
                micros -= micros % 1000
            return (datetime.min + timedelta(microseconds=micros)).time()
        if logical.startswith("timestamp-") or logical.startswith("local-timestamp-"):
            micros = rnd.randint(-62_135_596_800_000_000, 253_402_300_799_999_999)
            if logical.endswith("millis"):
                micros -= micros % 1000
            at = epoch + timedelta(microseconds=micros)
            return at.replace(tzinfo=None) if logical.startswith("local-") else at
        if logical == "decimal":
            precision, scale = schema["precision"], schema.get("scale", 0)
            digits = rnd.randint(1, precision)
            unscaled = rnd.randint(-(10**digits) + 1, 10**digits - 1)
            if rnd.random() < 0.2:
                unscaled = rnd.choice([0, 10**precision - 1, -(10**precision) + 1])
            return Decimal(unscaled).scaleb(-scale)
        if logical == "uuid":
            return uuid.UUID(int=rnd.getrandbits(128), version=4)
        raise ValueError(f"no generator for logical type {logical}")


def without_logical_types(schema):
    """The same binary schema with its logical annotations dropped: reading with it gives the underlying values."""
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    return schema


def expected(schema, raw, logical, named):
    """fastavro's read-back in the codec's mapping: underlying values, except a decimal is its decimal string and a
    union JavaScript cannot tell apart is wrapped. Both reads ran with return_record_name: a record in a union comes
    as (name, value)."""
    if isinstance(schema, str) and schema in named:
        return expected(named[schema], raw, logical, named)
    if isinstance(schema, list):
        branch = schema[branch_index(schema, raw, named)]
        if isinstance(raw, tuple):
            raw, logical = raw[1], logical[1]
        value = expected(branch, raw, logical, named)
        return {branch_name(branch): value} if ambiguous(schema, named) and value is not None else value
    if isinstance(schema, dict):
        if schema.get("logicalType") == "decimal":
            return format(logical, "f")
        kind = schema["type"]
        if kind == "record":
            return {f["name"]: expected(f["type"], raw[f["name"]], logical[f["name"]], named) for f in schema["fields"]}
        if kind == "array":
            return [expected(schema["items"], r, l, named) for r, l in zip(raw, logical)]
        if kind == "map":
            return {k: expected(schema["values"], raw[k], logical[k], named) for k in raw}
    return tagged(raw)


def resolved(schema, named):
    return named.get(schema, schema) if isinstance(schema, str) else schema


def kind_of(schema, named):
    schema = resolved(schema, named)
    return schema if isinstance(schema, str) else schema["type"]


def branch_name(schema):
    """avsc's name for a union branch: a named type's full name, otherwise its type."""
    if isinstance(schema, str):
        return schema
    return schema["name"] if "name" in schema else schema["type"]


# What JavaScript can tell apart in an unwrapped union (avsc's buckets). A decimal is a logical type, outside them.
BUCKETS = {"int": "number", "long": "number", "float": "number", "double": "number", "bytes": "buffer",
           "fixed": "buffer", "enum": "string", "map": "object", "record": "object", "error": "object"}


def ambiguous(union, named):
    buckets = []
    for branch in union:
        schema = resolved(branch, named)
        if isinstance(schema, dict) and schema.get("logicalType") == "decimal":
            continue
        kind = kind_of(branch, named)
        buckets.append(BUCKETS.get(kind, kind))
    return len(buckets) != len(set(buckets))


def branch_index(union, raw, named):
    """Which branch fastavro wrote, from the value it read back (no corpus union has two branches of one kind)."""
    kinds = [kind_of(b, named) for b in union]
    if isinstance(raw, tuple):
        return [branch_name(resolved(b, named)) for b in union].index(raw[0])
    if raw is None:
        wanted = ["null"]
    elif isinstance(raw, bool):
        wanted = ["boolean"]
    elif isinstance(raw, int):
        wanted = ["int", "long"]
    elif isinstance(raw, float):
        wanted = ["float", "double"]
    elif isinstance(raw, str):
        wanted = ["string", "enum"]
    elif isinstance(raw, (bytes, bytearray)):
        wanted = ["bytes", "fixed"]
    elif isinstance(raw, list):
        wanted = ["array"]
    else:
        wanted = ["map"]
    return next(i for i, k in enumerate(kinds) if k in wanted)


def tagged(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return {"$long": str(value)} if abs(value) > SAFE_INTEGER else value
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "NaN"}
        if math.isinf(value):
            return {"$float": "Infinity" if value > 0 else "-Infinity"}
        return value
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    if isinstance(value, dict):
        return {k: tagged(v) for k, v in value.items()}
    raise TypeError(f"cannot tag {type(value).__name__}")


def corpus(name, schema, rnd, count):
    parsed = fastavro.parse_schema(schema)
    raw_schema = fastavro.parse_schema(without_logical_types(schema))
    named = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}
    if isinstance(parsed, list):  # a top-level union: fastavro keeps named types on the side
        named = {}
    generator = Generator(rnd, named)
    records = []
    for _ in range(count):
        value = generator.value(parsed)
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, value)
        data = out.getvalue()
        raw = fastavro.schemaless_reader(io.BytesIO(data), raw_schema, None, return_record_name=True)
        logical = fastavro.schemaless_reader(io.BytesIO(data), parsed, None, return_record_name=True)
        records.append({"hex": data.hex(), "expected": expected(parsed, raw, logical, named)})
    return {"name": name, "schema": schema, "records": records}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    document = {
        "generator": f"fastavro {fastavro.__version__}",
        "seed": args.seed,
        "corpora": [corpus(name, schema, rnd, args.count) for name, schema in SCHEMAS.items()],
    }
    json.dump(document, sys.stdout, allow_nan=False, ensure_ascii=False)


if __name__ == "__main__":
    main()
