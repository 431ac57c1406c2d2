package render

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

const canary = "CANARY-s3cr3t-7f2a"

// computedPlan is a plan as the planner makes it, for a live state that
// holds a Secret with the canary and a desired state that changes it, so
// that the renderings are checked on real masking, not on a hand-made plan.
func computedPlan(t *testing.T) *plan.Plan {
	t.Helper()
	desired, live := state.New(), state.New()
	labels := map[string]any{state.ManagedByLabel: state.ManagedByValue, state.SetLabel: "gbif"}
	mk := func(apiVersion, kind, ns, name string, extra map[string]any) *unstructured.Unstructured {
		md := map[string]any{"name": name, "labels": labels}
		if ns != "" {
			md["namespace"] = ns
		}
		o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
		for k, v := range extra {
			o[k] = v
		}
		return (&unstructured.Unstructured{Object: o}).DeepCopy()
	}
	ns := mk("v1", "Namespace", "", "prefect", nil)
	newSecret := mk("v1", "Secret", "prefect", "prefect-basic-auth", map[string]any{"type": "Opaque"})
	rotated := mk("v1", "Secret", "prefect", "rotated", map[string]any{"type": "Opaque",
		"data": map[string]any{"token": base64.StdEncoding.EncodeToString([]byte(canary + "-new"))}, "stringData": map[string]any{"plain": canary}})
	liveRotated := mk("v1", "Secret", "prefect", "rotated", map[string]any{"type": "Opaque",
		"data": map[string]any{"token": base64.StdEncoding.EncodeToString([]byte(canary + "-old")), "gone": base64.StdEncoding.EncodeToString([]byte(canary))}})
	liveRotated.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"token":"` + canary + `"}}`})
	leftover := mk("v1", "Secret", "prefect", "leftover", map[string]any{"data": map[string]any{"k": canary}})
	for _, o := range []*unstructured.Unstructured{ns, newSecret, rotated} {
		desired.Objects[state.ObjectKey(o)] = o
	}
	for _, o := range []*unstructured.Unstructured{rotated, leftover} {
		live.Objects[state.ObjectKey(o)] = o
	}
	live.Objects[state.ObjectKey(liveRotated)] = liveRotated
	desired.SecretData[state.ObjectKey(newSecret)] = map[string][]byte{"auth-string": []byte(canary)}
	desc := "GPU ünïcode <pool> | pipe"
	desired.AddPool(&state.Pool{Name: "gpu", Type: "kubernetes", Description: &desc,
		BaseJobTemplate: map[string]any{"job_configuration": map[string]any{"env": map[string]any{"TOKEN": "{{ token }}"}}, "variables": map[string]any{}}})
	desired.AddQueue(&state.Queue{Pool: "gpu", Name: "default", Priority: intp(2)})
	desired.AddQueue(&state.Queue{Pool: "gpu", Name: "urgent", Priority: intp(1)})
	p, err := plan.Compute(desired, live, plan.Options{Set: "gbif", Prune: true, Predicted: map[state.Key]*unstructured.Unstructured{state.ObjectKey(rotated): rotated},
		Owned: func(k state.Key) bool { o, ok := live.Objects[k]; return ok && state.OwnedBy(o, "gbif") }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func intp(i int) *int { return &i }

// No rendering of a plan, in any format, holds a secret value, plain or
// base64-encoded.
func TestRenderingsHoldNoSecret(t *testing.T) {
	p := computedPlan(t)
	if p.Summary().Delete != 1 || p.Summary().Update != 1 {
		t.Fatalf("unexpected plan: %+v", p.Summary())
	}
	outputs := map[string]func(*bytes.Buffer) error{
		"text":       func(b *bytes.Buffer) error { return Text(b, p, Style{}) },
		"text-color": func(b *bytes.Buffer) error { return Text(b, p, Style{Color: true}) },
		"json":       func(b *bytes.Buffer) error { return JSON(b, p) },
		"markdown":   func(b *bytes.Buffer) error { return Markdown(b, p) },
	}
	forbidden := []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)),
		base64.StdEncoding.EncodeToString([]byte(canary + "-new")), base64.StdEncoding.EncodeToString([]byte(canary + "-old"))}
	for name, write := range outputs {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		for _, f := range forbidden {
			if strings.Contains(b.String(), f) {
				t.Errorf("%s output holds %q:\n%s", name, f, b.String())
			}
		}
		if !strings.Contains(b.String(), plan.Masked) {
			t.Errorf("%s output does not show the masked values:\n%s", name, b.String())
		}
	}
}

// The JSON document has the documented top-level fields, the same bytes for
// the same plan, and field values as JSON (numbers stay numbers).
func TestJSONDocumentShape(t *testing.T) {
	p := computedPlan(t)
	var a, b bytes.Buffer
	if err := JSON(&a, p); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&b, computedPlan(t)); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("two renderings of the same plan differ")
	}
	var doc map[string]any
	if err := json.Unmarshal(a.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "set", "forceConflicts", "summary", "warnings", "changes"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("document lacks %q", k)
		}
	}
	if len(doc) != 6 {
		t.Errorf("document has fields %v", slices.Sorted(maps.Keys(doc)))
	}
	summary := doc["summary"].(map[string]any)
	for _, k := range []string{"create", "update", "replace", "delete", "orphan", "noop", "unmanaged", "adopt", "conflicts", "problems", "blocked", "changes"} {
		if _, ok := summary[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	changes := doc["changes"].([]any)
	for _, c := range changes {
		m := c.(map[string]any)
		for _, internal := range []string{"Pool", "Queue", "Object", "Updates", "pool", "queue", "object", "updates"} {
			if _, ok := m[internal]; ok {
				t.Errorf("change %v exposes %q", m["key"], internal)
			}
		}
		key := m["key"].(map[string]any)
		if key["system"] == nil || key["kind"] == nil || key["name"] == nil {
			t.Errorf("key %v", key)
		}
	}
	// An empty plan still has a list of changes, not null.
	var empty bytes.Buffer
	_ = JSON(&empty, &plan.Plan{Version: plan.FormatVersion, Set: "s"})
	if !strings.Contains(empty.String(), `"changes": []`) || !strings.Contains(empty.String(), `"changes": false`) {
		t.Errorf("empty plan: %s", empty.String())
	}
}

// Golden renderings of the computed plan, in every format.
func TestGoldenComputedPlan(t *testing.T) {
	p := computedPlan(t)
	for name, write := range map[string]func(*bytes.Buffer) error{
		"computed.txt":       func(b *bytes.Buffer) error { return Text(b, p, Style{}) },
		"computed-color.txt": func(b *bytes.Buffer) error { return Text(b, p, Style{Color: true}) },
		"computed.json":      func(b *bytes.Buffer) error { return JSON(b, p) },
		"computed.md":        func(b *bytes.Buffer) error { return Markdown(b, p) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, b.String(), want)
			}
		})
	}
}

// However many changes, and whatever they are (with field blocks or only
// table rows), the comment stays under GitHub's limit, is valid UTF-8, and
// ends with the notice saying what was left out.
func TestMarkdownLimitForEveryShape(t *testing.T) {
	long := strings.Repeat("ü", 30)
	tests := map[string]func(i int) plan.Change{
		"updates with fields": func(i int) plan.Change {
			return plan.Change{Key: state.PoolKey(fmt.Sprintf("pool-%04d", i)), Action: plan.Update,
				Fields: []plan.FieldChange{{Path: "description", Old: "o", New: "n", HasOld: true, HasNew: true}}}
		},
		"deletions, no fields": func(i int) plan.Change {
			return plan.Change{Key: state.QueueKey(fmt.Sprintf("pool-%04d-%s", i, long), "queue-with-a-long-name"), Action: plan.Delete}
		},
		"orphans with reasons": func(i int) plan.Change {
			return plan.Change{Key: state.PoolKey(fmt.Sprintf("pool-%04d", i)), Action: plan.Orphan, Reason: "no longer in the file; deleted only with --prune"}
		},
		"one huge block": func(i int) plan.Change {
			return plan.Change{Key: state.PoolKey(fmt.Sprintf("p%d", i)), Action: plan.Update,
				Fields: []plan.FieldChange{{Path: "description", Old: strings.Repeat("é", 40000), New: "x", HasOld: true, HasNew: true}}}
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			p := &plan.Plan{Version: plan.FormatVersion, Set: "big"}
			n := 4000
			if name == "one huge block" {
				n = 3
			}
			for i := 0; i < n; i++ {
				p.Changes = append(p.Changes, change(i))
			}
			var b bytes.Buffer
			if err := Markdown(&b, p); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if utf8.RuneCountInString(out) > MarkdownLimit || len(out) > MarkdownLimit {
				t.Errorf("%d bytes, %d characters; limit %d", len(out), utf8.RuneCountInString(out), MarkdownLimit)
			}
			if !utf8.ValidString(out) {
				t.Error("output is not valid UTF-8")
			}
			last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
			if !strings.HasPrefix(last, "> **Note:**") || !strings.Contains(last, "left out") || !strings.Contains(last, "prefect-apply diff") {
				t.Errorf("does not end with the truncation notice: %q", last)
			}
			if !strings.HasPrefix(out, "### prefect-apply plan for set `big`") {
				t.Errorf("starts with %q", out[:60])
			}
		})
	}
	// A plan that fits has no notice.
	var b bytes.Buffer
	_ = Markdown(&b, &plan.Plan{Set: "s", Changes: []plan.Change{{Key: state.PoolKey("a"), Action: plan.Delete}}})
	if strings.Contains(b.String(), "left out") {
		t.Errorf("a small plan has a notice:\n%s", b.String())
	}
}

func TestResultLinesAndSummary(t *testing.T) {
	applied := apply.Result{Key: state.QueueKey("gpu", "default"), Action: plan.Create, Implicit: true, Status: apply.Applied, Duration: 12340 * time.Microsecond}
	updated := apply.Result{Key: state.PoolKey("gpu"), Action: plan.Update, Status: apply.Applied, Duration: time.Second}
	failed := apply.Result{Key: state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "auth"}, Action: plan.Create, Status: apply.Failed, Error: "forbidden"}
	skipped := apply.Result{Key: state.PoolKey("cpu"), Action: plan.Replace, Status: apply.Skipped, Error: apply.ErrInterrupted.Error()}
	for _, tc := range []struct {
		r     apply.Result
		plain string
		color string
	}{
		{applied, `work queue "default" in pool "gpu": created with its pool (12ms)`, green},
		{updated, `work pool "gpu": updated (1s)`, green},
		{failed, `Secret "prefect/auth": create failed: forbidden`, red},
		{skipped, `work pool "cpu": replace skipped: not started: interrupted`, yellow},
	} {
		if got := ResultLine(tc.r, Style{}); got != tc.plain {
			t.Errorf("ResultLine = %q, want %q", got, tc.plain)
		}
		colored := ResultLine(tc.r, Style{Color: true})
		if !strings.HasPrefix(colored, tc.color) || !strings.Contains(colored, reset) {
			t.Errorf("coloured ResultLine = %q, want it in %q", colored, tc.color)
		}
		if strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(colored, tc.color, ""), reset, ""), dim, "") != tc.plain {
			t.Errorf("coloured ResultLine %q says something else than %q", colored, tc.plain)
		}
	}
	if got := ResultSummary([]apply.Result{applied, updated}); got != "Sync: 2 applied, 0 failed, 0 skipped." {
		t.Errorf("all applied: %q", got)
	}
	got := ResultSummary([]apply.Result{applied, failed, skipped, updated})
	want := "Sync: 2 applied, 1 failed, 1 skipped.\n" +
		"Failed:  Secret \"prefect/auth\"\n" +
		"Skipped: work pool \"cpu\"\n" +
		"Not everything was applied. Fix the cause and run sync again: applied changes are not repeated."
	if got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
	if got := ResultSummary(nil); got != "Sync: 0 applied, 0 failed, 0 skipped." {
		t.Errorf("nothing: %q", got)
	}
}

func TestValue(t *testing.T) {
	big := map[string]any{}
	for i := 0; i < 30; i++ {
		big[fmt.Sprintf("key-%02d", i)] = strings.Repeat("v", 10)
	}
	list := make([]any, 50)
	for i := range list {
		list[i] = "item-item"
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{plan.Masked, plan.Masked},
		{"a < b & c > d", `"a < b & c > d"`},
		{4, "4"},
		{4.0, "4"},
		{nil, "null"},
		{[]any{"x", 1.5}, `["x",1.5]`},
		{big, "{...30 keys: key-00, key-01, key-02, key-03, key-04, key-05, key-06, key-07, key-08, key-09, key-10, key-11, key-12, key-13, key-14, key-15, key-16, key-17, key-18, key-19, key-20, key-21, key-22, key-23, key-24, key-25, key-26, key-27, key-28, key-29}"},
		{list, "[...50 items]"},
	} {
		if got := Value(tc.v); got != tc.want {
			t.Errorf("Value(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// randomJSON makes a value as JSON or YAML decoding does, whose encoding
// is often near valueLimit.
func randomJSON(r *rand.Rand, depth int) any {
	switch k := r.IntN(10); {
	case k == 0:
		return nil
	case k == 1:
		return r.IntN(2) == 0
	case k == 2:
		return r.NormFloat64() * 1e6
	case k == 3:
		return r.Int64N(1 << 40)
	case k < 6 || depth > 3:
		// Mostly plain letters, where the bound is tight; now and then
		// what JSON escapes, and bytes of é alone, invalid UTF-8.
		const chars = "<>&\"\\\n\x01é"
		b := make([]byte, r.IntN(60))
		for i := range b {
			b[i] = 'a' + byte(r.IntN(26))
			if r.IntN(8) == 0 {
				b[i] = chars[r.IntN(len(chars))]
			}
		}
		return string(b)
	case k < 8:
		out := make([]any, r.IntN(8))
		for i := range out {
			out[i] = randomJSON(r, depth+1)
		}
		return out
	default:
		out := map[string]any{}
		for range r.IntN(8) {
			out[fmt.Sprintf("k%d", r.IntN(100))] = randomJSON(r, depth+1)
		}
		return out
	}
}

// Value says what encoding first says (encodedValue), for every value
// JSON decoding makes, short or long, with strings whose escapes lengthen
// them and invalid UTF-8.
func TestValueSameAsEncodingFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	long, short, near := 0, 0, 0
	for range 50000 {
		v := randomJSON(r, 0)
		got, want := Value(v), encodedValue(v)
		if got != want {
			t.Fatalf("Value(%#v) = %s, want %s", v, got, want)
		}
		if strings.HasPrefix(got, "{...") || strings.HasPrefix(got, "[...") {
			long++
		} else {
			short++
		}
		if b, err := json.Marshal(v); err == nil && len(b) > valueLimit-20 && len(b) <= valueLimit+20 {
			near++
		}
	}
	t.Logf("%d summarised, %d shown whole, %d within 20 bytes of the limit", long, short, near)
	if long < 1000 || short < 1000 || near < 300 {
		t.Errorf("%d summarised, %d shown whole, %d near the limit: the values do not try both sides of it", long, short, near)
	}
}

// At the limit, byte by byte: objects and lists of strings, booleans and
// nulls, whose bound is their exact length, are shown whole up to
// valueLimit bytes of JSON and summarised past it.
func TestValueAtTheLimit(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	for n := valueLimit - 30; n <= valueLimit+5; n++ {
		for _, v := range []any{
			map[string]any{"k": a(n)},
			map[string]any{"k": a(n / 2), "key": a(n - n/2)},
			map[string]any{"k": []any{a(n)}},
			map[string]any{"t": true, "f": false, "n": nil, "k": a(n)},
			[]any{a(n)},
			[]any{a(n / 2), a(n - n/2)},
			[]any{true, false, nil, a(n)},
			[]any{nil, a(n)},
			[]any{false, a(n)},
			[]any{map[string]any{}, []any{}, a(n)},
		} {
			if got, want := Value(v), encodedValue(v); got != want {
				t.Errorf("Value(%v) = %s, want %s", v, got, want)
			}
		}
	}
}

// A long object holding NaN, which JSON cannot encode, is summarised,
// whichever key the map yields first; a short one is shown as Go prints
// it, as before.
func TestValueNaN(t *testing.T) {
	long := map[string]any{"nan": math.NaN()}
	for i := range 30 {
		long[fmt.Sprintf("key-%02d", i)] = strings.Repeat("v", 10)
	}
	if got := Value(long); !strings.HasPrefix(got, "{...31 keys: key-00") {
		t.Errorf("long: %s", got)
	}
	if got := Value(map[string]any{"nan": math.NaN()}); got != "map[nan:NaN]" {
		t.Errorf("short: %s", got)
	}
}
