#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: fuzz/corpus/<target>/seed-*.

Usage: fuzz/seeds.py [PLAYGROUND]

The journal, tablet-record and rowset-file seeds are real encodings taken from a cluster's
files: PLAYGROUND is a directory made by scripts/playground.sh after a CREATE TABLE and a few
loads (default /tmp/pg/playground); they are skipped when it is absent. The others are built
here in the targets' input layouts (see each target's header comment). Seeds are committed;
rerun this only when a format changes.
"""
import json
import os
import re
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYGROUND = sys.argv[1] if len(sys.argv) > 1 else "/tmp/pg/playground"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# sql_parser: one statement family per seed.
SQL = [
    "SELECT a, count(*) FROM db1.t WHERE b > 1 AND c LIKE 'x%' GROUP BY a ORDER BY 2 DESC LIMIT 10",
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, NULL)",
    "EXPLAIN VERBOSE SELECT * FROM t",
    "CREATE DATABASE IF NOT EXISTS d1",
    "DROP DATABASE d1 FORCE",
    "CREATE TABLE IF NOT EXISTS d.t (k INT NOT NULL COMMENT 'key', v VARCHAR(20) DEFAULT 'x', "
    "d DECIMAL(10, 2), dt DATETIME) DUPLICATE KEY(k) COMMENT 'c' "
    "PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-01-01'), "
    "PARTITION p2 VALUES [('2024-01-01'), ('2024-02-01'))) "
    "DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ('replication_num' = '3')",
    "ALTER TABLE t ADD PARTITION p3 VALUES LESS THAN ('2025-01-01')",
    "ALTER TABLE t SET ('write_quorum' = 'ALL')",
    "DROP TABLE IF EXISTS d.t FORCE",
    "ALTER SYSTEM ADD BACKEND '127.0.0.1:9050', '127.0.0.2:9050'",
    "ALTER SYSTEM DROP FOLLOWER '127.0.0.2:9010'",
    "SHOW FRONTENDS; SHOW BACKENDS; SHOW PROC '/backends'",
    "SHOW FULL TABLES FROM d LIKE 't%'",
    "SHOW VARIABLES WHERE Variable_name = 'x'",
    "SHOW TABLET 10007",
    "SHOW TABLET FROM d.t PARTITION (p1)",
    "ADMIN SET FRONTEND CONFIG ('a' = 'b')",
    "ADMIN SHOW REPLICA STATUS FROM t WHERE STATUS = 'MISSING'",
    "ADMIN REPAIR TABLE t PARTITION (p1, p2)",
    "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci, @@session.autocommit = 1, @x = 'y'",
    "SET GLOBAL query_timeout = 600",
    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
    "CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED BY 'p'",
    "GRANT SELECT, INSERT ON d.* TO 'u'@'%'",
    "REVOKE ALL ON *.* FROM u",
    "SHOW GRANTS FOR 'u'@'%'",
    "SHOW LOAD FROM d WHERE LABEL = 'l' ORDER BY CreateTime LIMIT 5",
    "CANCEL LOAD FROM d WHERE LABEL = 'l'",
    "SHOW DATA FROM d.t",
    "KILL QUERY 12",
    "USE `d`; BEGIN; COMMIT; ROLLBACK",
    "DESC d.t ALL",
    "SHOW CREATE TABLE `d`.`t`",
    "SELECT ((((((1))))))",
]
for i, s in enumerate(SQL):
    write("sql_parser", f"{i:02}", s)

# csv_load: flags, separator, delimiter, chunk size, body.
CSV = [
    (0x00, 0, 0, 3, b"1,a,\\N\n2,,x\n\n3,b,c"),
    (0x01, 0, 0, 1, b'"a","b,c","",\\N,"\\N"\n"x""y",z"q\n""""\n,\n'),
    (0x09, 2, 0, 2, b'  1 \t 2\t" 3 "  \n\t\\N\t\n'),
    (0x05, 0, 1, 4, b'a\\,b,"c\\"d",e\\\r\n'),
    (0x11, 1, 1, 5, b'h1||h2\r\n"a||b"||c||"d"""\r\n||\r\n""'),
    (0x02, 3, 2, 7, b"'x', 'y, z'|;|1, 2|;|"),
    (0x41, 0, 0, 9, b'1,"open\nstill open\nand more text than sixteen bytes\n'),
    (0x00, ord(";"), ord("|"), 0, "\u4e2d;\u6587|\xff;x|".encode("utf-8", "surrogateescape")),
]
for i, (flags, sep, delim, chunk, body) in enumerate(CSV):
    write("csv_load", f"{i:02}", bytes([flags, sep, delim, chunk]) + body)

