// Package simcluster runs a simulated Kubernetes cluster for tests: the
// real control plane of one Kubernetes build (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) and kwok in place of kubelets.
// kwok manages fake Nodes (heartbeats, leases) and marks the pods bound to
// them Running and Ready, Job pods Succeeded, and deleted pods gone; no
// container runs. Everything else is real: the scheduler places pods
// (affinity, spreading, volume topology, taints), the controllers run
// Deployments, ReplicaSets, StatefulSets, Jobs, disruption budgets and
// evictions, and the API server admits (Pod Security included).
//
// The one piece that is ours is a volume provisioner: a StorageClass whose
// claims wait for their first consumer gets, once the scheduler picks a
// node, a PersistentVolume pinned to that node's zone, as the zonal block
// storage of every cloud is.
package simcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/milvus-gitops/milvusgen/internal/kubeapi"
)

// Binaries are the programs the simulated cluster runs.
type Binaries struct {
	kubeapi.Binaries
	ControllerManager, Scheduler, Kwok string
	// KwokStages is kwok's kustomize/stage directory (from its module).
	KwokStages string
}

// Cluster is a running simulated cluster.
type Cluster struct {
	*kubeapi.Server
	Client kubernetes.Interface
	Config *rest.Config
	// StartupTime is from the first process to every controller ready.
	StartupTime time.Duration

	stopProvisioner context.CancelFunc
	provisionerDone chan struct{}
	provisionErr    atomic.Value
	// exited closes when a control-plane process or kwok exits.
	exited []<-chan struct{}
	names  []string
}

// Dead names a process of the cluster that has exited, or "".
func (c *Cluster) Dead() string {
	for i, ch := range c.exited {
		select {
		case <-ch:
			return c.names[i] + " exited (see " + filepath.Join(c.Dir, c.names[i]+".log") + ")"
		default:
		}
	}
	return ""
}

// run starts a process and remembers it for Dead.
func (c *Cluster) run(name, bin string, args ...string) error {
	ch, err := c.Run(name, bin, args...)
	if err != nil {
		return err
	}
	c.exited, c.names = append(c.exited, ch), append(c.names, name)
	return nil
}

// Start brings the cluster up under dir. Loopback ports are picked free
// and released before the processes bind them, so another process may take
// one in between: a failed start is retried in a fresh state directory.
func Start(dir string, bin Binaries) (*Cluster, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		begin := time.Now()
		var srv *kubeapi.Server
		srv, err = kubeapi.Start(filepath.Join(dir, fmt.Sprintf("cluster-%d", attempt)), bin.Binaries)
		if err != nil {
			continue
		}
		c := &Cluster{Server: srv}
		if err = c.start(bin); err != nil {
			c.Stop()
			continue
		}
		c.StartupTime = time.Since(begin)
		return c, nil
	}
	return nil, err
}

