// Package release tests what a release is made of: make release's archives
// and SHA256SUMS, the binaries in them, and action.yml installing them from
// a local server laid out as GitHub serves a release's downloads.
package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

const version = "v0.0.0-test"

// platform is one target of make release, with what GitHub's runners call it.
type platform struct {
	os, arch             string
	runnerOS, runnerArch string
}

var platforms = []platform{
	{"linux", "amd64", "Linux", "X64"},
	{"linux", "arm64", "Linux", "ARM64"},
	{"darwin", "amd64", "macOS", "X64"},
	{"darwin", "arm64", "macOS", "ARM64"},
	{"windows", "amd64", "Windows", "X64"},
	{"windows", "arm64", "Windows", "ARM64"},
}

func (p platform) archive() string {
	if p.os == "windows" {
		return fmt.Sprintf("prefect-apply_%s_%s_%s.zip", version, p.os, p.arch)
	}
	return fmt.Sprintf("prefect-apply_%s_%s_%s.tar.gz", version, p.os, p.arch)
}

func (p platform) exe() string {
	if p.os == "windows" {
		return "prefect-apply.exe"
	}
	return "prefect-apply"
}

var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// dist is make release's output, built once for every test of the package.
var dist = sync.OnceValues(func() (map[string][]byte, error) {
	dir, err := os.MkdirTemp("", "prefect-apply-dist")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	cmd := exec.Command("make", "-s", "release", "VERSION="+version, "DIST="+dir)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("make release: %w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "make release took %s\n", time.Since(start).Round(time.Millisecond))
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if files[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	return files, nil
})

func release(t *testing.T) map[string][]byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds six binaries: not with -short")
	}
	files, err := dist()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Every platform has its archive, holding the binary alone, built for that
// platform, static, stamped with the version and without the build's paths;
// SHA256SUMS lists each archive with its hash, and nothing else.
func TestArchives(t *testing.T) {
	files := release(t)
	want := []string{"SHA256SUMS"}
	for _, p := range platforms {
		want = append(want, p.archive())
	}
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("dist holds %v, want %v", got, want)
	}

	sums := parseSums(t, files["SHA256SUMS"])
	if len(sums) != len(platforms) {
		t.Errorf("SHA256SUMS lists %d files, want %d: %v", len(sums), len(platforms), sums)
	}
	for _, p := range platforms {
		t.Run(p.os+"/"+p.arch, func(t *testing.T) {
			data := files[p.archive()]
			if got := sha256.Sum256(data); sums[p.archive()] != hex.EncodeToString(got[:]) {
				t.Errorf("SHA256SUMS says %q, the archive has %x", sums[p.archive()], got)
			}
			bin := unpack(t, p, data)
			checkBinary(t, p, bin)
			if !bytes.Contains(bin, []byte(version)) {
				t.Errorf("the binary does not hold the version %s", version)
			}
			if bytes.Contains(bin, []byte(repoRoot)) {
				t.Errorf("the binary holds the build's path %s: not built with -trimpath", repoRoot)
			}
		})
	}
}

// The linux/amd64 binary runs and says which version it is.
func TestBinaryRunsVersion(t *testing.T) {
	files := release(t)
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("runs the linux/amd64 binary; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	p := platforms[0]
	bin := filepath.Join(t.TempDir(), "prefect-apply")
	if err := os.WriteFile(bin, unpack(t, p, files[p.archive()]), 0o755); err != nil {
		t.Fatal(err)
	}
	checkVersion(t, bin)
}

func checkVersion(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "prefect-apply "+version+"\n") {
		t.Errorf("%s version: %v\n%s", bin, err, out)
	}
	out, err = exec.Command(bin, "version", "-o", "json").Output()
	var v struct{ Version, Platform string }
	if err != nil || json.Unmarshal(out, &v) != nil || v.Version != version || v.Platform != "linux/amd64" {
		t.Errorf("%s version -o json: %v\n%s", bin, err, out)
	}
}

// action.yml's steps, run as GitHub runs them, install the binary for each
// runner from the release's own archives, and the linux/amd64 one runs the
// command given as args.
func TestActionInstalls(t *testing.T) {
	files := release(t)
	srv := serve(t, files)
	for _, p := range platforms {
		t.Run(p.runnerOS+"/"+p.runnerArch, func(t *testing.T) {
			args := ""
			if p.os == runtime.GOOS && p.arch == runtime.GOARCH {
				args = `version --output "json"`
			}
			res, err := runAction(t, map[string]string{"version": version, "args": args, "base-url": srv}, p)
			if err != nil {
				t.Fatalf("%v\n%s", err, res.log)
			}
			want := unpack(t, p, files[p.archive()])
			if got, err := os.ReadFile(filepath.Join(res.bin, p.exe())); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: not the archive's binary (%v)", filepath.Join(res.bin, p.exe()), err)
			}
			if res.path != res.bin+"\n" {
				t.Errorf("GITHUB_PATH holds %q, want the bin directory %s", res.path, res.bin)
			}
			if args == "" {
				return
			}
			if !strings.Contains(res.log, `"version": "`+version+`"`) {
				t.Errorf("the action ran no `prefect-apply %s`:\n%s", args, res.log)
			}
			checkVersion(t, filepath.Join(res.bin, p.exe()))
		})
	}
}

