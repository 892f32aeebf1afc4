// MariaDB Connector/J (Debian's libmariadb-java) against Tessera: connect with the driver's
// session set-up, DDL, Statement and PreparedStatement inserts (client-side and, with
// useServerPrepStmts=true, server-side prepared statements), typed reads, metadata, errors.
//
// Usage: java -cp mariadb-java-client.jar:<dir> Jdbc <host> <port> <db>
// Prints one "PASS ..." line per check; exits 1 with a "FAIL ..." line on the first mismatch.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

public class Jdbc {
    static void pass(String what) {
        System.out.println("PASS " + what);
        System.out.flush();
    }

    static void fail(String what) {
        System.out.println("FAIL " + what);
        System.out.flush();
        System.exit(1);
    }

    static void checkEq(Object got, Object want, String what) {
        if (!Objects.equals(got, want)) {
            fail(what + ": got " + got + (got == null ? "" : " (" + got.getClass().getSimpleName() + ")")
                    + ", want " + want);
        }
        pass(what);
    }

    // The rows every client inserts (see common.py), as the text a JDBC getter renders.
    static final String[][] ROWS = {
        {"1", "9007199254740993", "12345678.91", "1.5", "héllo wörld", "2024-01-31", "2024-01-31 23:59:58.0", "true", null},
        {"2", "-5", "-0.01", "-2.25", "it's \"quoted\"", "1999-12-31", "2000-01-01 00:00:00.0", "false", "7"},
        {"3", "0", "0.00", "0.0", "", "2030-06-15", "2030-06-15 12:30:45.0", "true", "-3"},
    };

    static List<String[]> readRows(ResultSet rs) throws SQLException {
        List<String[]> out = new ArrayList<>();
        while (rs.next()) {
            String[] r = new String[9];
            r[0] = String.valueOf(rs.getInt(1));
            r[1] = String.valueOf(rs.getLong(2));
            BigDecimal d = rs.getBigDecimal(3);
            r[2] = d == null ? null : d.toPlainString();
            r[3] = String.valueOf(rs.getDouble(4));
            r[4] = rs.getString(5);
            r[5] = String.valueOf(rs.getDate(6));
            r[6] = String.valueOf(rs.getTimestamp(7));
            r[7] = String.valueOf(rs.getBoolean(8));
            int n = rs.getInt(9);
            r[8] = rs.wasNull() ? null : String.valueOf(n);
            out.add(r);
        }
        return out;
    }

    static void checkRows(List<String[]> got, String what) {
        if (got.size() != ROWS.length) {
            fail(what + ": got " + got.size() + " rows, want " + ROWS.length);
        }
        for (int i = 0; i < ROWS.length; i++) {
            for (int j = 0; j < 9; j++) {
                if (!Objects.equals(got.get(i)[j], ROWS[i][j])) {
                    fail(what + ": row " + i + " column " + (j + 1) + ": got " + got.get(i)[j] + ", want " + ROWS[i][j]);
                }
            }
        }
        pass(what);
    }

    static void insert(PreparedStatement ps, String[] r, String tag) throws SQLException {
        ps.setInt(1, Integer.parseInt(r[0]));
        ps.setLong(2, Long.parseLong(r[1]));
        ps.setBigDecimal(3, new BigDecimal(r[2]));
        ps.setDouble(4, Double.parseDouble(r[3]));
        ps.setString(5, r[4]);
        ps.setDate(6, java.sql.Date.valueOf(r[5]));
        ps.setTimestamp(7, java.sql.Timestamp.valueOf(r[6]));
        ps.setBoolean(8, Boolean.parseBoolean(r[7]));
        if (r[8] == null) {
            ps.setNull(9, java.sql.Types.INTEGER);
        } else {
            ps.setInt(9, Integer.parseInt(r[8]));
        }
        checkEq(ps.executeUpdate(), 1, "[" + tag + "] PreparedStatement INSERT row " + r[0]);
    }

