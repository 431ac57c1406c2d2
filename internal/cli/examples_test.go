package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	yaml "go.yaml.in/yaml/v3"
)

// The pipelines in examples/ and the shell blocks of the READMEs run
// prefect-apply with commands and flags that exist: every invocation is
// parsed by the real command tree.
func TestExamplesUseRealFlags(t *testing.T) {
	root := filepath.Join("..", "..")
	files := map[string]int{} // file → invocations found
	var invocations []invocation
	globs := []string{"examples/github-actions/*.yml", "examples/gitlab/.gitlab-ci.yml", "examples/cronjob/*.yaml"}
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(root, g))
		if err != nil || len(matches) == 0 {
			t.Fatalf("%s: no files (%v)", g, err)
		}
		for _, path := range matches {
			found := yamlInvocations(t, path)
			files[path] = len(found)
			invocations = append(invocations, found...)
		}
	}
	for _, md := range []string{"README.md", "examples/cronjob/README.md"} {
		found := markdownInvocations(t, filepath.Join(root, md))
		invocations = append(invocations, found...)
	}
	for path, n := range files {
		// rbac.yaml and sync-rbac.yaml are RBAC only.
		if n == 0 && !strings.HasSuffix(path, "rbac.yaml") {
			t.Errorf("%s: no prefect-apply invocation found", path)
		}
	}
	for path, n := range files {
		t.Logf("%s: %d invocations", path, n)
	}
	if len(invocations) < 10 {
		t.Fatalf("only %d invocations found: the extraction is broken", len(invocations))
	}
	for _, inv := range invocations {
		if err := checkInvocation(inv.args); err != nil {
			t.Errorf("%s: prefect-apply %s: %v", inv.where, strings.Join(inv.args, " "), err)
		}
	}
}

type invocation struct {
	where string
	args  []string // after "prefect-apply"
}

// checkInvocation parses args with a fresh command tree, as the binary
// would, and reports unknown commands, unknown or hidden flags, flags
// without their value, and wrong positional arguments.
func checkInvocation(args []string) error {
	ios, _, _, _ := Test()
	root := NewRootCmd(ios, &Env{})
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		return fmt.Errorf("unknown command %q", rest[0])
	}
	if !cmd.Runnable() {
		return fmt.Errorf("%q is not a command that runs", cmd.CommandPath())
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	var hidden []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Hidden || f.Deprecated != "" {
			hidden = append(hidden, f.Name)
		}
	})
	if len(hidden) > 0 {
		return fmt.Errorf("undocumented flags %v", hidden)
	}
	return cmd.ValidateArgs(cmd.Flags().Args())
}

// yamlInvocations finds prefect-apply command lines in a CI file: the
// shell of GitHub's run steps and GitLab's scripts, the args of a step
// that uses the repository's action (action.yml), and the args of a
// container whose image is prefect-apply.
func yamlInvocations(t *testing.T, path string) []invocation {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	var out []invocation
	for {
		if err := dec.Decode(&doc); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("%s: %v", path, err)
		}
		walkYAML(&doc, func(key string, n *yaml.Node, parent *yaml.Node) {
			where := fmt.Sprintf("%s:%d", filepath.Base(path), n.Line)
			switch key {
			case "run", "script", "before_script", "after_script":
				for _, s := range scalars(n) {
					for _, args := range shellInvocations(s.Value) {
						out = append(out, invocation{where: fmt.Sprintf("%s:%d", filepath.Base(path), s.Line), args: args})
					}
				}
			case "uses":
				// The repository's action: its args input is a command line.
				if strings.HasPrefix(n.Value, "prefect-apply/prefect-apply@") {
					if args := mapValue(mapValue(parent, "with"), "args"); args != nil {
						for _, a := range shellInvocations("prefect-apply " + args.Value) {
							out = append(out, invocation{where: fmt.Sprintf("%s:%d", filepath.Base(path), args.Line), args: a})
						}
					}
				}
			case "args":
				if img := mapValue(parent, "image"); img != nil && strings.Contains(img.Value, "prefect-apply") {
					var args []string
					for _, s := range scalars(n) {
						args = append(args, s.Value)
					}
					out = append(out, invocation{where: where, args: args})
				}
			}
		})
	}
	return out
}

