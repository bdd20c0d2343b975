package nsqlookupd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// The --tls-client-auth-policy values, named as nsqd names them.
const (
	tlsClientAuthRequire       = "require"
	tlsClientAuthRequireVerify = "require-verify"
)

// tlsCipherSuites are the TLS 1.2 cipher suites HTTPS offers: ECDHE key
// exchange, for forward secrecy, with an AEAD cipher. CBC and RSA key
// exchange suites are left out. The list applies to every version below
// TLS 1.3, and TLS 1.0 and 1.1 have no AEAD suite, so clients need TLS 1.2
// at least whatever --tls-min-version says. TLS 1.3 suites are fixed by
// crypto/tls and all AEAD.
var tlsCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsMinVersionWarning returns a start-up warning when the minimum TLS
// version is one no client can negotiate with tlsCipherSuites, or "".
func tlsMinVersionWarning(minVersion uint16) string {
	if minVersion == 0 || minVersion >= tls.VersionTLS12 {
		return ""
	}
	return fmt.Sprintf("tls-min-version %s has no effect: HTTPS offers only AEAD cipher suites, "+
		"which need TLS 1.2, so TLS 1.0 and 1.1 clients cannot connect", TLSVersionName(minVersion))
}

// tlsReloader hands each new HTTPS handshake the certificate, key and client
// CA pool last loaded from their files, so that they can be replaced
// without a restart: reload reads the files again and, if all of them are
// usable, swaps them in at once. Established connections keep the keys they
// negotiated; a bad file leaves the previous set in use.
type tlsReloader struct {
	certFile, keyFile, caFile string
	minVersion                uint16
	clientAuth                tls.ClientAuthType

	// reloadMu serializes reloads, so that the files read last are the
	// ones installed.
	reloadMu sync.Mutex
	// current is the complete config of new handshakes; never modified
	// once stored.
	current atomic.Pointer[tls.Config]
}

// newTLSReloader loads the HTTPS files named in opts. Missing or malformed
// files are errors naming the file.
func newTLSReloader(opts *Options) (*tlsReloader, error) {
	r := &tlsReloader{
		certFile:   opts.TLSCert,
		keyFile:    opts.TLSKey,
		caFile:     opts.TLSRootCAFile,
		minVersion: opts.TLSMinVersion,
	}
	if r.minVersion == 0 {
		r.minVersion = tls.VersionTLS12
	}
	switch opts.TLSClientAuthPolicy {
	case tlsClientAuthRequire:
		r.clientAuth = tls.RequireAnyClientCert
	case tlsClientAuthRequireVerify:
		r.clientAuth = tls.RequireAndVerifyClientCert
	}
	if _, err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// serverConfig returns the config for the HTTPS listener: it carries the
// fixed settings and hands every handshake the current files' config.
// Session tickets stay those of this config (crypto/tls rotates them), and
// a resumed session is checked against the current CA pool again.
func (r *tlsReloader) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   r.minVersion,
		CipherSuites: tlsCipherSuites,
		ClientAuth:   r.clientAuth,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current.Load(), nil
		},
	}
}

// reload reads the certificate, key and CA files and, if all are usable,
// makes them the ones new handshakes use. It returns the new certificate.
func (r *tlsReloader) reload() (*x509.Certificate, error) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	cfg, err := r.load()
	if err != nil {
		return nil, err
	}
	r.current.Store(cfg)
	return cfg.Certificates[0].Leaf, nil
}

// load builds a complete server config from the files.
func (r *tlsReloader) load() (*tls.Config, error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return nil, fmt.Errorf("reading TLS certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading TLS key file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil {
		// X509KeyPair leaves it nil only under GODEBUG=x509keypairleaf=0.
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing TLS certificate %s: %w", r.certFile, err)
		}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   r.minVersion,
		CipherSuites: tlsCipherSuites,
		ClientAuth:   r.clientAuth,
	}
	if r.caFile != "" {
		caPEM, err := os.ReadFile(r.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading TLS root CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("TLS root CA file %s holds no PEM certificate", r.caFile)
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
}

// files names the files reload reads, for log lines.
func (r *tlsReloader) files() string {
	s := fmt.Sprintf("certificate %s, key %s", r.certFile, r.keyFile)
	if r.caFile != "" {
		s += ", root CAs " + r.caFile
	}
	return s
}

// tlsVersions names the versions --tls-min-version accepts, lowest first:
// the one table behind parsing, printing and the --help text.
var tlsVersions = []struct {
	name    string
	version uint16
}{
	{"tls1.0", tls.VersionTLS10},
	{"tls1.1", tls.VersionTLS11},
	{"tls1.2", tls.VersionTLS12},
	{"tls1.3", tls.VersionTLS13},
}

// TLSVersionNames returns the names --tls-min-version accepts, lowest first.
func TLSVersionNames() []string {
	names := make([]string, len(tlsVersions))
	for i, v := range tlsVersions {
		names[i] = v.name
	}
	return names
}

// TLSVersionName returns the --tls-min-version name of a crypto/tls version
// constant, or "" if the version is not one it accepts.
func TLSVersionName(version uint16) string {
	for _, v := range tlsVersions {
		if v.version == version {
			return v.name
		}
	}
	return ""
}

// ParseTLSVersion maps a --tls-min-version name ("tls1.2") to its crypto/tls
// constant.
func ParseTLSVersion(s string) (uint16, error) {
	for _, v := range tlsVersions {
		if v.name == s {
			return v.version, nil
		}
	}
	return 0, fmt.Errorf("invalid TLS version %q (want one of %s)", s, strings.Join(TLSVersionNames(), ", "))
}
