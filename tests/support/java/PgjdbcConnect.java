// Connects with pgjdbc the way a verifying Java application does: sslmode=verify-full, the JVM's
// default trust store (-Djavax.net.ssl.trustStore=...) through DefaultJavaSSLFactory.
// Run in source-file mode: java -cp postgresql.jar PgjdbcConnect.java jdbc:postgresql://localhost:PORT/postgres
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

public class PgjdbcConnect {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", "postgres");
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslfactory", "org.postgresql.ssl.DefaultJavaSSLFactory");
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", "20");
        try (Connection conn = DriverManager.getConnection(args[0], props);
             Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("select ssl from pg_stat_ssl where pid = pg_backend_pid()")) {
            rs.next();
            System.out.println("connected ssl=" + rs.getBoolean(1));
        }
    }
}
