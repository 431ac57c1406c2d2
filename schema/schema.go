// Package schema embeds pools.schema.json, the JSON Schema of pools.yaml,
// generated from internal/config's types by `make generate`.
package schema

import _ "embed"

// JSON is the schema document.
//
//go:embed pools.schema.json
var JSON []byte

// URL is where the schema is published, for the yaml-language-server modeline.
const URL = "https://raw.githubusercontent.com/prefect-apply/prefect-apply/main/schema/pools.schema.json"
