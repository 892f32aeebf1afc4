"""SQLAlchemy 2 with the StarRocks dialect (PyPI `starrocks`) against Tessera: engine connect
(the dialect's initialize queries), inspector reflection, a table created through the dialect
with starrocks_* options, Core inserts and selects, ORM-free Table reflection."""

import datetime
import decimal

import sqlalchemy as sa
import starrocks
from sqlalchemy import exc

from common import ROWS, args, check, check_eq, fail, normalize_flag, passed


def main():
    a = args(__doc__)
    passed(f"SQLAlchemy {sa.__version__}, starrocks dialect {starrocks.__version__}")
    root = sa.create_engine(f"starrocks://root@{a.host}:{a.port}/", pool_pre_ping=True)
    with root.connect() as c:
        passed(f"engine connect (dialect {root.dialect.name}, server_version_info "
               f"{root.dialect.server_version_info}, run_mode {root.dialect.run_mode})")
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {a.db}"))
        c.execute(sa.text(f"CREATE DATABASE {a.db}"))
        passed("CREATE DATABASE through text()")
        check(a.db in sa.inspect(c).get_schema_names(), "inspector.get_schema_names")
    root.dispose()

    engine = sa.create_engine(f"starrocks://root@{a.host}:{a.port}/{a.db}")
    md = sa.MetaData()
    t = sa.Table(
        "typed", md,
        sa.Column("k", starrocks.INTEGER, nullable=False),
        sa.Column("b", starrocks.BIGINT),
        sa.Column("d", starrocks.DECIMAL(10, 2)),
        sa.Column("f", starrocks.DOUBLE),
        sa.Column("s", starrocks.VARCHAR(32)),
        sa.Column("dt", starrocks.DATE),
        sa.Column("ts", starrocks.DATETIME),
        sa.Column("flag", starrocks.BOOLEAN),
        sa.Column("n", starrocks.INTEGER),
        starrocks_duplicate_key="k",
        starrocks_distributed_by="HASH(k) BUCKETS 3",
        starrocks_properties={"replication_num": "3"},
    )
    md.create_all(engine)
    passed("MetaData.create_all with starrocks_duplicate_key / distributed_by / properties")

    insp = sa.inspect(engine)
    check_eq(insp.get_table_names(), ["typed"], "inspector.get_table_names")
    check(insp.has_table("typed") and not insp.has_table("nope"), "inspector.has_table")
    cols = insp.get_columns("typed")
    check_eq([c["name"] for c in cols], ["k", "b", "d", "f", "s", "dt", "ts", "flag", "n"],
             "inspector.get_columns names")
    types = {c["name"]: c["type"] for c in cols}
    check(isinstance(types["d"], sa.DECIMAL) and types["d"].precision == 10 and types["d"].scale == 2,
          "reflected DECIMAL(10, 2)", repr(types["d"]))
    check(isinstance(types["s"], sa.VARCHAR) and types["s"].length == 32, "reflected VARCHAR(32)",
          repr(types["s"]))
    check(isinstance(types["b"], sa.BIGINT), "reflected BIGINT", repr(types["b"]))
    check(isinstance(types["dt"], sa.DATE), "reflected DATE", repr(types["dt"]))
    check(isinstance(types["ts"], sa.DATETIME), "reflected DATETIME", repr(types["ts"]))
    check_eq([c["nullable"] for c in cols][:2], [False, True], "reflected nullability")
    pk = insp.get_pk_constraint("typed")
    passed(f"inspector.get_pk_constraint -> {pk}")
    check_eq(insp.get_foreign_keys("typed"), [], "inspector.get_foreign_keys")
    insp.get_indexes("typed")
    passed("inspector.get_indexes")
    opts = insp.get_table_options("typed")
    passed(f"inspector.get_table_options -> {sorted(opts)}")

    rows = [dict(zip(["k", "b", "d", "f", "s", "dt", "ts", "flag", "n"], r)) for r in ROWS]
    with engine.begin() as c:
        res = c.execute(t.insert(), rows[:1])
        check_eq(res.rowcount, 1, "Core insert, one row")
        c.execute(t.insert(), rows[1:])
        passed("Core insert, executemany")

    with engine.connect() as c:
        got = c.execute(sa.select(t).order_by(t.c.k)).all()
        check_eq(normalize_flag([tuple(r) for r in got]), ROWS, "Core select typed rows")
        got = c.execute(sa.select(t.c.s).where(t.c.k == sa.bindparam("k")), {"k": 2}).scalar_one()
        check_eq(got, ROWS[1][4], "select with a bound parameter")
        got = c.execute(sa.select(sa.func.count()).select_from(t).where(t.c.flag)).scalar_one()
        check_eq(got, 2, "select count(*) with a boolean filter")
        got = c.execute(sa.select(sa.func.sum(t.c.d))).scalar_one()
        check_eq(got, decimal.Decimal("12345678.90"), "sum(DECIMAL)")

    reflected = sa.Table("typed", sa.MetaData(), autoload_with=engine)
    check_eq([c.name for c in reflected.columns], ["k", "b", "d", "f", "s", "dt", "ts", "flag", "n"],
             "Table(autoload_with=engine)")
    with engine.connect() as c:
        got = c.execute(sa.select(reflected.c.dt, reflected.c.ts).where(reflected.c.k == 3)).one()
        check_eq(tuple(got), (datetime.date(2030, 6, 15), datetime.datetime(2030, 6, 15, 12, 30, 45)),
                 "select through the reflected table")
        try:
            c.execute(sa.text("SELECT * FROM no_such_table"))
            fail("bad table name: no error raised")
        except exc.ProgrammingError as e:
            check_eq(e.orig.args[0], 1146, "bad table name raises ProgrammingError 1146")

    md.drop_all(engine)
    check_eq(sa.inspect(engine).get_table_names(), [], "MetaData.drop_all")
    engine.dispose()
    with sa.create_engine(f"starrocks://root@{a.host}:{a.port}/").connect() as c:
        c.execute(sa.text(f"DROP DATABASE {a.db}"))
    passed("done")


if __name__ == "__main__":
    main()