// A download that is not what SHA256SUMS lists is not installed.
func TestActionRefusesWrongChecksum(t *testing.T) {
	files := release(t)
	p := platforms[0]
	tests := map[string]struct {
		change func(files map[string][]byte)
		want   string
	}{
		"an archive byte changed": {
			change: func(f map[string][]byte) {
				a := bytes.Clone(f[p.archive()])
				a[len(a)/2] ^= 0xff
				f[p.archive()] = a
			},
			want: "checksum mismatch for " + p.archive(),
		},
		"a wrong hash in SHA256SUMS": {
			change: func(f map[string][]byte) {
				sum := sha256.Sum256([]byte("something else"))
				f["SHA256SUMS"] = replaceSum(t, f["SHA256SUMS"], p.archive(), hex.EncodeToString(sum[:]))
			},
			want: "checksum mismatch for " + p.archive(),
		},
		"the archive not in SHA256SUMS": {
			change: func(f map[string][]byte) {
				f["SHA256SUMS"] = replaceSum(t, f["SHA256SUMS"], p.archive(), "")
			},
			want: "checksum missing: SHA256SUMS of " + version + " does not list " + p.archive(),
		},
		"no SHA256SUMS": {
			change: func(f map[string][]byte) { delete(f, "SHA256SUMS") },
			want:   "SHA256SUMS did not work",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			changed := maps.Clone(files)
			tc.change(changed)
			res, err := runAction(t, map[string]string{"version": version, "args": "version", "base-url": serve(t, changed)}, p)
			if err == nil {
				t.Fatalf("the action succeeded:\n%s", res.log)
			}
			if !strings.Contains(res.log, tc.want) {
				t.Errorf("the action's log does not say %q:\n%s", tc.want, res.log)
			}
			if _, err := os.Stat(filepath.Join(res.bin, p.exe())); !os.IsNotExist(err) {
				t.Errorf("a binary was installed (%v)", err)
			}
			if res.path != "" {
				t.Errorf("GITHUB_PATH holds %q", res.path)
			}
		})
	}
}

// serve serves files as a GitHub release's downloads: /<version>/<name>,
// on 127.0.0.1.
func serve(t *testing.T, files map[string][]byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/"+version+"/")
		data, found := files[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type actionResult struct {
	log  string // stdout and stderr of every step
	bin  string // the install step's bin output, or where it would be
	path string // what was added to GITHUB_PATH
}

// runAction runs action.yml's composite steps in order, with bash, as a
// GitHub runner for p would: the expressions it uses (inputs.*,
// steps.<id>.outputs.*, an `if:` comparing an input with ”) are
// substituted here, and GITHUB_* and RUNNER_* point into a temp dir.
func runAction(t *testing.T, inputs map[string]string, p platform) (res actionResult, err error) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct {
			Required bool
			Default  string
		}
		Runs struct {
			Using string
			Steps []struct {
				ID    string
				If    string
				Shell string
				Env   map[string]string
				Run   string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if action.Runs.Using != "composite" {
		t.Fatalf("action.yml: runs.using %q, want composite", action.Runs.Using)
	}
	expr := map[string]string{}
	for name, in := range action.Inputs {
		v, ok := inputs[name]
		if !ok {
			v = in.Default
		}
		if in.Required && v == "" {
			t.Fatalf("action.yml: input %s is required", name)
		}
		expr["inputs."+name] = v
	}

	dir := t.TempDir()
	runnerTemp := filepath.Join(dir, "runner-temp")
	if err := os.Mkdir(runnerTemp, 0o755); err != nil {
		t.Fatal(err)
	}
	githubPath := filepath.Join(dir, "github-path")
	res.bin = filepath.Join(runnerTemp, "prefect-apply", inputs["version"], "bin")
	var log bytes.Buffer
	defer func() {
		res.log = log.String()
		path, _ := os.ReadFile(githubPath)
		res.path = string(path)
	}()
	for i, step := range action.Runs.Steps {
		if step.Shell != "bash" {
			t.Fatalf("action.yml step %d: shell %q, want bash", i, step.Shell)
		}
		switch {
		case step.If == "":
		case strings.HasSuffix(step.If, " != ''"):
			if expr[strings.TrimSuffix(step.If, " != ''")] == "" {
				continue
			}
		default:
			t.Fatalf("action.yml step %d: if %q is not understood here", i, step.If)
		}
		output := filepath.Join(dir, fmt.Sprintf("github-output-%d", i))
		cmd := exec.Command("bash", "-e", "-c", step.Run)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"RUNNER_OS=" + p.runnerOS, "RUNNER_ARCH=" + p.runnerArch, "RUNNER_TEMP=" + runnerTemp,
			"GITHUB_ACTION_PATH=" + repoRoot, "GITHUB_PATH=" + githubPath, "GITHUB_OUTPUT=" + output,
		}
		for k, v := range step.Env {
			cmd.Env = append(cmd.Env, k+"="+substitute(t, v, expr))
		}
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Run(); err != nil {
			return res, fmt.Errorf("action.yml step %d: %w", i, err)
		}
		if step.ID != "" {
			for k, v := range readOutputs(t, output) {
				expr["steps."+step.ID+".outputs."+k] = v
			}
		}
	}
	if bin := expr["steps.install.outputs.bin"]; bin != res.bin {
		t.Errorf("the install step's bin output is %q, want %s", bin, res.bin)
	}
	return res, nil
}

// substitute replaces a value that is one ${{ expression }} with its value.
func substitute(t *testing.T, v string, expr map[string]string) string {
	t.Helper()
	inner, ok := strings.CutPrefix(v, "${{")
	if !ok {
		return v
	}
	inner, ok = strings.CutSuffix(inner, "}}")
	val, known := expr[strings.TrimSpace(inner)]
	if !ok || (!known && !strings.HasPrefix(strings.TrimSpace(inner), "steps.")) {
		t.Fatalf("action.yml: expression %q is not understood here", v)
	}
	return val
}

func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	return out
}

func parseSums(t *testing.T, data []byte) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || strings.ContainsAny(name, "/ ") {
			t.Fatalf("SHA256SUMS: %q is not `<sha256>  <file>`", line)
		}
		sums[name] = sum
	}
	return sums
}