    static void run(String host, String port, String db, String options, String tag) throws SQLException {
        String url = "jdbc:mariadb://" + host + ":" + port + "/" + (options.isEmpty() ? "" : "?" + options);
        try (Connection conn = DriverManager.getConnection(url, "root", "")) {
            DatabaseMetaData md = conn.getMetaData();
            pass("[" + tag + "] connect " + url + " (" + md.getDriverName() + " " + md.getDriverVersion()
                    + ", server " + md.getDatabaseProductVersion() + ")");
            checkEq(conn.isValid(5), true, "[" + tag + "] isValid (COM_PING)");
            try (Statement st = conn.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + db);
                st.execute("CREATE DATABASE " + db);
                conn.setCatalog(db);
                checkEq(conn.getCatalog(), db, "[" + tag + "] setCatalog/getCatalog");
                st.execute("CREATE TABLE t (k INT NOT NULL, b BIGINT, d DECIMAL(10, 2), f DOUBLE, s VARCHAR(32), "
                        + "dt DATE, ts DATETIME, flag BOOLEAN, n INT) DUPLICATE KEY(k) "
                        + "DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"3\")");
                pass("[" + tag + "] CREATE TABLE");
                checkEq(st.executeUpdate("INSERT INTO t VALUES (1, 9007199254740993, 12345678.91, 1.5, "
                        + "'héllo wörld', '2024-01-31', '2024-01-31 23:59:58', true, NULL)"), 1,
                        "[" + tag + "] Statement INSERT");
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                insert(ps, ROWS[1], tag);
                insert(ps, ROWS[2], tag);
            }
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT k, b, d, f, s, dt, ts, flag, n FROM t ORDER BY k")) {
                ResultSetMetaData rmd = rs.getMetaData();
                checkEq(rmd.getColumnCount(), 9, "[" + tag + "] column count");
                checkEq(rmd.getColumnLabel(5), "s", "[" + tag + "] column label");
                checkEq(rmd.getColumnType(1), java.sql.Types.INTEGER, "[" + tag + "] INT column type");
                checkEq(rmd.getColumnType(2), java.sql.Types.BIGINT, "[" + tag + "] BIGINT column type");
                checkEq(rmd.getColumnType(3), java.sql.Types.DECIMAL, "[" + tag + "] DECIMAL column type");
                checkEq(rmd.getScale(3), 2, "[" + tag + "] DECIMAL scale");
                checkEq(rmd.getColumnType(6), java.sql.Types.DATE, "[" + tag + "] DATE column type");
                checkEq(rmd.getColumnType(7), java.sql.Types.TIMESTAMP, "[" + tag + "] DATETIME column type");
                checkRows(readRows(rs), "[" + tag + "] typed SELECT (Statement)");
            }
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT k, b, d, f, s, dt, ts, flag, n FROM t WHERE k >= ? AND s <> ? ORDER BY k")) {
                ps.setInt(1, 1);
                ps.setString(2, "nope");
                try (ResultSet rs = ps.executeQuery()) {
                    checkRows(readRows(rs), "[" + tag + "] typed SELECT (PreparedStatement)");
                }
                ps.setInt(1, 3);
                ps.setString(2, "x' OR '1'='1");
                try (ResultSet rs = ps.executeQuery()) {
                    checkEq(rs.next() ? rs.getInt(1) : -1, 3, "[" + tag + "] PreparedStatement re-executed, quoted parameter");
                    checkEq(rs.next(), false, "[" + tag + "] only one row");
                }
            }
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT k, s FROM t WHERE k = 1")) {
                rs.next();
                checkEq(rs.getObject(1), 1, "[" + tag + "] getObject on INT is Integer");
                checkEq(rs.getObject(2), "héllo wörld", "[" + tag + "] getObject on VARCHAR is String (UTF-8)");
            }
            try (ResultSet rs = conn.getMetaData().getTables(db, null, "%", null)) {
                List<String> names = new ArrayList<>();
                while (rs.next()) {
                    names.add(rs.getString("TABLE_NAME"));
                }
                checkEq(names.toString(), "[t]", "[" + tag + "] DatabaseMetaData.getTables");
            }
            try (ResultSet rs = conn.getMetaData().getColumns(db, null, "t", "%")) {
                List<String> cols = new ArrayList<>();
                while (rs.next()) {
                    cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                }
                checkEq(cols.size(), 9, "[" + tag + "] DatabaseMetaData.getColumns " + cols);
            }
            try (ResultSet rs = conn.getMetaData().getCatalogs()) {
                boolean found = false;
                while (rs.next()) {
                    found |= db.equals(rs.getString("TABLE_CAT"));
                }
                checkEq(found, true, "[" + tag + "] DatabaseMetaData.getCatalogs lists " + db);
            }
            try (ResultSet rs = conn.getMetaData().getPrimaryKeys(db, null, "t")) {
                checkEq(rs.next(), false, "[" + tag + "] DatabaseMetaData.getPrimaryKeys (a duplicate-key table has none)");
            }
            try (Statement st = conn.createStatement()) {
                try (ResultSet rs = st.executeQuery("SELECT 1 FROM DUAL")) {
                    checkEq(rs.next() && rs.getInt(1) == 1, true, "[" + tag + "] SELECT 1 FROM DUAL (a pool's validation query)");
                }
                try {
                    st.executeQuery("SELECT * FROM no_such_table");
                    fail("[" + tag + "] bad table name: no exception");
                } catch (SQLException e) {
                    checkEq(e.getErrorCode(), 1146, "[" + tag + "] bad table name: SQLException error code");
                    checkEq(e.getSQLState(), "42S02", "[" + tag + "] bad table name: SQLState");
                }
                try (ResultSet rs = st.executeQuery("SELECT 1")) {
                    checkEq(rs.next() && rs.getInt(1) == 1, true, "[" + tag + "] connection usable after an error");
                }
                st.execute("DROP DATABASE " + db);
            }
        }
        pass("[" + tag + "] close");
    }

    public static void main(String[] args) {
        if (args.length != 3) {
            fail("usage: Jdbc <host> <port> <db>");
        }
        try {
            run(args[0], args[1], args[2] + "_default", "", "default");
            run(args[0], args[1], args[2] + "_server_prep", "useServerPrepStmts=true", "useServerPrepStmts");
        } catch (SQLException e) {
            fail("SQLException " + e.getErrorCode() + " (" + e.getSQLState() + "): " + e.getMessage());
        }
    }
}
