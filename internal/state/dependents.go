package state

// Dependents are what runs on the pools without being managed by the
// file: the deployments that target them and their flow runs that are
// scheduled, pending or running. They are read only for the pools a plan
// touches, and they only inform the plan; nothing writes them.
type Dependents struct {
	// Deployments target the pools read, in a stable order (pool, queue,
	// name).
	Deployments []Deployment
	// Runs counts flow runs by pool and queue (a QueueKey).
	Runs map[Key]RunCounts
	// RunsByDeployment counts them by deployment id.
	RunsByDeployment map[string]RunCounts
	// RunsPartial says the runs were too many to count them all: the
	// counts are lower bounds.
	RunsPartial bool
}

// Deployment is a Prefect deployment as the plan needs it.
type Deployment struct {
	ID string `json:"id"`
	// Name is "flow/deployment", as the Prefect CLI names it.
	Name  string `json:"name"`
	Pool  string `json:"pool"`
	Queue string `json:"queue"`
	// JobVariables override the pool's variables for its runs.
	JobVariables map[string]any `json:"-"`
	Paused       bool           `json:"-"`
	Scheduled    bool           `json:"-"` // it has an active schedule
}

// RunCounts counts flow runs by state type; Late runs are Scheduled.
type RunCounts struct {
	Scheduled int `json:"scheduled"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
}

// Add returns the sum of two counts.
func (r RunCounts) Add(o RunCounts) RunCounts {
	return RunCounts{Scheduled: r.Scheduled + o.Scheduled, Pending: r.Pending + o.Pending, Running: r.Running + o.Running}
}

// Total is every run counted.
func (r RunCounts) Total() int { return r.Scheduled + r.Pending + r.Running }

// OnPool lists the deployments that target a pool, or one of its queues
// when queue is not empty.
func (d *Dependents) OnPool(pool, queue string) []Deployment {
	if d == nil {
		return nil
	}
	var out []Deployment
	for _, dep := range d.Deployments {
		if dep.Pool == pool && (queue == "" || dep.Queue == queue) {
			out = append(out, dep)
		}
	}
	return out
}

// RunsOn counts the runs on a pool, or on one of its queues.
func (d *Dependents) RunsOn(pool, queue string) RunCounts {
	var out RunCounts
	if d == nil {
		return out
	}
	for k, n := range d.Runs {
		if k.Namespace == pool && (queue == "" || k.Name == queue) {
			out = out.Add(n)
		}
	}
	return out
}
