package nsqlookupd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
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

// buildTLSConfig loads the HTTPS certificate and client-certificate policy.
// Missing or malformed files are errors naming the file.
func buildTLSConfig(opts *Options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s and key %s: %w", opts.TLSCert, opts.TLSKey, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   opts.TLSMinVersion,
		CipherSuites: tlsCipherSuites,
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	switch opts.TLSClientAuthPolicy {
	case tlsClientAuthRequire:
		cfg.ClientAuth = tls.RequireAnyClientCert
	case tlsClientAuthRequireVerify:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if opts.TLSRootCAFile != "" {
		pem, err := os.ReadFile(opts.TLSRootCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading TLS root CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS root CA file %s holds no PEM certificate", opts.TLSRootCAFile)
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
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
