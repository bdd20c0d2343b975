package nsqlookupd_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// testCA is a throwaway certificate authority generated for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// tlsSerial returns a random certificate serial number.
func tlsSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	test.Nil(t, err, "serial number")
	return n
}

// newTestCA creates a self-signed ECDSA P-256 CA named name.
func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	test.Nil(t, err, "CA key")
	tmpl := &x509.Certificate{
		SerialNumber:          tlsSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	test.Nil(t, err, "create CA certificate")
	cert, err := x509.ParseCertificate(der)
	test.Nil(t, err, "parse CA certificate")
	return &testCA{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

// pool returns a certificate pool trusting only ca.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue signs a new leaf certificate named name: a server certificate for
// 127.0.0.1 (IP SAN) if server is set, a client certificate otherwise. It
// returns the PEM certificate and PKCS#8 key.
func (ca *testCA) issue(t testing.TB, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	test.Nil(t, err, "leaf key")
	return ca.issueForKey(t, name, server, key)
}

// issueForKey is issue for a leaf key of the caller's choice (an RSA one,
// say).
func (ca *testCA) issueForKey(t testing.TB, name string, server bool, key crypto.Signer) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: tlsSerial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	test.Nil(t, err, "create leaf certificate")
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	test.Nil(t, err, "marshal leaf key")
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// clientCert issues a client certificate usable in a tls.Config.
func (ca *testCA) clientCert(t testing.TB, name string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, name, false)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	test.Nil(t, err, "client key pair")
	return cert
}

// writeTLSFile writes data to name in dir and returns the path.
func writeTLSFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	test.Nil(t, os.WriteFile(path, data, 0o600), "write "+name)
	return path
}

// tlsFiles are a CA and a server certificate for 127.0.0.1 signed by it,
// written as PEM files.
type tlsFiles struct {
	ca       *testCA
	caFile   string
	certFile string
	keyFile  string
}

func newTLSFiles(t testing.TB) *tlsFiles {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t, "nsqlookupd test CA")
	certPEM, keyPEM := ca.issue(t, "nsqlookupd test server", true)
	return &tlsFiles{
		ca:       ca,
		caFile:   writeTLSFile(t, dir, "ca.pem", ca.certPEM),
		certFile: writeTLSFile(t, dir, "server.pem", certPEM),
		keyFile:  writeTLSFile(t, dir, "server-key.pem", keyPEM),
	}
}

// tlsOptions returns testOptions serving HTTPS too, on a random port, with
// files: for tests of New itself.
func tlsOptions(t testing.TB, files *tlsFiles) *nsqlookupd.Options {
	t.Helper()
	opts, _ := testOptions(t)
	withHTTPS(files)(&setup{opts: opts})
	return opts
}

// withHTTPS serves HTTPS too, on a random port, with files.
func withHTTPS(files *tlsFiles) func(*setup) {
	return func(s *setup) {
		s.opts.HTTPSAddress = "127.0.0.1:0"
		s.opts.TLSCert = files.certFile
		s.opts.TLSKey = files.keyFile
	}
}

// httpsOnly turns plain HTTP off; client, which must trust the daemon's
// certificate, becomes its default client.
func httpsOnly(client *http.Client) func(*setup) {
	return func(s *setup) {
		s.opts.HTTPAddress = ""
		s.client = client
	}
}

// httpsClient returns a client using cfg (RootCAs, certificates, versions)
// whose idle connections are closed when the test ends.
func httpsClient(t testing.TB, cfg *tls.Config) *http.Client {
	t.Helper()
	transport := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 5 * time.Second}
}

// httpsGet GETs path over HTTPS through client.
func httpsGet(client *http.Client, l *daemon, path string) (response, error) {
	return fetch(l, "GET", path, overHTTPS, withClient(client))
}

