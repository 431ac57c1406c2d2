package kube

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// conflictsOf returns the fields of a server-side apply conflict, by field
// manager in the order the server names them, and whether err is one. The
// server sends one cause per field: its path (".subjects") and a message
// naming the manager (`conflict with "kubectl-edit" using
// rbac.authorization.k8s.io/v1`).
func conflictsOf(err error) ([]state.Conflict, bool) {
	var se apierrors.APIStatus
	if err == nil || !errors.As(err, &se) {
		return nil, false
	}
	st := se.Status()
	if st.Reason != metav1.StatusReasonConflict || st.Details == nil {
		return nil, false
	}
	var out []state.Conflict
	at := map[string]int{}
	for _, cause := range st.Details.Causes {
		if cause.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		manager := managerOf(cause.Message)
		field := strings.TrimPrefix(cause.Field, ".")
		if field == "" {
			field = "(a field the server did not name)"
		}
		i, ok := at[manager]
		if !ok {
			i = len(out)
			at[manager] = i
			out = append(out, state.Conflict{Manager: manager})
		}
		out[i].Fields = append(out[i].Fields, field)
	}
	return out, len(out) > 0
}

// managerOf is the field manager a conflict cause names: the quoted name
// after "conflict with ", else the whole message.
func managerOf(msg string) string {
	rest, ok := strings.CutPrefix(msg, "conflict with ")
	if !ok {
		return msg
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return rest
	}
	name, err := strconv.Unquote(q)
	if err != nil {
		return rest
	}
	return name
}

// conflictError is the error of an apply that a conflict stopped: it names
// each field and its manager, and says what to do.
func conflictError(cs []state.Conflict) error {
	n := state.ConflictFields(cs)
	value, it := "a value", "it"
	if n > 1 {
		value, it = "values", "them"
	}
	return fmt.Errorf("%w: %s, with %s other than the file's\n    hint: change %s back to the file's, or take %s over with --force-conflicts (prefect-apply then owns %s)",
		ErrConflict, state.DescribeConflicts(cs), value, it, it, it)
}
