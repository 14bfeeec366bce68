// A Go client of PostgreSQL with crypto/tls and the system roots (SSL_CERT_FILE, SSL_CERT_DIR, else the
// distribution's files): the SSLRequest, then TLS on the same socket verifying the chain and the name
// "localhost", then a startup message whose first answer must be PostgreSQL's.
// Usage: client NAME=PORT... Prints one JSON line per server: connects, refuses (a certificate verify error)
// or error. Standard library only: built with `go build` and no module.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

func startup() []byte {
	var body []byte
	body = binary.BigEndian.AppendUint32(body, 196608) // protocol 3.0
	for _, kv := range []string{"user", "postgres", "database", "postgres"} {
		body = append(append(body, kv...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

func attempt(port string) (string, string) {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 10*time.Second)
	if err != nil {
		return "error", err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	request := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103)
	if _, err := conn.Write(request); err != nil {
		return "error", err.Error()
	}
	answer := make([]byte, 1)
	if _, err := io.ReadFull(conn, answer); err != nil || answer[0] != 'S' {
		return "error", fmt.Sprintf("no SSL from the server: %q %v", answer, err)
	}
	client := tls.Client(conn, &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err := client.Handshake(); err != nil {
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		var hostname x509.HostnameError
		if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) {
			return "refuses", err.Error()
		}
		return "error", err.Error()
	}
	if _, err := client.Write(startup()); err != nil {
		return "error", err.Error()
	}
	if _, err := io.ReadFull(client, answer); err != nil || answer[0] != 'R' {
		return "error", fmt.Sprintf("no authentication request after TLS: %q %v", answer, err)
	}
	versions := map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}
	return "connects", versions[client.ConnectionState().Version]
}

func main() {
	out := json.NewEncoder(os.Stdout)
	for _, endpoint := range os.Args[1:] {
		chain, port, _ := strings.Cut(endpoint, "=")
		result, detail := attempt(port)
		out.Encode(map[string]string{"chain": chain, "result": result, "detail": detail})
	}
}
