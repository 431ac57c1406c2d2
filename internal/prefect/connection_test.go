package prefect

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const canary = "canary-s3cr3t-7f1c"

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeProfiles(t *testing.T, dir, text string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "profiles.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveURLOrder(t *testing.T) {
	home := t.TempDir()
	path := writeProfiles(t, filepath.Join(home, ".prefect"), `
active = "local"
[profiles.local]
PREFECT_API_URL = "http://profile:4200/api"
[profiles.other]
PREFECT_API_URL = "http://other:4200/api/"
`)
	tests := map[string]struct {
		flag, file string
		env        map[string]string
		wantURL    string
		wantSource string
	}{
		"flag beats all": {flag: "http://flag/api", file: "http://file/api",
			env:     map[string]string{"PREFECT_API_URL": "http://env/api"},
			wantURL: "http://flag/api", wantSource: "flag --prefect-url"},
		"env beats file": {file: "http://file/api", env: map[string]string{"PREFECT_API_URL": "http://env/api"},
			wantURL: "http://env/api", wantSource: "environment PREFECT_API_URL"},
		"file beats profile": {file: "http://file/api",
			wantURL: "http://file/api", wantSource: "file prefect.url"},
		"active profile": {wantURL: "http://profile:4200/api",
			wantSource: fmt.Sprintf("profile %q in %s", "local", path)},
		"PREFECT_PROFILE beats active, trailing slash dropped": {env: map[string]string{"PREFECT_PROFILE": "other"},
			wantURL: "http://other:4200/api", wantSource: fmt.Sprintf("profile %q in %s", "other", path)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Resolve(ResolveInput{FlagURL: tc.flag, FileURL: tc.file, Getenv: envOf(tc.env), HomeDir: home})
			if err != nil {
				t.Fatal(err)
			}
			if c.URL != tc.wantURL || c.URLSource != tc.wantSource {
				t.Errorf("got %q from %q, want %q from %q", c.URL, c.URLSource, tc.wantURL, tc.wantSource)
			}
		})
	}
}

func TestResolveProfilePath(t *testing.T) {
	home := t.TempDir()
	prefHome := filepath.Join(home, "ph")
	custom := filepath.Join(home, "custom")
	writeProfiles(t, filepath.Join(home, ".prefect"), "active = \"a\"\n[profiles.a]\nPREFECT_API_URL = \"http://default-home/api\"\n")
	writeProfiles(t, prefHome, "active = \"a\"\n[profiles.a]\nPREFECT_API_URL = \"http://prefect-home/api\"\n")
	writeProfiles(t, custom, "active = \"a\"\n[profiles.a]\nPREFECT_API_URL = \"http://profiles-path/api\"\n")
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"~/.prefect":            {want: "http://default-home/api"},
		"PREFECT_HOME":          {env: map[string]string{"PREFECT_HOME": prefHome}, want: "http://prefect-home/api"},
		"PREFECT_HOME with ~":   {env: map[string]string{"PREFECT_HOME": "~/ph"}, want: "http://prefect-home/api"},
		"PREFECT_PROFILES_PATH": {env: map[string]string{"PREFECT_HOME": prefHome, "PREFECT_PROFILES_PATH": filepath.Join(custom, "profiles.toml")}, want: "http://profiles-path/api"},
		"$PREFECT_HOME in PREFECT_PROFILES_PATH": {env: map[string]string{"PREFECT_HOME": prefHome,
			"PREFECT_PROFILES_PATH": "$PREFECT_HOME/profiles.toml"}, want: "http://prefect-home/api"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Resolve(ResolveInput{Getenv: envOf(tc.env), HomeDir: home})
			if err != nil {
				t.Fatal(err)
			}
			if c.URL != tc.want {
				t.Errorf("URL = %q, want %q", c.URL, tc.want)
			}
		})
	}
}

