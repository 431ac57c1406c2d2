package faults

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/prefect-apply/prefect-apply/bench/poolsgen"
)

// secretEnv is the variable the generated Secrets take their value from.
const secretEnv = "FAULTS_SECRET_VALUE"

// poolsFile returns a pools file for a set: bench/poolsgen's pools (three
// queues each, an overridden Kubernetes job template), namespace, service
// accounts, ClusterRole and binding and Secrets, plus a Role and a
// RoleBinding. Revision 2 changes several fields of every pool, of every
// non-default queue and of the RBAC objects; the Secrets' values change
// through the environment.
func poolsFile(set string, pools, revision int) string {
	s := string(poolsgen.Bytes(poolsgen.Options{Pools: pools, Set: set, SecretEnv: secretEnv}))
	role := fmt.Sprintf(`    - apiVersion: rbac.authorization.k8s.io/v1
      kind: Role
      metadata:
        name: %[1]s-job-reader
      rules:
        - apiGroups: [batch]
          resources: [jobs]
          verbs: [get, list, watch]
    - apiVersion: rbac.authorization.k8s.io/v1
      kind: RoleBinding
      metadata:
        name: %[1]s-job-reader
      roleRef:
        apiGroup: rbac.authorization.k8s.io
        kind: Role
        name: %[1]s-job-reader
      subjects:
        - kind: ServiceAccount
          name: %[1]s-runner-00
          namespace: %[1]s
  secrets:
`, set)
	s = replaceOnce(s, "  secrets:\n", role)
	if revision == 1 {
		return s
	}
	r := strings.NewReplacer(
		// Every pool: description, image, log level.
		" flows of team ", " flows (revision 2) of team ",
		":2024.06.1\n", ":2024.09.3\n",
		":1.14.0\n", ":1.15.2\n",
		":3.2.7\n", ":3.3.0\n",
		"value: DEBUG\n", "value: TRACE\n",
		"value: INFO\n", "value: WARNING\n",
		// Every non-default queue.
		"description: Scheduled ETL runs\n", "description: Scheduled ETL runs (revision 2)\n",
		"description: Backfills; served last\n", "description: Backfills, served last (revision 2)\n",
		// RBAC: the ClusterRole's last rule, the Role, the RoleBinding.
		"resources: [events]\n          verbs: [get, list, watch]\n", "resources: [events]\n          verbs: [get, list, watch, create]\n",
		"resources: [jobs]\n          verbs: [get, list, watch]\n", "resources: [jobs]\n          verbs: [get, list, watch, delete]\n",
		fmt.Sprintf("          name: %[1]s-runner-00\n          namespace: %[1]s\n  secrets:\n", set),
		fmt.Sprintf("          name: %[1]s-runner-00\n          namespace: %[1]s\n        - kind: ServiceAccount\n          name: %[1]s-runner-01\n          namespace: %[1]s\n  secrets:\n", set),
	)
	s = r.Replace(s)
	// Pool limits (4 spaces) and queue limits (8 spaces) go up; TTLs too.
	s = bump(s, `(?m)^(    concurrencyLimit: )(\d+)$`, 10)
	s = bump(s, `(?m)^(        concurrencyLimit: )(\d+)$`, 1)
	s = bump(s, `(?m)^(      finishedJobTTL: )(\d+)$`, 60)
	return s
}

func replaceOnce(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic(fmt.Sprintf("generated file has %d of %q", strings.Count(s, old), old))
	}
	return strings.Replace(s, old, new, 1)
}

func bump(s, pattern string, by int) string {
	return regexp.MustCompile(pattern).ReplaceAllStringFunc(s, func(m string) string {
		sub := regexp.MustCompile(pattern).FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[2])
		return sub[1] + strconv.Itoa(n+by)
	})
}

// declared is what a file declares, read as plain YAML (not by
// prefect-apply): the values the servers must end up holding.
type declared struct {
	Pools []struct {
		Name             string
		Type             string
		Description      string
		ConcurrencyLimit *int `json:"concurrencyLimit"`
		JobTemplate      struct {
			Image          string
			FinishedJobTTL int `json:"finishedJobTTL"`
			Env            []struct {
				Name  string
				Value string
			}
		} `json:"jobTemplate"`
		Queues []struct {
			Name             string
			Priority         int
			Description      string
			ConcurrencyLimit *int `json:"concurrencyLimit"`
			Paused           bool
		}
	}
	Kubernetes struct {
		Namespace string
		Resources []map[string]any
		Secrets   []struct{ Name string }
	}
}

func parseDeclared(s string) (*declared, error) {
	var d declared
	if err := yaml.Unmarshal([]byte(s), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// env returns a job template env value by name.
func envValue(env []struct{ Name, Value string }, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
