package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// newPoolsPlan creates a Kubernetes pool whose jobTemplate sets what a
// reviewer looks for (image, resources, env from a Secret and literals, a
// volume and its mount, a node selector, a toleration), and a process
// pool.
func newPoolsPlan(t *testing.T) *plan.Plan {
	t.Helper()
	jt := &config.JobTemplate{
		Image: "ghcr.io/acme/flows:2.1", ImagePullPolicy: "Always", ServiceAccountName: "prefect-worker",
		Env: []corev1.EnvVar{
			{Name: "LOG_LEVEL", Value: "info"},
			{Name: "DB_PASSWORD", Value: "pasted-by-mistake"},
			{Name: "API_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "acme-api"}, Key: "token"}}},
		},
		Resources: &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi"), "nvidia.com/gpu": resource.MustParse("1")},
		},
		Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "acme-data"}}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}},
		NodeSelector: map[string]string{"accelerator": "nvidia"},
		Tolerations:  []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}},
	}
	desired := state.New()
	for _, p := range []*config.Pool{{Name: "gpu", Type: "kubernetes", JobTemplate: jt}, {Name: "local", Type: "process"}} {
		tmpl, err := jobtemplate.Build(p, "flows")
		if err != nil {
			t.Fatal(err)
		}
		desired.Pools[p.Name] = &state.Pool{Name: p.Name, Type: p.Type, BaseJobTemplate: tmpl}
	}
	p, err := plan.Compute(desired, state.New(), plan.Options{Set: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoldenNewPools(t *testing.T) {
	for name, write := range map[string]func(*bytes.Buffer, *plan.Plan) error{
		"newpools.txt":  func(b *bytes.Buffer, p *plan.Plan) error { return Text(b, p, Style{}) },
		"newpools.json": func(b *bytes.Buffer, p *plan.Plan) error { return JSON(b, p) },
		"newpools.md":   func(b *bytes.Buffer, p *plan.Plan) error { return Markdown(b, p) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b, newPoolsPlan(t)); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.String())
			// A literal under a secret-looking name is never shown in the
			// job (the JSON plan's fields hold the template as it is sent).
			shown := b.String()
			if name == "newpools.json" {
				var doc PlanDocument
				if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				raw, _ := json.Marshal(doc.Changes[0].Job)
				shown = string(raw)
			}
			if strings.Contains(shown, "pasted-by-mistake") || !strings.Contains(shown, "DB_PASSWORD") {
				t.Errorf("%s: the job shows DB_PASSWORD's value, or not its name:\n%s", name, shown)
			}
		})
	}
}
