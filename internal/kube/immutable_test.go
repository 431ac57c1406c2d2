package kube

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

func TestImmutableFields(t *testing.T) {
	secret := state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "auth"}
	pvc := state.Key{System: state.Kubernetes, Kind: "PersistentVolumeClaim", Namespace: "prefect", Name: "data"}
	invalid := func(errs ...*field.Error) error {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "auth", field.ErrorList(errs))
	}
	immutable := field.Invalid(field.NewPath("type"), "example.com/x", "field is immutable")
	tests := map[string]struct {
		key    state.Key
		err    error
		ok     bool
		fields []string
		msgs   []string
	}{
		"no error":      {key: secret},
		"other error":   {key: secret, err: errors.New("connection refused")},
		"not immutable": {key: secret, err: invalid(field.Invalid(field.NewPath("metadata", "name"), "A", "must be lowercase"))},
		"immutable type": {key: secret, err: invalid(immutable), ok: true,
			fields: []string{"type"}, msgs: []string{"type: field is immutable"}},
		"immutable data": {key: secret, err: invalid(field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set")), ok: true,
			fields: []string{"data"}, msgs: []string{"data: field is immutable when `immutable` is set"}},
		"mixed causes":                {key: secret, err: invalid(immutable, field.Required(field.NewPath("data"), "required"))},
		"a claim is never replaced":   {key: pvc, err: invalid(field.Forbidden(field.NewPath("spec"), "spec is immutable after creation"))},
		"wrapped, as the client does": {key: secret, err: errorsJoin(invalid(immutable)), ok: true, fields: []string{"type"}, msgs: []string{"type: field is immutable"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			im, ok := immutableFields(tc.key, tc.err)
			if ok != tc.ok || !reflect.DeepEqual(im.Fields, tc.fields) || !reflect.DeepEqual(im.Messages, tc.msgs) {
				t.Errorf("immutableFields = %+v, %v; want fields %v messages %v, %v", im, ok, tc.fields, tc.msgs, tc.ok)
			}
			for _, m := range im.Messages {
				if m == "" || strings.Contains(m, "example.com/x") {
					t.Errorf("message %q carries the value", m)
				}
			}
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("patching"), err) }