func TestResolveCredentials(t *testing.T) {
	home := t.TempDir()
	path := writeProfiles(t, filepath.Join(home, ".prefect"), `
active = "p"
[profiles.p]
PREFECT_API_URL = "http://x/api"
PREFECT_API_KEY = "profile-key"
[profiles.auth]
PREFECT_API_URL = "http://x/api"
PREFECT_API_AUTH_STRING = "puser:ppass"
`)
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	prof := fmt.Sprintf("profile %q in %s", "p", path)
	tests := map[string]struct {
		env        map[string]string
		wantHeader string
		wantName   string
	}{
		"env auth string beats env key": {env: map[string]string{"PREFECT_API_AUTH_STRING": "u:p", "PREFECT_API_KEY": "k"},
			wantHeader: basic("u:p"), wantName: "PREFECT_API_AUTH_STRING from the environment"},
		"env key beats profile key": {env: map[string]string{"PREFECT_API_KEY": "k"},
			wantHeader: "Bearer k", wantName: "PREFECT_API_KEY from the environment"},
		"profile key": {wantHeader: "Bearer profile-key", wantName: "PREFECT_API_KEY from " + prof},
		// Prefect resolves each setting (environment, then profile) and then
		// prefers the auth string.
		"profile auth string beats env key": {env: map[string]string{"PREFECT_PROFILE": "auth", "PREFECT_API_KEY": "k"},
			wantHeader: basic("puser:ppass"), wantName: "PREFECT_API_AUTH_STRING from " + fmt.Sprintf("profile %q in %s", "auth", path)},
		"custom Authorization header": {env: map[string]string{"PREFECT_API_KEY": "k",
			"PREFECT_CLIENT_CUSTOM_HEADERS": `{"authorization": "Token t", "X-Team": "data"}`},
			wantHeader: "Token t", wantName: "PREFECT_CLIENT_CUSTOM_HEADERS (Authorization) from the environment"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Resolve(ResolveInput{Getenv: envOf(tc.env), HomeDir: home})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Auth.Header.Reveal(); got != tc.wantHeader {
				t.Errorf("header = %q, want %q", got, tc.wantHeader)
			}
			if got := c.Auth.String(); got != tc.wantName {
				t.Errorf("credential = %q, want %q", got, tc.wantName)
			}
		})
	}
}

