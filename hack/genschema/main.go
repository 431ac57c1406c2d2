// Command genschema writes schema/pools.schema.json from the config types
// and docs/kinds.md from the table of managed kinds. Run it from the
// module root (make generate).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/prefect-apply/prefect-apply/internal/schemagen"
)

func main() {
	out, err := schemagen.Generate(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join("schema", "pools.schema.json"), out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join("docs", "kinds.md"), schemagen.KindsDoc(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
}
