// Package kube is prefect-apply's Kubernetes client: kubeconfig the way
// kubectl finds it, reading the objects a set owns (one list call per kind,
// by label), server-side apply dry runs to predict what the server will
// store, server-side apply with the field manager "prefect-apply", and
// deletion. It reads and writes only the kinds of state.Kinds.
package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/internal/wait"
)

// FieldManager is the name prefect-apply applies under.
const FieldManager = "prefect-apply"

// gvr is where the API serves a kind of the managed kinds' table
// (state.Kinds).
func gvr(kd state.KindInfo) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: kd.Group, Version: kd.Version, Resource: kd.Resource}
}

// Options say how to find the cluster.
type Options struct {
	// Kubeconfig is --kubeconfig; empty means KUBECONFIG, then
	// ~/.kube/config, then the in-cluster config when running in a pod.
	Kubeconfig string
	// KubeconfigEnv is the value of KUBECONFIG (a path list), and HomeDir
	// the home folder for ~/.kube/config; both come from the caller so the
	// environment can be injected.
	KubeconfigEnv string
	HomeDir       string
	// Context is --context, else the file's kubernetes.context, else the
	// kubeconfig's current context.
	Context string
	// ForceConflicts takes over fields another field manager owns.
	ForceConflicts bool
	// QPS and Burst bound the request rate (defaults 100 and 500).
	QPS   float32
	Burst int
	// Sleep waits between attempts (tests record instead); nil sleeps.
	Sleep func(context.Context, time.Duration) error
	// Timeout bounds one request (--kube-request-timeout); zero keeps the
	// kubeconfig's, else DefaultTimeout.
	Timeout time.Duration
	// ReplaceWait bounds how long Replace waits for the old object to be
	// gone (its finalizers done); default DefaultReplaceWait.
	ReplaceWait time.Duration
	// Notify, when set, is told of a wait that takes a while.
	Notify func(string)
}

// DefaultReplaceWait is how long Replace waits for finalizers by default.
const DefaultReplaceWait = 2 * time.Minute

// Client talks to one cluster.
type Client struct {
	// overloads counts the answers that said the API server was
	// overloaded (429, 503, server timeouts).
	overloads atomic.Int64
	dyn       dynamic.Interface
	force     bool
	counter   *counter
	// Host and Context say which cluster, for messages.
	Host    string
	Context string
	timeout time.Duration
	secrets []string // cut out of error messages
	sleep   func(context.Context, time.Duration) error
	// replaceWait and notify: see Options.
	replaceWait time.Duration
	notify      func(string)
}

// ErrNoConfig is New's error when there is no kubeconfig at all.
var ErrNoConfig = errors.New("no Kubernetes configuration")

// New loads the configuration as kubectl does and returns a client.
// Overloads is how many answers so far said the API server was
// overloaded: the signal that applying adapts its concurrency to.
func (c *Client) Overloads() int64 { return c.overloads.Load() }

func New(opts Options) (*Client, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: opts.Kubeconfig}
	switch {
	case opts.KubeconfigEnv != "":
		rules.Precedence = filepath.SplitList(opts.KubeconfigEnv)
	case opts.HomeDir != "":
		rules.Precedence = []string{filepath.Join(opts.HomeDir, ".kube", "config")}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			// client-go's own words point at KUBERNETES_MASTER, which
			// nobody sets; say which files were looked for.
			err = fmt.Errorf("%w: %s", ErrNoConfig, noConfig(rules.Precedence, opts.KubeconfigEnv != ""))
		}
		return nil, fmt.Errorf("loading the Kubernetes configuration: %w (set --kubeconfig or KUBECONFIG, pick a context with --context, or use --skip-kubernetes)", err)
	}
	ctxName := opts.Context
	if ctxName == "" {
		if raw, err := cc.RawConfig(); err == nil {
			ctxName = raw.CurrentContext
		}
	}
	return NewForConfig(cfg, ctxName, opts)
}

// noConfig says why no configuration was found: the files looked for are
// missing or empty, and this is not a pod in a cluster.
func noConfig(paths []string, fromEnv bool) string {
	var missing, empty []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		} else {
			empty = append(empty, p)
		}
	}
	var parts []string
	switch {
	case fromEnv && len(missing) > 0:
		parts = append(parts, "KUBECONFIG names "+strings.Join(missing, ", ")+", which does not exist")
	case len(missing) > 0:
		parts = append(parts, "KUBECONFIG is not set and "+strings.Join(missing, ", ")+" does not exist")
	}
	if len(empty) > 0 {
		parts = append(parts, strings.Join(empty, ", ")+" holds no cluster")
	}
	parts = append(parts, "and this is not a pod in a cluster")
	return strings.Join(parts, "; ")
}

// NewForConfig returns a client for a REST configuration.
func NewForConfig(cfg *rest.Config, contextName string, opts Options) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	// A plan of 1000 pools sends about 200 requests (lists and dry runs),
	// at most 8 at a time; client-go's old 50/100 made them wait 2 s for
	// nothing. The API server's own priority and fairness protects it
	// (kubectl raised its burst to 300 for the same reason).
	cfg.QPS, cfg.Burst = 100, 500
	if opts.QPS > 0 {
		cfg.QPS = opts.QPS
	}
	if opts.Burst > 0 {
		cfg.Burst = opts.Burst
	}
	cfg.UserAgent = "prefect-apply"
	if opts.Timeout > 0 {
		cfg.Timeout = opts.Timeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cnt := &counter{counts: map[string]int{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { cnt.next = limitBody{rt}; return cnt })
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	hc.CheckRedirect = checkRedirect
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	sleep := opts.Sleep
	if sleep == nil {
		sleep = wait.Sleep
	}
	replaceWait := opts.ReplaceWait
	if replaceWait <= 0 {
		replaceWait = DefaultReplaceWait
	}
	return &Client{dyn: dyn, force: opts.ForceConflicts, counter: cnt, Host: cfg.Host, Context: contextName,
		timeout: cfg.Timeout, secrets: credentials(cfg), sleep: sleep, replaceWait: replaceWait, notify: opts.Notify}, nil
}

// Stats returns the requests sent so far by verb and resource.
func (c *Client) Stats() map[string]int { return c.counter.snapshot() }

func (c *Client) resource(kd state.KindInfo, namespace string) dynamic.ResourceInterface {
	r := c.dyn.Resource(gvr(kd))
	if kd.Scope == state.Namespaced {
		return r.Namespace(namespace)
	}
	return r
}

// Get reads one object; found is false when it does not exist.
func (c *Client) Get(ctx context.Context, key state.Key) (*unstructured.Unstructured, bool, error) {
	kd, err := state.ManagedKind(key)
	if err != nil {
		return nil, false, err
	}
	obj, err := retried(ctx, c, func() (*unstructured.Unstructured, error) {
		return c.resource(kd, key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", key, c.explain(err))
	}
	if obj.GetName() != key.Name {
		return nil, false, fmt.Errorf("reading %s: the answer is not that object (metadata.name %q); is %s the Kubernetes API?", key, obj.GetName(), c.Host)
	}
	return obj, true, nil
}

// ErrConflict marks an apply that another field manager's fields blocked.
var ErrConflict = errors.New("apply conflict")

// explain names the fields and managers of an apply conflict.
func explain(err error) error {
	if cs, ok := conflictsOf(err); ok {
		return conflictError(cs)
	}
	return err
}
