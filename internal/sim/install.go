// Package sim deploys a rendered environment onto a simulated cluster
// (internal/simcluster) the way Flux or Argo CD would, waits until it
// converges, and runs the drills that prove its availability promises:
// node drains, zone losses, a rolling update and the verifier's fault
// phase. It reports where every pod runs and what each drill observed.
package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/chartarchive"
	"github.com/milvus-gitops/milvusgen/internal/simcluster"
	"github.com/milvus-gitops/milvusgen/model"
)

// Tools are the real CLIs the installation runs.
type Tools struct {
	Helm, Kustomize string
	// Charts is ../shared/charts (the Milvus chart archives, whose
	// vendored subcharts are the dependency charts).
	Charts string
	// Repo is the repository root ($values of Argo CD sources).
	Repo string
	// CRDs is ../shared/crds (Flux, Argo CD, Prometheus Operator, External
	// Secrets), loaded before the overlay.
	CRDs string
}

// Release is one Helm release as the delivery objects describe it.
type Release struct {
	// ID is the delivery object's name (what dependsOn names); Name is
	// the Helm release name.
	ID                              string
	Name, Namespace, Chart, Version string
	Values                          []byte
	// Patches are kustomize patches of the chart output (Flux post-renderer
	// patches, or the patches of an Argo CD source kustomization).
	Patches []any
	// After are the releases that must be Ready first.
	After []string
	order int
}

// Deployer installs one environment into a simulated cluster.
type Deployer struct {
	Cluster *simcluster.Cluster
	Tools   Tools
	Env     *model.Environment
	// Stream is `kustomize build out/ENV`.
	Stream []byte
	// Work is a scratch directory.
	Work string
	// Log receives progress lines.
	Log func(format string, args ...any)

	releases []Release
}

func (d *Deployer) logf(format string, args ...any) {
	if d.Log != nil {
		d.Log(format, args...)
	}
}

// objects decodes a YAML stream.
func objects(stream []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// Install applies the overlay's objects, creates test Secrets with fake
// values for every Secret the spec references, then installs each Helm
// release in dependency order, each Ready before the next.
func (d *Deployer) Install(ctx context.Context) error {
	objs, err := objects(d.Stream)
	if err != nil {
		return err
	}
	if err := d.releasesFrom(objs); err != nil {
		return err
	}
	// Namespaces the overlay's objects live in but does not create (Argo
	// CD's own).
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && ns != d.Env.Namespace {
			if err := d.namespace(ctx, ns); err != nil {
				return err
			}
		}
	}
	// Server-side: the Argo CD Application CRD is too large for the
	// last-applied annotation of a client-side apply.
	if _, err := d.kubectl(nil, "apply", "--server-side", "-f", d.Tools.CRDs); err != nil {
		return fmt.Errorf("CRDs: %w", err)
	}
	if _, err := d.kubectl(nil, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"); err != nil {
		return fmt.Errorf("CRDs: %w", err)
	}
	if _, err := d.kubectl(d.Stream, "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
		return fmt.Errorf("apply overlay: %w", err)
	}
	if err := d.priorityClasses(ctx); err != nil {
		return err
	}
	if err := d.secrets(ctx); err != nil {
		return err
	}
	for _, r := range d.releases {
		start := time.Now()
		if err := d.helm(ctx, r, nil); err != nil {
			return err
		}
		if err := WaitReady(ctx, d.Cluster, d.Env.Namespace, 3*time.Minute); err != nil {
			return fmt.Errorf("release %s: %w", r.Name, err)
		}
		d.logf("release %s (%s %s) ready in %s", r.Name, r.Chart, r.Version, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (d *Deployer) namespace(ctx context.Context, name string) error {
	_, err := d.Cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// secrets creates every Secret the spec references, with fake values:
// created by the test, never rendered.
func (d *Deployer) secrets(ctx context.Context) error {
	keys := d.Env.SecretKeys()
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		data := map[string][]byte{}
		for _, k := range keys[n] {
			data[k] = []byte("simulated-" + k)
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: d.Env.Namespace}, Data: data}
		if _, err := d.Cluster.Client.CoreV1().Secrets(d.Env.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("secret %s: %w", n, err)
		}
	}
	return nil
}

// priorityClasses creates the PriorityClasses the spec's placement names:
// like the Secrets, they are the cluster's, not the overlay's, and the
// Priority admission plugin refuses a pod whose class does not exist.
func (d *Deployer) priorityClasses(ctx context.Context) error {
	names := map[string]bool{}
	if pc := d.Env.Placement.PriorityClassName; pc != "" {
		names[pc] = true
	}
	for _, key := range d.Env.ComponentNames() {
		if pc := d.Env.PlacementOf(key).PriorityClassName; pc != "" {
			names[pc] = true
		}
	}
	for n := range names {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: n}, Value: 1000000}
		if _, err := d.Cluster.Client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("priority class %s: %w", n, err)
		}
	}
	return nil
}

