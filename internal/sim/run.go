package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/internal/simcluster"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// DefaultNodeCPU and DefaultNodeMemory are each fake node's allocatable
// capacity when the spec declares no topology.nodeSize: generous enough
// that capacity never decides placement, so only the spec's own rules do.
const (
	DefaultNodeCPU    = "64"
	DefaultNodeMemory = "512Gi"
	// NodeEphemeralStorage is each fake node's local disk (the spec does
	// not size it): room for the query nodes' local disks.
	NodeEphemeralStorage = "2Ti"
)

// Options say what to simulate.
type Options struct {
	Env    *model.Environment
	Stream []byte // kustomize build out/ENV
	Tools  Tools
	Bin    simcluster.Binaries
	// Dir holds the cluster's state and logs.
	Dir string
	Log func(format string, args ...any)
	// Drills to run (the installation and convergence always run).
	Drain, Zones, Rollout, Fault bool
	// Then are later states of the environment (the phases of an
	// upgrade, one commit each), applied in order onto the installed
	// one, as Flux or Argo CD would sync each commit: each must converge
	// with the images its spec says before the next. The checks and
	// drills after them hold the last.
	Then []Step
}

// Step is one later state of the environment.
type Step struct {
	Name   string
	Env    *model.Environment
	Stream []byte
}

// StepResult is what one state looked like once it converged.
type StepResult struct {
	Name      string
	Converged time.Duration
	Images    map[string]string
	Misimaged []string
	// Wait is what the verification Job's own pre-measurement checks saw.
	Wait *WaitResult
}

// Report is what a simulation observed.
type Report struct {
	Env       string
	Startup   time.Duration
	Install   time.Duration
	Nodes     []simcluster.Node
	Placement map[string][]string // node -> pods ("workload" or pod name)
	Analysis  []analysis.Result
	Drains    []DrainResult
	ZoneLoss  []ZoneResult
	Rollout   *RolloutResult
	Fault     *FaultResult
	// Unspread lists the workloads the analysis counts as spread over
	// zones whose live pod templates carry no zone spread constraint that
	// selects their own pods.
	Unspread []string
	// Ungraced lists the Milvus Deployments whose live pod template lacks
	// the spec's terminationGracePeriodSeconds (the chart has no key for
	// it: a Flux post-renderer or an Argo CD kustomization patch sets it).
	Ungraced []string
	// Images are the live Milvus Deployments' component images, by
	// component label; Misimaged those that differ from what the spec's
	// upgrade phase (or plain version) says they run.
	Images    map[string]string
	Misimaged []string
	// Wait is what the verification Job's own pre-measurement checks saw
	// on the installed state (nil without a Job).
	Wait *WaitResult
	// Steps are the installed state and those of Options.Then, when
	// there are any.
	Steps []StepResult
}

// NodesFor is the cluster the spec describes: topology.nodes nodes dealt
// round-robin over the zones (analysis.LayoutOf), each with the declared
// size or the default.
func NodesFor(env *model.Environment) []simcluster.Node {
	l := analysis.LayoutOf(env)
	cpu, mem := DefaultNodeCPU, DefaultNodeMemory
	if s := env.Topology.NodeSize; s != nil {
		cpu = resource.NewMilliQuantity(int64(math.Round(s.CPU*1000)), resource.DecimalSI).String()
		mem = resource.NewQuantity(s.Memory, resource.BinarySI).String()
	}
	var out []simcluster.Node
	for i := 0; i < l.Nodes; i++ {
		n := simcluster.Node{Name: fmt.Sprintf("node-%02d", i), Zone: l.ZoneOf(i), CPU: cpu, Memory: mem, Pods: "110", EphemeralStorage: NodeEphemeralStorage}
		labels := map[string]string{}
		if h := env.Topology.HostnameLabel; h != "" && h != "kubernetes.io/hostname" {
			labels[h] = n.Name
		}
		if z := env.Topology.ZoneLabel; n.Zone != "" && z != "" && z != "topology.kubernetes.io/zone" {
			labels[z] = n.Zone
		}
		n.Labels = labels
		out = append(out, n)
	}
	return out
}

// storageClasses are the classes the spec names, plus a default.
func storageClasses(env *model.Environment) []string {
	names := []string{"standard"}
	add := func(s string) {
		for _, n := range names {
			if n == s {
				return
			}
		}
		if s != "" {
			names = append(names, s)
		}
	}
	d := env.Dependencies
	if d.Etcd.Managed != nil {
		add(d.Etcd.Managed.Persistence.StorageClass)
	}
	if d.ObjectStorage.Managed != nil {
		add(d.ObjectStorage.Managed.Persistence.StorageClass)
	}
	if d.MessageQueue.Managed != nil {
		add(d.MessageQueue.Managed.StorageClass)
	}
	for _, key := range env.ComponentNames() {
		if l := env.Components[key].LocalDisk; l != nil {
			add(l.StorageClass)
		}
	}
	return names
}