// replaceSum sets the hash of name in SHA256SUMS, or drops its line for "".
func replaceSum(t *testing.T, data []byte, name, sum string) []byte {
	t.Helper()
	var out strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasSuffix(strings.TrimSuffix(line, "\n"), "  "+name) {
			if sum == "" {
				continue
			}
			line = sum + "  " + name + "\n"
		}
		out.WriteString(line)
	}
	if out.String() == string(data) {
		t.Fatalf("SHA256SUMS does not list %s", name)
	}
	return []byte(out.String())
}

// unpack returns the binary in an archive, which must hold it alone.
func unpack(t *testing.T, p platform, data []byte) []byte {
	t.Helper()
	if p.os == "windows" {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", p.archive(), err)
		}
		if len(zr.File) != 1 || zr.File[0].Name != p.exe() {
			t.Fatalf("%s holds %d files, the first %q; want %s alone", p.archive(), len(zr.File), zr.File[0].Name, p.exe())
		}
		rc, err := zr.File[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		bin, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", p.archive(), err)
		}
		return bin
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", p.archive(), err)
	}
	tr := tar.NewReader(gz)
	var bin []byte
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", p.archive(), err)
		}
		if n > 0 || h.Name != p.exe() || h.Typeflag != tar.TypeReg || h.Mode&0o777 != 0o755 {
			t.Fatalf("%s: entry %d is %q (type %c, mode %o); want %s alone, mode 755", p.archive(), n, h.Name, h.Typeflag, h.Mode, p.exe())
		}
		if bin, err = io.ReadAll(tr); err != nil {
			t.Fatalf("%s: %v", p.archive(), err)
		}
	}
	if bin == nil {
		t.Fatalf("%s is empty", p.archive())
	}
	return bin
}

// checkBinary checks that bin is an executable for p, and a static one on
// linux (no interpreter: CGO_ENABLED=0).
func checkBinary(t *testing.T, p platform, bin []byte) {
	t.Helper()
	r := bytes.NewReader(bin)
	switch p.os {
	case "linux":
		f, err := elf.NewFile(r)
		if err != nil {
			t.Fatalf("not an ELF file: %v", err)
		}
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.arch]
		if f.Machine != want {
			t.Errorf("ELF machine %v, want %v", f.Machine, want)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("dynamically linked: it has an interpreter")
			}
		}
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			t.Fatalf("not a Mach-O file: %v", err)
		}
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[p.arch]
		if f.Cpu != want {
			t.Errorf("Mach-O CPU %v, want %v", f.Cpu, want)
		}
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			t.Fatalf("not a PE file: %v", err)
		}
		want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[p.arch]
		if f.Machine != want {
			t.Errorf("PE machine %#x, want %#x", f.Machine, want)
		}
	}
}
