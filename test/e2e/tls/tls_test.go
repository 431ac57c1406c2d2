// Package tls tests prefect-apply against a real Prefect server behind a
// real TLS listener whose certificate comes from a CA the test makes:
// verification is on by default, a CA file or the explicit insecure
// setting make it work, a wrong CA or host name fails clearly, and the
// credential never travels over a connection that failed verification.
package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	ctls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

const (
	canaryPass = "CANARY-tls-6d2f"
	authString = "admin:" + canaryPass
)

// ca is a certificate authority made for one test.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a server certificate for one IP address, and no host name.
func (c *ca) issue(t *testing.T, ip string) ctls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "prefect test server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(ip)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return ctls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key}
}

// proxy is an HTTPS listener in front of the Prefect server.
type proxy struct {
	url      string       // https://127.0.0.1:PORT
	requests atomic.Int64 // HTTP requests that got through the handshake
}

func startProxy(t *testing.T, target string, cert ctls.Certificate) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = ""
	px := &proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		px.requests.Add(1)
		rp.ServeHTTP(w, r)
	}))
	srv.TLS = &ctls.Config{Certificates: []ctls.Certificate{cert}}
	// The handshake failures this test provokes are expected.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	px.url = srv.URL
	return px
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLS(t *testing.T) {
	p := servers.StartPrefect(t, servers.PrefectOptions{AuthString: authString})
	authority, stranger := newCA(t, "prefect-apply test CA"), newCA(t, "some other CA")
	px := startProxy(t, p.URL, authority.issue(t, "127.0.0.1"))
	api := px.url + "/api"
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(px.url, "https://"))

	h := clitest.New(t, map[string]string{"PREFECT_API_URL": api, "PREFECT_API_AUTH_STRING": authString})
	caFile := writeFile(t, h.Dir, "ca.pem", authority.pem)
	strangerFile := writeFile(t, h.Dir, "other-ca.pem", stranger.pem)
	file := h.Example("pools.yaml")
	const skip = "--skip-kubernetes"

	// run runs prefect-apply with extra settings and checks the exit code.
	run := func(t *testing.T, want int, extra map[string]string, args ...string) (string, string) {
		t.Helper()
		saved := map[string]string{}
		for k, v := range h.Vars {
			saved[k] = v
		}
		for k, v := range extra {
			h.Vars[k] = v
		}
		defer func() { h.Vars = saved }()
		code, out, errOut := h.Run(args...)
		if code != want {
			t.Fatalf("prefect-apply %s with %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), extra, code, want, out, errOut)
		}
		return out, errOut
	}
	// refused checks that a command failed before any HTTP request got
	// through: the credential never went over the connection.
	refused := func(t *testing.T, extra map[string]string, want []string, args ...string) string {
		t.Helper()
		before := px.requests.Load()
		out, errOut := run(t, 1, extra, args...)
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("stderr lacks %q:\n%s", w, errOut)
			}
		}
		if out != "" {
			t.Errorf("stdout should be empty:\n%s", out)
		}
		if n := px.requests.Load() - before; n != 0 {
			t.Errorf("%d requests reached the server through a connection that failed verification", n)
		}
		t.Logf("stderr: %s", errOut)
		return errOut
	}

	t.Run("verification is on by default", func(t *testing.T) {
		for _, cmd := range [][]string{{"diff", "-f", file, skip}, {"sync", "-f", file, skip, "--yes"}, {"status"}} {
			refused(t, nil, []string{
				"Error: ", "https://127.0.0.1:" + port + "/api",
				"certificate signed by unknown authority",
				"PREFECT_API_SSL_CERT_FILE", "PREFECT_API_TLS_INSECURE_SKIP_VERIFY=true",
			}, cmd...)
		}
	})

	t.Run("a CA that did not sign the certificate", func(t *testing.T) {
		refused(t, map[string]string{"PREFECT_API_SSL_CERT_FILE": strangerFile}, []string{
			"certificate signed by unknown authority",
			"the CA bundle " + strangerFile + " (PREFECT_API_SSL_CERT_FILE from the environment) did not sign it: set PREFECT_API_SSL_CERT_FILE to the bundle that did",
		}, "diff", "-f", file, skip)
	})

	t.Run("a file that holds no certificate", func(t *testing.T) {
		notPEM := writeFile(t, h.Dir, "not-a-ca.pem", []byte("hello\n"))
		refused(t, map[string]string{"PREFECT_API_SSL_CERT_FILE": notPEM}, []string{
			"CA bundle " + notPEM, "holds no PEM certificates",
		}, "diff", "-f", file, skip)
	})

	t.Run("a host name the certificate does not hold", func(t *testing.T) {
		refused(t, map[string]string{"PREFECT_API_URL": "https://localhost:" + port + "/api", "PREFECT_API_SSL_CERT_FILE": caFile}, []string{
			"https://localhost:" + port + "/api",
			"x509: certificate is not valid for any names, but wanted to match localhost",
			"the server's certificate is for 127.0.0.1, not localhost: use a host name or address the certificate holds in PREFECT_API_URL (from environment PREFECT_API_URL)",
		}, "diff", "-f", file, skip)
	})

	t.Run("with the CA file it works end to end", func(t *testing.T) {
		ca := map[string]string{"PREFECT_API_SSL_CERT_FILE": caFile}
		before := px.requests.Load()
		run(t, 2, ca, "diff", "-f", file, skip)
		run(t, 0, ca, "sync", "-f", file, skip, "--yes")
		out, errOut := run(t, 0, ca, "diff", "-f", file, skip)
		if strings.Contains(out+errOut, "Warning") {
			t.Errorf("a verified connection warns:\n%s%s", out, errOut)
		}
		run(t, 0, ca, "status", "-f", file)
		if px.requests.Load() == before {
			t.Error("no request went through the TLS listener")
		}
	})

	t.Run("the explicit insecure setting works and warns", func(t *testing.T) {
		insecure := map[string]string{"PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "true"}
		for _, args := range [][]string{{"diff", "-f", file, skip}, {"status"}, {"export"}} {
			out, errOut := run(t, 0, insecure, args...)
			want := "Warning: TLS certificate verification of the Prefect API is off (PREFECT_API_TLS_INSECURE_SKIP_VERIFY from the environment)"
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", args[0], want, errOut)
			}
			if strings.Contains(out, "Warning") {
				t.Errorf("%s: the warning went to stdout:\n%s", args[0], out)
			}
		}
		// A wrong host name is accepted too: nothing is verified.
		run(t, 0, map[string]string{"PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "1", "PREFECT_API_URL": "https://localhost:" + port + "/api"},
			"diff", "-f", file, skip)
	})

	for _, secret := range []string{authString, canaryPass} {
		if strings.Contains(h.Output.String(), secret) {
			t.Errorf("the output shows the credential %q", secret)
		}
	}
}
