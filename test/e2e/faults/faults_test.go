// Package faults runs prefect-apply sync against a real Prefect server and
// a real kube-apiserver through fault proxies (test/faultproxy), one fault
// kind at a time over seeded runs, and checks the promise: every run exits
// 0, or 1 with a consistent report of what was applied, failed and skipped;
// once the faults stop, one sync converges and diff exits 0; the servers,
// read directly, hold every declared object once, with the file's values;
// and no secret shows in any output or saved plan.
//
// The short version runs by default (12 pools, one seed per fault kind);
// PREFECT_APPLY_SOAK=1 runs 24 pools and PREFECT_APPLY_SOAK_SEEDS (default
// 8) seeds per fault kind, and prints a table of figures (go test -v
// shows it). FAULTS_VERBOSE=1 logs every injected fault of every scenario.
package faults

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
	"github.com/prefect-apply/prefect-apply/test/faultproxy"
)

// world is the pair of real servers, shared by every scenario, and what
// reads them directly.
type world struct {
	prefect *servers.Prefect
	kube    *servers.Kube
	// kubeTransport reaches the API server with the kubeconfig's CA and
	// client certificate: the kube proxy forwards with it.
	kubeTransport http.RoundTripper
	kubeConfig    *rest.Config
	dyn           dynamic.Interface
	// auth is the canary basic-auth string the Prefect server requires.
	auth string
	// secret is the canary prefix of the Secrets' values.
	secret string
	// deleting is held for writing while objects are deleted behind
	// prefect-apply's back (a soak removing a finished set's pools, the
	// verifier's own check), and for reading by every scenario:
	// prefect-apply pages through pools and queues by offset, and a
	// deletion between two of its pages hides an object from its read, so
	// that diff then plans to create it.
	deleting sync.RWMutex
}

func canary(prefix string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the fault matrix against the real servers in -short mode")
	}
	w := &world{auth: canary("faults:CANARY-auth-"), secret: canary("CANARY-secret-")}
	// The two servers start side by side; a testing.TB that may end its
	// own goroutine starts the API server.
	kt := &servers.MainTB{Prefix: "faults: "}
	t.Cleanup(kt.RunCleanups)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.kube = servers.StartKube(kt)
	}()
	w.prefect = servers.StartPrefect(t, servers.PrefectOptions{AuthString: w.auth})
	wg.Wait()
	if kt.Failed() || w.kube == nil {
		t.Fatalf("starting kube-apiserver:\n%s", kt.Messages())
	}
	w.kubeConfig = w.kube.Config(t)
	var err error
	if w.kubeTransport, err = rest.TransportFor(w.kubeConfig); err != nil {
		t.Fatal(err)
	}
	w.dyn = w.kube.Dynamic(t)
	return w
}

// secretValue is the Secrets' value in a revision of the file.
func (w *world) secretValue(revision int) string {
	return fmt.Sprintf("%s-r%d", w.secret, revision)
}

// canaries are every form a secret could leak in: the auth string, its
// password, the Basic header's base64, and each Secret value and its
// base64 (as a Secret's data holds it).
func (w *world) canaries() []string {
	_, pass, _ := strings.Cut(w.auth, ":")
	out := []string{w.auth, pass, base64.StdEncoding.EncodeToString([]byte(w.auth)), w.secret}
	for _, rev := range []int{1, 2} {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(w.secretValue(rev))))
	}
	return out
}

// proxies puts a fault proxy in front of each server for one scenario and
// writes a kubeconfig that reaches the API server through its proxy.
type proxies struct {
	prefect, kube *faultproxy.Proxy
	kubeconfig    string
}

// proxySeed mixes the fault kind into a seed, so that each kind's seed 1
// draws its own sequence.
func proxySeed(kind faultproxy.Kind, seed uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	return h.Sum64() ^ seed
}

// kubeWrite tells the API server's writes (server-side apply, delete) from
// its reads (lists, gets, dry runs).
func kubeWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodPatch:
		return r.URL.Query().Get("dryRun") == ""
	}
	return true
}

// kubeWritesOnly says whether a scenario's Kubernetes faults hit only
// writes. Reads are retried, but one that still fails ends the run before
// it applies anything: odd seeds spare the reads so that more runs reach
// the writes of both servers; even seeds fault every request. Drops always
// fault every request: their point is the requests in flight beside the
// one that draws the fault, and those are mostly reads, which run side by
// side.
func kubeWritesOnly(kind faultproxy.Kind, seed uint64) bool {
	return kind != faultproxy.Drop && seed%2 == 1
}

// kubeHTTP2 says whether the proxy in front of the API server offers
// HTTP/2, as the API server does and client-go then speaks, or HTTP/1.1
// only: the same fault is a reset stream in one, a closed connection in the
// other. Kinds alternate, and seeds (in pairs, across kubeWritesOnly) too,
// so that the short run has resets and cut answers over HTTP/2. A dropped
// connection is a reset over HTTP/1.1, so drops always come over HTTP/2,
// where they take every request in flight with them.
func kubeHTTP2(kind faultproxy.Kind, seed uint64) bool {
	if kind == faultproxy.Drop {
		return true
	}
	return (slices.Index(faultproxy.Kinds, kind)+int(seed/2))%2 == 0
}