// Run starts a simulated cluster, installs the environment, waits until
// it converges, runs the drills and stops the cluster. A convergence
// failure is an error naming the pods the scheduler could not place.
func Run(ctx context.Context, o Options) (*Report, error) {
	log := o.Log
	if log == nil {
		log = func(string, ...any) {}
	}
	rep := &Report{Env: o.Env.Name, Nodes: NodesFor(o.Env), Analysis: analysis.Analyse(o.Env)}
	c, err := simcluster.Start(o.Dir, o.Bin)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	rep.Startup = c.StartupTime
	log("simulated cluster up in %s", c.StartupTime.Round(time.Millisecond))
	if err := c.AddNodes(ctx, rep.Nodes); err != nil {
		return rep, err
	}
	if err := c.StorageClasses(ctx, storageClasses(o.Env)...); err != nil {
		return rep, err
	}
	work, err := os.MkdirTemp(o.Dir, "work-")
	if err != nil {
		return rep, err
	}
	dep := &Deployer{Cluster: c, Tools: o.Tools, Env: o.Env, Stream: o.Stream, Work: work, Log: log}
	start := time.Now()
	if err := dep.Install(ctx); err != nil {
		return rep, fmt.Errorf("%s does not converge: %w", o.Env.Name, err)
	}
	rep.Install = time.Since(start)
	if rep.Wait, err = VerifierWait(ctx, dep); err != nil {
		return rep, fmt.Errorf("the verification Job's checks: %w", err)
	}
	if len(o.Then) > 0 {
		r := StepResult{Name: "installed", Converged: rep.Install, Wait: rep.Wait}
		if r.Images, r.Misimaged, err = images(ctx, c, o.Env); err != nil {
			return rep, err
		}
		rep.Steps = append(rep.Steps, r)
	}
	for _, st := range o.Then {
		log("next state: %s", st.Name)
		dep.Env, dep.Stream = st.Env, st.Stream
		start := time.Now()
		if err := dep.Install(ctx); err != nil {
			return rep, fmt.Errorf("%s: %s does not converge: %w", o.Env.Name, st.Name, err)
		}
		r := StepResult{Name: st.Name, Converged: time.Since(start)}
		if r.Images, r.Misimaged, err = images(ctx, c, st.Env); err != nil {
			return rep, err
		}
		if r.Wait, err = VerifierWait(ctx, dep); err != nil {
			return rep, fmt.Errorf("%s: the verification Job's checks: %w", st.Name, err)
		}
		log("%s converged in %s", st.Name, r.Converged.Round(time.Millisecond))
		rep.Steps = append(rep.Steps, r)
		o.Env = st.Env
	}
	if len(o.Then) > 0 {
		rep.Analysis = analysis.Analyse(o.Env)
	}
	workloads := analysis.Workloads(o.Env)
	obs, err := Observe(ctx, c, o.Env.Namespace, workloads)
	if err != nil {
		return rep, err
	}
	defer obs.Close()
	rep.Placement = placement(obs, workloads)
	if rep.Unspread, err = unspread(ctx, c, o.Env, workloads); err != nil {
		return rep, err
	}
	if rep.Ungraced, err = ungraced(ctx, c, o.Env); err != nil {
		return rep, err
	}
	if rep.Images, rep.Misimaged, err = images(ctx, c, o.Env); err != nil {
		return rep, err
	}
	dr := &Drills{Cluster: c, Namespace: o.Env.Namespace, Workloads: workloads, Observer: obs, Nodes: rep.Nodes,
		EvictionTimeout: 20 * time.Second, Settle: 1500 * time.Millisecond}
	if o.Drain {
		log("drain drill")
		if rep.Drains, err = dr.Drain(ctx); err != nil {
			return rep, fmt.Errorf("drain: %w", err)
		}
	}
	if o.Zones {
		log("zone-loss drill")
		if rep.ZoneLoss, err = dr.LoseZones(ctx); err != nil {
			return rep, fmt.Errorf("zone loss: %w", err)
		}
	}
	if o.Rollout {
		log("rolling-update drill")
		r, err := dr.RollingUpdate(ctx, dep, o.Env.Milvus.Image.Tag+"-sim")
		rep.Rollout = &r
		if err != nil {
			return rep, err
		}
	}
	if o.Fault {
		log("verifier fault drill")
		if rep.Fault, err = VerifierFault(ctx, dep); err != nil {
			return rep, fmt.Errorf("verifier fault phase: %w", err)
		}
	}
	return rep, nil
}

