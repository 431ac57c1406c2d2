package config

import (
	corev1 "k8s.io/api/core/v1"
)

// File is one pools.yaml: Prefect work pools with their queues and job
// templates, and the Kubernetes objects their jobs need.
type File struct {
	// The JSON Schema this file follows, for editors (yaml-language-server, VS Code). prefect-apply ignores it.
	Schema string `json:"$schema,omitempty"`
	// Name of the ownership set: what this file manages is recorded under it, and `--prune` deletes only objects of this set that left the file. Defaults to the file's base name without extension, lower-cased, each run of characters other than a-z and 0-9 made one '-' (Team_Pools.yaml: team-pools). Two files must use two different sets.
	Set string `json:"set,omitempty" jsonschema:"pattern=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$,maxLength=63"`
	// Connection defaults for the Prefect API. Credentials never go here: they come from PREFECT_API_KEY / PREFECT_API_AUTH_STRING or the Prefect profile.
	Prefect *PrefectSettings `json:"prefect,omitempty"`
	// Kubernetes objects the work pools' jobs need: namespaces with their resource quotas and limit ranges, service accounts, RBAC, secrets, volumes.
	Kubernetes *Kubernetes `json:"kubernetes,omitempty"`
	// Prefect work pools, each with its queues and job template.
	Pools []Pool `json:"pools,omitempty"`
}

// PrefectSettings are connection defaults for the Prefect API.
type PrefectSettings struct {
	// Prefect API URL, ending in /api (e.g. http://127.0.0.1:4200/api). The --prefect-url flag and PREFECT_API_URL take precedence; the active Prefect profile is used when none is set.
	URL string `json:"url,omitempty" jsonschema:"format=uri"`
}

// Kubernetes holds the cluster connection defaults and the objects to manage.
type Kubernetes struct {
	// kubeconfig context to use (as kubectl --context). Defaults to the current context; the --context flag takes precedence.
	Context string `json:"context,omitempty"`
	// Namespace for namespaced objects and job templates that name none.
	Namespace string `json:"namespace,omitempty"`
	// Kubernetes manifests, pasted as they are (for example from prefect-worker-rbac.yaml). Secrets go under `secrets`, so that their values never sit in this file.
	// +schemagen appends the kinds, from state.Kinds (lines starting with + stay out of the schema).
	Resources []Resource `json:"resources,omitempty"`
	// Secrets whose values are read when diff or sync runs, from environment variables or files, never from this file.
	Secrets []Secret `json:"secrets,omitempty"`
	// Objects that exist in the cluster but are not managed by this file. Job templates may reference them; prefect-apply checks that they exist and never changes them.
	External []ExternalObject `json:"external,omitempty"`
}

// Resource is a native Kubernetes manifest (apiVersion, kind, metadata, ...).
type Resource map[string]any

// Secret is a Kubernetes Secret whose values come from outside the file.
type Secret struct {
	// Name of the Secret (a DNS-1123 subdomain).
	Name string `json:"name"`
	// Namespace of the Secret. Defaults to kubernetes.namespace.
	Namespace string `json:"namespace,omitempty"`
	// Secret type. Defaults to Opaque.
	Type string `json:"type,omitempty"`
	// Labels to set on the Secret, next to the ownership labels prefect-apply adds.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations to set on the Secret.
	Annotations map[string]string `json:"annotations,omitempty"`
	// The Secret's keys, each with the source of its value.
	Keys map[string]SecretSource `json:"keys" jsonschema:"minProperties=1"`
}

// SecretSource says where a Secret value is read from when diff or sync runs: exactly one of fromEnv or fromFile.
type SecretSource struct {
	// Environment variable that holds the value, e.g. PREFECT_API_AUTH_STRING.
	FromEnv string `json:"fromEnv,omitempty" jsonschema:"pattern=^[A-Za-z_][A-Za-z0-9_]*$"`
	// File that holds the value, relative to this file's folder. Its bytes are used as they are.
	FromFile string `json:"fromFile,omitempty" jsonschema:"minLength=1"`
}

// ExternalObject names a Kubernetes object that exists but is managed elsewhere.
type ExternalObject struct {
	// Kind of the object.
	// +schemagen sets the enum: the kinds of state.Kinds job templates may refer to.
	Kind string `json:"kind"`
	// Name of the object.
	Name string `json:"name"`
	// Namespace of the object (not for Namespace). Defaults to kubernetes.namespace.
	Namespace string `json:"namespace,omitempty"`
	// For a Secret or ConfigMap: the keys job templates may reference. Empty means any key.
	Keys []string `json:"keys,omitempty"`
}