func TestResolveSettings(t *testing.T) {
	home := t.TempDir()
	writeProfiles(t, filepath.Join(home, ".prefect"), `
active = "p"
[profiles.p]
PREFECT_API_URL = "https://x/api"
PREFECT_API_TLS_INSECURE_SKIP_VERIFY = true
PREFECT_API_REQUEST_TIMEOUT = 12.5
PREFECT_CLIENT_CUSTOM_HEADERS = { X-Team = "data", User-Agent = "ignored" }
`)
	c, err := Resolve(ResolveInput{Getenv: envOf(nil), HomeDir: home})
	if err != nil {
		t.Fatal(err)
	}
	if !c.InsecureSkipVerify || c.Timeout != 12500*time.Millisecond {
		t.Errorf("insecure=%v timeout=%v", c.InsecureSkipVerify, c.Timeout)
	}
	if len(c.Headers) != 1 || c.Headers["X-Team"].Reveal() != "data" {
		t.Errorf("headers = %v", c.Headers)
	}

	env := map[string]string{"PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "off", "PREFECT_API_REQUEST_TIMEOUT": "3"}
	if c, err = Resolve(ResolveInput{Getenv: envOf(env), HomeDir: home}); err != nil {
		t.Fatal(err)
	}
	if c.InsecureSkipVerify || c.Timeout != 3*time.Second {
		t.Errorf("environment should win: insecure=%v timeout=%v", c.InsecureSkipVerify, c.Timeout)
	}

	for _, v := range []string{"1", "t", "TRUE", "yes", "On", "y"} {
		if b, err := parseBool(v); err != nil || !b {
			t.Errorf("parseBool(%q) = %v, %v", v, b, err)
		}
	}
	for _, v := range []string{" true", "2", "enabled"} {
		if _, err := parseBool(v); err == nil {
			t.Errorf("parseBool(%q) should fail, as in Prefect", v)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	home := t.TempDir()
	tests := map[string]struct {
		env      map[string]string
		profiles string
		want     []string
	}{
		"no URL": {want: []string{"no Prefect API URL", "--prefect-url", "PREFECT_API_URL", "prefect.url", "does not exist"}},
		"bad scheme": {env: map[string]string{"PREFECT_API_URL": "ftp://" + canary + "@h/api"},
			want: []string{"environment PREFECT_API_URL", "http://"}},
		// Shown as given, with an example, when it cannot hold credentials.
		"no scheme": {env: map[string]string{"PREFECT_API_URL": "127.0.0.1:4200/api"},
			want: []string{`"127.0.0.1:4200/api" is not a URL`, "e.g. http://127.0.0.1:4200/api"}},
		"spaces": {env: map[string]string{"PREFECT_API_URL": "not a url"},
			want: []string{`"not a url" must be an http:// or https:// URL`}},
		"unparsable with credentials": {env: map[string]string{"PREFECT_API_URL": "127.0.0.1:4200/api?key=" + canary},
			want: []string{"not shown: it may hold credentials"}},
		"zero timeout": {env: map[string]string{"PREFECT_API_URL": "http://h/api", "PREFECT_API_REQUEST_TIMEOUT": "0"},
			want: []string{`"0" is not a number of seconds above 0`}},
		"missing profile": {env: map[string]string{"PREFECT_PROFILE": "nope"}, profiles: "active = \"x\"\n",
			want: []string{`Prefect profile "nope" (from PREFECT_PROFILE) is not in`}},
		"bad TOML": {profiles: "active = \n", want: []string{"reading Prefect profiles", "line 1"}},
		"bad bool": {env: map[string]string{"PREFECT_API_URL": "http://h/api", "PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "maybe"},
			want: []string{"PREFECT_API_TLS_INSECURE_SKIP_VERIFY from the environment", "not a boolean"}},
		"bad timeout": {env: map[string]string{"PREFECT_API_URL": "http://h/api", "PREFECT_API_REQUEST_TIMEOUT": "soon"},
			want: []string{"PREFECT_API_REQUEST_TIMEOUT"}},
		"bad headers": {env: map[string]string{"PREFECT_API_URL": "http://h/api", "PREFECT_CLIENT_CUSTOM_HEADERS": "Authorization: " + canary},
			want: []string{"PREFECT_CLIENT_CUSTOM_HEADERS from the environment", "not a JSON object"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := filepath.Join(home, strings.ReplaceAll(name, " ", "-"))
			if tc.profiles != "" {
				writeProfiles(t, filepath.Join(h, ".prefect"), tc.profiles)
			}
			_, err := Resolve(ResolveInput{Getenv: envOf(tc.env), HomeDir: h})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestConnectionNeverShowsSecrets(t *testing.T) {
	env := map[string]string{
		"PREFECT_API_URL":               "http://user:" + canary + "@127.0.0.1:4200/api",
		"PREFECT_API_AUTH_STRING":       "admin:" + canary,
		"PREFECT_CLIENT_CUSTOM_HEADERS": `{"X-Token": "` + canary + `"}`,
	}
	c, err := Resolve(ResolveInput{Getenv: envOf(env), HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("admin:" + canary))
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c),
		"%#v": fmt.Sprintf("%#v", c), "%s auth": fmt.Sprintf("%s", c.Auth.Header),
		"%x auth": fmt.Sprintf("%x", c.Auth.Header), "%+v auth": fmt.Sprintf("%+v", c.Auth),
		"json": string(js), "client %+v": fmt.Sprintf("%+v", cl), "client %#v": fmt.Sprintf("%#v", cl),
		"headers %v": fmt.Sprintf("%v", c.Headers),
	}
	for name, out := range outputs {
		if strings.Contains(out, canary) || strings.Contains(out, b64) {
			t.Errorf("%s shows the secret: %s", name, out)
		}
	}
	if !strings.Contains(c.String(), "PREFECT_API_AUTH_STRING from the environment") {
		t.Errorf("String() should name the credential: %s", c)
	}
}