// markdownInvocations finds prefect-apply command lines in the shell
// blocks of a Markdown file.
func markdownInvocations(t *testing.T, path string) []invocation {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []invocation
	in := false
	lines := strings.Split(string(raw), "\n")
	var block strings.Builder
	start := 0
	for i, line := range lines {
		switch {
		case !in && (line == "```sh" || line == "```bash" || line == "```shell"):
			in, start = true, i+2
			block.Reset()
		case in && line == "```":
			in = false
			for _, args := range shellInvocations(block.String()) {
				out = append(out, invocation{where: fmt.Sprintf("%s:%d", filepath.Base(path), start), args: args})
			}
		case in:
			block.WriteString(line + "\n")
		}
	}
	return out
}

func walkYAML(n *yaml.Node, fn func(key string, value, parent *yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walkYAML(c, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			fn(n.Content[i].Value, n.Content[i+1], n)
			walkYAML(n.Content[i+1], fn)
		}
	}
}

func scalars(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.ScalarNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			out = append(out, scalars(c)...)
		}
	}
	return out
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// shellInvocations returns the arguments of each prefect-apply command in
// a shell script. It understands what CI scripts use: quotes, line
// continuations, comments, VAR=value prefixes, and the operators that end
// a command (; | || && & > >> < 2>&1 $( ) and backquotes).
func shellInvocations(script string) [][]string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out [][]string
	for _, line := range strings.Split(script, "\n") {
		for _, cmd := range splitCommands(line) {
			for i, w := range cmd {
				if w == "prefect-apply" && (i == 0 || isAssignment(cmd[:i])) {
					out = append(out, cmd[i+1:])
					break
				}
			}
		}
	}
	return out
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func isAssignment(words []string) bool {
	for _, w := range words {
		if !assignment.MatchString(w) {
			return false
		}
	}
	return true
}

// splitCommands splits one line into simple commands, each a list of
// words with quotes removed. A redirection's target is dropped.
func splitCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var word strings.Builder
	hasWord, skipNext := false, false
	flush := func() {
		if hasWord {
			if skipNext {
				skipNext = false
			} else {
				words = append(words, word.String())
			}
		}
		word.Reset()
		hasWord = false
	}
	end := func() {
		flush()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' && !hasWord:
			end()
			return cmds
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+j])
			hasWord = true
			i += j + 1
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				word.WriteByte(line[j])
				j++
			}
			hasWord = true
			i = j
		case c == ' ' || c == '\t':
			flush()
		case c == '>' || c == '<':
			// 2>&1, >> file, > file: the target is not an argument.
			if hasWord && isDigits(word.String()) {
				word.Reset()
				hasWord = false
			}
			flush()
			for i+1 < len(line) && (line[i+1] == '>' || line[i+1] == '&') {
				i++
			}
			if i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9' && line[i] == '&' {
				i++
				continue
			}
			skipNext = true
		case c == ';' || c == '|' || c == '&' || c == '(' || c == ')' || c == '`':
			end()
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			end()
			i++
		default:
			word.WriteByte(c)
			hasWord = true
		}
	}
	end()
	return cmds
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func TestShellInvocations(t *testing.T) {
	script := `printf '%s' "$X" > "$RUNNER_TEMP/kubeconfig"
code=0
prefect-apply diff -f pools.yaml --output markdown > "$RUNNER_TEMP/plan.md" || code=$?
KUBECONFIG="$K" prefect-apply sync -f "my pools.yaml" --yes 2>&1 | tee log # a comment
go install github.com/prefect-apply/prefect-apply/cmd/prefect-apply@latest
echo prefect-apply diff
prefect-apply export \
  --kubernetes -o pools.yaml; prefect-apply validate -f pools.yaml`
	got := fmt.Sprint(shellInvocations(script))
	want := fmt.Sprint([][]string{
		{"diff", "-f", "pools.yaml", "--output", "markdown"},
		{"sync", "-f", "my pools.yaml", "--yes"},
		{"export", "--kubernetes", "-o", "pools.yaml"},
		{"validate", "-f", "pools.yaml"},
	})
	if got != want {
		t.Errorf("shellInvocations:\n got %s\nwant %s", got, want)
	}
	for args, ok := range map[string]bool{
		"diff -f pools.yaml --output markdown": true,
		"sync --yes --adopt":                   true,
		"diff --yes":                           false, // a sync flag
		"sync --no-such-flag":                  false,
		"render":                               false, // needs POOL
		"status-report":                        false,
		"completion zsh":                       true,
		"diff -f":                              false,
	} {
		if err := checkInvocation(strings.Fields(args)); (err == nil) != ok {
			t.Errorf("checkInvocation(%q) = %v, want ok=%v", args, err, ok)
		}
	}
}
