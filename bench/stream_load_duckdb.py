#!/usr/bin/env python3
"""DuckDB's side of bench/stream_load: load one TPC-H lineitem file into a table of a fresh
file database, with the same column types as Tessera's table, and write one JSON object with
the timings to --out.

Timed: CREATE TABLE + COPY ... FROM the file + CHECKPOINT (the data is in the database file
on disk when the clock stops, as a Stream Load's data is on the BEs' disks when it returns).
Run by the `stream_load` bench binary once per rep; see docs/benchmarks.md.
"""

import argparse
import json
import os
import resource
import sys
import time

import duckdb

COLUMNS = """
    l_orderkey      BIGINT        NOT NULL,
    l_partkey       INTEGER       NOT NULL,
    l_suppkey       INTEGER       NOT NULL,
    l_linenumber    INTEGER       NOT NULL,
    l_quantity      DECIMAL(15,2) NOT NULL,
    l_extendedprice DECIMAL(15,2) NOT NULL,
    l_discount      DECIMAL(15,2) NOT NULL,
    l_tax           DECIMAL(15,2) NOT NULL,
    l_returnflag    CHAR(1)       NOT NULL,
    l_linestatus    CHAR(1)       NOT NULL,
    l_shipdate      DATE          NOT NULL,
    l_commitdate    DATE          NOT NULL,
    l_receiptdate   DATE          NOT NULL,
    l_shipinstruct  VARCHAR(25)   NOT NULL,
    l_shipmode      VARCHAR(10)   NOT NULL,
    l_comment       VARCHAR(44)   NOT NULL
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", required=True, help="the lineitem file")
    ap.add_argument(
        "--format",
        choices=["tbl", "csv"],
        required=True,
        help="tbl: dbgen's '|'-separated lines with a trailing '|', no header; "
        "csv: tpchgen-cli's ','-separated CSV with a header and quoted comments",
    )
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--db", required=True, help="database file to create (must not exist)")
    ap.add_argument("--out", required=True, help="where to write the JSON result")
    a = ap.parse_args()

    if os.path.exists(a.db):
        print(f"{a.db} exists", file=sys.stderr)
        return 2
    con = duckdb.connect(a.db)
    con.execute(f"SET threads = {int(a.threads)}")
    if a.format == "tbl":
        # DuckDB's reader takes dbgen's trailing '|' as it is (its tpch extension loads .tbl so).
        opts = "DELIMITER '|', HEADER false, QUOTE ''"
    else:
        opts = "DELIMITER ',', HEADER true, QUOTE '\"'"
    c0 = time.process_time()
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE lineitem ({COLUMNS})")
    res = con.execute(f"COPY lineitem FROM '{a.file}' ({opts})").fetchall()
    t1 = time.perf_counter()
    con.execute("CHECKPOINT")
    t2 = time.perf_counter()
    c2 = time.process_time()
    rows = con.execute("SELECT count(*) FROM lineitem").fetchone()[0]
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    out = {
        "copy_secs": t1 - t0,
        "checkpoint_secs": t2 - t1,
        "secs": t2 - t0,
        # CPU of the whole process (all DuckDB threads) during the timed part.
        "cpu_secs": c2 - c0,
        "rows": rows,
        "copy_reported_rows": res[0][0] if res and res[0] else None,
        "threads": threads,
        "duckdb_version": duckdb.__version__,
        "db_bytes": os.path.getsize(a.db),
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    with open(a.out, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
