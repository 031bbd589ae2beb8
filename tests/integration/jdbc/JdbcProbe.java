// What a JDBC application (Flyway, Liquibase, DBeaver, Spring) does first against a
// database, through the real PostgreSQL JDBC driver (pgjdbc). pgjdbc sends every
// statement through the extended protocol (Parse/Bind/Describe/Execute/Sync) and switches
// to named server-side statements after prepareThreshold (5) uses. The meta_* steps run
// DatabaseMetaData's catalog queries (array subscripts, _pg_expandarray composites).
//
//   java -cp /usr/share/java/postgresql.jar JdbcProbe.java HOST PORT PASSWORD
//
// Prints one line per step: "OK step [detail]" or "FAIL step SQLSTATE message", and
// goes on after a failure, so the test sees every broken step at once.
import java.math.BigDecimal;
import java.sql.*;
import java.util.Properties;

public class JdbcProbe {
    static int failures = 0;
    static Connection c;

    interface Step { String run() throws Exception; }

    static void step(String name, Step s) {
        try {
            if (!c.getAutoCommit()) { c.rollback(); c.setAutoCommit(true); }
        } catch (SQLException e) {
            System.out.println("FAIL " + name + " (reset) " + e.getSQLState() + " " + e.getMessage());
        }
        try {
            String detail = s.run();
            System.out.println("OK " + name + (detail == null ? "" : " " + detail));
        } catch (SQLException e) {
            failures++;
            System.out.println("FAIL " + name + " " + e.getSQLState() + " "
                               + String.valueOf(e.getMessage()).replace('\n', ' '));
        } catch (Exception e) {
            failures++;
            System.out.println("FAIL " + name + " - " + e);
        }
    }

    static void check(boolean ok, String what) {
        if (!ok) throw new IllegalStateException("check failed: " + what);
    }

    static Connection connect(String host, String port, String password) throws SQLException {
        return connect(host, port, password, "extended");
    }