// Pool is a Prefect work pool.
type Pool struct {
	// Work pool name, at most 150 characters. Cannot contain / % & > < or a line break, cannot start with "prefect", and cannot be only spaces and quotes.
	Name string `json:"name" jsonschema:"minLength=1,maxLength=150"`
	// Worker type. `kubernetes` and `process` have embedded default templates; other types need `baseJobTemplate`. Changing the type of an existing pool replaces it (delete and create), which `sync` does only with --allow-replace.
	Type string `json:"type" jsonschema:"minLength=1,example=kubernetes,example=process,example=docker"`
	// Human-readable description of the pool.
	Description *string `json:"description,omitempty"`
	// Whether the pool is paused: workers pick up no runs from a paused pool. Unmanaged when omitted.
	Paused *bool `json:"paused,omitempty"`
	// Maximum number of concurrent flow runs in the pool. Omit for no limit.
	ConcurrencyLimit *int `json:"concurrencyLimit,omitempty" jsonschema:"minimum=0"`
	// Overrides merged onto the worker type's default base job template (kubernetes only). Values the worker exposes as template variables become those variables' defaults, so deployments can still override them with job_variables.
	JobTemplate *JobTemplate `json:"jobTemplate,omitempty"`
	// A complete base job template, sent as it is: {job_configuration, variables}. Use it instead of jobTemplate for full control or for worker types without an embedded default.
	BaseJobTemplate *BaseJobTemplate `json:"baseJobTemplate,omitempty"`
	// Work queues of the pool. Every pool has a `default` queue; declare it to manage its settings.
	Queues []Queue `json:"queues,omitempty"`
}

// BaseJobTemplate is a raw Prefect base job template.
type BaseJobTemplate struct {
	// The worker's job configuration; `{{ placeholder }}` values name keys of variables.properties.
	JobConfiguration map[string]any `json:"job_configuration"`
	// JSON Schema of the variables deployments may set, with their defaults.
	Variables map[string]any `json:"variables"`
}

// Queue is a work queue of a pool.
type Queue struct {
	// Queue name, unique within the pool, at most 150 characters. Cannot contain / % & > < or a line break.
	Name string `json:"name" jsonschema:"minLength=1,maxLength=150"`
	// Human-readable description of the queue.
	Description *string `json:"description,omitempty"`
	// Priority within the pool: 1 is served first. Unique within the pool.
	Priority *int `json:"priority,omitempty" jsonschema:"minimum=1"`
	// Maximum number of concurrent flow runs from this queue. Omit for no limit.
	ConcurrencyLimit *int `json:"concurrencyLimit,omitempty" jsonschema:"minimum=0"`
	// Whether the queue is paused. Unmanaged when omitted.
	Paused *bool `json:"paused,omitempty"`
}

// JobTemplate holds overrides for the Kubernetes worker's default base job template.
type JobTemplate struct {
	// Container image of the flow-run job, e.g. gbifnorway/prefect-automations:latest.
	Image string `json:"image,omitempty"`
	// Image pull policy of the job's container.
	ImagePullPolicy string `json:"imagePullPolicy,omitempty" jsonschema:"enum=IfNotPresent,enum=Always,enum=Never"`
	// Namespace the flow-run jobs are created in. Defaults to kubernetes.namespace.
	Namespace string `json:"namespace,omitempty"`
	// Service account of the flow-run pods; must be declared in kubernetes.resources or kubernetes.external.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Command the job's container runs. Leave empty: the worker then runs the flow run itself. Never `prefect worker start`.
	Command string `json:"command,omitempty"`
	// Environment variables of the job's container. Plain values become the `env` variable's default; valueFrom entries (secretKeyRef, configMapKeyRef) are written into the job manifest.
	Env []corev1.EnvVar `json:"env,omitempty"`
	// CPU, memory and extended resources (such as nvidia.com/gpu) of the job's container.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// Volumes of the job's pod, e.g. a persistentVolumeClaim.
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// Where the job's container mounts the volumes.
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// Node labels the job's pod must be scheduled on.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations of the job's pod, e.g. for GPU node taints.
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Labels of the Job (the `labels` variable's default).
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations of the Job (the `annotations` variable's default).
	Annotations map[string]string `json:"annotations,omitempty"`
	// Seconds after which a finished Job is deleted (ttlSecondsAfterFinished).
	FinishedJobTTL *int `json:"finishedJobTTL,omitempty" jsonschema:"minimum=0"`
	// Number of retries before the Job is marked failed.
	BackoffLimit *int `json:"backoffLimit,omitempty" jsonschema:"minimum=0"`
	// Seconds the worker waits for the Job to complete; omit to wait forever.
	JobWatchTimeoutSeconds *int `json:"jobWatchTimeoutSeconds,omitempty" jsonschema:"minimum=0"`
	// Seconds the worker waits for the pod to start.
	PodWatchTimeoutSeconds *int `json:"podWatchTimeoutSeconds,omitempty" jsonschema:"minimum=0"`
	// Whether the worker streams the job's output to its own log.
	StreamOutput *bool `json:"streamOutput,omitempty"`
}