// TestTLSServesHTTPAndHTTPS checks that HTTPS serves the same API as plain
// HTTP, with the configured certificate.
func TestTLSServesHTTPAndHTTPS(t *testing.T) {
	files := newTLSFiles(t)
	l := startLookupd(t, withHTTPS(files))
	if l.RealHTTPSAddr() == nil || l.RealHTTPSAddr().Port == l.RealHTTPAddr().Port {
		t.Fatalf("HTTPS address %v, plain HTTP address %v: want two listeners", l.RealHTTPSAddr(), l.RealHTTPAddr())
	}

	test.Equal(t, http.StatusOK, get(t, l, "/ping").status, "plain /ping status")

	client := httpsClient(t, &tls.Config{RootCAs: files.ca.pool()})
	resp, err := httpsGet(client, l, "/ping")
	test.Nil(t, err, "HTTPS GET /ping")
	test.Equal(t, http.StatusOK, resp.status, "HTTPS /ping status")
	test.Equal(t, "OK", string(resp.body), "HTTPS /ping body")
	test.Equal(t, "nsqlookupd test server", resp.tls.PeerCertificates[0].Subject.CommonName, "served certificate")
	if resp.tls.Version < tls.VersionTLS12 {
		t.Errorf("negotiated TLS version %#x, want at least TLS 1.2", resp.tls.Version)
	}

	// The API proper, with NSQ's headers, and the store shared with plain
	// HTTP.
	test.Equal(t, http.StatusOK, post(t, l, "/topic/create?topic=shared").status, "plain /topic/create")
	resp, err = httpsGet(client, l, "/topics")
	test.Nil(t, err, "HTTPS GET /topics")
	test.Equal(t, http.StatusOK, resp.status, "HTTPS /topics status")
	test.Equal(t, "nsq; version=1.0", resp.header.Get("X-NSQ-Content-Type"), "HTTPS X-NSQ-Content-Type")
	test.Equal(t, `{"topics":["shared"]}`, string(resp.body), "HTTPS /topics body")
}

// TestTLSServerVerification checks that clients that cannot verify the
// server certificate fail the handshake.
func TestTLSServerVerification(t *testing.T) {
	files := newTLSFiles(t)
	l := startLookupd(t, withHTTPS(files))
	other := newTestCA(t, "some other CA")

	tests := []struct {
		name string
		cfg  *tls.Config
		// check inspects the error chain.
		check func(err error) bool
	}{
		{
			name: "other CA",
			cfg:  &tls.Config{RootCAs: other.pool()},
			check: func(err error) bool {
				var unknown x509.UnknownAuthorityError
				return errors.As(err, &unknown)
			},
		},
		{
			name: "system roots",
			cfg:  &tls.Config{},
			check: func(err error) bool {
				var unknown x509.UnknownAuthorityError
				return errors.As(err, &unknown)
			},
		},
		{
			name: "wrong server name",
			cfg:  &tls.Config{RootCAs: files.ca.pool(), ServerName: "lookupd.invalid"},
			check: func(err error) bool {
				var host x509.HostnameError
				return errors.As(err, &host)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := httpsGet(httpsClient(t, tc.cfg), l, "/ping")
			if err == nil {
				t.Fatalf("GET /ping succeeded with status %d, want a verification error", resp.status)
			}
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) || !tc.check(err) {
				t.Fatalf("error %v (%T) is not the expected verification error", err, err)
			}
		})
	}

	// The same daemon still serves a client trusting its CA.
	resp, err := httpsGet(httpsClient(t, &tls.Config{RootCAs: files.ca.pool()}), l, "/ping")
	test.Nil(t, err, "GET /ping trusting the CA")
	test.Equal(t, http.StatusOK, resp.status, "/ping status")
}

func TestTLSMinVersion(t *testing.T) {
	files := newTLSFiles(t)
	tests := []struct {
		name       string
		minVersion uint16 // 0: the default
		clientMax  uint16 // 0: the client's default
		wantOK     bool
	}{
		{"tls1.3 refuses a TLS 1.2 client", tls.VersionTLS13, tls.VersionTLS12, false},
		{"tls1.3 serves a TLS 1.3 client", tls.VersionTLS13, 0, true},
		{"default serves a TLS 1.2 client", 0, tls.VersionTLS12, true},
		{"default refuses a TLS 1.1 client", 0, tls.VersionTLS11, false},
		{"tls1.2 refuses a TLS 1.1 client", tls.VersionTLS12, tls.VersionTLS11, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startLookupd(t, withHTTPS(files), func(s *setup) {
				if tc.minVersion != 0 {
					s.opts.TLSMinVersion = tc.minVersion
				}
			})
			client := httpsClient(t, &tls.Config{
				RootCAs:    files.ca.pool(),
				MinVersion: tls.VersionTLS10,
				MaxVersion: tc.clientMax,
			})
			resp, err := httpsGet(client, l, "/ping")
			if !tc.wantOK {
				if err == nil {
					t.Fatalf("GET /ping succeeded over TLS %#x, want a refused handshake", resp.tls.Version)
				}
				if !strings.Contains(err.Error(), "protocol version") {
					t.Fatalf("error %q does not name the protocol version", err)
				}
				return
			}
			test.Nil(t, err, "GET /ping")
			test.Equal(t, http.StatusOK, resp.status, "/ping status")
			if tc.minVersion != 0 && resp.tls.Version < tc.minVersion {
				t.Fatalf("negotiated TLS %#x below the minimum %#x", resp.tls.Version, tc.minVersion)
			}
		})
	}
}

