// pgjdbc with sslmode=verify-full: java -cp CLASSES:postgresql.jar PgjdbcMatrix FACTORY NAME=PORT...
// FACTORY "default": pgjdbc's own (LibPQFactory), reading ${user.home}/.postgresql/root.crt;
// "java": DefaultJavaSSLFactory, the JVM's truststore (javax.net.ssl.trustStore, else the JRE's cacerts).
// Prints one JSON line per server: connects, refuses (a certificate verify error) or error.
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public class PgjdbcMatrix {
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static boolean certificateRefused(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertificateException || t instanceof CertPathValidatorException
                    || t instanceof CertPathBuilderException) {
                return true;
            }
        }
        return false;
    }

    static String describe(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (b.length() > 0) b.append(" <- ");
            b.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
        }
        return b.toString();
    }

    public static void main(String[] args) {
        String factory = args[0];
        for (int i = 1; i < args.length; i++) {
            String[] endpoint = args[i].split("=", 2);
            Properties props = new Properties();
            props.setProperty("user", "postgres");
            props.setProperty("sslmode", "verify-full");
            if (factory.equals("java")) {
                props.setProperty("sslfactory", "org.postgresql.ssl.DefaultJavaSSLFactory");
            }
            props.setProperty("connectTimeout", "10");
            props.setProperty("socketTimeout", "20");
            String result;
            String detail;
            String url = "jdbc:postgresql://localhost:" + endpoint[1] + "/postgres";
            try (Connection conn = DriverManager.getConnection(url, props);
                 Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("select version from pg_stat_ssl where pid = pg_backend_pid()")) {
                rs.next();
                result = "connects";
                detail = rs.getString(1);
            } catch (SQLException e) {
                result = certificateRefused(e) ? "refuses" : "error";
                detail = describe(e);
            }
            System.out.println("{\"chain\": " + quote(endpoint[0]) + ", \"result\": " + quote(result)
                    + ", \"detail\": " + quote(detail) + "}");
        }
    }
}
