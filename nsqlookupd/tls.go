package nsqlookupd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// The --tls-client-auth-policy values, named as nsqd names them.
const (
	tlsClientAuthRequire       = "require"
	tlsClientAuthRequireVerify = "require-verify"
)

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

// ParseTLSVersion maps "tls1.0" … "tls1.3" to the crypto/tls constant.
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "tls1.0":
		return tls.VersionTLS10, nil
	case "tls1.1":
		return tls.VersionTLS11, nil
	case "tls1.2":
		return tls.VersionTLS12, nil
	case "tls1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("invalid TLS version %q (want tls1.0, tls1.1, tls1.2 or tls1.3)", s)
}