func TestTLSClientAuthPolicy(t *testing.T) {
	files := newTLSFiles(t)
	other := newTestCA(t, "some other CA")
	signed := files.ca.clientCert(t, "trusted client")
	foreign := other.clientCert(t, "foreign client")

	tests := []struct {
		name       string
		policy     string
		rootCA     bool
		clientCert *tls.Certificate
		// wantErr is part of the client's error when it is refused; empty
		// means served.
		wantErr string
	}{
		{"require-verify without a certificate", "require-verify", true, nil, "certificate required"},
		{"require-verify with a certificate signed by the CA", "require-verify", true, &signed, ""},
		{"require-verify with a certificate of another CA", "require-verify", true, &foreign, "unknown certificate authority"},
		{"require without a certificate", "require", false, nil, "certificate required"},
		{"require with any certificate", "require", false, &foreign, ""},
		{"no policy without a certificate", "", false, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startLookupd(t, withHTTPS(files), func(s *setup) {
				s.opts.TLSClientAuthPolicy = tc.policy
				if tc.rootCA {
					s.opts.TLSRootCAFile = files.caFile
				}
			})
			cfg := &tls.Config{RootCAs: files.ca.pool()}
			if tc.clientCert != nil {
				// Send it whatever CAs the server names, so that the server
				// itself has to judge a foreign certificate.
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					return tc.clientCert, nil
				}
			}
			resp, err := httpsGet(httpsClient(t, cfg), l, "/ping")
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("GET /ping succeeded with status %d, want the client refused", resp.status)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not mention %q", err, tc.wantErr)
				}
				return
			}
			test.Nil(t, err, "GET /ping")
			test.Equal(t, http.StatusOK, resp.status, "/ping status")
		})
	}
}

// TestTLSConsumerDiscoversProducer runs a go-nsq consumer that polls the
// daemon over HTTPS only (plain HTTP off) and finds the announced nsqd.
func TestTLSConsumerDiscoversProducer(t *testing.T) {
	files := newTLSFiles(t)
	client := httpsClient(t, &tls.Config{RootCAs: files.ca.pool()})
	l := startLookupd(t, withHTTPS(files), httpsOnly(client))

	f := newFakeNSQD(t)
	announceTopic(t, l, f, "secure")
	startTestConsumer(t, "secure", "ch", []string{"https://" + l.RealHTTPSAddr().String()},
		func(s *consumerSetup) { s.client = client })

	test.Eventually(t, 10*time.Second, func() bool {
		return len(f.subscriptions()) > 0
	}, "consumer subscribed at the nsqd found over HTTPS")
	test.Equal(t, []string{"SUB secure ch"}, f.subscriptions(), "SUB commands")
}

// TestTLSHTTPDisabledIdentifyPort checks that with plain HTTP off the
// IDENTIFY reply gives nsqd the HTTPS port.
func TestTLSHTTPDisabledIdentifyPort(t *testing.T) {
	files := newTLSFiles(t)
	l := startLookupd(t, withHTTPS(files), httpsOnly(httpsClient(t, &tls.Config{RootCAs: files.ca.pool()})))
	if l.RealHTTPAddr() != nil {
		t.Fatalf("plain HTTP listening on %s with HTTPAddress empty", l.RealHTTPAddr())
	}

	c := l.dial(t)
	reply := c.Identify("127.0.0.1", 4150, 4151)
	test.Equal(t, float64(l.RealHTTPSAddr().Port), reply["http_port"], "IDENTIFY http_port")
	test.Equal(t, float64(l.RealTCPAddr().Port), reply["tcp_port"], "IDENTIFY tcp_port")
}

