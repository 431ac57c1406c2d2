package plan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

var secretKey = state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "auth"}

const (
	canaryValue = "admin:CANARY-saved-91c2"
	liveValue   = "admin:LIVE-VALUE-5e10"
)

// savedWorld is a desired and a live state the tests change one thing at a
// time.
type savedWorld struct {
	desired, live *state.State
}

func newSavedWorld() *savedWorld {
	d, l := state.New(), state.New()
	d.AddPool(&state.Pool{Name: "cpu", Type: "kubernetes", ConcurrencyLimit: intPtr(5)})
	d.AddQueue(&state.Queue{Pool: "cpu", Name: "default", Priority: intPtr(1)})
	d.AddPool(&state.Pool{Name: "gpu", Type: "kubernetes", ConcurrencyLimit: intPtr(1)})
	l.AddPool(&state.Pool{Name: "cpu", Type: "kubernetes", ConcurrencyLimit: intPtr(4), ID: "p1", Updated: "t1", Status: "READY"})
	l.AddQueue(&state.Queue{Pool: "cpu", Name: "default", Priority: intPtr(1), ID: "q1", Updated: "t1"})
	sec := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "auth", "namespace": "prefect"}, "type": "Opaque"}}
	d.Objects[secretKey] = sec
	d.SecretData[secretKey] = map[string][]byte{"auth-string": []byte(canaryValue)}
	live := sec.DeepCopy()
	live.SetResourceVersion("100")
	live.Object["data"] = map[string]any{"auth-string": base64.StdEncoding.EncodeToString([]byte(liveValue))}
	l.Objects[secretKey] = live
	return &savedWorld{desired: d, live: l}
}

var testSalt = bytes.Repeat([]byte{7}, 32)

// seal computes and seals the plan, then reads it back from JSON, as sync
// --plan does with the saved one.
func (w *savedWorld) seal(t *testing.T, salt []byte, roundTrip bool) *Saved {
	t.Helper()
	owned := func(state.Key) bool { return true }
	p, err := Compute(w.desired, w.live, Options{Set: "s", Owned: owned})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Seal(p, SealInput{Source: SavedSource{File: "pools.yaml", SHA256: "abc"}, Salt: salt, Live: w.live, SecretData: w.desired.SecretData})
	if err != nil {
		t.Fatal(err)
	}
	if !roundTrip {
		return s
	}
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Saved
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	return &back
}