func (w *world) startProxies(t *testing.T, dir string, kind faultproxy.Kind, seed uint64, rate float64) *proxies {
	t.Helper()
	common := faultproxy.Options{Rate: rate, Faults: []faultproxy.Kind{kind}, Latency: 300 * time.Millisecond, RetryAfter: 1}
	po := common
	po.Upstream, po.Seed = w.prefect.URL, proxySeed(kind, seed)
	pp, err := faultproxy.Start(po)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pp.Close)
	ko := common
	ko.Upstream, ko.Seed, ko.TLS, ko.Transport = w.kubeConfig.Host, proxySeed(kind, seed)^0xabcdef, true, w.kubeTransport
	ko.HTTP2 = kubeHTTP2(kind, seed)
	if kubeWritesOnly(kind, seed) {
		ko.Eligible = kubeWrite
	}
	kp, err := faultproxy.Start(ko)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kp.Close)

	raw, err := clientcmd.LoadFromFile(w.kube.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Clusters {
		c.Server = kp.URL()
		c.CertificateAuthority = ""
		c.CertificateAuthorityData = kp.CAPEM()
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, path); err != nil {
		t.Fatal(err)
	}
	return &proxies{prefect: pp, kube: kp, kubeconfig: path}
}

func (p *proxies) setRate(r float64) { p.prefect.SetRate(r); p.kube.SetRate(r) }

func (p *proxies) counts() map[faultproxy.Kind]int {
	out := p.prefect.Counts()
	for k, n := range p.kube.Counts() {
		out[k] += n
	}
	return out
}

// prefectTimeout is PREFECT_API_REQUEST_TIMEOUT under hangs, in seconds.
// Lower, the server's own queueing of concurrent creates (one process on
// SQLite, on a busy machine) times requests out.
const prefectTimeout = "5"

// kubeTimeout is --kube-request-timeout under hangs: a hang in front of
// the API server lasts until prefect-apply gives up.
const kubeTimeout = 4 * time.Second

// settings of a run.
type settings struct {
	// pools is the number of work pools in the file.
	pools int
	seeds []uint64
	// syncsPerRevision is how many syncs under faults each revision gets.
	syncsPerRevision int
}

func soak() bool { return os.Getenv("PREFECT_APPLY_SOAK") == "1" }

func testSettings() settings {
	// The short version keeps to about two minutes: the Prefect server
	// (one process on SQLite) takes 0.1 to 0.3 s per write, and a pool
	// costs five writes or so per revision.
	s := settings{pools: 12, seeds: []uint64{1}, syncsPerRevision: 1}
	if soak() {
		s.pools = 24
		n := 8
		if v, err := strconv.Atoi(os.Getenv("PREFECT_APPLY_SOAK_SEEDS")); err == nil && v > 0 {
			n = v
		}
		s.seeds = nil
		for i := 1; i <= n; i++ {
			s.seeds = append(s.seeds, uint64(i))
		}
		s.syncsPerRevision = 2
	}
	return s
}

// setName is the ownership set of a scenario; its pools, namespace and
// cluster-wide objects are named after it.
func setName(kind faultproxy.Kind, seed uint64) string { return fmt.Sprintf("f-%s-%d", kind, seed) }

// rateFor spreads the fault rate over seeds: some runs see few faults and
// succeed, some many.
func rateFor(seed uint64) float64 { return []float64{0.1, 0.05, 0.02}[seed%3] }

// TestSyncUnderFaults is the fault matrix: every fault kind, seeded runs.
func TestSyncUnderFaults(t *testing.T) {
	w := newWorld(t)
	set := testSettings()
	var all []*figures
	// Two fault kinds at a time: one kind's waits (timeouts, Retry-After,
	// latency) leave the servers time for the other's requests.
	slots := make(chan struct{}, 2)
	t.Run("kinds", func(t *testing.T) {
		for _, kind := range faultproxy.Kinds {
			fig := &figures{kind: kind}
			all = append(all, fig)
			t.Run(string(kind), func(t *testing.T) {
				t.Parallel()
				slots <- struct{}{}
				defer func() { <-slots }()
				for _, seed := range set.seeds {
					t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
						func() {
							w.deleting.RLock()
							defer w.deleting.RUnlock()
							runScenario(t, w, fig, kind, seed, set)
						}()
						if t.Failed() || !soak() && !(kind == faultproxy.Kinds[0] && seed == set.seeds[0]) {
							return
						}
						w.deleting.Lock()
						defer w.deleting.Unlock()
						if kind == faultproxy.Kinds[0] && seed == set.seeds[0] {
							checkVerifierCatches(t, w, setName(kind, seed), poolsFile(setName(kind, seed), set.pools, 2), w.secretValue(2))
						}
						if soak() {
							// Later reads need not page through every
							// earlier seed's pools.
							w.removePools(t, setName(kind, seed))
						}
					})
				}
			})
		}
	})
	if soak() {
		fmt.Printf("Fault soak: %d pools per file, seeds %d..%d per fault kind\n%s", set.pools, set.seeds[0], set.seeds[len(set.seeds)-1], table(all))
	} else {
		t.Log("\n" + table(all))
	}
}
