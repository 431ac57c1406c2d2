package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// jobHeading introduces the effective job of a created or replaced pool,
// after its fields.
const jobHeading = "effective job (variables' defaults in the template):"

// envSources say where an env value comes from, by JobEnv.From.
var envSources = map[string]string{
	"secretKeyRef":     "from Secret ",
	"configMapKeyRef":  "from ConfigMap ",
	"fieldRef":         "from field ",
	"resourceFieldRef": "from resource ",
	"valueFrom":        "from a reference",
}

// JobLines are the lines of a pool's effective job, one setting each:
// what a reviewer of a new pool approves.
func JobLines(j *jobtemplate.Job) []string {
	var lines []string
	add := func(label, value string) {
		if value != "" {
			lines = append(lines, label+": "+value)
		}
	}
	image := j.Image
	if image != "" && j.ImagePullPolicy != "" {
		image += " (pull " + j.ImagePullPolicy + ")"
	}
	add("image", image)
	add("command", j.Command)
	add("namespace", j.Namespace)
	add("service account", j.ServiceAccountName)
	for _, which := range []string{"requests", "limits"} {
		add("resources."+which, pairs(j.Resources[which], ", "))
	}
	for _, e := range j.Env {
		lines = append(lines, "env "+e.Name+": "+envSource(e))
	}
	for _, v := range j.Volumes {
		add("volume "+v.Name, strings.TrimSpace(v.Kind+" "+v.Source))
	}
	for _, m := range j.VolumeMounts {
		lines = append(lines, "mount "+m.Name+": "+mountPoint(m))
	}
	add("node selector", pairs(j.NodeSelector, ", "))
	for _, t := range j.Tolerations {
		add("toleration", t)
	}
	for _, v := range j.Variables {
		add("variable "+v.Name, v.Value)
	}
	return lines
}

func envSource(e jobtemplate.JobEnv) string {
	if e.From == "value" {
		if e.Value == redact.Masked {
			return "value " + e.Value
		}
		return "value " + strconv.Quote(e.Value)
	}
	if s, ok := envSources[e.From]; ok {
		return s + e.Ref
	}
	return "from " + e.From + " " + e.Ref
}

func mountPoint(m jobtemplate.JobMount) string {
	s := m.MountPath
	if m.SubPath != "" {
		s += " (subPath " + m.SubPath + ")"
	}
	if m.ReadOnly {
		s += " (read-only)"
	}
	return s
}

// pairs is a map as key=value, sorted by key.
func pairs(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s=%s", k, m[k])
	}
	return strings.Join(out, sep)
}