// releasesFrom reads the Helm releases from Flux HelmReleases (values from
// their valuesFrom ConfigMaps, post-renderer patches, dependsOn) or Argo
// CD Applications (values files from the repository, sync waves).
func (d *Deployer) releasesFrom(objs []*unstructured.Unstructured) error {
	d.releases = nil // a later state replaces them
	configMaps := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" {
			configMaps[o.GetName()] = o
		}
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "HelmRelease":
			r, err := fluxRelease(o, configMaps)
			if err != nil {
				return fmt.Errorf("HelmRelease %s: %w", o.GetName(), err)
			}
			d.releases = append(d.releases, r)
		case "Application":
			r, err := d.argoRelease(o)
			if err != nil {
				return fmt.Errorf("Application %s: %w", o.GetName(), err)
			}
			d.releases = append(d.releases, r)
		}
	}
	return d.order()
}

func fluxRelease(o *unstructured.Unstructured, configMaps map[string]*unstructured.Unstructured) (Release, error) {
	r := Release{ID: o.GetName(), Name: o.GetName(), Namespace: o.GetNamespace()}
	if n, _, _ := unstructured.NestedString(o.Object, "spec", "releaseName"); n != "" {
		r.Name = n
	}
	r.Chart, _, _ = unstructured.NestedString(o.Object, "spec", "chart", "spec", "chart")
	r.Version, _, _ = unstructured.NestedString(o.Object, "spec", "chart", "spec", "version")
	from, _, _ := unstructured.NestedSlice(o.Object, "spec", "valuesFrom")
	for _, f := range from {
		m := f.(map[string]any)
		cm := configMaps[fmt.Sprint(m["name"])]
		if m["kind"] != "ConfigMap" || cm == nil {
			return r, fmt.Errorf("valuesFrom %v: not a ConfigMap of the overlay", m["name"])
		}
		v, _, _ := unstructured.NestedString(cm.Object, "data", fmt.Sprint(m["valuesKey"]))
		r.Values = append(r.Values, []byte(v)...)
	}
	post, _, _ := unstructured.NestedSlice(o.Object, "spec", "postRenderers")
	for _, p := range post {
		patches, _, _ := unstructured.NestedSlice(p.(map[string]any), "kustomize", "patches")
		r.Patches = append(r.Patches, patches...)
	}
	deps, _, _ := unstructured.NestedSlice(o.Object, "spec", "dependsOn")
	for _, dep := range deps {
		r.After = append(r.After, fmt.Sprint(dep.(map[string]any)["name"]))
	}
	return r, nil
}

func (d *Deployer) argoRelease(o *unstructured.Unstructured) (Release, error) {
	r := Release{ID: o.GetName()}
	r.Namespace, _, _ = unstructured.NestedString(o.Object, "spec", "destination", "namespace")
	if w := o.GetAnnotations()["argocd.argoproj.io/sync-wave"]; w != "" {
		r.order, _ = strconv.Atoi(w)
	}
	sources, _, _ := unstructured.NestedSlice(o.Object, "spec", "sources")
	for _, s := range sources {
		m := s.(map[string]any)
		if dir, _ := m["path"].(string); dir != "" {
			// A release directory: a kustomization that inflates the chart
			// and patches it, as Argo CD builds it with --enable-helm. Its
			// patches become helm's post-renderer, like Flux's.
			if err := d.kustomizeSource(&r, dir); err != nil {
				return r, fmt.Errorf("source %s: %w", dir, err)
			}
			continue
		}
		chart, _ := m["chart"].(string)
		if chart == "" {
			continue
		}
		r.Chart, r.Version = chart, fmt.Sprint(m["targetRevision"])
		r.Name, _, _ = unstructured.NestedString(m, "helm", "releaseName")
		files, _, _ := unstructured.NestedStringSlice(m, "helm", "valueFiles")
		for _, f := range files {
			rel, ok := strings.CutPrefix(f, "$values/")
			if !ok {
				return r, fmt.Errorf("value file %s: only $values/ files are supported", f)
			}
			b, err := os.ReadFile(filepath.Join(d.Tools.Repo, rel))
			if err != nil {
				return r, err
			}
			r.Values = append(r.Values, b...)
		}
	}
	if r.Chart == "" {
		return r, errors.New("no chart source")
	}
	if r.Name == "" {
		r.Name = o.GetName()
	}
	return r, nil
}

