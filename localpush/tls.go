package localpush

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Senders the kit did not write speak HTTPS to an endpoint whatever its
// scheme (Node's web-push opens TLS even to an http:// endpoint), and
// Chromium's endpoints name FCM's hosts, which cannot be reached offline.
// So the HTTP port also speaks TLS, with a certificate of the service's own
// CA that senders are told to trust, and it is an HTTP CONNECT proxy for
// exactly the hosts whose endpoints it serves.

// certAuthority is the service's CA and the leaf certificate it signs for
// the hosts the service answers for. Both live in memory only; a sender
// trusts the CA through the PEM the service serves (GET /v1/ca.pem) or
// writes (Config.CAFile).
type certAuthority struct {
	pem  []byte // the CA certificate, PEM
	leaf tls.Certificate
}

// certValidity is how long the certificates are valid: a service runs for
// a test session, but a machine's clock may be off by a little.
const certValidity = 7 * 24 * time.Hour

// newCertAuthority makes a CA (ECDSA P-256) and a leaf certificate for
// loopback, host (the listener's address) and Chromium's endpoint hosts.
func newCertAuthority(host string) (*certAuthority, error) {
	now := time.Now()
	caCert, caKey, err := newCA(host, now)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	dns, ips := servedNames(host)
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "pushstart local push service"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("local push certificate: %w", err)
	}
	return &certAuthority{
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}),
		leaf: tls.Certificate{Certificate: [][]byte{leafDER, caCert.Raw}, PrivateKey: leafKey},
	}, nil
}

// servedNames are the names the service answers for over TLS: localhost,
// Chromium's endpoint hosts and the loopback IPs, with host (the listener's
// address) when it is not among them.
func servedNames(host string) (dns []string, ips []net.IP) {
	ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	dns = append([]string{"localhost"}, reroutedHosts...)
	if ip := net.ParseIP(host); ip != nil {
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	} else if host != "" && !slices.Contains(dns, host) {
		dns = append(dns, host)
	}
	return dns, ips
}

// newCA makes the service's CA. A sender that trusts it trusts it for the
// names the service answers for only: critical X.509 name constraints
// permit localhost, Chromium's endpoint hosts, host (when a name), 127/8,
// ::1 and host (when an IP), so that the CA file, readable by every user
// of the machine, cannot vouch for any other site, whoever holds its key.
func newCA(host string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	dns, ips := servedNames(host)
	permitted := []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(permitted, func(n *net.IPNet) bool { return n.Contains(ip) }) {
			if v4 := ip.To4(); v4 != nil {
				permitted = append(permitted, &net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)})
			} else {
				permitted = append(permitted, &net.IPNet{IP: ip, Mask: net.CIDRMask(128, 128)})
			}
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:                randomSerial(),
		Subject:                     pkix.Name{CommonName: "pushstart local push service CA", Organization: []string{"pushstart"}},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(certValidity),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         dns,
		PermittedIPRanges:           permitted,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("local push CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func randomSerial() *big.Int {
	return new(big.Int).SetBytes(randomBytes(16))
}

// tlsConfig serves the leaf over HTTP/1.1 only: WebSocket and the hijacked
// CONNECT tunnels need it, and every sender speaks it.
func (ca *certAuthority) tlsConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{ca.leaf},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// writePublicFile replaces path with a file holding data, mode 0644 (a
// certificate is public: the senders of any user read it). The data goes
// to a new file of a random name in path's folder, renamed over path: a
// symlink or file someone planted at a predictable path (/tmp/ca.pem) is
// replaced, never followed, and, in a sticky folder such as /tmp, one of
// another user's is refused. Readers never see half a file.
func writePublicFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // O_EXCL, mode 0600
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// CACertPEM is the certificate of the service's CA, PEM-encoded: a sender
// that trusts it can reach the service over TLS, directly or through its
// CONNECT proxy. It is also served at GET /v1/ca.pem.
func (s *Service) CACertPEM() []byte { return slices.Clone(s.ca.pem) }

// sniffTimeout is how long a new connection may stay silent before its
// first byte tells TLS from plain HTTP; as long as http.Server then allows
// for a request's headers.
const sniffTimeout = 10 * time.Second

// tlsHandshakeByte begins every TLS connection (a handshake record).
const tlsHandshakeByte = 0x16

// acceptLoop takes connections from the HTTP port and admits each in its
// own goroutine, so that a client that sends nothing holds only itself.
// It returns when the port is closed.
func (s *Service) acceptLoop() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || s.httpLn.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like pass; wait as
			// http.Server does, rather than spin.
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				s.log.Warn("accepting a connection", "err", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		if !s.enter() {
			c.Close()
			return nil
		}
		go func() {
			defer s.wg.Done()
			s.admit(c)
		}()
	}
}

// admit reads a connection's first byte and hands it to the HTTP server:
// wrapped in TLS when that byte begins a TLS handshake, as it is otherwise.
// A connection silent for sniffTimeout, or still silent when the service
// closes, is closed.
func (s *Service) admit(c net.Conn) {
	stop := context.AfterFunc(s.ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	pc := &peekedConn{Conn: c, r: bufio.NewReader(c)}
	first, err := pc.r.Peek(1)
	if err != nil || !stop() {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	var conn net.Conn = pc
	if first[0] == tlsHandshakeByte {
		conn = tls.Server(pc, s.tls)
	}
	s.httpLn.deliver(conn)
}

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// connListener is the listener http.Server serves: it hands out the
// connections admit and CONNECT tunnels deliver.
type connListener struct {
	raw   net.Listener // the HTTP port, closed with this listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnListener(raw net.Listener) *connListener {
	return &connListener{raw: raw, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next admitted connection.
func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// deliver hands c to the server, or closes it once the listener is closed.
func (l *connListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Close stops Accept and closes the HTTP port.
func (l *connListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.done)
		err = l.raw.Close()
	})
	return err
}

func (l *connListener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Addr is the HTTP port's address.
func (l *connListener) Addr() net.Addr { return l.raw.Addr() }

// proxyTargets are the CONNECT targets the service tunnels to itself: the
// hosts of Chromium's endpoints on https's port, and its own address.
func (s *Service) proxyTargets() []string {
	t := []string{s.url[len("http://"):]}
	for _, h := range reroutedHosts {
		t = append(t, net.JoinHostPort(h, "443"))
	}
	return t
}

// handleConnect serves CONNECT for the hosts whose endpoints the service
// serves: the tunnel is admitted as a new connection of the HTTP port, so a
// sender behind HTTPS_PROXY reaches https://fcm.googleapis.com/fcm/send/...
// here, over TLS with the service's certificate. Any other target is
// refused: this is no general proxy.
func (s *Service) handleConnect(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(s.proxyTargets(), r.Host) {
		s.log.Info("CONNECT refused", "target", r.Host)
		http.Error(w, "this proxy tunnels only to the hosts of the local push service's endpoints", http.StatusForbidden)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "CONNECT needs HTTP/1.1", http.StatusHTTPVersionNotSupported)
		return
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		s.log.Info("CONNECT hijack", "err", err)
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		c.Close()
		return
	}
	// Bytes the client sent after its CONNECT are already in rw.Reader.
	s.admit(&peekedConn{Conn: c, r: rw.Reader})
}
