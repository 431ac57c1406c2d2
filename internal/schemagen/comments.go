package schemagen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// comments holds the doc comments of the fields and types of Go packages,
// keyed "importpath.Type" and "importpath.Type.Field", and which fields
// Kubernetes marks +optional.
type comments struct {
	text     map[string]string
	optional map[string]bool
}

func newComments() *comments {
	return &comments{text: map[string]string{}, optional: map[string]bool{}}
}

// addDir reads the non-test Go files of one package folder.
func (c *comments) addDir(importPath, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil {
					doc = gd.Doc
				}
				key := importPath + "." + ts.Name.Name
				c.text[key] = cleanComment(doc.Text(), true)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, field := range st.Fields.List {
					raw := field.Doc.Text()
					if raw == "" {
						raw = field.Comment.Text()
					}
					for _, n := range fieldNames(field) {
						c.text[key+"."+n] = cleanComment(raw, false)
						if strings.Contains(raw, "+optional") {
							c.optional[key+"."+n] = true
						}
					}
				}
			}
		}
	}
	return nil
}

// fieldNames returns a field's names; an embedded field is named by its type.
func fieldNames(f *ast.Field) []string {
	if len(f.Names) > 0 {
		names := make([]string, len(f.Names))
		for i, n := range f.Names {
			names[i] = n.Name
		}
		return names
	}
	t := f.Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.Ident:
		return []string{x.Name}
	case *ast.SelectorExpr:
		return []string{x.Sel.Name}
	}
	return nil
}

// cleanComment drops Kubernetes code-generator markers and TODOs; for
// Kubernetes' long comments it keeps the first paragraph.
func cleanComment(s string, firstParagraph bool) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "+") || strings.HasPrefix(t, "TODO") || strings.HasPrefix(t, "---") {
			continue
		}
		keep = append(keep, line)
	}
	out := strings.TrimSpace(strings.Join(keep, "\n"))
	if firstParagraph || strings.Count(out, "\n\n") > 0 && len(out) > 600 {
		if i := strings.Index(out, "\n\n"); i > 0 {
			out = out[:i]
		}
	}
	return strings.Join(strings.Fields(out), " ")
}

// field returns the comment of a struct field of t.
func (c *comments) field(t reflect.Type, name string) string {
	return c.text[t.PkgPath()+"."+t.Name()+"."+name]
}