    static Connection connect(String host, String port, String password, String mode) throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", mode);
        p.setProperty("user", "admin");
        p.setProperty("password", password);
        p.setProperty("ssl", "true");
        p.setProperty("sslmode", "require");
        p.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/postgres", p);
    }

    public static void main(String[] args) throws Exception {
        String host = args[0], port = args[1], password = args[2];
        c = connect(host, port, password);
        System.out.println("OK connect " + c.getMetaData().getDatabaseProductVersion());

        step("drop_if_exists", () -> { c.createStatement().execute("DROP TABLE IF EXISTS jdbc_items"); return null; });
        step("create_table", () -> {
            c.createStatement().execute("CREATE TABLE jdbc_items (id bigint PRIMARY KEY, "
                + "name varchar(40) NOT NULL, price numeric(10,2), created timestamptz DEFAULT now())");
            return null;
        });
        step("insert_prepared_x10", () -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO jdbc_items (id, name, price) VALUES (?, ?, ?)")) {
                for (int i = 1; i <= 10; i++) {
                    ps.setLong(1, i);
                    ps.setString(2, "item " + i);
                    ps.setBigDecimal(3, new BigDecimal(i + ".25"));
                    check(ps.executeUpdate() == 1, "one row inserted");
                }
            }
            return null;
        });
        step("select_prepared_x10", () -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT name, price FROM jdbc_items WHERE id = ?")) {
                for (int i = 1; i <= 10; i++) {
                    ps.setLong(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), "row " + i);
                        check(rs.getString(1).equals("item " + i), "name " + i);
                        check(rs.getBigDecimal(2).compareTo(new BigDecimal(i + ".25")) == 0, "price " + i);
                    }
                }
            }
            return null;
        });
        step("show_timezone", () -> {
            try (ResultSet rs = c.createStatement().executeQuery("SHOW timezone")) {
                check(rs.next(), "a row");
                return rs.getString(1);
            }
        });
        step("show_server_version_num", () -> {
            try (ResultSet rs = c.createStatement().executeQuery("SHOW server_version_num")) {
                check(rs.next(), "a row");
                return rs.getString(1);
            }
        });
        step("set_application_name", () -> {
            c.createStatement().execute("SET application_name = 'jdbc-probe'");
            try (ResultSet rs = c.createStatement().executeQuery("SELECT current_setting('application_name')")) {
                check(rs.next() && rs.getString(1).equals("jdbc-probe"), "application_name");
            }
            return null;
        });
        step("transaction_commit", () -> {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("UPDATE jdbc_items SET price = price + 1 WHERE id = ?")) {
                ps.setLong(1, 1);
                check(ps.executeUpdate() == 1, "one row updated");
            }
            c.commit();
            c.setAutoCommit(true);
            try (ResultSet rs = c.createStatement().executeQuery("SELECT price FROM jdbc_items WHERE id = 1")) {
                check(rs.next() && rs.getBigDecimal(1).compareTo(new BigDecimal("2.25")) == 0, "committed");
            }
            return null;
        });
        step("transaction_rollback", () -> {
            c.setAutoCommit(false);
            c.createStatement().executeUpdate("DELETE FROM jdbc_items WHERE id = 2");
            c.rollback();
            c.setAutoCommit(true);
            try (ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM jdbc_items")) {
                check(rs.next() && rs.getLong(1) == 10, "rolled back");
            }
            return null;
        });
        step("conflict_40001", () -> {
            Connection d = connect(host, port, password);
            c.setAutoCommit(false);
            d.setAutoCommit(false);
            c.createStatement().executeUpdate("UPDATE jdbc_items SET name = 'c' WHERE id = 3");
            d.createStatement().executeUpdate("UPDATE jdbc_items SET name = 'd' WHERE id = 3");
            c.commit();
            String state = null;
            try { d.commit(); } catch (SQLException e) { state = e.getSQLState(); }
            c.setAutoCommit(true);
            d.setAutoCommit(true);
            d.close();
            check("40001".equals(state), "the second committer gets 40001, got " + state);
            return state;
        });
        step("division_by_zero_then_usable", () -> {
            String state = null;
            try { c.createStatement().executeQuery("SELECT 1 / 0"); } catch (SQLException e) { state = e.getSQLState(); }
            check("22012".equals(state), "22012, got " + state);
            try (ResultSet rs = c.createStatement().executeQuery("SELECT 1")) { check(rs.next(), "usable"); }
            return null;
        });
        step("create_index_async_and_wait", () -> {
            String job;
            try (ResultSet rs = c.createStatement().executeQuery(
                    "CREATE INDEX ASYNC jdbc_items_name_idx ON jdbc_items (name)")) {
                check(rs.next(), "a job id");
                job = rs.getString(1);
            }
            try (PreparedStatement ps = c.prepareStatement("CALL sys.wait_for_job(?)")) {
                ps.setString(1, job);
                try (ResultSet rs = ps.executeQuery()) {
                    check(rs.next() && rs.getBoolean(1), "the job succeeded");
                }
            }
            return job;
        });
        // DatabaseMetaData: the catalog queries DBeaver, DataGrip, Flyway and Liquibase run
        step("meta_get_tables", () -> {
            String found = null;
            try (ResultSet rs = c.getMetaData().getTables(null, "public", "jdbc_items", new String[] {"TABLE"})) {
                while (rs.next()) {
                    check(found == null, "one row");
                    found = rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE");
                }
            }
            check("public.jdbc_items:TABLE".equals(found), "the table, got " + found);
            boolean any = false;
            try (ResultSet rs = c.getMetaData().getTables(null, null, "%", null)) {
                while (rs.next()) any |= "jdbc_items".equals(rs.getString("TABLE_NAME"));
            }
            check(any, "listed among all tables");
            return found;
        });
        step("meta_get_columns", () -> {
            StringBuilder cols = new StringBuilder();
            try (ResultSet rs = c.getMetaData().getColumns(null, "public", "jdbc_items", null)) {
                while (rs.next()) {
                    if (cols.length() > 0) cols.append(',');
                    cols.append(rs.getInt("ORDINAL_POSITION")).append(':').append(rs.getString("COLUMN_NAME"))
                        .append(':').append(rs.getString("TYPE_NAME")).append(':').append(rs.getString("IS_NULLABLE"));
                }
            }
            return cols.toString();
        });
        step("meta_get_primary_keys", () -> {
            StringBuilder keys = new StringBuilder();
            try (ResultSet rs = c.getMetaData().getPrimaryKeys(null, "public", "jdbc_items")) {
                while (rs.next()) {
                    keys.append(rs.getString("COLUMN_NAME")).append(':').append(rs.getInt("KEY_SEQ"))
                        .append(':').append(rs.getString("PK_NAME"));
                }
            }
            return keys.toString();
        });
        step("meta_get_index_info", () -> {
            StringBuilder idx = new StringBuilder();
            try (ResultSet rs = c.getMetaData().getIndexInfo(null, "public", "jdbc_items", false, false)) {
                while (rs.next()) {
                    if (idx.length() > 0) idx.append(',');
                    idx.append(rs.getString("INDEX_NAME")).append(':').append(rs.getString("COLUMN_NAME"))
                        .append(':').append(rs.getBoolean("NON_UNIQUE") ? "nonunique" : "unique")
                        .append(':').append(rs.getString("ASC_OR_DESC"));
                }
            }
            return idx.toString();
        });
        step("meta_get_imported_keys", () -> {
            int n = 0;
            try (ResultSet rs = c.getMetaData().getImportedKeys(null, "public", "jdbc_items")) {
                while (rs.next()) n++;
            }
            return "rows=" + n;     // Aurora DSQL has no foreign keys
        });
        step("meta_simple_query_mode", () -> {
            // what a tool told preferQueryMode=simple sees (no extended protocol at all)
            try (Connection s = connect(host, port, password, "simple")) {
                DatabaseMetaData md = s.getMetaData();
                int tables = 0, cols = 0, keys = 0, idx = 0;
                try (ResultSet rs = md.getTables(null, "public", "jdbc_items", null)) { while (rs.next()) tables++; }
                try (ResultSet rs = md.getColumns(null, "public", "jdbc_items", "%")) { while (rs.next()) cols++; }
                try (ResultSet rs = md.getPrimaryKeys(null, "public", "jdbc_items")) { while (rs.next()) keys++; }
                try (ResultSet rs = md.getIndexInfo(null, "public", "jdbc_items", true, false)) { while (rs.next()) idx++; }
                return "tables=" + tables + ",columns=" + cols + ",keys=" + keys + ",unique_indexes=" + idx;
            }
        });
        step("explain", () -> {
            try (ResultSet rs = c.createStatement().executeQuery("EXPLAIN SELECT * FROM jdbc_items WHERE id = 4")) {
                check(rs.next(), "a plan line");
                return null;
            }
        });
        step("drop_table", () -> { c.createStatement().execute("DROP TABLE jdbc_items"); return null; });
        c.close();
        System.out.println("DONE failures=" + failures);
    }
}
