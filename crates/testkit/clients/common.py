"""Shared pieces of the Python client programs: arguments, the test table, the expected rows.

Each program connects to a Tessera frontend as root, prints one `PASS <what>` line per check
and exits non-zero (with a `FAIL` line) on the first mismatch.
"""

import argparse
import datetime
import decimal
import sys

# The typed table every client creates: one column per everyday type, replicated 3 ways.
COLUMNS_DDL = (
    "k INT NOT NULL, b BIGINT, d DECIMAL(10, 2), f DOUBLE, s VARCHAR(32), "
    "dt DATE, ts DATETIME, flag BOOLEAN, n INT"
)
TABLE_TAIL = 'DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ("replication_num" = "3")'

# The rows inserted, as Python values (what a driver should hand back).
ROWS = [
    (1, 9007199254740993, decimal.Decimal("12345678.91"), 1.5, "héllo wörld",
     datetime.date(2024, 1, 31), datetime.datetime(2024, 1, 31, 23, 59, 58), True, None),
    (2, -5, decimal.Decimal("-0.01"), -2.25, "it's \"quoted\"",
     datetime.date(1999, 12, 31), datetime.datetime(2000, 1, 1, 0, 0, 0), False, 7),
    (3, 0, decimal.Decimal("0.00"), 0.0, "",
     datetime.date(2030, 6, 15), datetime.datetime(2030, 6, 15, 12, 30, 45), True, -3),
]


def args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=9030)
    p.add_argument("--db", required=True, help="database to create (dropped first if it exists)")
    return p.parse_args()


def passed(what):
    print(f"PASS {what}", flush=True)


def fail(what):
    print(f"FAIL {what}", flush=True)
    sys.exit(1)


def check(cond, what, detail=""):
    if not cond:
        fail(f"{what}: {detail}")
    passed(what)


def check_eq(got, want, what):
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")
    passed(what)


def normalize_flag(rows):
    """BOOLEAN arrives as TINYINT(1): 0/1 integers. Compare it as a bool."""
    out = []
    for r in rows:
        r = list(r)
        if r[7] is not None:
            r[7] = bool(r[7])
        out.append(tuple(r))
    return out