// TestTLSBadFiles checks that New refuses unusable certificate, key and CA
// files, naming what is wrong.
func TestTLSBadFiles(t *testing.T) {
	files := newTLSFiles(t)
	dir := t.TempDir()
	garbage := writeTLSFile(t, dir, "garbage.pem", []byte("this is not PEM\n"))
	missing := filepath.Join(dir, "missing.pem")
	// A valid key pair whose key belongs to another certificate.
	_, otherKeyPEM := files.ca.issue(t, "other server", true)
	otherKey := writeTLSFile(t, dir, "other-key.pem", otherKeyPEM)

	tests := []struct {
		name  string
		tweak func(o *nsqlookupd.Options)
		want  string // substring of the error
	}{
		{"missing certificate file", func(o *nsqlookupd.Options) { o.TLSCert = missing }, "missing.pem"},
		{"missing key file", func(o *nsqlookupd.Options) { o.TLSKey = missing }, "missing.pem"},
		{"garbage certificate PEM", func(o *nsqlookupd.Options) { o.TLSCert = garbage }, "garbage.pem"},
		{"garbage key PEM", func(o *nsqlookupd.Options) { o.TLSKey = garbage }, "garbage.pem"},
		{"key not matching the certificate", func(o *nsqlookupd.Options) { o.TLSKey = otherKey }, "other-key.pem"},
		{"certificate without key", func(o *nsqlookupd.Options) { o.TLSKey = "" }, "tls-key"},
		{"key without certificate", func(o *nsqlookupd.Options) { o.TLSCert = "" }, "tls-cert"},
		{"certificate without https-address", func(o *nsqlookupd.Options) { o.HTTPSAddress = "" }, "https-address"},
		{"missing root CA file", func(o *nsqlookupd.Options) {
			o.TLSClientAuthPolicy = "require-verify"
			o.TLSRootCAFile = missing
		}, "missing.pem"},
		{"root CA file without a certificate", func(o *nsqlookupd.Options) {
			o.TLSClientAuthPolicy = "require-verify"
			o.TLSRootCAFile = garbage
		}, "garbage.pem"},
		{"require-verify without root CA file", func(o *nsqlookupd.Options) {
			o.TLSClientAuthPolicy = "require-verify"
		}, "tls-root-ca-file"},
		{"unknown client auth policy", func(o *nsqlookupd.Options) { o.TLSClientAuthPolicy = "maybe" }, "maybe"},
		{"invalid minimum version", func(o *nsqlookupd.Options) { o.TLSMinVersion = 0x0200 }, "tls-min-version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tlsOptions(t, files)
			tc.tweak(opts)
			l, err := nsqlookupd.New(opts)
			if err == nil {
				l.Exit()
				t.Fatalf("New succeeded, want an error mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error %q does not mention %q", err, tc.want)
			}
		})
	}

	// The unmodified options work, so each case failed for its own reason.
	l, err := nsqlookupd.New(tlsOptions(t, files))
	test.Nil(t, err, "New with valid TLS files")
	l.Exit()
}

// tlsDial makes a TLS connection to l's HTTPS port with cfg and completes
// the handshake; the connection is closed when the test ends.
func tlsDial(t testing.TB, l *daemon, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", l.RealHTTPSAddr().String(), cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	return conn, nil
}