# json_load: flags, chunk size, json_root path, NUL, body.
JSON = [
    (0x00, 3, b"", b'{"id": 1, "a": "x", "c d": 1.50}\n{"id": 2, "a": null}\n'),
    (0x01, 1, b"", b'[{"id": 1, "a": [1, 2]}, {"id": 2, "a": {"b": true}}]'),
    (0x03, 5, b"", b'[{"id": 12345678901234567890123, "a": {"b": [0, "deep"]}, "c d": "q"}]'),
    (0x04, 2, b"$.data", b'{"data": {"id": 3, "a": "r"}}\n{"data": [1]}\n'),
    (0x05, 8, b"$['data'][0]", b'[{"data": [{"id": 4}]}, {"nodata": 1}]'),
    (0x00, 4, b"", b'{"id": 1}\n{"id": \n]'),
]
for i, (flags, chunk, root, body) in enumerate(JSON):
    write("json_load", f"{i:02}", bytes([flags, chunk]) + root + b"\0" + body)


# MySQL: packets as a client sends them.
def packet(seq, payload):
    n = len(payload)
    return bytes([n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF, seq]) + payload


def lenenc(b):
    assert len(b) < 251
    return bytes([len(b)]) + b


PROTOCOL_41, SECURE, WITH_DB = 1 << 9, 1 << 15, 1 << 3
PLUGIN_AUTH, ATTRS, LENENC, SSL, MULTI = 1 << 19, 1 << 20, 1 << 21, 1 << 11, 1 << 16


def hello(caps, user=b"root", auth=b"", db=b"db", plugin=b"mysql_native_password", attrs=None):
    p = caps.to_bytes(4, "little") + (16 << 20).to_bytes(4, "little") + bytes([33]) + bytes(23)
    p += user + b"\0"
    if caps & LENENC:
        p += lenenc(auth)
    elif caps & SECURE:
        p += bytes([len(auth)]) + auth
    else:
        p += auth + b"\0"
    if caps & WITH_DB:
        p += db + b"\0"
    if caps & PLUGIN_AUTH:
        p += plugin + b"\0"
    if caps & ATTRS:
        block = b"".join(lenenc(k) + lenenc(v) for k, v in (attrs or []))
        p += lenenc(block)
    return p


FULL = PROTOCOL_41 | SECURE | WITH_DB | PLUGIN_AUTH | ATTRS | LENENC
HANDSHAKES = [
    packet(1, hello(FULL, attrs=[(b"_client_name", b"libmysql"), (b"program_name", b"mysql")]))
    + packet(0, b"\x03select 1") + packet(0, b"\x01"),
    packet(1, hello(PROTOCOL_41 | SECURE, auth=bytes(range(20)))) + packet(0, b"\x0e"),
    packet(1, hello(FULL, plugin=b"caching_sha2_password")) + packet(3, bytes(20)) + packet(0, b"\x02db"),
    packet(1, hello(PROTOCOL_41 | SSL)[:32]),
    packet(1, b"\x05\xa6\x0f\x00\x00\x00\x01root\x00"),
    packet(1, hello(FULL, user=b"deny")),
    packet(1, hello(FULL))[:20],
]
for i, h in enumerate(HANDSHAKES):
    write("mysql_handshake", f"{i:02}", bytes([0x07]) + h)


def cmds(*payloads):
    out = b""
    for p in payloads:
        assert len(p) < 255
        out += bytes([len(p)]) + p
    return out