// kustomizeSource reads a release from the kustomization of an Argo CD
// source path: its one helmCharts entry, the values file beside it, and
// its patches.
func (d *Deployer) kustomizeSource(r *Release, dir string) error {
	b, err := os.ReadFile(filepath.Join(d.Tools.Repo, dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		return err
	}
	if len(k.HelmCharts) != 1 {
		return fmt.Errorf("%d helmCharts, want 1", len(k.HelmCharts))
	}
	hc := k.HelmCharts[0]
	r.Chart, r.Version, r.Name = hc.Name, hc.Version, hc.ReleaseName
	values, err := os.ReadFile(filepath.Join(d.Tools.Repo, dir, hc.ValuesFile))
	if err != nil {
		return err
	}
	r.Values = append(r.Values, values...)
	for _, p := range k.Patches {
		var m map[string]any
		pb, err := yaml.Marshal(p)
		if err == nil {
			err = yaml.Unmarshal(pb, &m)
		}
		if err != nil {
			return err
		}
		r.Patches = append(r.Patches, m)
	}
	return nil
}

// order sorts the releases so that each comes after what it depends on
// (Flux dependsOn), then by sync wave and name (Argo CD).
func (d *Deployer) order() error {
	sort.SliceStable(d.releases, func(i, j int) bool {
		a, b := d.releases[i], d.releases[j]
		if a.order != b.order {
			return a.order < b.order
		}
		return a.Name < b.Name
	})
	var out []Release
	done := map[string]bool{}
	for len(out) < len(d.releases) {
		progressed := false
		for _, r := range d.releases {
			if done[r.ID] {
				continue
			}
			ready := true
			for _, a := range r.After {
				ready = ready && done[a]
			}
			if ready {
				out, done[r.ID], progressed = append(out, r), true, true
			}
		}
		if !progressed {
			return errors.New("dependsOn has a cycle or names a release that does not exist")
		}
	}
	d.releases = out
	return nil
}

// Releases are the releases in installation order.
func (d *Deployer) Releases() []Release { return d.releases }

// chartPath is the chart a release installs: the Milvus chart archive of
// its version, or a dependency chart at the version the release asks for,
// vendored in one of the Milvus chart archives (the managed dependencies
// pin the same chart versions for every Milvus line, and the older Milvus
// chart vendors older ones).
func (d *Deployer) chartPath(r Release) (string, error) {
	if r.Chart == "milvus" {
		p := filepath.Join(d.Tools.Charts, fmt.Sprintf("milvus-%s.tgz", r.Version))
		_, err := os.Stat(p)
		return p, err
	}
	archives, err := filepath.Glob(filepath.Join(d.Tools.Charts, "milvus-*.tgz"))
	if err != nil {
		return "", err
	}
	sort.Strings(archives)
	var seen []string
	for _, archive := range archives {
		dir := filepath.Join(d.Work, "charts", strings.TrimSuffix(filepath.Base(archive), ".tgz"))
		if _, err := os.Stat(dir); err != nil {
			if err := chartarchive.Extract(archive, dir); err != nil {
				return "", err
			}
		}
		chart := filepath.Join(dir, "milvus", "charts", r.Chart)
		meta, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
		if err != nil {
			continue
		}
		var c struct{ Version string }
		if err := yaml.Unmarshal(meta, &c); err != nil {
			return "", err
		}
		if c.Version == r.Version {
			return chart, nil
		}
		seen = append(seen, filepath.Base(archive)+" vendors "+c.Version)
	}
	return "", fmt.Errorf("chart %s %s is vendored in no Milvus chart archive (%s)", r.Chart, r.Version, strings.Join(seen, ", "))
}

// helm installs or upgrades a release with the real helm CLI, applying the
// Flux post-renderer patches through the real kustomize (what Flux's
// post-renderer does in-process). set are extra --set flags (drills).
func (d *Deployer) helm(ctx context.Context, r Release, set []string) error {
	chart, err := d.chartPath(r)
	if err != nil {
		return fmt.Errorf("release %s: %w", r.Name, err)
	}
	dir := filepath.Join(d.Work, "release-"+r.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, r.Values, 0o644); err != nil {
		return err
	}
	args := []string{"upgrade", "--install", r.Name, chart, "--namespace", r.Namespace, "--kubeconfig", d.Cluster.Kubeconfig,
		"--values", values, "--timeout", "5m"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	if len(r.Patches) > 0 {
		script, err := d.postRenderer(dir, r.Patches)
		if err != nil {
			return err
		}
		args = append(args, "--post-renderer", script)
	}
	cmd := exec.CommandContext(ctx, d.Tools.Helm, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("helm %s: %v\n%s", strings.Join(args[:3], " "), err, out.String())
	}
	return nil
}

// postRenderer writes an executable that kustomizes helm's output with the
// patches, as Flux's kustomize post-renderer does.
func (d *Deployer) postRenderer(dir string, patches []any) (string, error) {
	k, err := yaml.Marshal(map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
		"resources": []string{"all.yaml"}, "patches": patches,
	})
	if err != nil {
		return "", err
	}
	kdir := filepath.Join(dir, "postrender")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(kdir, "kustomization.yaml"), k, 0o644); err != nil {
		return "", err
	}
	script := filepath.Join(dir, "post-render.sh")
	body := fmt.Sprintf("#!/bin/sh\nset -e\ncat > %q\nexec %q build %q\n", filepath.Join(kdir, "all.yaml"), d.Tools.Kustomize, kdir)
	return script, os.WriteFile(script, []byte(body), 0o755)
}

