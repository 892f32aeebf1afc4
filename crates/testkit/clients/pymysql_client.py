"""PyMySQL against Tessera: connect, DDL, inserts (plain and parameterized), typed reads, errors."""

import pymysql

from common import COLUMNS_DDL, ROWS, TABLE_TAIL, args, check, check_eq, fail, normalize_flag, passed


def main():
    a = args(__doc__)
    conn = pymysql.connect(host=a.host, port=a.port, user="root", password="", charset="utf8mb4",
                           connect_timeout=10, read_timeout=60, write_timeout=60)
    passed(f"connect (PyMySQL {pymysql.__version__}, server {conn.get_server_info()})")
    cur = conn.cursor()

    cur.execute("SELECT @@version_comment")
    comment = cur.fetchone()[0]
    check("StarRocks" in comment, "SELECT @@version_comment", repr(comment))
    conn.ping(reconnect=False)
    passed("ping")
    conn.autocommit(True)
    passed("SET autocommit")

    cur.execute(f"DROP DATABASE IF EXISTS {a.db}")
    cur.execute(f"CREATE DATABASE {a.db}")
    conn.select_db(a.db)
    cur.execute("SELECT DATABASE()")
    check_eq(cur.fetchone()[0], a.db, "select_db (COM_INIT_DB) and SELECT DATABASE()")
    cur.execute(f"CREATE TABLE t ({COLUMNS_DDL}) {TABLE_TAIL}")
    passed("CREATE TABLE")

    # Row 1 as a plain literal statement, rows 2 and 3 with client-side parameters.
    n = cur.execute(
        "INSERT INTO t VALUES (1, 9007199254740993, 12345678.91, 1.5, 'héllo wörld', "
        "'2024-01-31', '2024-01-31 23:59:58', true, NULL)")
    check_eq(n, 1, "INSERT literal")
    n = cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", ROWS[1:])
    check_eq(n, 2, "INSERT executemany with parameters")

    cur.execute("SELECT k, b, d, f, s, dt, ts, flag, n FROM t ORDER BY k")
    check_eq(normalize_flag(cur.fetchall()), ROWS, "typed SELECT")
    names = [d[0] for d in cur.description]
    check_eq(names, ["k", "b", "d", "f", "s", "dt", "ts", "flag", "n"], "column names")

    cur.execute("SELECT s FROM t WHERE k = %s AND s = %s", (2, ROWS[1][4]))
    check_eq(cur.fetchall(), ((ROWS[1][4],),), "SELECT with quoted parameters")

    cur.execute("SELECT COUNT(*), SUM(b), MAX(d) FROM t")
    check_eq(cur.fetchone(), (3, 9007199254740988, ROWS[0][2]), "aggregates")

    dc = conn.cursor(pymysql.cursors.DictCursor)
    dc.execute("SELECT k, s FROM t WHERE k = 1")
    check_eq(dc.fetchall(), [{"k": 1, "s": "héllo wörld"}], "DictCursor")
    # Aliases keep their case (the dict keys), and ORDER BY finds them in any case.
    dc.execute("SELECT COUNT(*) AS Total, MAX(k) AS maxK FROM t")
    check_eq(dc.fetchall(), [{"Total": 3, "maxK": 3}], "DictCursor keys keep the aliases' case")
    dc.execute("SELECT k AS Key1 FROM t ORDER BY key1 DESC LIMIT 1")
    check_eq(dc.fetchall(), [{"Key1": 3}], "ORDER BY an alias written in another case")

    try:
        cur.execute("SELECT * FROM no_such_table")
        fail("bad table name: no error raised")
    except pymysql.err.ProgrammingError as e:
        check_eq(e.args[0], 1146, "bad table name raises ProgrammingError 1146")
    try:
        cur.execute("SELEC 1")
        fail("syntax error: no error raised")
    except pymysql.err.ProgrammingError as e:
        check_eq(e.args[0], 1064, "syntax error raises ProgrammingError 1064")
    cur.execute("SELECT 1")
    check_eq(cur.fetchone(), (1,), "connection usable after errors")

    cur.execute(f"DROP DATABASE {a.db}")
    conn.close()
    passed("close")


if __name__ == "__main__":
    main()
