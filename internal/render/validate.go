package render

import (
	"encoding/json"
	"io"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

// ValidateVersion is the version of validate's JSON document; it changes
// only when a field changes meaning or goes away.
const ValidateVersion = 1

// ValidateDocument is validate's JSON form (`validate --output json`).
type ValidateDocument struct {
	Version int `json:"version"`
	// Valid says every file is: validate exits 0.
	Valid bool               `json:"valid"`
	Files []ValidateFileJSON `json:"files"`
}

// ValidateFileJSON is one file's result: valid when it has no problems
// (warnings do not count).
type ValidateFileJSON struct {
	File     string        `json:"file"`
	Valid    bool          `json:"valid"`
	Problems []ProblemJSON `json:"problems"`
	Warnings []ProblemJSON `json:"warnings"`
}

// ProblemJSON is a problem or a warning at its place in the file.
type ProblemJSON struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Path     string `json:"path"`
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
	Severity string `json:"severity"`
}

// ValidateJSON writes validate's results as one indented JSON document.
func ValidateJSON(w io.Writer, reports []FileReport) error {
	doc := ValidateDocument{Version: ValidateVersion, Valid: true, Files: []ValidateFileJSON{}}
	for _, r := range reports {
		f := ValidateFileJSON{File: r.File, Valid: len(r.Problems) == 0,
			Problems: problemsJSON(r.Problems, LevelError), Warnings: problemsJSON(r.Warnings, LevelWarning)}
		doc.Valid = doc.Valid && f.Valid
		doc.Files = append(doc.Files, f)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

func problemsJSON(ps config.Problems, severity string) []ProblemJSON {
	out := make([]ProblemJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, ProblemJSON{File: p.File, Line: p.Pos.Line, Column: p.Pos.Col, Path: p.Path.String(),
			Message: p.Message, Hint: p.Hint, Severity: severity})
	}
	return out
}