func (d *Deployer) kubectl(stdin []byte, args ...string) (string, error) {
	cmd := d.Cluster.KubectlCmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = bytes.NewReader(stdin)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// WaitReady waits until every Deployment and StatefulSet of ns has rolled
// out with all replicas ready. On timeout the error names each pod still
// pending with the scheduler's reason. A pod the scheduler has found no
// place for, with nothing else changing for stuckAfter, ends the wait
// early: a controller would wait out its timeout (Flux: 15 minutes) for
// the same message.
func WaitReady(ctx context.Context, c *simcluster.Cluster, ns string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var waiting []string
	last, since := "", time.Now()
	for {
		var err error
		waiting, err = notReady(ctx, c, ns)
		if err == nil && len(waiting) == 0 {
			return nil
		}
		if dead := c.Dead(); dead != "" {
			return fmt.Errorf("simulated cluster broken: %s", dead)
		}
		if s := strings.Join(waiting, "; "); s != last {
			last, since = s, time.Now()
		} else if time.Since(since) > stuckAfter {
			if pending, _ := PendingReasons(ctx, c, ns); strings.Contains(pending, unschedulableMark) {
				return fmt.Errorf("not ready, nothing changed for %s: %s%s", stuckAfter, last, pending)
			}
		}
		select {
		case <-ctx.Done():
			pending, _ := PendingReasons(context.Background(), c, ns)
			return fmt.Errorf("not ready after %s: %s%s", timeout, strings.Join(waiting, "; "), pending)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stuckAfter: how long an unschedulable pod with no other progress counts
// as final.
const stuckAfter = 20 * time.Second

const unschedulableMark = "(unschedulable)"

func notReady(ctx context.Context, c *simcluster.Cluster, ns string) ([]string, error) {
	var out []string
	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range deps.Items {
		if !deploymentDone(&d) {
			out = append(out, fmt.Sprintf("Deployment %s %d/%d ready", d.Name, d.Status.ReadyReplicas, replicas(d.Spec.Replicas)))
		}
	}
	sets, err := c.Client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, s := range sets.Items {
		if !statefulSetDone(&s) {
			out = append(out, fmt.Sprintf("StatefulSet %s %d/%d ready", s.Name, s.Status.ReadyReplicas, replicas(s.Spec.Replicas)))
		}
	}
	return out, nil
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func deploymentDone(d *appsv1.Deployment) bool {
	n := replicas(d.Spec.Replicas)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == n &&
		d.Status.ReadyReplicas == n && d.Status.Replicas == n && d.Status.AvailableReplicas == n
}

func statefulSetDone(s *appsv1.StatefulSet) bool {
	n := replicas(s.Spec.Replicas)
	return s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas == n &&
		s.Status.UpdatedReplicas == n && s.Status.CurrentRevision == s.Status.UpdateRevision
}

// PendingReasons lists the pods of ns that the scheduler could not place,
// each with its PodScheduled condition's message.
func PendingReasons(ctx context.Context, c *simcluster.Cluster, ns string) (string, error) {
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" || p.DeletionTimestamp != nil {
			continue
		}
		msg := "not scheduled yet"
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
				msg = cond.Message
				if cond.Reason == corev1.PodReasonUnschedulable {
					msg += " " + unschedulableMark
				}
			}
		}
		fmt.Fprintf(&b, "\n  pod %s pending: %s", p.Name, msg)
	}
	if e := c.ProvisionError(); e != "" && b.Len() > 0 {
		fmt.Fprintf(&b, "\n  volume provisioner: %s", e)
	}
	return b.String(), nil
}
