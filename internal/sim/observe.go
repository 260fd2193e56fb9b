package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/internal/simcluster"
)

// Observer follows every pod of a namespace through a watch and, at each
// change, counts per workload the ready pods (Ready and not being deleted,
// as the disruption controller counts them), the pods that exist, and the
// most pods of one workload that share a node. A window records the
// extremes between Start and Stop over every event the watch delivered (a
// re-list after a broken watch would merge states; the simulated cluster's
// watches do not break).
type Observer struct {
	workloads []analysis.Workload
	selectors []labels.Selector

	mu     sync.Mutex
	pods   map[string]*corev1.Pod
	window *Window
	stop   chan struct{}
}

// Window holds, per workload name, what was observed while it was open.
type Window struct {
	MinReady   map[string]int
	MaxReady   map[string]int
	MaxPods    map[string]int
	MaxPerNode map[string]int
}

// Observe starts watching ns; it fails when the watch cannot sync within
// a minute.
func Observe(ctx context.Context, c *simcluster.Cluster, ns string, workloads []analysis.Workload) (*Observer, error) {
	o := &Observer{workloads: workloads, pods: map[string]*corev1.Pod{}, stop: make(chan struct{})}
	for _, w := range workloads {
		o.selectors = append(o.selectors, labels.SelectorFromSet(w.Selector))
	}
	f := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.update(obj.(*corev1.Pod), false) },
		UpdateFunc: func(_, obj any) { o.update(obj.(*corev1.Pod), false) },
		DeleteFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				o.update(p, true)
			} else if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				if p, ok := t.Obj.(*corev1.Pod); ok {
					o.update(p, true)
				}
			}
		},
	})
	f.Start(o.stop)
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
		close(o.stop)
		return nil, fmt.Errorf("watching the pods of %s: no sync within a minute", ns)
	}
	// Handlers run asynchronously: seed from the synced store.
	for _, obj := range inf.GetStore().List() {
		if p, ok := obj.(*corev1.Pod); ok {
			o.update(p, false)
		}
	}
	return o, nil
}

// Close stops the watch.
func (o *Observer) Close() { close(o.stop) }

func (o *Observer) update(p *corev1.Pod, deleted bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if deleted {
		delete(o.pods, p.Name)
	} else {
		o.pods[p.Name] = p
	}
	if o.window != nil {
		o.record()
	}
}

// Counts is the current state of one workload.
type Counts struct {
	Ready, Pods, MaxPerNode int
}

// ready: Ready condition true and not being deleted.
func ready(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// counts must be called with o.mu held.
func (o *Observer) counts() map[string]Counts {
	out := map[string]Counts{}
	for i, w := range o.workloads {
		var c Counts
		perNode := map[string]int{}
		for _, p := range o.pods {
			if !o.selectors[i].Matches(labels.Set(p.Labels)) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if p.DeletionTimestamp == nil {
				c.Pods++
			}
			if p.Spec.NodeName != "" {
				perNode[p.Spec.NodeName]++
				c.MaxPerNode = max(c.MaxPerNode, perNode[p.Spec.NodeName])
			}
			if ready(p) {
				c.Ready++
			}
		}
		out[w.Name] = c
	}
	return out
}

func (o *Observer) record() {
	for name, c := range o.counts() {
		w := o.window
		if v, ok := w.MinReady[name]; !ok || c.Ready < v {
			w.MinReady[name] = c.Ready
		}
		w.MaxReady[name] = max(w.MaxReady[name], c.Ready)
		w.MaxPods[name] = max(w.MaxPods[name], c.Pods)
		w.MaxPerNode[name] = max(w.MaxPerNode[name], c.MaxPerNode)
	}
}

// Start opens a window, seeded with the current state.
func (o *Observer) Start() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.window = &Window{MinReady: map[string]int{}, MaxReady: map[string]int{}, MaxPods: map[string]int{}, MaxPerNode: map[string]int{}}
	o.record()
}

// Stop closes the window and returns it (empty when none was open).
func (o *Observer) Stop() *Window {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := o.window
	o.window = nil
	if w == nil {
		w = &Window{MinReady: map[string]int{}, MaxReady: map[string]int{}, MaxPods: map[string]int{}, MaxPerNode: map[string]int{}}
	}
	return w
}

// Now is the current state of every workload.
func (o *Observer) Now() map[string]Counts {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts()
}

// Pods is a snapshot of the pods.
func (o *Observer) Pods() []*corev1.Pod {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(o.pods))
	for _, p := range o.pods {
		out = append(out, p)
	}
	return out
}
