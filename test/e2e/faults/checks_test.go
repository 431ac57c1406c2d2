package faults

import (
	"encoding/base64"
	"strings"
	"testing"
)

// The checks the end-to-end runs rely on must be able to fail: these feed
// them outputs that break each rule.

const goodPartial = `+ work pool "a" will be created
+ work pool "b" will be created
+ work queue "etl" in pool "a" will be created

Plan: 3 to create, 0 to update, 0 to replace, 0 to delete.

work pool "b": created (12ms)
work pool "a": create failed: creating work pool "a": 500 Internal Server Error: non-JSON response: <html>
    hint: something
work queue "etl" in pool "a": create skipped: not applied: it depends on work pool "a", which was not applied

Sync: 1 applied, 1 failed, 1 skipped.
Failed:  work pool "a"
Skipped: work queue "etl" in pool "a"
Not everything was applied. Fix the cause and run sync again: applied changes are not repeated.
`

func TestCheckSync(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		out     string
		errOut  string
		outcome outcome
	}{
		{"partial report", 1, goodPartial, "", failedWithReport},
		{"everything applied", 0, "+ work pool \"a\" will be created\n\nPlan: 1 to create, 0 to update, 0 to replace, 0 to delete.\n\nwork pool \"a\": created (3ms)\n\nSync: 1 applied, 0 failed, 0 skipped.\n", "", succeeded},
		{"nothing to do", 0, "No changes: the live state matches the file.\n", "", succeeded},
		{"error before applying", 1, "", "Error: listing work pools: 502 Bad Gateway\n", failedBeforeApplying},
		{"another exit code", 2, goodPartial, "", bad},
		{"a panic", 1, goodPartial, "panic: runtime error: index out of range\ngoroutine 1 [running]:\n", bad},
		{"exit 1 saying nothing", 1, "", "", bad},
		{"counts that do not match the lines", 1, strings.Replace(goodPartial, "1 applied, 1 failed", "2 applied, 1 failed", 1), "", bad},
		{"a report that leaves a change out", 1, strings.Replace(goodPartial, "3 to create", "4 to create", 1), "", bad},
		{"a failed list naming another object", 1, strings.Replace(goodPartial, "Failed:  work pool \"a\"", "Failed:  work pool \"c\"", 1), "", bad},
		{"exit 0 with a failure", 0, goodPartial, "", bad},
		{"exit 1 with everything applied", 1, "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.\n\nwork pool \"a\": created (3ms)\n\nSync: 1 applied, 0 failed, 0 skipped.\n", "", bad},
		{"result lines without a summary", 1, "work pool \"a\": created (3ms)\n", "Error: x\n", bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkSync(tc.code, tc.out, tc.errOut)
			if got.outcome != tc.outcome {
				t.Errorf("outcome %d (%s), want %d", got.outcome, got.summary, tc.outcome)
			}
		})
	}
}

func TestCheckDiff(t *testing.T) {
	for _, tc := range []struct {
		format    string
		code      int
		out, err  string
		wantClean bool
	}{
		{"json", 2, `{"version": 1}`, "", true},
		{"json", 2, `{"version": `, "", false},
		{"markdown", 0, "### Plan\n", "", true},
		{"--out", 2, "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.\n", "", true},
		{"json", 1, "", "Error: reading work pools: 500\n", true},
		{"json", 1, "", "", false},
		{"json", 3, `{}`, "", false},
		{"json", 2, `{}`, "goroutine 7 [running]:", false},
	} {
		if msg := checkDiff(tc.format, tc.code, tc.out, tc.err); (msg == "") != tc.wantClean {
			t.Errorf("checkDiff(%s, %d, %q, %q) = %q", tc.format, tc.code, tc.out, tc.err, msg)
		}
	}
}

func TestCanaryHitsFindsEveryForm(t *testing.T) {
	w := &world{auth: "faults:CANARY-auth-abc", secret: "CANARY-secret-def"}
	for _, leak := range []string{
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(w.auth)),
		"password CANARY-auth-abc in an error",
		`"data": {"auth-string": "` + base64.StdEncoding.EncodeToString([]byte(w.secretValue(2))) + `"}`,
		"value " + w.secretValue(1),
	} {
		if len(canaryHits("some output\n"+leak+"\nmore", w.canaries())) == 0 {
			t.Errorf("no hit in %q", leak)
		}
	}
	if hits := canaryHits("data.auth-string: (sensitive value)", w.canaries()); len(hits) > 0 {
		t.Errorf("hits in clean output: %v", hits)
	}
}
