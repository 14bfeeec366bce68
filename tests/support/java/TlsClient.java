// A Java TLS client that trusts exactly one trust store: connects, completes the handshake,
// prints the outcome and exits 0 (trusted) or 1 (not trusted).
// Usage: java TlsClient.java HOST PORT STORE TYPE; the store password comes from $TRUSTSTORE_PASSWORD.
import java.io.FileInputStream;
import java.net.InetSocketAddress;
import java.security.KeyStore;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsClient {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String password = System.getenv("TRUSTSTORE_PASSWORD");
        KeyStore store = KeyStore.getInstance(args[3]);
        try (FileInputStream in = new FileInputStream(args[2])) {
            store.load(in, password == null ? null : password.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket()) {
            socket.connect(new InetSocketAddress(host, port), 10000);
            socket.setSoTimeout(10000);
            SSLParameters params = socket.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");  // check the host name as clients do
            socket.setSSLParameters(params);
            socket.startHandshake();
            System.out.println("TRUSTED " + socket.getSession().getProtocol());
        } catch (javax.net.ssl.SSLException e) {
            System.out.println("NOT TRUSTED " + e);
            System.exit(1);
        }
    }
}
