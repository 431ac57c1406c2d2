package prefect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// MaxVariableValueLength is Prefect's limit on a variable value's JSON
// (MAX_VARIABLE_VALUE_LENGTH); the server answers 422 past it.
const MaxVariableValueLength = 5000

// ErrVariableTooLarge marks a value over MaxVariableValueLength: callers
// storing large data (an inventory) split it across several variables.
var ErrVariableTooLarge = errors.New("variable value too large")

// Variable is a Prefect variable.
type Variable struct {
	Name    string   `json:"name"`
	Value   any      `json:"value"`
	Tags    []string `json:"tags"`
	ID      string   `json:"id"`
	Updated string   `json:"updated"`
}

func variableObject(name string) string { return fmt.Sprintf("variable %q", name) }

// GetVariable reads a variable's value; found is false when it does not exist.
func (c *Client) GetVariable(ctx context.Context, name string) (value any, found bool, err error) {
	var v Variable
	err = c.do(ctx, call{method: "GET", route: "variables/name/{}", names: []string{name},
		op: "reading", obj: variableObject(name)}, &v)
	if IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v.Value, true, nil
}

// SetVariable updates a variable by name, or creates it when it does not
// exist. Tags are left alone on update when nil. A value whose JSON is over
// MaxVariableValueLength fails with ErrVariableTooLarge before anything is
// sent. Variable names are lowercase letters, digits, '-' and '_'.
func (c *Client) SetVariable(ctx context.Context, name string, value any, tags []string) error {
	obj := variableObject(name)
	if n, err := valueLength(value); err != nil {
		return fmt.Errorf("setting %s: %w", obj, err)
	} else if n > MaxVariableValueLength {
		return fmt.Errorf("setting %s: %w: its JSON is %d characters, Prefect allows %d; split it across several variables",
			obj, ErrVariableTooLarge, n, MaxVariableValueLength)
	}
	body := map[string]any{"value": value}
	if tags != nil {
		body["tags"] = tags
	}
	update := call{method: "PATCH", route: "variables/name/{}", names: []string{name},
		body: body, op: "setting", obj: obj}
	err := c.do(ctx, update, nil)
	if IsNotFound(err) {
		create := map[string]any{"name": name, "value": value}
		if tags != nil {
			create["tags"] = tags
		}
		err = c.do(ctx, call{method: "POST", route: "variables/", body: create,
			op: "setting", obj: obj}, nil)
		if IsConflict(err) { // created by someone else meanwhile
			err = c.do(ctx, update, nil)
		}
	}
	return tooLarge(err)
}

// tooLarge also marks the server's own 422 for an oversized value, in case
// its count differs from ours.
func tooLarge(err error) error {
	var e *APIError
	if errors.As(err, &e) && e.Status == http.StatusUnprocessableEntity &&
		strings.Contains(e.Detail, fmt.Sprintf("less than %d characters", MaxVariableValueLength)) {
		return fmt.Errorf("%w (%w)", err, ErrVariableTooLarge)
	}
	return err
}

// valueLength counts a value's JSON as the server does (compact, UTF-8,
// without HTML escaping).
func valueLength(value any) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		return 0, fmt.Errorf("value is not JSON: %w", err)
	}
	return len(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// DeleteVariable deletes a variable; IsNotFound(err) when it did not exist.
func (c *Client) DeleteVariable(ctx context.Context, name string) error {
	return c.do(ctx, call{method: "DELETE", route: "variables/name/{}", names: []string{name},
		op: "deleting", obj: variableObject(name)}, nil)
}

// ListVariables reads the variables whose names start with namePrefix,
// ordered by name. The server's name.like_ filter is a case-insensitive
// substring match (ILIKE '%prefix%', with '_' a wildcard), so it only
// narrows the pages; the prefix itself is checked here.
func (c *Client) ListVariables(ctx context.Context, namePrefix string) ([]Variable, error) {
	var filter map[string]any
	if namePrefix != "" {
		filter = map[string]any{"variables": map[string]any{"name": map[string]any{"like_": namePrefix}}}
	}
	obj := "variables"
	if namePrefix != "" {
		obj = fmt.Sprintf("variables named %q...", namePrefix)
	}
	all, err := listAll[Variable](ctx, c, call{method: "POST", route: "variables/filter",
		op: "listing", obj: obj}, filter, func(v *Variable) string { return v.ID })
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, v := range all {
		if strings.HasPrefix(v.Name, namePrefix) {
			out = append(out, v)
		}
	}
	return out, nil
}
