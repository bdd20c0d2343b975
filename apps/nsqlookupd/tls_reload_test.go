package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// certDER returns the DER bytes of the first certificate in a PEM file.
func certDER(t *testing.T, certFile string) []byte {
	t.Helper()
	data, err := os.ReadFile(certFile)
	test.Nil(t, err, "read "+certFile)
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("no PEM block in %s", certFile)
	}
	return block.Bytes
}

// trustPool trusts each of the self-signed certificate files.
func trustPool(t *testing.T, certFiles ...string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range certFiles {
		cert, err := x509.ParseCertificate(certDER(t, f))
		test.Nil(t, err, "parse "+f)
		pool.AddCert(cert)
	}
	return pool
}

// copyFile replaces dst's content with src's.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	test.Nil(t, err, "read "+src)
	test.Nil(t, os.WriteFile(dst, data, 0o600), "write "+dst)
}

// servedCert makes a new TLS connection to addr and returns the DER bytes of
// the certificate the daemon presented.
func servedCert(t *testing.T, addr string, pool *x509.CertPool) []byte {
	t.Helper()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{RootCAs: pool})
	test.Nil(t, err, "TLS handshake with "+addr)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}

// keepAliveClient is an HTTPS client holding at most one idle connection,
// which counts the connections it dials.
type keepAliveClient struct {
	client *http.Client
	dials  atomic.Int32
}

func newKeepAliveClient(t *testing.T, pool *x509.CertPool) *keepAliveClient {
	t.Helper()
	c := &keepAliveClient{}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(transport.CloseIdleConnections)
	c.client = &http.Client{Transport: transport, Timeout: 5 * time.Second}
	return c
}

// ping GETs /ping from addr and returns the certificate of the connection
// that carried it.
func (c *keepAliveClient) ping(t *testing.T, addr string) []byte {
	t.Helper()
	resp, err := c.client.Get("https://" + addr + "/ping")
	test.Nil(t, err, "GET /ping over HTTPS")
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	test.Nil(t, err, "read /ping body")
	test.Equal(t, http.StatusOK, resp.StatusCode, "/ping status")
	test.Equal(t, "OK", string(body), "/ping body")
	return resp.TLS.PeerCertificates[0].Raw
}

// linesWith returns p's stderr lines containing every one of parts.
func (p *proc) linesWith(parts ...string) []string {
	var found []string
	for _, line := range p.stderr.lines() {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(line, part)
		}
		if all {
			found = append(found, line)
		}
	}
	return found
}

// sighup sends SIGHUP and waits until the daemon has logged n lines
// containing every one of parts.
func (p *proc) sighup(n int, parts ...string) {
	p.t.Helper()
	test.Nil(p.t, p.cmd.Process.Signal(syscall.SIGHUP), "send SIGHUP")
	test.Eventually(p.t, 5*time.Second, func() bool {
		if p.exited() {
			p.t.Fatalf("nsqlookupd exited after SIGHUP with %s; stderr:\n%s", p.cmd.ProcessState, p.stderr.String())
		}
		return len(p.linesWith(parts...)) >= n
	}, fmt.Sprintf("%d log lines with %q", n, parts))
}

// TestSIGHUPReloadsCertificate replaces the HTTPS certificate and key of a
// running daemon: after SIGHUP new connections get the new certificate
// while a keep-alive connection opened before goes on with the old one;
// broken files are refused with an ERROR line and the last good
// certificate stays in use.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	certA, keyA := writeSelfSignedCert(t)
	certB, keyB := writeSelfSignedCert(t)
	derA, derB := certDER(t, certA), certDER(t, certB)
	if bytes.Equal(derA, derB) {
		t.Fatal("the two generated certificates are the same")
	}
	dir := t.TempDir()
	liveCert, liveKey := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	copyFile(t, certA, liveCert)
	copyFile(t, keyA, liveKey)
	pool := trustPool(t, certA, certB)

	p := startProc(t, listeningHTTPS, append([]string{"--https-address=127.0.0.1:0",
		"--tls-cert=" + liveCert, "--tls-key=" + liveKey}, localAddrs...)...)
	addr := p.httpsAddr
	keepAlive := newKeepAliveClient(t, pool)
	if !bytes.Equal(derA, keepAlive.ping(t, addr)) {
		t.Fatal("the keep-alive connection did not get the first certificate")
	}

	copyFile(t, certB, liveCert)
	copyFile(t, keyB, liveKey)
	p.sighup(1, " INFO: TLS: reloaded ", liveCert, liveKey)
	if !bytes.Equal(derB, servedCert(t, addr, pool)) {
		t.Fatal("a new connection after SIGHUP did not get the new certificate")
	}
	if !bytes.Equal(derA, keepAlive.ping(t, addr)) {
		t.Fatal("the keep-alive connection changed certificate")
	}
	test.Equal(t, int32(1), keepAlive.dials.Load(), "connections dialed by the keep-alive client")

	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	test.Nil(t, os.WriteFile(garbage, []byte("not PEM\n"), 0o600), "write garbage")
	tests := []struct {
		name       string
		breakFiles func()
		file       string // the file the ERROR line names
		cause      string // and the cause it gives
	}{
		{"garbage certificate", func() { copyFile(t, garbage, liveCert) }, liveCert, "PEM"},
		{"missing key", func() {
			copyFile(t, certB, liveCert)
			test.Nil(t, os.Remove(liveKey), "remove key")
		}, liveKey, "no such file"},
		{"key of another certificate", func() { copyFile(t, keyA, liveKey) }, liveKey, "does not match"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.breakFiles()
			p.sighup(i+1, " ERROR: TLS: reload failed")
			errorLines := p.linesWith(" ERROR: ")
			test.Equal(t, i+1, len(errorLines), "ERROR lines")
			if last := errorLines[i]; !strings.Contains(last, tc.file) || !strings.Contains(last, tc.cause) {
				t.Fatalf("ERROR line %q does not name %s and %q", last, tc.file, tc.cause)
			}
			if !bytes.Equal(derB, servedCert(t, addr, pool)) {
				t.Fatal("a new connection after a failed reload did not get the last good certificate")
			}
		})
	}

	// Good files again: the reload after the failures takes effect.
	copyFile(t, certA, liveCert)
	copyFile(t, keyA, liveKey)
	p.sighup(2, " INFO: TLS: reloaded ")
	if !bytes.Equal(derA, servedCert(t, addr, pool)) {
		t.Fatal("a new connection did not get the restored certificate")
	}
	if !bytes.Equal(derA, keepAlive.ping(t, addr)) || keepAlive.dials.Load() != 1 {
		t.Fatalf("the keep-alive connection did not survive the reloads (%d dials)", keepAlive.dials.Load())
	}
	test.Equal(t, 0, len(p.fatalLines()), "FATAL lines")
}