def execute(stmt, params, types=None, bound=True):
    n = len(params)
    null = bytearray((n + 7) // 8)
    body = b""
    for i, v in enumerate(params):
        if v is None:
            null[i // 8] |= 1 << (i % 8)
    p = b"\x17" + stmt.to_bytes(4, "little") + b"\x00" + (1).to_bytes(4, "little")
    if n:
        p += bytes(null) + (b"\x01" if bound else b"\x00")
        if bound:
            for t, _ in types:
                p += bytes([t, 0])
        for (t, enc), v in zip(types or [], params):
            if v is not None:
                body += enc
    return p + body


TYPES = [
    (0x08, (-5).to_bytes(8, "little", signed=True)),  # LONGLONG
    (0xFD, lenenc(b"it's; DROP TABLE t -- ")),  # VAR_STRING
    (0x05, bytes.fromhex("000000000000f03f")),  # DOUBLE 1.0
    (0x0A, bytes([4]) + (2024).to_bytes(2, "little") + bytes([2, 29])),  # DATE
    (0x0C, bytes([11]) + (2024).to_bytes(2, "little") + bytes([2, 29, 13, 14, 15]) + (123456).to_bytes(4, "little")),
    (0x0B, bytes([8, 1]) + (1).to_bytes(4, "little") + bytes([2, 3, 4])),  # TIME
    (0xF6, lenenc(b"-12.340")),  # NEWDECIMAL
    (0x01, b"\x7f"),  # TINY
    (0xFC, lenenc(b"\xff\x00binary")),  # BLOB
]
COMMANDS = [
    (0x00, cmds(b"\x03select 1", b"\x03ok", b"\x03err", b"\x02db", b"\x04t\x00", b"\x09", b"\x0e", b"\x1b\x00\x00", b"\x1f", b"\x63")),
    (0x01, cmds(b"\x03select 1; select 2", b"\x1b\x01\x00", b"\x03select 3;select 4")),
    (0x02, cmds(b"\x16select ?, ?, ?, ?, ?, ?, ?, ?, ?",
                execute(1, [1] * 9, TYPES),
                execute(1, [1] * 9, TYPES, bound=False),
                b"\x18" + (1).to_bytes(4, "little") + (1).to_bytes(2, "little") + b"long data",
                execute(1, [None] * 9, TYPES),
                b"\x1a" + (1).to_bytes(4, "little"),
                b"\x19" + (1).to_bytes(4, "little"),
                execute(1, [1] * 9, TYPES))),
    (0x03, cmds(b"\x16insert into t values (?, '?', `?`, /* ? */ ?) -- ?", execute(1, [None, 1], TYPES[:2]), b"\x03select 1")),
    (0x04, cmds(b"\x16select 1-?", execute(1, [1], TYPES[:1]), b"\x03" + b"x" * 250)),
]
for i, (knobs, c) in enumerate(COMMANDS):
    write("mysql_command", f"{i:02}", bytes([knobs]) + c)

# journal_decode: real journal entries, a bare op, and an image.
dec = json.JSONDecoder()


def records(path, marker):
    try:
        raw = open(path, "rb").read()
    except OSError:
        return []
    out = []
    for m in re.finditer(re.escape(marker), raw):
        try:
            out.append(dec.raw_decode(raw[m.start():m.start() + 4_000_000].decode("utf-8", "replace"))[0])
        except ValueError:
            pass
    return out


entries = []
for fe in sorted(os.listdir(PLAYGROUND)) if os.path.isdir(PLAYGROUND) else []:
    entries += records(os.path.join(PLAYGROUND, fe, "meta/journal/journal.redb"), b'{"log_id"')
seen = {}
for e in entries:
    seen[e["log_id"]["index"]] = e
ordered = [seen[k] for k in sorted(seen)]
if ordered:
    line = lambda e: json.dumps(e, separators=(",", ":")).encode()
    write("journal_decode", "journal", b"\x01" + b"\n".join(line(e) for e in ordered))
    ops = [e["payload"]["Normal"] for e in ordered if isinstance(e["payload"], dict) and "Normal" in e["payload"]]
    kinds = {}
    for op in ops:
        kinds.setdefault(next(iter(op)), op)
    for k, op in sorted(kinds.items()):
        write("journal_decode", "op-" + k, b"\x01" + json.dumps(op, separators=(",", ":")).encode())
catalog = {
    "next_id": 10000, "databases": {}, "frontends": {}, "removed_frontends": [], "max_node_id": 1,
    "config_overrides": {"k": "v"}, "leader_time_ms": 0, "backends": {}, "recycle_bin": [],
    "txns": {}, "next_txn_id": 1,
}
body = json.dumps({
    "last_applied": {"leader_id": {"term": 1, "node_id": 1}, "index": 3},
    "membership": {"log_id": None, "membership": {"configs": [[1]], "nodes": {}}},
    "catalog": catalog,
}, separators=(",", ":")).encode()
write("journal_decode", "image", b"\x00" + f"tessera-image v1 len={len(body)} crc32={zlib.crc32(body):08x}\n".encode() + body)

# rowset_meta: real tablet records (keyed 10001 by the target) and rowset files.
be = os.path.join(PLAYGROUND, "be1/storage")
for i, rec in enumerate(records(os.path.join(be, "meta/tablet_meta.redb"), b'{"tablet_id"')):
    rec["tablet_id"] = 10001
    write("rowset_meta", f"tablet-{i}", b"\x00" + json.dumps(rec, separators=(",", ":")).encode())
files = []
for root, _, names in os.walk(os.path.join(be, "data")) if os.path.isdir(be) else []:
    files += [os.path.join(root, n) for n in names if n.endswith(".parquet")]
for i, f in enumerate(sorted(files, key=os.path.getsize)[:3]):
    write("rowset_meta", f"parquet-{i}", b"\x01" + open(f, "rb").read())