// TestTLSCipherSuites checks which suites a TLS 1.2 client can negotiate:
// only ECDHE with AES-GCM or ChaCha20-Poly1305, for ECDSA and RSA
// certificates; CBC, 3DES and RSA key exchange are refused.
func TestTLSCipherSuites(t *testing.T) {
	ca := newTestCA(t, "cipher suite CA")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	test.Nil(t, err, "RSA key")
	dir := t.TempDir()
	ecdsaCert, ecdsaKey := ca.issue(t, "ecdsa server", true)
	rsaCert, rsaKeyPEM := ca.issueForKey(t, "rsa server", true, rsaKey)
	servers := map[string]*daemon{}
	for name, pair := range map[string][2][]byte{"ecdsa": {ecdsaCert, ecdsaKey}, "rsa": {rsaCert, rsaKeyPEM}} {
		servers[name] = startLookupd(t, withHTTPS(&tlsFiles{
			certFile: writeTLSFile(t, dir, name+".pem", pair[0]),
			keyFile:  writeTLSFile(t, dir, name+"-key.pem", pair[1]),
		}))
	}

	tests := []struct {
		server string   // key type of the server certificate
		offer  []uint16 // the client's TLS 1.2 suites
		want   uint16   // the negotiated suite; 0: the handshake fails
	}{
		{"ecdsa", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"ecdsa", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"ecdsa", []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{"ecdsa", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, 0},
		{"ecdsa", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}, 0},
		{"ecdsa", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, 0},
		{"ecdsa", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{"rsa", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		{"rsa", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
		{"rsa", []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
		{"rsa", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, 0},
		{"rsa", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}, 0},
		{"rsa", []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}, 0},
		{"rsa", []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, 0},
		{"rsa", []uint16{tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, 0},
		{"rsa", []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}, 0},
		{"rsa", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
	}
	for _, tc := range tests {
		names := make([]string, len(tc.offer))
		for i, id := range tc.offer {
			names[i] = tls.CipherSuiteName(id)
		}
		t.Run(tc.server+" "+strings.Join(names, "+"), func(t *testing.T) {
			conn, err := tlsDial(t, servers[tc.server], &tls.Config{
				RootCAs:      ca.pool(),
				MinVersion:   tls.VersionTLS12,
				MaxVersion:   tls.VersionTLS12,
				CipherSuites: tc.offer,
			})
			if tc.want == 0 {
				if err == nil {
					t.Fatalf("handshake succeeded with %s, want it refused",
						tls.CipherSuiteName(conn.ConnectionState().CipherSuite))
				}
				if !strings.Contains(err.Error(), "handshake failure") {
					t.Fatalf("error %q is not a handshake failure", err)
				}
				return
			}
			test.Nil(t, err, "handshake")
			state := conn.ConnectionState()
			test.Equal(t, uint16(tls.VersionTLS12), state.Version, "negotiated version")
			test.Equal(t, tls.CipherSuiteName(tc.want), tls.CipherSuiteName(state.CipherSuite), "negotiated suite")
		})
	}

	// A TLS 1.3 client negotiates TLS 1.3 with either certificate.
	for name, l := range servers {
		conn, err := tlsDial(t, l, &tls.Config{RootCAs: ca.pool()})
		test.Nil(t, err, name+" TLS 1.3 handshake")
		test.Equal(t, uint16(tls.VersionTLS13), conn.ConnectionState().Version, name+" negotiated version")
	}
}

// TestTLSMinVersionBelowTLS12 checks that tls1.0 and tls1.1 minimums start
// with a warning that they have no effect, and that an older client is then
// refused for want of a common suite.
func TestTLSMinVersionBelowTLS12(t *testing.T) {
	files := newTLSFiles(t)
	for _, minVersion := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		name := nsqlookupd.TLSVersionName(minVersion)
		t.Run(name, func(t *testing.T) {
			l := startLookupd(t, withHTTPS(files), func(s *setup) { s.opts.TLSMinVersion = minVersion })
			logger := l.log
			warned := 0
			for _, line := range logger.Lines() {
				if strings.HasPrefix(line, "WARNING: tls-min-version "+name+" has no effect") {
					warned++
				}
			}
			test.Equal(t, 1, warned, "warnings about the minimum version")

			_, err := tlsDial(t, l, &tls.Config{
				RootCAs:    files.ca.pool(),
				MinVersion: tls.VersionTLS10,
				MaxVersion: minVersion,
			})
			if err == nil || !strings.Contains(err.Error(), "handshake failure") {
				t.Fatalf("%s client: error %v, want a handshake failure", name, err)
			}
			conn, err := tlsDial(t, l, &tls.Config{RootCAs: files.ca.pool(), MaxVersion: tls.VersionTLS12})
			test.Nil(t, err, "TLS 1.2 handshake")
			test.Equal(t, uint16(tls.VersionTLS12), conn.ConnectionState().Version, "negotiated version")
		})
	}

	// The default minimum warns about nothing.
	for _, line := range startLookupd(t, withHTTPS(files)).log.Lines() {
		if strings.Contains(line, "tls-min-version") {
			t.Errorf("log line %q with the default minimum version", line)
		}
	}
}

// logLinesWith returns the logged lines that start with prefix and contain
// every one of parts.
func logLinesWith(logger *test.Logger, prefix string, parts ...string) []string {
	var found []string
	for _, line := range logger.Lines() {
		all := strings.HasPrefix(line, prefix)
		for _, part := range parts {
			all = all && strings.Contains(line, part)
		}
		if all {
			found = append(found, line)
		}
	}
	return found
}

// TestTLSReload checks ReloadTLS in process: a renewed certificate is
// served to new connections; each unusable file is refused with one ERROR
// line naming it while the previous certificate stays in use.
func TestTLSReload(t *testing.T) {
	files := newTLSFiles(t)
	l := startLookupd(t, withHTTPS(files), func(s *setup) {
		s.opts.TLSClientAuthPolicy = "require"
		s.opts.TLSRootCAFile = files.caFile
	})
	logger := l.log
	// The client certificate is needed by the policy, not verified by it.
	clientCert := files.ca.clientCert(t, "client")
	client := &tls.Config{RootCAs: files.ca.pool(), Certificates: []tls.Certificate{clientCert}}
	served := func() string {
		t.Helper()
		conn, err := tlsDial(t, l, client)
		test.Nil(t, err, "handshake")
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	test.Equal(t, "nsqlookupd test server", served(), "certificate before reload")

	renewedCert, renewedKey := files.ca.issue(t, "renewed server", true)
	writeTLSFile(t, filepath.Dir(files.certFile), filepath.Base(files.certFile), renewedCert)
	writeTLSFile(t, filepath.Dir(files.keyFile), filepath.Base(files.keyFile), renewedKey)
	test.Nil(t, l.ReloadTLS(), "ReloadTLS")
	test.Equal(t, "renewed server", served(), "certificate after reload")
	if got := logLinesWith(logger, "INFO: TLS: reloaded", files.certFile, files.keyFile, files.caFile, `"renewed server"`); len(got) != 1 {
		t.Fatalf("want one INFO line naming the files and the new certificate, got %q", got)
	}

	garbage := []byte("this is not PEM\n")
	_, otherKey := files.ca.issue(t, "other server", true)
	tests := []struct {
		name string
		path string // the file replaced
		// content replaces the file; nil removes it.
		content []byte
		// dir puts a directory in the file's place.
		dir  bool
		want string // part of the error besides the path
	}{
		{"missing certificate", files.certFile, nil, false, "no such file"},
		{"missing key", files.keyFile, nil, false, "no such file"},
		{"key is a directory", files.keyFile, nil, true, "is a directory"},
		{"garbage certificate", files.certFile, garbage, false, "PEM"},
		{"garbage key", files.keyFile, garbage, false, "PEM"},
		{"mismatched key", files.keyFile, otherKey, false, "does not match"},
		{"missing root CA file", files.caFile, nil, false, "no such file"},
		{"root CA file without a certificate", files.caFile, garbage, false, "no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good, err := os.ReadFile(tc.path)
			test.Nil(t, err, "read "+tc.path)
			test.Nil(t, os.Remove(tc.path), "remove "+tc.path)
			switch {
			case tc.dir:
				test.Nil(t, os.Mkdir(tc.path, 0o700), "mkdir "+tc.path)
			case tc.content != nil:
				writeTLSFile(t, filepath.Dir(tc.path), filepath.Base(tc.path), tc.content)
			}
			defer func() {
				os.RemoveAll(tc.path)
				writeTLSFile(t, filepath.Dir(tc.path), filepath.Base(tc.path), good)
			}()
			errorsBefore := len(logLinesWith(logger, "ERROR: "))

			err = l.ReloadTLS()
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReloadTLS error %v, want one naming %s and %q", err, tc.path, tc.want)
			}
			errorLines := logLinesWith(logger, "ERROR: ")[errorsBefore:]
			if len(errorLines) != 1 || !strings.Contains(errorLines[0], err.Error()) ||
				!strings.Contains(errorLines[0], "previous certificate") {
				t.Fatalf("want one ERROR line with %q, got %q", err, errorLines)
			}
			test.Equal(t, "renewed server", served(), "certificate after a failed reload")
		})
	}

	// Good files again: reloading works after failures.
	test.Nil(t, l.ReloadTLS(), "ReloadTLS with the good files")
	test.Equal(t, "renewed server", served(), "certificate after the last reload")
}

// TestTLSReloadClientCA checks that a reloaded root CA file decides which
// client certificates require-verify accepts, for new and resumed sessions.
func TestTLSReloadClientCA(t *testing.T) {
	files := newTLSFiles(t)
	l := startLookupd(t, withHTTPS(files), func(s *setup) {
		s.opts.TLSClientAuthPolicy = "require-verify"
		s.opts.TLSRootCAFile = files.caFile
	})
	newCA := newTestCA(t, "new client CA")

	// ping sends GET /ping on a new connection and reports whether the
	// session was resumed, or why the daemon did not answer.
	ping := func(cfg *tls.Config) (resumed bool, err error) {
		t.Helper()
		client := httpsClient(t, cfg)
		defer client.CloseIdleConnections()
		resp, err := httpsGet(client, l, "/ping")
		if err != nil {
			return false, err
		}
		test.Equal(t, http.StatusOK, resp.status, "/ping status")
		return resp.tls.DidResume, nil
	}
	clientOf := func(ca *testCA, name string) *tls.Config {
		cert := ca.clientCert(t, name)
		return &tls.Config{
			RootCAs:            files.ca.pool(),
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
			// Offer it whatever CAs the server names, so that the server
			// itself judges it.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &cert, nil
			},
		}
	}
	oldClient, newClient := clientOf(files.ca, "old client"), clientOf(newCA, "new client")

	_, err := ping(oldClient)
	test.Nil(t, err, "client of the old CA before the reload")
	resumed, err := ping(oldClient)
	test.Nil(t, err, "client of the old CA resuming before the reload")
	if !resumed {
		t.Fatalf("second connection was not resumed: the resumption check below would prove nothing")
	}
	if _, err := ping(newClient); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Fatalf("client of the new CA before the reload: error %v, want unknown certificate authority", err)
	}

	writeTLSFile(t, filepath.Dir(files.caFile), filepath.Base(files.caFile), newCA.certPEM)
	test.Nil(t, l.ReloadTLS(), "ReloadTLS")

	_, err = ping(newClient)
	test.Nil(t, err, "client of the new CA after the reload")
	if _, err := ping(oldClient); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Fatalf("client of the old CA with a session ticket after the reload: error %v, want unknown certificate authority", err)
	}
}