// placement maps each node to the pods on it, named by workload.
func placement(o *Observer, workloads []analysis.Workload) map[string][]string {
	out := map[string][]string{}
	for _, p := range o.Pods() {
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
			continue
		}
		name := p.Name
		for _, w := range workloads {
			if labels.SelectorFromSet(w.Selector).Matches(labels.Set(p.Labels)) {
				name = w.Name
			}
		}
		if p.Status.Phase == "Succeeded" {
			name += " (done)"
		}
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], name)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// Write prints the placement as nodes by zone with their pods, then each
// drill's results next to what the static analysis predicted.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "simulated cluster for %s: %d nodes, up in %s, installed and converged in %s\n\n", r.Env, len(r.Nodes),
		r.Startup.Round(time.Millisecond), r.Install.Round(time.Millisecond))
	if r.Wait != nil {
		fmt.Fprintf(w, "the verification Job's ServiceAccount saw %d Milvus Deployments rolled out on the images it expects\n", r.Wait.Deployments)
	}
	for _, st := range r.Steps {
		fmt.Fprintf(w, "%s: converged in %s; milvus images: %s\n", st.Name, st.Converged.Round(time.Millisecond), imageList(st.Images))
		if st.Wait != nil && st.Wait.Backup != "" {
			fmt.Fprintf(w, "  backup check before the upgrade: %s\n", st.Wait.Backup)
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(w)
	}
	if len(r.Images) > 0 {
		comps := make([]string, 0, len(r.Images))
		for c := range r.Images {
			comps = append(comps, c)
		}
		sort.Strings(comps)
		for i, c := range comps {
			comps[i] = c + " " + r.Images[c]
		}
		fmt.Fprintf(w, "milvus images: %s\n\n", strings.Join(comps, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tNODE\tPODS")
	for _, n := range r.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", orDash(n.Zone), n.Name, strings.Join(r.Placement[n.Name], ", "))
	}
	tw.Flush()
	if len(r.Drains) > 0 {
		fmt.Fprintln(w, "\nnode drains (kubectl drain semantics: cordon, evict through PodDisruptionBudgets):")
		for _, d := range r.Drains {
			status := "ok"
			if d.Blocked != "" {
				status = "BLOCKED: " + d.Blocked
			}
			if len(d.Violations) > 0 {
				status = "VIOLATED: " + strings.Join(d.Violations, "; ")
			}
			fmt.Fprintf(w, "  %s: %d pods evicted in %s, %s\n", d.Node, d.Evicted, d.Duration.Round(time.Millisecond), status)
		}
	}
	if len(r.ZoneLoss) > 0 {
		fmt.Fprintln(w, "\nzone loss (observed at once -> once settled; predicted worst case in brackets):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := "  WORKLOAD\tQUORUM"
		for _, z := range r.ZoneLoss {
			head += "\t" + z.Zone
		}
		fmt.Fprintln(tw, head)
		for _, a := range r.Analysis {
			line := fmt.Sprintf("  %s\t%d", a.Name, a.Quorum)
			for i, z := range r.ZoneLoss {
				p := a.Zones[i]
				held := "held"
				if z.Immediate[a.Name] < a.Quorum {
					held = "LOST"
				}
				line += fmt.Sprintf("\t%d->%d %s [%d->%d]", z.Immediate[a.Name], z.Settled[a.Name], held, p.Immediate, p.Settled)
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
	if ro := r.Rollout; ro != nil {
		status := "ok"
		if len(ro.Violations) > 0 {
			status = "VIOLATED: " + strings.Join(ro.Violations, "; ")
		}
		fmt.Fprintf(w, "\nrolling update to %s: every Deployment rolled out in %s, %s\n", ro.Tag, ro.Duration.Round(time.Millisecond), status)
		for _, a := range r.Analysis {
			if a.Dependency == "" {
				fmt.Fprintf(w, "  %s: %d replicas, at most %d pods and %d ready at once, at most %d on one node, fewest ready %d\n",
					a.Name, a.Replicas, ro.MaxPods[a.Name], ro.MaxReady[a.Name], ro.MaxPerNode[a.Name], ro.MinReady[a.Name])
			}
		}
	}
	if f := r.Fault; f != nil {
		fmt.Fprintf(w, "\nverifier fault phase as ServiceAccount %s: killed %s (%s), all targets running again after %s\n",
			f.ServiceAccount, strings.Join(f.Killed, ", "), f.Selector, f.Recovered.Round(time.Millisecond))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// unspread checks the live workloads: each that the analysis counts as
// spread over zones must carry a zone spread constraint (from its chart's
// values, or from a Flux post-renderer) that selects its own pods.
func unspread(ctx context.Context, c *simcluster.Cluster, env *model.Environment, workloads []analysis.Workload) ([]string, error) {
	type tmpl struct {
		labels  map[string]string
		spreads []corev1.TopologySpreadConstraint
	}
	var all []tmpl
	sets, err := c.Client.AppsV1().StatefulSets(env.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, s := range sets.Items {
		all = append(all, tmpl{s.Spec.Template.Labels, s.Spec.Template.Spec.TopologySpreadConstraints})
	}
	deps, err := c.Client.AppsV1().Deployments(env.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range deps.Items {
		all = append(all, tmpl{d.Spec.Template.Labels, d.Spec.Template.Spec.TopologySpreadConstraints})
	}
	var out []string
	for _, w := range workloads {
		if w.ZoneSpread == "" {
			continue
		}
		sel := labels.SelectorFromSet(w.Selector)
		for _, t := range all {
			if !sel.Matches(labels.Set(t.labels)) {
				continue
			}
			ok := false
			for _, sc := range t.spreads {
				s, err := metav1.LabelSelectorAsSelector(sc.LabelSelector)
				ok = ok || err == nil && sc.TopologyKey == env.Topology.ZoneLabel && string(sc.WhenUnsatisfiable) == w.ZoneSpread && s.Matches(labels.Set(t.labels))
			}
			if !ok {
				out = append(out, w.Name)
			}
		}
	}
	return out, nil
}

// images reads each live Milvus Deployment's component image (its first
// container, as the chart renders it) and compares it with the tag the
// spec says it runs: the version's, or in an upgrade phase the source
// version's for the components held back by post-render patches.
func images(ctx context.Context, c *simcluster.Cluster, env *model.Environment) (map[string]string, []string, error) {
	tags, err := upgrade.Tags(env)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]string{}
	for key, tag := range tags {
		want[model.ComponentLabel(key)] = tag
	}
	deps, err := c.Client.AppsV1().Deployments(env.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/name=milvus,app.kubernetes.io/instance=" + env.Release,
	})
	if err != nil {
		return nil, nil, err
	}
	got := map[string]string{}
	var wrong []string
	for _, d := range deps.Items {
		comp := d.Spec.Template.Labels["component"]
		if len(d.Spec.Template.Spec.Containers) == 0 {
			continue
		}
		image := d.Spec.Template.Spec.Containers[0].Image
		got[comp] = image
		w, ok := want[comp]
		switch {
		case !ok:
			// A component the spec does not run in this phase (the index
			// nodes after 2.5 -> 2.6 stops them) must be gone.
			wrong = append(wrong, fmt.Sprintf("%s runs %s, the spec runs no %s", comp, image, comp))
		case !strings.HasSuffix(image, ":"+w):
			wrong = append(wrong, fmt.Sprintf("%s runs %s, the spec says %s", comp, image, w))
		}
	}
	for comp, w := range want {
		if _, ok := got[comp]; !ok {
			wrong = append(wrong, fmt.Sprintf("%s: no Deployment, the spec says it runs %s", comp, w))
		}
	}
	sort.Strings(wrong)
	return got, wrong, nil
}

// ungraced lists the live Milvus Deployments whose grace period is not the
// spec's (when it sets one).
func ungraced(ctx context.Context, c *simcluster.Cluster, env *model.Environment) ([]string, error) {
	g := env.Availability.TerminationGracePeriodSeconds
	if g == nil {
		return nil, nil
	}
	deps, err := c.Client.AppsV1().Deployments(env.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/name=milvus,app.kubernetes.io/instance=" + env.Release,
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range deps.Items {
		if got := d.Spec.Template.Spec.TerminationGracePeriodSeconds; got == nil || *got != *g {
			out = append(out, fmt.Sprintf("%s (%v)", d.Name, got))
		}
	}
	if len(deps.Items) == 0 {
		out = append(out, "no Milvus Deployment found")
	}
	return out, nil
}

// imageList is "component image, ..." in component order.
func imageList(images map[string]string) string {
	comps := make([]string, 0, len(images))
	for c := range images {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	for i, c := range comps {
		comps[i] = c + " " + images[c]
	}
	return strings.Join(comps, ", ")
}