func (c *Cluster) start(bin Binaries) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	kc := c.Kubeconfig
	ports, err := kubeapi.FreePorts(3)
	if err != nil {
		return err
	}
	if err := c.run("kube-controller-manager", bin.ControllerManager,
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port", strconv.Itoa(ports[0]),
		"--service-account-private-key-file", c.ServiceAccountKey(),
		"--root-ca-file", c.ServingCert(),
		"--use-service-account-credentials=false",
		"--controllers=*",
		// Nothing allocates pod CIDRs or runs a cloud: no node IPAM.
		"--allocate-node-cidrs=false",
	); err != nil {
		return err
	}
	if err := c.run("kube-scheduler", bin.Scheduler,
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port", strconv.Itoa(ports[1]),
		"--v=2", // logs every binding
	); err != nil {
		return err
	}
	stages := []string{
		filepath.Join(bin.KwokStages, "node", "fast", "node-initialize.yaml"),
		filepath.Join(bin.KwokStages, "node", "heartbeat-with-lease", "node-heartbeat-with-lease.yaml"),
		filepath.Join(bin.KwokStages, "pod", "fast", "pod-ready.yaml"),
		filepath.Join(bin.KwokStages, "pod", "fast", "pod-complete.yaml"),
	}
	podDelete := filepath.Join(c.Dir, "pod-delete-stage.yaml")
	if err := os.WriteFile(podDelete, []byte(podDeleteStage), 0o644); err != nil {
		return err
	}
	stages = append(stages, podDelete)
	args := []string{"--kubeconfig", kc, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector", FakeNodeAnnotation + "=fake",
		"--node-lease-duration-seconds", "40",
		"--server-address", "127.0.0.1:" + strconv.Itoa(ports[2]),
		"--cidr", "10.244.0.0/16"}
	for _, s := range stages {
		args = append(args, "--config", s)
	}
	if err := c.run("kwok", bin.Kwok, args...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// The controllers are up when the service-account controller has
	// created the default ServiceAccount of "default".
	if err := poll(ctx, func() (bool, error) {
		if dead := c.Dead(); dead != "" {
			return false, errors.New(dead)
		}
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("kube-controller-manager did not create the default ServiceAccount (see %s): %w", filepath.Join(c.Dir, "kube-controller-manager.log"), err)
	}
	if dead := c.Dead(); dead != "" {
		return errors.New(dead)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	c.stopProvisioner, c.provisionerDone = pcancel, make(chan struct{})
	go func() { defer close(c.provisionerDone); c.provision(pctx) }()
	return nil
}

// podDeleteStage is kwok's pod-delete stage with a fixed one-second delay,
// our own: a pod being deleted stays Terminating for a second, as a
// kubelet's shutdown takes at least that. kwok's "fast" stage deletes at
// once, and then the disruption controller never sees the pod terminate: an
// evicted StatefulSet member, recreated under the same name, stays in the
// budget's disruptedPods for its two-minute timeout and blocks the next
// eviction, which no real cluster does. Its "general" stage waits for a
// random part of the grace period (up to 60 s here), which makes every
// drill minutes long.
const podDeleteStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  delay:
    durationMilliseconds: 1000
  next:
    delete: true
`

// Stop ends the provisioner and every process.
func (c *Cluster) Stop() {
	if c.stopProvisioner != nil {
		c.stopProvisioner()
		<-c.provisionerDone
	}
	c.Server.Stop()
}

// poll calls f every 100 ms until it returns true, an error, or ctx ends.
func poll(ctx context.Context, f func() (bool, error)) error {
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FakeNodeAnnotation marks the Nodes kwok manages.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// Node is one fake node: its name, zone and allocatable capacity.
type Node struct {
	Name string
	Zone string
	// Labels beyond hostname and zone (e.g. a custom hostname label).
	Labels map[string]string
	CPU    string // cores, e.g. "16"
	Memory string // e.g. "64Gi"
	Pods   string
	// EphemeralStorage is the node's local disk for emptyDirs.
	EphemeralStorage string
}

// AddNodes creates fake Nodes and waits (a minute at most) until kwok
// reports them Ready.
func (c *Cluster) AddNodes(ctx context.Context, nodes []Node) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, n := range nodes {
		labels := map[string]string{
			"kubernetes.io/hostname": n.Name,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
			"type":                   "kwok",
		}
		if n.Zone != "" {
			labels["topology.kubernetes.io/zone"] = n.Zone
		}
		for k, v := range n.Labels {
			labels[k] = v
		}
		alloc := corev1.ResourceList{}
		for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: n.CPU, corev1.ResourceMemory: n.Memory, corev1.ResourcePods: n.Pods, corev1.ResourceEphemeralStorage: n.EphemeralStorage} {
			if q == "" {
				continue
			}
			v, err := parseQuantity(q)
			if err != nil {
				return fmt.Errorf("node %s: %s: %w", n.Name, name, err)
			}
			alloc[name] = v
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels, Annotations: map[string]string{FakeNodeAnnotation: "fake"}},
			Status:     corev1.NodeStatus{Allocatable: alloc, Capacity: alloc},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	err := poll(ctx, func() (bool, error) {
		if dead := c.Dead(); dead != "" {
			return false, errors.New(dead)
		}
		for _, n := range nodes {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if !nodeReady(node) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("nodes not Ready (kwok: see %s): %w", filepath.Join(c.Dir, "kwok.log"), err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
