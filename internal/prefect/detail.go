package prefect

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// parseDetail renders the server's explanation from an error body.
func parseDetail(body []byte) string {
	var b struct {
		Detail           json.RawMessage   `json:"detail"`
		ExceptionMessage string            `json:"exception_message"`
		ExceptionDetail  []json.RawMessage `json:"exception_detail"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return "non-JSON response: " + snippet(body)
	}
	var parts []string
	if msg := strings.TrimRight(strings.TrimSpace(b.ExceptionMessage), "."); msg != "" {
		parts = append(parts, msg)
	}
	var s string
	var list []json.RawMessage
	switch {
	case json.Unmarshal(b.Detail, &s) == nil && s != "":
		parts = append(parts, s)
	case json.Unmarshal(b.Detail, &list) == nil:
		parts = append(parts, renderEntries(list))
	}
	parts = append(parts, renderEntries(b.ExceptionDetail))
	out := strings.Join(nonEmpty(parts), ": ")
	if out == "" {
		return "response: " + otherFields(body)
	}
	return truncate(out, 1000)
}

// otherFields shows an unfamiliar JSON error body without the fields that
// echo the request.
func otherFields(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return snippet(body)
	}
	delete(m, "request_body")
	delete(m, "headers")
	b, _ := json.Marshal(m)
	return snippet(b)
}

// renderEntries renders validation entries as "loc: msg; loc: msg". Only loc,
// msg and type are read: pydantic's "input" and "ctx" echo the request.
func renderEntries(list []json.RawMessage) string {
	var out []string
	for _, raw := range list {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		var e struct {
			Loc  []any  `json:"loc"`
			Msg  string `json:"msg"`
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		msg := e.Msg
		if msg == "" {
			msg = e.Type
		}
		loc := make([]string, len(e.Loc))
		for i, l := range e.Loc {
			loc[i] = fmt.Sprint(l)
		}
		if len(loc) > 0 {
			msg = strings.Join(loc, ".") + ": " + msg
		}
		out = append(out, msg)
	}
	return strings.Join(nonEmpty(out), "; ")
}

// snippet shows the start of a body that is not the JSON we expected (an
// HTML page from a proxy, say): about 200 bytes, control characters removed.
func snippet(body []byte) string {
	if len(body) > 200 {
		body = body[:200]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, string(body))
	if s = strings.Join(strings.Fields(s), " "); s == "" {
		return "(empty body)"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
