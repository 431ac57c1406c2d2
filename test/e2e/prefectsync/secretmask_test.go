package prefectsync

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// A secret the file would put in a plain field never shows. A ${VAR} of a
// secret (the Prefect credential, a variable a Secret reads with fromEnv)
// and a plain PREFECT_API_AUTH_STRING are refused by validate, diff, sync
// and render, with the field's position, before anything is read or
// written. A secret pasted into the file as text, which validate cannot
// recognise, is masked in every output: the text, JSON and Markdown plans,
// the saved plan, validation errors, and render (which then fails); the
// saved plan still applies. Sync sends the file as written: the server
// holds the text.
func TestSecretsInPlainFields(t *testing.T) {
	const (
		auth      = "admin:CANARY-mask-auth-4242"
		token     = "CANARY-mask-token-5150"
		fileValue = "CANARY-mask-file-7777"
	)
	e := newEnv(t, server(t), "secretmask")
	// The shared server has no authentication; it ignores the header.
	e.Vars["PREFECT_API_AUTH_STRING"] = auth
	e.Vars["MASK_TOKEN"] = token
	e.Write("ca.txt", fileValue+"\n")
	a := e.api()

	secretKeys := "          fromEnv: PREFECT_API_AUTH_STRING\n"
	moreKeys := secretKeys + "        token:\n          fromEnv: MASK_TOKEN\n        ca.crt:\n          fromFile: ca.txt\n"
	authEntry := "        - name: PREFECT_API_AUTH_STRING\n          valueFrom:\n            secretKeyRef:\n              name: prefect-basic-auth\n              key: auth-string\n      volumes:"
	description := "description: GBIF Norway automations in the custom container"

	// Refused: the runbook's plain auth string, ${...} of the credential
	// and of a variable a Secret reads, anywhere in the file.
	refused := []struct {
		name  string
		edits []string
		want  []string // stderr lines, FILE:LINE:COL: PATH: MESSAGE
	}{
		{
			name:  "auth string interpolated into an env value",
			edits: []string{authEntry, "        - name: PREFECT_API_AUTH_STRING\n          value: ${PREFECT_API_AUTH_STRING}\n      volumes:"},
			want: []string{":80:18: pools[0].jobTemplate.env[1].value: ${PREFECT_API_AUTH_STRING} is a secret (the Prefect credential; kubernetes.secrets[0].keys.auth-string reads it with fromEnv)",
				"hint: replace value with valueFrom: {secretKeyRef: {name: prefect-basic-auth, key: auth-string}}"},
		},
		{
			name:  "plain auth string in an env value",
			edits: []string{authEntry, "        - name: PREFECT_API_AUTH_STRING\n          value: \"" + auth + "\"\n      volumes:"},
			want: []string{":80:18: pools[0].jobTemplate.env[1].value: PREFECT_API_AUTH_STRING is a credential: a plain value would be stored in the pool's base job template",
				"hint: replace value with valueFrom: {secretKeyRef: {name: prefect-basic-auth, key: auth-string}}"},
		},
		{
			name:  "auth string in a description",
			edits: []string{description, "description: GBIF Norway automations ${PREFECT_API_AUTH_STRING}"},
			want:  []string{":68:42: pools[0].description: ${PREFECT_API_AUTH_STRING} is a secret"},
		},
		{
			name:  "a fromEnv variable in a description",
			edits: []string{secretKeys, moreKeys, description, "description: GBIF Norway automations ${MASK_TOKEN:-none}"},
			want: []string{":72:42: pools[0].description: ${MASK_TOKEN} is a secret (kubernetes.secrets[0].keys.token reads it with fromEnv)",
				"valueFrom: {secretKeyRef: {name: prefect-basic-auth, key: token}}"},
		},
	}
	for i, c := range refused {
		f := e.example("refused"+string(rune('a'+i))+".yaml", c.edits...)
		for _, args := range [][]string{{"validate", "-f", f}, e.planArgs("diff", f), e.planArgs("sync", f, "--yes"), {"render", "-f", f, e.pool("gbif-automations")}} {
			code, stdout, stderr := e.Run(args...)
			ok := code == 1 && stdout == ""
			for _, w := range c.want {
				ok = ok && strings.Contains(stderr, w)
			}
			if !ok || !strings.HasPrefix(stderr, f+":") {
				t.Errorf("%s: %s: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", c.name, args[0], code, c.want, stdout, stderr)
			}
		}
	}
	if names := a.poolNames(); names[e.pool("gbif-automations")] {
		t.Fatalf("a refused file created pools: %v", names)
	}

	// Pasted as text: masked everywhere it would show.
	f := e.example("pasted.yaml", secretKeys, moreKeys,
		description, "description: GBIF Norway automations "+token,
		"        - name: PREFECT_API_URL\n          value: https://prefect.svc.gbif.no/api\n        - name: PREFECT_API_AUTH_STRING\n          valueFrom:",
		"        - name: PREFECT_API_URL\n          value: https://prefect.svc.gbif.no/api\n        - name: REGISTRY_LOGIN\n          value: \""+auth+"\"\n        - name: CA_CERT\n          value: \""+fileValue+"\"\n        - name: PREFECT_API_AUTH_STRING\n          valueFrom:")
	masked := func(what, out string) {
		t.Helper()
		if !strings.Contains(out, "(sensitive value)") {
			t.Errorf("%s: nothing masked:\n%s", what, out)
		}
	}
	text := e.diff(2, f)
	masked("text plan", text)
	if want := `+ description: "GBIF Norway automations (sensitive value)"`; !strings.Contains(text, want) {
		t.Errorf("text plan: no %q:\n%s", want, text)
	}
	doc := clitest.ParsePlan(t, e.diff(2, f, "-o", "json"))
	for _, c := range doc.Changes {
		if c.Key.Kind != "WorkPool" || c.Key.Name != e.pool("gbif-automations") {
			continue
		}
		for _, fc := range c.Fields {
			if fc.Path == "baseJobTemplate" {
				env, _ := dig(fc.New, "variables", "properties", "env", "default")
				want := map[string]any{"PREFECT_API_URL": "https://prefect.svc.gbif.no/api", "REGISTRY_LOGIN": "(sensitive value)", "CA_CERT": "(sensitive value)", "PREFECT_API_AUTH_STRING": nil}
				if compact(env) != compact(want) {
					t.Errorf("JSON plan: env default %s, want %s", compact(env), compact(want))
				}
			}
		}
	}
	masked("markdown plan", e.diff(2, f, "-o", "markdown"))

	// The saved plan holds the masked plan, and applying it compares the
	// masked plan computed again: it applies.
	saved := filepath.Join(e.Dir, "plan.json")
	e.diff(2, f, "--out", saved)
	raw := string(mustRead(t, saved))
	masked("saved plan", raw)
	out := e.sync(0, f, "--plan", saved, "--yes")
	masked("sync's plan", out)
	e.diff(0, f)

	// What sync sends is the file as written.
	p := a.mustPool(e.pool("gbif-automations"))
	if p.Description == nil || *p.Description != "GBIF Norway automations "+token {
		t.Errorf("description on the server: %v", p.Description)
	}
	if v, _ := p.variableDefault("env"); compact(v) != compact(map[string]any{"PREFECT_API_URL": "https://prefect.svc.gbif.no/api", "REGISTRY_LOGIN": auth, "CA_CERT": fileValue, "PREFECT_API_AUTH_STRING": nil}) {
		t.Errorf("env default on the server: %s", compact(v))
	}

	// A change of a field that holds one: masked on both sides.
	f2 := e.example("pasted2.yaml", secretKeys, moreKeys,
		description, "description: GBIF Norway automations, token "+token+" (old "+fileValue+")",
		"        - name: PREFECT_API_URL\n          value: https://prefect.svc.gbif.no/api\n        - name: PREFECT_API_AUTH_STRING\n          valueFrom:",
		"        - name: PREFECT_API_URL\n          value: https://prefect.svc.gbif.no/api\n        - name: REGISTRY_LOGIN\n          value: \""+auth+"\"\n        - name: CA_CERT\n          value: \""+fileValue+"\"\n        - name: PREFECT_API_AUTH_STRING\n          valueFrom:")
	want := `~ description: "GBIF Norway automations (sensitive value)" → "GBIF Norway automations, token (sensitive value) (old (sensitive value))"`
	if out := e.diff(2, f2); !strings.Contains(out, want) {
		t.Errorf("changed description: want %q in\n%s", want, out)
	}

	// render masks and fails: its output is not what sync would send.
	code, stdout, stderr := e.Run("render", "-f", f, e.pool("gbif-automations"))
	if code != 1 || !strings.Contains(stdout, `"REGISTRY_LOGIN": "(sensitive value)"`) ||
		!strings.Contains(stderr, "/variables/properties/env/default/CA_CERT, /variables/properties/env/default/REGISTRY_LOGIN") ||
		!strings.Contains(stderr, "not what sync would send") {
		t.Errorf("render: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// A pool without a secret renders as before.
	if code, stdout, _ := e.Run("render", "-f", f, e.pool("gpu-tasks")); code != 0 || strings.Contains(stdout, "sensitive") {
		t.Errorf("render of a pool without a secret: exit %d\n%s", code, stdout)
	}

	// A validation error that would quote one.
	bad := e.example("bad.yaml", secretKeys, moreKeys, "requests: {cpu: 500m, memory: 1Gi}", "requests: {cpu: \""+token+"\", memory: 1Gi}")
	code, _, stderr = e.Run(e.planArgs("diff", bad)...)
	if code != 1 || !strings.Contains(stderr, `pools[0].jobTemplate.resources.requests.cpu: "[redacted]" is not a quantity`) {
		t.Errorf("diff of a file with a bad quantity: exit %d\n%s", code, stderr)
	}

	for _, s := range []string{auth, "CANARY-mask-auth-4242", token, fileValue, base64.StdEncoding.EncodeToString([]byte(auth))} {
		if strings.Contains(e.Output.String(), s) || strings.Contains(raw, s) {
			t.Errorf("prefect-apply printed the secret %q", s)
		}
	}
	if strings.Contains(e.Output.String(), "CANARY") {
		t.Errorf("prefect-apply printed part of a secret:\n%s", e.Output.String())
	}
	_ = os.Remove(saved)
}
