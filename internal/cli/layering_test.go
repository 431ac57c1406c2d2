package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The command layer holds flags, prompts, output and exit codes; a run's
// logic is internal/reconcile's. This test names what cli must not do
// itself: build the desired state, keep the inventories, plan, execute a
// plan or export; with -v it lists the internal packages cli imports.
func TestCLICallsReconcileForRuns(t *testing.T) {
	forbidden := map[string]string{
		"internal/inventory": "inventory bookkeeping is a step of reconcile.Apply",
		"internal/desired":   "the desired state is built by reconcile.Plan",
		"internal/export":    "export runs in reconcile.Export",
	}
	calls := map[string]string{
		"plan.Compute":  "planning is reconcile.Plan's",
		"apply.Execute": "applying is reconcile.Apply's",
		"prefect.New":   "clients are made by reconcile.Connect",
		"kube.New":      "clients are made by reconcile.Connect",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	used := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for pkg, why := range forbidden {
				if strings.HasSuffix(path, pkg) {
					t.Errorf("%s imports %s: %s", name, path, why)
				}
			}
			if i := strings.Index(path, "/internal/"); i >= 0 {
				used[path[i+1:]] = true
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok {
				if why, bad := calls[x.Name+"."+sel.Sel.Name]; bad {
					t.Errorf("%s: %s calls %s.%s: %s", fset.Position(sel.Pos()), name, x.Name, sel.Sel.Name, why)
				}
			}
			return true
		})
	}
	if !used["internal/reconcile"] {
		t.Error("cli does not call internal/reconcile")
	}
	t.Logf("cli imports: %s", strings.Join(slices.Sorted(maps.Keys(used)), ", "))
}
