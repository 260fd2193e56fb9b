package verifier

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// PodKiller deletes or evicts query-node pods: only pods in Namespace that
// match Selector, never anything else.
type PodKiller struct {
	Client    kubernetes.Interface
	Namespace string
	Selector  string
	Count     int
	// Mode is "delete" or "evict" (the Eviction API, which respects
	// PodDisruptionBudgets: a refusal is reported, not forced).
	Mode string
}

// restConfig is the in-cluster service account, or KUBECONFIG outside a
// cluster.
func restConfig() (*rest.Config, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes config: %w", err)
		}
	}
	cfg.Timeout = 30 * time.Second
	return cfg, nil
}

// KubeClient is a typed client (pods, evictions).
func KubeClient() (kubernetes.Interface, error) {
	cfg, err := restConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// DynamicClient reads Flux's HelmRelease without its Go module.
func DynamicClient() (dynamic.Interface, error) {
	cfg, err := restConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

// OwnNamespace is the namespace this pod runs in, when in a cluster.
func OwnNamespace() string {
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Targets lists the pods that would be killed: running, not already
// terminating, matching the selector, in name order.
func (k *PodKiller) Targets(ctx context.Context) ([]corev1.Pod, error) {
	sel, err := labels.Parse(k.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector %q: %w", k.Selector, err)
	}
	if sel.Empty() {
		return nil, fmt.Errorf("an empty selector would match every pod in %s", k.Namespace)
	}
	list, err := k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		// Defence in depth: check namespace and labels ourselves too.
		if p.Namespace != k.Namespace || !sel.Matches(labels.Set(p.Labels)) || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Kill removes Count of the targets and returns their names. Fewer targets
// than Count is an error: the fault would not be the one asked for.
func (k *PodKiller) Kill(ctx context.Context) ([]string, error) {
	targets, err := k.Targets(ctx)
	if err != nil {
		return nil, err
	}
	if len(targets) < k.Count {
		return nil, fmt.Errorf("%d running pods match %q in %s, %d to kill", len(targets), k.Selector, k.Namespace, k.Count)
	}
	var killed []string
	for _, p := range targets[:k.Count] {
		switch k.Mode {
		case "evict":
			err = k.Client.PolicyV1().Evictions(k.Namespace).Evict(ctx, &policyv1.Eviction{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: k.Namespace},
			})
		default:
			err = k.Client.CoreV1().Pods(k.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
				// Only this incarnation: never a successor with the same name.
				Preconditions: &metav1.Preconditions{UID: &p.UID},
			})
		}
		if err != nil {
			return killed, fmt.Errorf("%s pod %s: %w", k.Mode, p.Name, err)
		}
		killed = append(killed, p.Name)
	}
	return killed, nil
}

// event is one search of the fault phase, stamped with its start: a search
// that hangs until its deadline belongs to the moment the outage began.
type event struct {
	at      time.Time
	latency time.Duration
	err     error
}

// FaultResult is what the fault phase measured.
type FaultResult struct {
	Mode   string   `json:"mode"`
	Killed []string `json:"killed"`
	// Requests and Failures are the searches started after the kill.
	Requests    int64   `json:"requests"`
	Failures    int64   `json:"failures"`
	SuccessRate float64 `json:"successRate"`
	// Availability is time-based: the share of one-second intervals of the
	// window in which searches were started and every one succeeded. A
	// per-call ratio would hide an outage behind the many fast successes
	// around it.
	Availability float64 `json:"availability"`
	// LongestOutageSeconds is the longest run of consecutive seconds
	// without that: how long clients were without answers at once.
	LongestOutageSeconds int `json:"longestOutageSeconds"`
	// FirstFailureMs is when the first failing search started, after the kill.
	FirstFailureMs *float64 `json:"firstFailureMs,omitempty"`
	// RecoveryMs is from the first failure to the first success after the
	// last failure; 0 when nothing failed.
	RecoveryMs *float64 `json:"recoveryMs,omitempty"`
	// Recovered: searches succeed again, with no failure after, for at least
	// the steady period before the window ends.
	Recovered bool `json:"recovered"`
	// Baseline and AfterRecovery are the latencies before the kill and
	// after recovery.
	Baseline      Summary          `json:"baseline"`
	AfterRecovery Summary          `json:"afterRecovery"`
	ErrorsByCode  map[string]int64 `json:"errorsByCode,omitempty"`
}

// availability is the share of seconds in which searches succeeded and
// none failed, given each second's successes and failures, and the
// longest run of the other seconds (a failure, or no answer at all: an
// outage second).
func availability(ok, bad []int) (float64, int) {
	good, run, longest := 0, 0, 0
	for i := range ok {
		if ok[i] > 0 && bad[i] == 0 {
			good++
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	if len(ok) == 0 {
		return 0, 0
	}
	return float64(good) / float64(len(ok)), longest
}

// analyzeFault computes the fault statistics from the searches of the
// phase (before the kill: the baseline), for the window [killAt, end).
func analyzeFault(events []event, killAt, end time.Time, steady time.Duration) FaultResult {
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	var r FaultResult
	base, after := NewLatencies(), NewLatencies()
	var firstFail, lastFail time.Time
	seconds := int(end.Sub(killAt) / time.Second)
	ok := make([]int, max(seconds, 0))
	bad := make([]int, max(seconds, 0))
	for _, e := range events {
		if e.at.Before(killAt) {
			if e.err == nil {
				base.Record(e.latency, nil)
			}
			continue
		}
		if !e.at.Before(end) {
			continue
		}
		r.Requests++
		b := int(e.at.Sub(killAt) / time.Second)
		if e.err != nil {
			r.Failures++
			if r.ErrorsByCode == nil {
				r.ErrorsByCode = map[string]int64{}
			}
			r.ErrorsByCode[Code(e.err)]++
			if firstFail.IsZero() {
				firstFail = e.at
			}
			lastFail = e.at
			if b < len(bad) {
				bad[b]++
			}
		} else if b < len(ok) {
			ok[b]++
		}
	}
	if r.Requests > 0 {
		r.SuccessRate = float64(r.Requests-r.Failures) / float64(r.Requests)
	}
	r.Availability, r.LongestOutageSeconds = availability(ok, bad)
	ms := func(d time.Duration) *float64 { v := float64(d.Microseconds()) / 1000; return &v }
	var recoverAt time.Time
	for _, e := range events {
		if e.err == nil && !e.at.Before(killAt) && e.at.Before(end) && (lastFail.IsZero() || e.at.After(lastFail)) {
			recoverAt = e.at
			break
		}
	}
	switch {
	case firstFail.IsZero():
		r.Recovered = r.Requests > 0
		r.RecoveryMs = ms(0)
	case !recoverAt.IsZero() && end.Sub(recoverAt) >= steady:
		r.FirstFailureMs = ms(firstFail.Sub(killAt))
		r.Recovered = true
		r.RecoveryMs = ms(recoverAt.Sub(firstFail))
	default:
		r.FirstFailureMs = ms(firstFail.Sub(killAt))
	}
	if !recoverAt.IsZero() {
		for _, e := range events {
			if e.err == nil && !e.at.Before(recoverAt) && e.at.Before(end) {
				after.Record(e.latency, nil)
			}
		}
	}
	r.Baseline = base.Summarize(0)
	r.AfterRecovery = after.Summarize(0)
	return r
}

// Preflight says, before any data is loaded, whether the fault can be the
// one asked for: the Kubernetes API answers, enough running pods match,
// and this identity may do what the mode needs (SelfSubjectAccessReview:
// list pods, and delete them or create their eviction).
func (k *PodKiller) Preflight(ctx context.Context) error {
	type need struct{ verb, resource, subresource string }
	needs := []need{{"list", "pods", ""}}
	if k.Mode == "evict" {
		needs = append(needs, need{"create", "pods", "eviction"})
	} else {
		needs = append(needs, need{"delete", "pods", ""})
	}
	var denied []string
	for _, n := range needs {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: k.Namespace, Verb: n.verb, Resource: n.resource, Subresource: n.subresource},
		}}
		got, err := k.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("fault preflight: asking the Kubernetes API what this identity may do: %w", err)
		}
		if !got.Status.Allowed {
			what := n.resource
			if n.subresource != "" {
				what += "/" + n.subresource
			}
			denied = append(denied, n.verb+" "+what)
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("fault preflight: this identity may not %s in namespace %s (the verification Role grants them; or pass --no-fault)",
			strings.Join(denied, ", "), k.Namespace)
	}
	targets, err := k.Targets(ctx)
	if err != nil {
		return fmt.Errorf("fault preflight: %w", err)
	}
	if len(targets) < k.Count {
		return fmt.Errorf("fault preflight: %d running pods match %q in %s, %d to kill", len(targets), k.Selector, k.Namespace, k.Count)
	}
	return nil
}
