package config

import (
	"fmt"
	"strings"
)

// InterpolationError is a problem with one ${...} reference.
type InterpolationError struct {
	Offset  int // byte offset of the reference in the string
	Message string
	Hint    string
}

// Interpolate replaces ${VAR} and ${VAR:-default} in s. $$ stands for a
// literal $. ${VAR} with VAR unset is an error; ${VAR:-default} uses the
// default when VAR is unset or empty. A $ not followed by { or $ is kept.
func Interpolate(s string, lookup func(string) (string, bool)) (string, []InterpolationError) {
	return interpolate(s, lookup, nil)
}

// interpolate is Interpolate, with refuse: a reference whose name refuse
// answers with an error is that error (at the reference's offset). Its
// variable is not looked up, and the reference stays in the text as it is
// written, so its value never enters the document.
func interpolate(s string, lookup func(string) (string, bool), refuse func(name string) *InterpolationError) (string, []InterpolationError) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var errs []InterpolationError
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(s[i])
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, InterpolationError{Offset: i, Message: "unterminated ${ (missing })", Hint: "write $${ for a literal ${"})
			b.WriteString(s[i:])
			break
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if hasDef && strings.Contains(def, "${") {
			// The first } would end the outer reference: its value would
			// be the inner one's text, or end in a stray }.
			errs = append(errs, InterpolationError{Offset: i, Message: fmt.Sprintf("${%s:-...} holds another ${...} in its default; nested references are not supported", name),
				Hint: "write the default out, or set " + name})
			if close := strings.IndexByte(s[i+end+1:], '}'); close >= 0 {
				end += close + 1 // skip to the outer reference's }
			}
		} else if !validVarName(name) {
			errs = append(errs, InterpolationError{Offset: i, Message: fmt.Sprintf("invalid variable reference ${%s}: expected ${NAME} or ${NAME:-default}", expr), Hint: "write $${ for a literal ${"})
		} else if e := refuseRef(refuse, name); e != nil {
			e.Offset = i
			errs = append(errs, *e)
			b.WriteString(s[i : i+end+1])
		} else if v, ok := lookup(name); ok && (v != "" || !hasDef) {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		} else {
			errs = append(errs, InterpolationError{Offset: i, Message: fmt.Sprintf("environment variable %s is not set", name), Hint: fmt.Sprintf("set %s, or give a default: ${%s:-value}", name, name)})
		}
		i += end + 1
		if b.Len() > maxText {
			errs = append(errs, InterpolationError{Offset: i - end - 1, Message: fmt.Sprintf("the value expands to more than %d MiB; refusing to go on", maxText>>20),
				Hint: "a variable with a long value, used many times, multiplies the size of the text"})
			return "", errs
		}
	}
	return b.String(), errs
}

func refuseRef(refuse func(string) *InterpolationError, name string) *InterpolationError {
	if refuse == nil {
		return nil
	}
	return refuse(name)
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}