func TestCompareSavedPlans(t *testing.T) {
	tests := map[string]struct {
		change func(w *savedWorld)
		want   []string // one per mismatch, in order; each a substring
	}{
		"identical": {change: func(*savedWorld) {}},
		"a worker polled: Prefect updated and status moved, settings did not": {change: func(w *savedWorld) {
			w.live.Pools["cpu"].Updated, w.live.Pools["cpu"].Status = "t2", "NOT_READY"
			w.live.Queues[state.QueueKey("cpu", "default")].Updated = "t2"
		}},
		"pool changed out of band, in a field the plan changes": {change: func(w *savedWorld) {
			w.live.Pools["cpu"].ConcurrencyLimit = intPtr(3)
		}, want: []string{`WorkPool "cpu": changed since the plan was made`}},
		"pool changed out of band, in a field the file does not manage": {change: func(w *savedWorld) {
			d := "by hand"
			w.live.Pools["cpu"].Description = &d
		}, want: []string{`WorkPool "cpu": changed since the plan was made`}},
		"queue deleted and created again": {change: func(w *savedWorld) {
			w.live.Queues[state.QueueKey("cpu", "default")].ID = "q2"
		}, want: []string{`WorkQueue "cpu/default": changed since the plan was made`}},
		"object appeared": {change: func(w *savedWorld) {
			w.live.AddPool(&state.Pool{Name: "gpu", Type: "kubernetes", ConcurrencyLimit: intPtr(1), ID: "p9", Updated: "t3"})
		}, want: []string{`WorkPool "gpu": created since the plan was made; the saved plan creates it, now it leaves it as it is`}},
		"object deleted": {change: func(w *savedWorld) {
			delete(w.live.Pools, "cpu")
			delete(w.live.Queues, state.QueueKey("cpu", "default"))
		}, want: []string{`WorkPool "cpu": deleted since the plan was made; the saved plan updates it, now it creates it`,
			`WorkQueue "cpu/default": deleted since the plan was made; the saved plan leaves it as it is, now it creates it`}},
		"owned object left the server": {change: func(w *savedWorld) {
			w.live.AddQueue(&state.Queue{Pool: "cpu", Name: "old", ID: "q3", Updated: "t1"})
		}, want: []string{`WorkQueue "cpu/old": appeared since the plan was made (now the plan keeps it, no longer in the file)`}},
		"kubernetes object changed": {change: func(w *savedWorld) {
			w.live.Objects[secretKey].SetResourceVersion("101")
		}, want: []string{`Secret "prefect/auth": changed since the plan was made (resourceVersion 100, now 101)`}},
		"secret value changed in the environment": {change: func(w *savedWorld) {
			w.desired.SecretData[secretKey]["auth-string"] = []byte("admin:other")
		}, want: []string{`Secret "prefect/auth": the value of data.auth-string differs from the one the plan was made with`}},
		"desired value changed (interpolation)": {change: func(w *savedWorld) {
			w.desired.Pools["cpu"].ConcurrencyLimit = intPtr(6)
		}, want: []string{`WorkPool "cpu": its changes differ from the saved plan (concurrencyLimit)`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newSavedWorld()
			saved := w.seal(t, testSalt, true)
			tc.change(w)
			salt, err := saved.Salt()
			if err != nil {
				t.Fatal(err)
			}
			got := Compare(saved, w.seal(t, salt, false))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d mismatches, want %d: %v", len(got), len(tc.want), got)
			}
			for i, m := range got {
				if !strings.Contains(m.String(), tc.want[i]) {
					t.Errorf("mismatch %d = %q, want it to contain %q", i, m.String(), tc.want[i])
				}
			}
		})
	}
}

// The saved plan holds neither the secret value nor its base64, and the
// digest of one value differs per plan (salt) and per Secret key.
func TestSavedPlanHoldsNoSecret(t *testing.T) {
	w := newSavedWorld()
	s := w.seal(t, testSalt, false)
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{canaryValue, base64.StdEncoding.EncodeToString([]byte(canaryValue)), liveValue, base64.StdEncoding.EncodeToString([]byte(liveValue))} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("the saved plan contains %q:\n%s", bad, raw)
		}
	}
	var sec *SavedChange
	for i := range s.Changes {
		if s.Changes[i].Key == secretKey {
			sec = &s.Changes[i]
		}
	}
	if sec == nil || sec.Secrets["auth-string"] == "" {
		t.Fatalf("no digest for the Secret: %s", raw)
	}
	other := bytes.Repeat([]byte{8}, 32)
	if d := secretDigest(other, secretKey, "auth-string", []byte(canaryValue)); d == sec.Secrets["auth-string"] {
		t.Error("two salts gave one digest")
	}
	if d := secretDigest(testSalt, secretKey, "other-key", []byte(canaryValue)); d == sec.Secrets["auth-string"] {
		t.Error("two data keys gave one digest")
	}
}

func TestSavedSaltParameters(t *testing.T) {
	s := newSavedWorld().seal(t, testSalt, true)
	if salt, err := s.Salt(); err != nil || !bytes.Equal(salt, testSalt) {
		t.Fatalf("Salt() = %x, %v", salt, err)
	}
	s.Digest.Iterations = 1
	if _, err := s.Salt(); err == nil {
		t.Error("a plan with 1 iteration was accepted")
	}
	if _, err := Seal(&Plan{}, SealInput{Salt: []byte("short")}); err == nil {
		t.Error("a short salt was accepted")
	}
}