// TestSIGHUPWithoutHTTPS checks that SIGHUP without HTTPS only logs that
// there is nothing to reload.
func TestSIGHUPWithoutHTTPS(t *testing.T) {
	p := startProc(t, listening, localAddrs...)
	for n := 1; n <= 2; n++ {
		p.sighup(n, " INFO: TLS: HTTPS is not configured, nothing to reload")
	}
	test.Equal(t, true, p.answers(), "daemon answers after SIGHUP")
	test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "send SIGTERM")
	test.Equal(t, 0, p.wait(), "exit status after SIGTERM")
}

// TestSIGHUPWhileStopping sends SIGHUP while the daemon drains an HTTP
// request on its way out: it must neither kill the daemon nor reload.
func TestSIGHUPWhileStopping(t *testing.T) {
	p := startProc(t, listening, append([]string{"--shutdown-timeout=1s", "--http-max-conns=1"}, localAddrs...)...)
	// A request whose headers never end keeps the drain waiting for the
	// whole shutdown timeout, once the server has accepted its connection:
	// a connection still in the listen queue is only reset.
	conn, err := net.DialTimeout("tcp", p.httpAddr, 5*time.Second)
	test.Nil(t, err, "dial HTTP")
	defer conn.Close()
	_, err = conn.Write([]byte("GET /ping HTTP/1.1\r\nHost: lookupd\r\n"))
	test.Nil(t, err, "write partial request")
	// With one connection allowed, a second is closed at accept exactly
	// when the first one counts.
	test.Eventually(t, 5*time.Second, func() bool {
		probe, err := net.DialTimeout("tcp", p.httpAddr, time.Second)
		if err != nil {
			return false
		}
		defer probe.Close()
		probe.SetReadDeadline(time.Now().Add(time.Second))
		_, err = probe.Read(make([]byte, 1))
		return errors.Is(err, io.EOF)
	}, "the partial request's connection accepted")

	test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "send SIGTERM")
	test.Eventually(t, 5*time.Second, func() bool {
		return p.hasLine(" INFO: HTTP: closing ")
	}, "HTTP closing line")
	test.Nil(t, p.cmd.Process.Signal(syscall.SIGHUP), "send SIGHUP while draining")
	test.Equal(t, 0, p.wait(), "exit status")
	test.Equal(t, 0, len(p.linesWith("nothing to reload")), "reloads while stopping")
}

// TestHTTPSOnly checks that an empty http address, on the command line or
// in the config file, leaves only HTTPS serving the API, and that IDENTIFY
// then reports the HTTPS port.
func TestHTTPSOnly(t *testing.T) {
	certFile, keyFile := writeSelfSignedCert(t)
	tests := []struct {
		name string
		args []string
	}{
		{"flag", []string{"--tcp-address=127.0.0.1:0", "--http-address=", "--https-address=127.0.0.1:0",
			"--tls-cert=" + certFile, "--tls-key=" + keyFile}},
		{"config file", []string{"--config=" + writeConfig(t, fmt.Sprintf(
			"tcp_address = \"127.0.0.1:0\"\nhttp_address = \"\"\nhttps_address = \"127.0.0.1:0\"\ntls_cert = %q\ntls_key = %q\n",
			certFile, keyFile))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProc(t, listeningHTTPS, tc.args...)
			addr := p.httpsAddr
			keepAlive := newKeepAliveClient(t, trustPool(t, certFile))
			keepAlive.ping(t, addr)
			if p.httpAddr != "" || p.hasLine(" HTTP: listening") {
				t.Fatalf("plain HTTP listening on %q with an empty http address", p.httpAddr)
			}
			_, httpsPort, err := net.SplitHostPort(addr)
			test.Nil(t, err, "split "+addr)
			reply := test.DialV1(t, p.tcpAddr).Identify("127.0.0.1", 4150, 4151)
			test.Equal(t, httpsPort, fmt.Sprint(reply["http_port"]), "IDENTIFY http_port")
		})
	}
}
