"""mysql-connector-python against Tessera: the pure-Python and C-extension connections, plain
cursors and server-side prepared statements (COM_STMT_PREPARE / COM_STMT_EXECUTE, binary rows)."""

import mysql.connector
from mysql.connector import errorcode

from common import COLUMNS_DDL, ROWS, TABLE_TAIL, args, check, check_eq, fail, normalize_flag, passed


def connect(a, use_pure, **kw):
    conn = mysql.connector.connect(host=a.host, port=a.port, user="root", password="",
                                   use_pure=use_pure, connection_timeout=10, **kw)
    return conn


def exercise(a, use_pure):
    tag = "pure" if use_pure else "cext"
    db = f"{a.db}_{tag}"
    conn = connect(a, use_pure)
    passed(f"[{tag}] connect ({type(conn).__name__}, server {conn.server_info})")
    check(conn.is_connected(), f"[{tag}] is_connected (COM_PING)")
    conn.autocommit = True
    passed(f"[{tag}] autocommit = True")

    cur = conn.cursor()
    cur.execute("SELECT @@version_comment")
    comment = cur.fetchone()[0]
    check("StarRocks" in comment, f"[{tag}] SELECT @@version_comment", repr(comment))
    cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute(f"CREATE DATABASE {db}")
    conn.database = db
    cur.execute("SELECT DATABASE()")
    check_eq(cur.fetchone()[0], db, f"[{tag}] conn.database = ... (COM_INIT_DB)")
    cur.execute(f"CREATE TABLE t ({COLUMNS_DDL}) {TABLE_TAIL}")
    passed(f"[{tag}] CREATE TABLE")

    cur.execute("INSERT INTO t VALUES (1, 9007199254740993, 12345678.91, 1.5, 'héllo wörld', "
                "'2024-01-31', '2024-01-31 23:59:58', true, NULL)")
    check_eq(cur.rowcount, 1, f"[{tag}] INSERT literal")

    # Server-side prepared statements: COM_STMT_PREPARE, then EXECUTE with binary parameters.
    ps = conn.cursor(prepared=True)
    ps.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS[1])
    check_eq(ps.rowcount, 1, f"[{tag}] prepared INSERT (binary parameters)")
    ps.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS[2])
    check_eq(ps.rowcount, 1, f"[{tag}] prepared INSERT re-executed")

    cur.execute("SELECT k, b, d, f, s, dt, ts, flag, n FROM t ORDER BY k")
    check_eq(normalize_flag(cur.fetchall()), ROWS, f"[{tag}] typed SELECT (text protocol)")

    ps.execute("SELECT k, b, d, f, s, dt, ts, flag, n FROM t WHERE k >= ? ORDER BY k", (1,))
    check_eq(normalize_flag(ps.fetchall()), ROWS, f"[{tag}] prepared typed SELECT (binary rows)")
    ps.execute("SELECT s FROM t WHERE s = ?", (ROWS[1][4],))
    check_eq(ps.fetchall(), [(ROWS[1][4],)], f"[{tag}] prepared SELECT with a quoted string")
    ps.close()

    dc = conn.cursor(dictionary=True)
    dc.execute("SELECT k, s FROM t WHERE k = %s", (1,))
    check_eq(dc.fetchall(), [{"k": 1, "s": "héllo wörld"}], f"[{tag}] dictionary cursor")

    try:
        cur.execute("SELECT * FROM no_such_table")
        cur.fetchall()
        fail(f"[{tag}] bad table name: no error raised")
    except mysql.connector.Error as e:
        check_eq(e.errno, errorcode.ER_NO_SUCH_TABLE, f"[{tag}] bad table name raises errno 1146")
    cur.execute("SELECT 1")
    check_eq(cur.fetchall(), [(1,)], f"[{tag}] connection usable after an error")

    conn.cmd_reset_connection()
    cur = conn.cursor()
    cur.execute("SELECT DATABASE()")
    check_eq(cur.fetchone()[0], db, f"[{tag}] COM_RESET_CONNECTION keeps the database")

    cur.execute(f"DROP DATABASE {db}")
    cur.close()
    conn.close()
    passed(f"[{tag}] close")


def main():
    a = args(__doc__)
    passed(f"mysql-connector-python {mysql.connector.__version__}")
    exercise(a, use_pure=True)
    from mysql.connector import HAVE_CEXT
    if HAVE_CEXT:
        exercise(a, use_pure=False)
    else:
        passed("C extension not installed: the pure-Python run is the only one")


if __name__ == "__main__":
    main()
