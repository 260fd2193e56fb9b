package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/internal/simcluster"
)

// Drills runs the availability drills of one installed environment.
type Drills struct {
	Cluster   *simcluster.Cluster
	Namespace string
	Workloads []analysis.Workload
	Observer  *Observer
	// Nodes by zone ("" without zones), in layout order.
	Nodes []simcluster.Node
	// EvictionTimeout bounds how long one pod's eviction may be refused
	// by a disruption budget before the drain counts as deadlocked.
	EvictionTimeout time.Duration
	// Settle is how long the state must stay unchanged to count as settled.
	Settle time.Duration
}

// DrainResult is one node's drain.
type DrainResult struct {
	Node     string
	Evicted  int
	Duration time.Duration
	// Blocked is set when a disruption budget kept refusing an eviction.
	Blocked string
	// MinReady per workload while the node drained.
	MinReady map[string]int
	// Violations: a workload below its budget or quorum at some moment.
	Violations []string
}

// cordon sets a node (un)schedulable.
func (d *Drills) cordon(ctx context.Context, node string, on bool) error {
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%v}}`, on)
	_, err := d.Cluster.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// podsOn lists the pods of the namespace bound to node that still run.
func (d *Drills) podsOn(ctx context.Context, node string) ([]corev1.Pod, error) {
	list, err := d.Cluster.Client.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// Drain drains every node in turn as `kubectl drain` does: cordon, evict
// every pod through the Eviction API (retrying while a disruption budget
// refuses with 429), wait until they are gone and the workloads have
// settled, then uncordon and wait until everything is ready again.
func (d *Drills) Drain(ctx context.Context) ([]DrainResult, error) {
	var out []DrainResult
	for _, n := range d.Nodes {
		r, err := d.drainOne(ctx, n.Name)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if err := d.cordon(ctx, n.Name, false); err != nil {
			return out, err
		}
		if err := WaitReady(ctx, d.Cluster, d.Namespace, 2*time.Minute); err != nil {
			return out, fmt.Errorf("after uncordoning %s: %w", n.Name, err)
		}
		if r.Blocked != "" {
			return out, nil // the rest would block the same way
		}
	}
	return out, nil
}

func (d *Drills) drainOne(ctx context.Context, node string) (DrainResult, error) {
	r := DrainResult{Node: node}
	start := time.Now()
	if err := d.cordon(ctx, node, true); err != nil {
		return r, err
	}
	pods, err := d.podsOn(ctx, node)
	if err != nil {
		return r, err
	}
	d.Observer.Start()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range pods {
		wg.Add(1)
		go func(p corev1.Pod) {
			defer wg.Done()
			if msg := d.evict(ctx, p); msg != "" {
				mu.Lock()
				r.Blocked = msg
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	r.Evicted = len(pods)
	// Replacements scheduled and ready, or stuck: the state settles.
	settled := d.settle(ctx)
	w := d.Observer.Stop()
	if !settled {
		return r, fmt.Errorf("drain of %s: the pods did not settle in 2 minutes", node)
	}
	r.Duration, r.MinReady = time.Since(start), w.MinReady
	// The disruption budget's promise; quorums are held to the static
	// analysis by the caller.
	for _, wl := range d.Workloads {
		if got := w.MinReady[wl.Name]; got < wl.Budget {
			r.Violations = append(r.Violations, fmt.Sprintf("%s: %d ready at one moment, below the %d its PodDisruptionBudget promises", wl.Name, got, wl.Budget))
		}
	}
	return r, nil
}

// evict evicts one pod, retrying while a budget refuses; it returns a
// message when the refusal outlasts EvictionTimeout. A refusal while a
// matching budget still lists disrupted pods is transient (the disruption
// controller drops an entry when it sees the pod terminate, or after two
// minutes), so it is waited out, up to three minutes in all.
func (d *Drills) evict(ctx context.Context, p corev1.Pod) string {
	start := time.Now()
	deadline := start.Add(d.EvictionTimeout)
	for {
		err := d.Cluster.Client.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{
			ObjectMeta:    metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
			DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}},
		})
		switch {
		case err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			return ""
		case apierrors.IsTooManyRequests(err) && d.budgetBusy(ctx, p) && time.Since(start) < 3*time.Minute:
			deadline = time.Now().Add(d.EvictionTimeout)
			time.Sleep(200 * time.Millisecond)
		case apierrors.IsTooManyRequests(err) && time.Now().Before(deadline):
			time.Sleep(200 * time.Millisecond)
		case apierrors.IsTooManyRequests(err):
			return fmt.Sprintf("eviction of %s refused for %s: %v", p.Name, time.Since(start).Round(time.Second), err)
		default:
			return fmt.Sprintf("eviction of %s: %v", p.Name, err)
		}
	}
}

// budgetBusy: a budget selecting the pod still counts disrupted pods or
// has not caught up with its spec.
func (d *Drills) budgetBusy(ctx context.Context, p corev1.Pod) bool {
	pdbs, err := d.Cluster.Client.PolicyV1().PodDisruptionBudgets(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, b := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if len(b.Status.DisruptedPods) > 0 || b.Status.ObservedGeneration < b.Generation {
			return true
		}
	}
	return false
}

// settle waits until nothing is in flight (every controller has created
// its pods, and every pod is Ready, finished, or refused by the scheduler)
// and the pod counts have not changed for Settle; false when that has not
// happened after two minutes. Without the first condition a slow machine
// could read a moment between a deletion and its replacement as settled.
func (d *Drills) settle(ctx context.Context) bool {
	last, since := "", time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		b, _ := json.Marshal(d.Observer.Now())
		switch s := string(b); {
		case s != last || !d.quiet(ctx):
			last, since = s, time.Now()
		case time.Since(since) >= d.Settle:
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// quiet: no pod is terminating or on its way, and every ReplicaSet and
// StatefulSet has as many pods as it wants.
func (d *Drills) quiet(ctx context.Context) bool {
	for _, p := range d.Observer.Pods() {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		case p.DeletionTimestamp != nil:
			return false
		case p.Spec.NodeName == "" && !unschedulable(p):
			return false
		case p.Spec.NodeName != "" && !ready(p):
			return false
		}
	}
	rss, err := d.Cluster.Client.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, rs := range rss.Items {
		if rs.Status.ObservedGeneration < rs.Generation || rs.Status.Replicas != replicas(rs.Spec.Replicas) {
			return false
		}
	}
	sets, err := d.Cluster.Client.AppsV1().StatefulSets(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, s := range sets.Items {
		if s.Status.ObservedGeneration < s.Generation || s.Status.Replicas != replicas(s.Spec.Replicas) {
			return false
		}
	}
	return true
}

// unschedulable: the scheduler has tried the pod and found no node.
func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

// ZoneResult is one zone's loss.
type ZoneResult struct {
	Zone string
	// Immediate is the fewest ready pods per workload right after the
	// zone's pods were gone; Settled, once the controllers had replaced
	// what the remaining nodes can take.
	Immediate, Settled map[string]int
	// Pending names the pods left unschedulable, with the scheduler's
	// reason.
	Pending string
}

// LoseZones loses each zone in turn: its nodes are cordoned and their pods
// deleted at once (grace 0, as a dead zone's pods are gone); after the
// workloads settle, the zone comes back and everything must be ready again.
func (d *Drills) LoseZones(ctx context.Context) ([]ZoneResult, error) {
	var zones []string
	byZone := map[string][]string{}
	for _, n := range d.Nodes {
		if _, ok := byZone[n.Zone]; !ok {
			zones = append(zones, n.Zone)
		}
		byZone[n.Zone] = append(byZone[n.Zone], n.Name)
	}
	var out []ZoneResult
	for _, z := range zones {
		if z == "" {
			continue
		}
		r := ZoneResult{Zone: z}
		d.Observer.Start()
		for _, n := range byZone[z] {
			if err := d.cordon(ctx, n, true); err != nil {
				return out, err
			}
		}
		// All at once, as a zone goes: one by one, early replacements
		// would be Ready before the last pod went.
		var zoneErr error
		var mu sync.Mutex
		var wg sync.WaitGroup
		zero := int64(0)
		for _, n := range byZone[z] {
			pods, err := d.podsOn(ctx, n)
			if err != nil {
				return out, err
			}
			for _, p := range pods {
				wg.Add(1)
				go func(name string) {
					defer wg.Done()
					err := d.Cluster.Client.CoreV1().Pods(d.Namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
					if err != nil && !apierrors.IsNotFound(err) {
						mu.Lock()
						zoneErr = err
						mu.Unlock()
					}
				}(p.Name)
			}
		}
		wg.Wait()
		if zoneErr != nil {
			return out, zoneErr
		}
		if !d.settle(ctx) {
			return out, fmt.Errorf("zone %s lost: the pods did not settle in 2 minutes", z)
		}
		w := d.Observer.Stop()
		r.Immediate = w.MinReady
		r.Settled = map[string]int{}
		for name, c := range d.Observer.Now() {
			r.Settled[name] = c.Ready
		}
		r.Pending, _ = PendingReasons(ctx, d.Cluster, d.Namespace)
		out = append(out, r)
		for _, n := range byZone[z] {
			if err := d.cordon(ctx, n, false); err != nil {
				return out, err
			}
		}
		if err := WaitReady(ctx, d.Cluster, d.Namespace, 3*time.Minute); err != nil {
			return out, fmt.Errorf("after zone %s came back: %w", z, err)
		}
	}
	return out, nil
}

// RolloutResult is the rolling update of the Milvus release.
type RolloutResult struct {
	Tag      string
	Duration time.Duration
	// MaxPods and MaxPerNode per workload during the rollout.
	MaxPods, MaxReady, MaxPerNode, MinReady map[string]int
	// Violations of maxSurge 0, of required anti-affinity, or images
	// left behind.
	Violations []string
}

// RollingUpdate upgrades the Milvus release with another image tag and
// waits until every Deployment has rolled out: never two of a
// required-anti-affinity component on one node, every pod on the new image.
func (d *Drills) RollingUpdate(ctx context.Context, dep *Deployer, tag string) (RolloutResult, error) {
	r := RolloutResult{Tag: tag}
	var milvus *Release
	for _, rel := range dep.Releases() {
		if rel.Chart == "milvus" {
			milvus = &rel
		}
	}
	if milvus == nil {
		return r, fmt.Errorf("no Milvus release")
	}
	start := time.Now()
	d.Observer.Start()
	if err := dep.helm(ctx, *milvus, []string{"image.all.tag=" + tag}); err != nil {
		return r, err
	}
	err := WaitReady(ctx, d.Cluster, d.Namespace, 5*time.Minute)
	w := d.Observer.Stop()
	r.Duration = time.Since(start)
	r.MaxPods, r.MaxReady, r.MaxPerNode, r.MinReady = w.MaxPods, w.MaxReady, w.MaxPerNode, w.MinReady
	if err != nil {
		return r, fmt.Errorf("rollout to %s: %w", tag, err)
	}
	for _, wl := range d.Workloads {
		if wl.Dependency != "" {
			continue
		}
		// maxSurge 0 bounds the ReplicaSets' sizes, not the live pods: an
		// old pod may still exist for a moment while its successor starts
		// (MaxPods shows it). What required anti-affinity needs is that
		// the rollout completes without a node more, which staging proves
		// with as many query nodes as nodes, and that no two pods ever
		// share a node.
		if w.MinReady[wl.Name] < wl.Budget {
			r.Violations = append(r.Violations, fmt.Sprintf("rolling update: %s fell to %d ready, below the %d its PodDisruptionBudget promises", wl.Name, w.MinReady[wl.Name], wl.Budget))
		}
		if wl.HardHostSpread && w.MaxPerNode[wl.Name] > 1 {
			r.Violations = append(r.Violations, fmt.Sprintf("rolling update: %s: %d pods on one node despite required anti-affinity", wl.Name, w.MaxPerNode[wl.Name]))
		}
	}
	updated := 0
	for _, p := range d.Observer.Pods() {
		if p.Labels["app.kubernetes.io/name"] != "milvus" || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		for _, c := range p.Spec.Containers {
			switch {
			case strings.HasSuffix(c.Image, ":"+tag):
				updated++
			case strings.Contains(c.Image, "milvus"):
				r.Violations = append(r.Violations, fmt.Sprintf("rolling update: pod %s still runs %s", p.Name, c.Image))
			}
		}
	}
	if updated == 0 {
		r.Violations = append(r.Violations, "rolling update: no pod runs the new image")
	}
	sort.Strings(r.Violations)
	return r, nil
}
