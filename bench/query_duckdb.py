#!/usr/bin/env python3
"""DuckDB's side of bench/query: one long-lived process driven by the `query` bench binary
over stdin/stdout, one JSON object per line each way (stderr is the log). `--db` names the
database file to create (it must not exist).

Commands:
  {"cmd": "load", "threads": n,
   "tables": [{"name": t, "ddl": "CREATE TABLE ...", "file": <.tbl file>}, ...]}
      creates the database file, `SET threads = n`, creates each table with the DDL it is given
      (the same columns and types as Tessera's tables) and fills it from the dbgen-format
      file with COPY, then CHECKPOINT; replies with each table's count(*), the load time
      and the DuckDB version.
  {"cmd": "query", "sql": <one statement>, "warmup": w, "reps": r}
      runs the statement w times untimed, then r times timed (execute + fetchall: the whole
      result in this process, as the Tessera side has the whole result in the bench client);
      replies with the times in ms, the process CPU seconds of the timed runs and the last
      run's columns and rows (every value as text, NULL as null), or with the error.
  {"cmd": "quit"}
"""

import argparse
import datetime
import decimal
import json
import os
import sys
import time

import duckdb


def text(v):
    """A result value as text, in the form a MySQL server sends it."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    return str(v)


def load(con_holder, db, req):
    if con_holder["con"] is not None or os.path.exists(db):
        raise RuntimeError(f"{db} exists")
    con = duckdb.connect(db)
    con_holder["con"] = con
    con.execute(f"SET threads = {int(req['threads'])}")
    t0 = time.perf_counter()
    rows = {}
    secs = {}
    for t in req["tables"]:
        t1 = time.perf_counter()
        con.execute(t["ddl"])
        # dbgen's '|'-separated lines ending in '|', no header, no quoting (DuckDB's reader
        # takes the trailing '|' as it is).
        path = t["file"].replace("'", "''")
        con.execute(f"COPY {t['name']} FROM '{path}' (DELIMITER '|', HEADER false, QUOTE '')")
        secs[t["name"]] = time.perf_counter() - t1
    con.execute("CHECKPOINT")
    total = time.perf_counter() - t0
    for t in req["tables"]:
        rows[t["name"]] = con.execute(f"SELECT count(*) FROM {t['name']}").fetchone()[0]
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    return {
        "ok": True,
        "rows": rows,
        "table_secs": secs,
        "secs": total,
        "threads": threads,
        "duckdb_version": duckdb.__version__,
        "db_bytes": os.path.getsize(db),
    }


def query(con, req):
    sql = req["sql"]
    for _ in range(int(req.get("warmup", 1))):
        con.execute(sql).fetchall()
    times = []
    c0 = time.process_time()
    result = []
    columns = []
    for _ in range(int(req.get("reps", 3))):
        t0 = time.perf_counter()
        cur = con.execute(sql)
        result = cur.fetchall()
        times.append((time.perf_counter() - t0) * 1000.0)
        columns = [d[0] for d in (cur.description or [])]
    cpu = time.process_time() - c0
    return {
        "ok": True,
        "times_ms": times,
        "cpu_secs": cpu,
        "columns": columns,
        "rows": [[text(v) for v in row] for row in result],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True, help="database file to create (must not exist)")
    a = ap.parse_args()
    holder = {"con": None}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            cmd = req.get("cmd")
            if cmd == "quit":
                break
            if cmd == "load":
                out = load(holder, a.db, req)
            elif cmd == "query":
                if holder["con"] is None:
                    raise RuntimeError("no database loaded")
                out = query(holder["con"], req)
            else:
                raise RuntimeError(f"unknown command {cmd!r}")
        except Exception as e:  # report every failure to the bench, keep serving
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    if holder["con"] is not None:
        holder["con"].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