// TestTLSReloadConcurrentHandshakes reloads while clients connect, for the
// race detector: every handshake sees one complete certificate.
func TestTLSReloadConcurrentHandshakes(t *testing.T) {
	files := newTLSFiles(t)
	l := startLookupd(t, withHTTPS(files))
	const reloads, handshakes = 20, 20
	done := make(chan error, handshakes)
	for i := 0; i < handshakes; i++ {
		go func() {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp",
				l.RealHTTPSAddr().String(), &tls.Config{RootCAs: files.ca.pool()})
			if err == nil {
				conn.Close()
			}
			done <- err
		}()
	}
	for i := 0; i < reloads; i++ {
		test.Nil(t, l.ReloadTLS(), "ReloadTLS")
	}
	for i := 0; i < handshakes; i++ {
		select {
		case err := <-done:
			test.Nil(t, err, "handshake during reloads")
		case <-time.After(10 * time.Second):
			t.Fatalf("handshake %d did not finish", i)
		}
	}
}

// TestTLSReloadWithoutHTTPS checks that ReloadTLS without HTTPS changes
// nothing and says so.
func TestTLSReloadWithoutHTTPS(t *testing.T) {
	l := startLookupd(t)
	logger := l.log
	test.Nil(t, l.ReloadTLS(), "ReloadTLS")
	if got := logLinesWith(logger, "INFO: TLS: HTTPS is not configured, nothing to reload"); len(got) != 1 {
		t.Fatalf("want one INFO line saying there is nothing to reload, got %q", got)
	}
	test.Equal(t, http.StatusOK, post(t, l, "/topic/create?topic=still_serving").status, "daemon after ReloadTLS")
}
