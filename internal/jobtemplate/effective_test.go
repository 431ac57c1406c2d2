package jobtemplate

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// sampleKubernetesOverrides is a jobTemplate that sets what a reviewer of
// a new pool looks for: image, resources, env from a Secret and a literal,
// a volume and its mount, a node selector and a toleration.
func sampleKubernetesOverrides() *config.JobTemplate {
	return &config.JobTemplate{
		Image: "ghcr.io/acme/flows:2.1", ImagePullPolicy: "Always", ServiceAccountName: "prefect-worker",
		Env: []corev1.EnvVar{
			{Name: "LOG_LEVEL", Value: "info"},
			{Name: "DB_PASSWORD", Value: "hunter2hunter2"},
			{Name: "API_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "acme-api"}, Key: "token"}}},
			{Name: "REGION", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "acme"}, Key: "region"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
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
}

func TestEffectiveJobOfAKubernetesPool(t *testing.T) {
	tmpl, err := Build(&config.Pool{Name: "gpu", Type: "kubernetes", JobTemplate: sampleKubernetesOverrides()}, "flows")
	if err != nil {
		t.Fatal(err)
	}
	job := EffectiveJob(tmpl)
	want := &Job{
		Image: "ghcr.io/acme/flows:2.1", ImagePullPolicy: "Always", Namespace: "flows", ServiceAccountName: "prefect-worker",
		Resources: map[string]map[string]string{"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi", "nvidia.com/gpu": "1"}},
		Env: []JobEnv{
			{Name: "DB_PASSWORD", From: "value", Value: redact.Masked},
			{Name: "LOG_LEVEL", From: "value", Value: "info"},
			{Name: "API_TOKEN", From: "secretKeyRef", Ref: "acme-api/token"},
			{Name: "REGION", From: "configMapKeyRef", Ref: "acme/region"},
			{Name: "NODE", From: "fieldRef", Ref: "spec.nodeName"},
		},
		Volumes:      []JobVolume{{Name: "data", Kind: "persistentVolumeClaim", Source: "acme-data"}},
		VolumeMounts: []JobMount{{Name: "data", MountPath: "/data", ReadOnly: true}},
		NodeSelector: map[string]string{"accelerator": "nvidia"},
		Tolerations:  []string{"gpu=true:NoSchedule"},
	}
	vars := job.Variables
	job.Variables = nil
	if !reflect.DeepEqual(job, want) {
		got, _ := json.MarshalIndent(job, "", "  ")
		t.Errorf("effective job:\n%s", got)
	}
	names := map[string]string{}
	for _, v := range vars {
		names[v.Name] = v.Value
	}
	if names["backoff_limit"] != "0" || names["stream_output"] != "true" {
		t.Errorf("variables = %v, want backoff_limit 0 and stream_output true among them", vars)
	}
	for _, shown := range []string{"image", "env", "namespace", "cpu_request"} {
		if _, ok := names[shown]; ok {
			t.Errorf("variable %s is listed, though the job's fields show it", shown)
		}
	}
}

func TestEffectiveJobOfAProcessPool(t *testing.T) {
	tmpl, err := Build(&config.Pool{Name: "local", Type: "process"}, "")
	if err != nil {
		t.Fatal(err)
	}
	props := tmpl["variables"].(map[string]any)["properties"].(map[string]any)
	props["env"].(map[string]any)["default"] = map[string]any{"MODE": "batch", "SLACK_TOKEN": "xoxb-123456789"}
	props["working_dir"].(map[string]any)["default"] = "/srv/flows"
	job := EffectiveJob(tmpl)
	want := &Job{
		Env:       []JobEnv{{Name: "MODE", From: "value", Value: "batch"}, {Name: "SLACK_TOKEN", From: "value", Value: redact.Masked}},
		Variables: []JobVariable{{Name: "stream_output", Value: "true"}, {Name: "working_dir", Value: `"/srv/flows"`}},
	}
	if !reflect.DeepEqual(job, want) {
		got, _ := json.MarshalIndent(job, "", "  ")
		t.Errorf("effective job:\n%s", got)
	}
}

func TestEffectiveJobOfNoTemplate(t *testing.T) {
	if job := EffectiveJob(map[string]any{}); job != nil {
		t.Errorf("EffectiveJob(empty) = %+v, want nil", job)
	}
}
