package jobtemplate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

// Prefect's own default templates, pasted as a raw baseJobTemplate, draw
// no unused-variable warning: the rule does not misfire on the templates
// users copy from.
func TestDefaultTemplatesDrawNoWarning(t *testing.T) {
	for _, typ := range []string{"kubernetes", "process"} {
		tmpl, ok, err := Default(typ)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", typ, ok, err)
		}
		raw, err := json.Marshal(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		yaml := "pools:\n  - name: p\n    type: " + typ + "\n    baseJobTemplate: " + string(raw) + "\n"
		doc, probs := config.Parse(strings.NewReader(yaml), "pools.yaml", config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
		if len(probs) > 0 {
			t.Fatalf("%s: %s", typ, probs)
		}
		f, probs := doc.Validate()
		if len(probs) > 0 {
			t.Fatalf("%s: %s", typ, probs)
		}
		if w := doc.Warnings(f); len(w) > 0 {
			t.Errorf("%s's default template warns:\n%s", typ, w)
		}
	}
}
