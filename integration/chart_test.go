package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
)

// TestChartYieldsIntendedCluster feeds every environment's values to the
// real helm CLI and the official chart in ../shared/charts, and checks the
// objects Milvus will actually run.
func TestChartYieldsIntendedCluster(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	for name, r := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			env := r.Env
			chart := filepath.Join(shared, "charts", fmt.Sprintf("milvus-%s.tgz", env.Milvus.Chart.Version))
			values := writeTemp(t, "values.yaml", r.Values("values.yaml"))
			stream := run(t, helm, "template", env.Release, chart, "--namespace", env.Namespace, "--kube-version", "v1.37.2", "--values", values)
			objs := decodeAll(t, stream)
			overlay := decodeOverlay(t, r)
			checkChartObjects(t, env, objs, overlay)
		})
	}
}

func decodeOverlay(t *testing.T, r rendered) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, p := range r.Files.Paths() {
		if strings.HasPrefix(filepath.Base(p), "values") || strings.HasPrefix(filepath.Base(p), "kustomiz") {
			continue
		}
		out = append(out, decodeAll(t, r.Files[p])...)
	}
	return out
}

func checkChartObjects(t *testing.T, env *model.Environment, objs, overlay []*unstructured.Unstructured) {
	deployments := map[string]*appsv1.Deployment{}
	var configMap *corev1.ConfigMap
	var service *corev1.Service
	for _, o := range objs {
		name, kind := o.GetName(), o.GetKind()
		// No bundled dependency may be deployed: they are external.
		for _, dep := range []string{"etcd", "minio", "pulsar", "kafka", "woodpecker", "zookeeper", "bookie"} {
			if strings.Contains(name, dep) {
				t.Errorf("chart renders %s %s: bundled dependencies must be off", kind, name)
			}
		}
		switch kind {
		case "Deployment":
			var d appsv1.Deployment
			convert(t, o, &d)
			deployments[d.Spec.Template.Labels["component"]] = &d
		case "ConfigMap":
			configMap = &corev1.ConfigMap{}
			convert(t, o, configMap)
		case "Service":
			if o.GetName() == env.Release {
				service = &corev1.Service{}
				convert(t, o, service)
			}
		case "StatefulSet", "Secret", "Job", "CronJob":
			t.Errorf("chart renders an unexpected %s %s", kind, name)
		}
	}

	// Exactly the environment's components run, with the spec's replicas.
	if len(deployments) != len(env.Components) {
		t.Errorf("chart renders %d Deployments %v, spec has %d components", len(deployments), keys(deployments), len(env.Components))
	}
	pdbs := pdbsByComponent(t, overlay)
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range env.ComponentNames() {
		c := env.Components[key]
		label := model.ComponentLabel(key)
		d, ok := deployments[label]
		if !ok {
			t.Errorf("%s: no Deployment", key)
			continue
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != c.Replicas {
			t.Errorf("%s: replicas %v, want %d", key, d.Spec.Replicas, c.Replicas)
		}
		pod := d.Spec.Template
		podLabels := labels.Set(pod.Labels)
		checkAffinity(t, env, key, c, pod.Spec, podLabels)
		checkPlacement(t, env, key, pod.Spec)
		checkEnv(t, env, key, pod.Spec)
		checkSecurity(t, env, key, pod, evaluator)
		if c.Resources != nil {
			got := pod.Spec.Containers[0].Resources
			if got.Limits.Memory().Value() != c.Resources.Limits.Memory || got.Requests.Memory().Value() != c.Resources.Requests.Memory ||
				got.Limits.Cpu().MilliValue() != int64(c.Resources.Limits.CPU*1000) || got.Requests.Cpu().MilliValue() != int64(c.Resources.Requests.CPU*1000) {
				t.Errorf("%s: resources %v, want %+v", key, got, *c.Resources)
			}
		}
		if c.AntiAffinity == "required" {
			ru := d.Spec.Strategy.RollingUpdate
			if ru == nil || ru.MaxSurge == nil || ru.MaxSurge.IntValue() != 0 {
				t.Errorf("%s: one pod per node needs maxSurge 0, got %+v", key, d.Spec.Strategy)
			}
		}
		// Our PDB must select exactly this component's pods.
		if env.Availability.PodDisruptionBudgets {
			pdb, ok := pdbs[label]
			if !ok {
				t.Errorf("%s: no PodDisruptionBudget", key)
			} else if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
				t.Errorf("%s: PDB selector %v does not match pod labels %v", key, pdb.Spec.Selector, pod.Labels)
			}
		}
	}

	// The Milvus configuration holds no credential and carries user.yaml.
	if configMap == nil {
		t.Fatal("no Milvus ConfigMap")
	}
	for k, v := range configMap.Data {
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimSpace(line)
			for _, field := range []string{"accessKeyID:", "secretAccessKey:", "password:", "saslPassword:", "authParams:"} {
				if strings.HasPrefix(line, field) && strings.TrimSpace(strings.TrimPrefix(line, field)) != "" {
					t.Errorf("ConfigMap %s renders a credential: %q", k, line)
				}
			}
		}
	}
	var user map[string]any
	if err := yaml.Unmarshal([]byte(configMap.Data["user.yaml"]), &user); err != nil {
		t.Fatalf("user.yaml: %v", err)
	}
	if got := fmt.Sprint(dig(user, "etcd", "rootPath")); got != env.Release {
		t.Errorf("user.yaml etcd.rootPath = %s, want %s", got, env.Release)
	}
	def := configMap.Data["default.yaml"]
	for _, key := range env.ComponentNames() {
		if !strings.HasSuffix(key, "Coordinator") {
			continue
		}
		want := fmt.Sprintf("enableActiveStandby: %t", env.Components[key].ActiveStandby)
		if !strings.Contains(def, want) {
			t.Errorf("default.yaml: %s wants %q", key, want)
		}
	}
	for _, ep := range env.Dependencies.Etcd.Endpoints {
		if !strings.Contains(def, ep) {
			t.Errorf("default.yaml lacks etcd endpoint %s", ep)
		}
	}
	if !strings.Contains(def, "address: "+env.Dependencies.ObjectStorage.Host) {
		t.Errorf("default.yaml does not point minio.address at %s", env.Dependencies.ObjectStorage.Host)
	}

	if service == nil {
		t.Fatal("no Milvus Service")
	}
	// The chart's Service carries the management port 9091 too: it never
	// leaves the cluster.
	if service.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("the chart's Service (ports %v) is of type %s, want ClusterIP", service.Spec.Ports, service.Spec.Type)
	}
	var external []*corev1.Service
	for _, o := range overlay {
		if o.GetKind() == "Service" {
			var s corev1.Service
			convert(t, o, &s)
			external = append(external, &s)
		}
	}
	if env.Service.Type != "LoadBalancer" {
		if len(external) > 0 {
			t.Errorf("the overlay has a Service although the spec asks for %s", env.Service.Type)
		}
		return
	}
	if len(external) != 1 {
		t.Fatalf("%d Services in the overlay, want one LoadBalancer", len(external))
	}
	lb := external[0]
	if lb.Spec.Type != corev1.ServiceTypeLoadBalancer || strings.Join(lb.Spec.LoadBalancerSourceRanges, ",") != strings.Join(env.Service.LoadBalancerSourceRanges, ",") {
		t.Errorf("LoadBalancer %s: type %s, source ranges %v; want LoadBalancer from %v", lb.Name, lb.Spec.Type, lb.Spec.LoadBalancerSourceRanges, env.Service.LoadBalancerSourceRanges)
	}
	if len(lb.Spec.Ports) != 1 || lb.Spec.Ports[0].Port != 19530 || lb.Spec.Ports[0].TargetPort.StrVal != "milvus" {
		t.Errorf("LoadBalancer %s exposes %v, want the client port 19530 only", lb.Name, lb.Spec.Ports)
	}
	proxy := deployments["proxy"]
	if proxy == nil || !labels.SelectorFromSet(lb.Spec.Selector).Matches(labels.Set(proxy.Spec.Template.Labels)) {
		t.Errorf("LoadBalancer %s selects %v, not the proxies the chart runs", lb.Name, lb.Spec.Selector)
	} else {
		named := false
		for _, p := range proxy.Spec.Template.Spec.Containers[0].Ports {
			named = named || p.Name == "milvus" && p.ContainerPort == 19530
		}
		if !named {
			t.Errorf("the proxy container has no port \"milvus\" 19530: %v", proxy.Spec.Template.Spec.Containers[0].Ports)
		}
	}
	for _, d := range deployments {
		if d.Spec.Template.Labels["component"] != "proxy" && labels.SelectorFromSet(lb.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("LoadBalancer %s also selects %s", lb.Name, d.Name)
		}
	}
}

func checkAffinity(t *testing.T, env *model.Environment, key string, c model.Component, spec corev1.PodSpec, podLabels labels.Set) {
	t.Helper()
	matches := func(s *metav1.LabelSelector) bool {
		sel, err := metav1.LabelSelectorAsSelector(s)
		return err == nil && sel.Matches(podLabels)
	}
	a := spec.Affinity
	switch c.AntiAffinity {
	case "required":
		if a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
			t.Errorf("%s: want required hostname anti-affinity, got %+v", key, a)
			return
		}
		term := a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
		if term.TopologyKey != env.Topology.HostnameLabel || !matches(term.LabelSelector) {
			t.Errorf("%s: anti-affinity term %+v does not select its own pods %v", key, term, podLabels)
		}
	case "preferred":
		if a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
			t.Errorf("%s: want preferred anti-affinity, got %+v", key, a)
			return
		}
		if term := a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm; !matches(term.LabelSelector) {
			t.Errorf("%s: anti-affinity does not select its own pods", key)
		}
	}
	if len(env.Topology.Zones) >= 2 {
		if len(spec.TopologySpreadConstraints) != 1 {
			t.Errorf("%s: want one zone spread constraint, got %v", key, spec.TopologySpreadConstraints)
			return
		}
		tsc := spec.TopologySpreadConstraints[0]
		if tsc.TopologyKey != env.Topology.ZoneLabel || !matches(tsc.LabelSelector) || tsc.MaxSkew != 1 {
			t.Errorf("%s: spread constraint %+v", key, tsc)
		}
		if a == nil || a.NodeAffinity == nil {
			t.Errorf("%s: pods are not pinned to zones %v", key, env.Topology.Zones)
		}
	}
}

// secretEnv lists the variables that must come from Secrets, and from which.
func secretEnv(env *model.Environment) map[string]model.SecretKeyRef {
	want := map[string]model.SecretKeyRef{}
	if c := env.Dependencies.ObjectStorage.Credentials; c != nil {
		want["MINIO_ACCESS_KEY_ID"], want["MINIO_SECRET_ACCESS_KEY"] = c.AccessKeyID, c.SecretAccessKey
	}
	if a := env.Dependencies.Etcd.Auth; a != nil {
		want["ETCD_AUTH_USERNAME"], want["ETCD_AUTH_PASSWORD"] = a.Username, a.Password
	}
	mq := env.Dependencies.MessageQueue
	if mq.Pulsar != nil && mq.Pulsar.Auth != nil {
		want["PULSAR_AUTHPARAMS"] = mq.Pulsar.Auth.Params
	}
	if mq.Kafka != nil && mq.Kafka.SASL != nil {
		want["KAFKA_SASLUSERNAME"], want["KAFKA_SASLPASSWORD"] = mq.Kafka.SASL.Username, mq.Kafka.SASL.Password
	}
	return want
}

func checkEnv(t *testing.T, env *model.Environment, key string, spec corev1.PodSpec) {
	t.Helper()
	want := secretEnv(env)
	for _, e := range spec.Containers[0].Env {
		ref, ok := want[e.Name]
		if !ok {
			continue
		}
		delete(want, e.Name)
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != ref.Name || e.ValueFrom.SecretKeyRef.Key != ref.Key {
			t.Errorf("%s: %s must come from Secret %s key %s, got %+v", key, e.Name, ref.Name, ref.Key, e)
		}
	}
	for name := range want {
		t.Errorf("%s: container has no %s", key, name)
	}
}

// checkSecurity evaluates the pod against the Pod Security Standard the
// namespace enforces: "restricted" when the spec runs Milvus as non-root,
// "baseline" otherwise.
func checkSecurity(t *testing.T, env *model.Environment, key string, pod corev1.PodTemplateSpec, ev policy.Evaluator) {
	t.Helper()
	level := psapi.LevelBaseline
	if env.Security.RunAsNonRoot {
		level = psapi.LevelRestricted
	}
	version, err := psapi.ParseVersion("v1.37")
	if err != nil {
		t.Fatal(err)
	}
	agg := policy.AggregateCheckResults(ev.EvaluatePod(psapi.LevelVersion{Level: level, Version: version}, &pod.ObjectMeta, &pod.Spec))
	if !agg.Allowed {
		t.Errorf("%s: violates Pod Security %q: %s", key, level, agg.ForbiddenDetail())
	}
	for _, c := range pod.Spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s/%s: container is not hardened: %+v", key, c.Name, sc)
		}
	}
	if p := pod.Spec.SecurityContext; p == nil || p.SeccompProfile == nil || p.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod has no RuntimeDefault seccomp profile", key)
	}
}

func pdbsByComponent(t *testing.T, overlay []*unstructured.Unstructured) map[string]*policyv1.PodDisruptionBudget {
	out := map[string]*policyv1.PodDisruptionBudget{}
	for _, o := range overlay {
		if o.GetKind() != "PodDisruptionBudget" {
			continue
		}
		var p policyv1.PodDisruptionBudget
		convert(t, o, &p)
		out[p.Spec.Selector.MatchLabels["component"]] = &p
	}
	return out
}

func convert(t *testing.T, o *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, into, true); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkPlacement: the component's node selector and tolerations (its own
// or the environment's) reach its pods, and its local disk is sized: the
// ephemeral-storage request and limit, and Milvus' budget from the limit
// (on a storage class, the patch and the budget are checked where the
// chart output is patched: TestArgoCDKustomizationsInflateAndPatch).
func checkPlacement(t *testing.T, env *model.Environment, key string, spec corev1.PodSpec) {
	t.Helper()
	want := env.PlacementOf(key)
	if fmt.Sprint(spec.NodeSelector) != fmt.Sprint(nilIfEmptyMap(want.NodeSelector)) {
		t.Errorf("%s: nodeSelector %v, want %v", key, spec.NodeSelector, want.NodeSelector)
	}
	if len(spec.Tolerations) != len(want.Tolerations) {
		t.Errorf("%s: tolerations %v, want %v", key, spec.Tolerations, want.Tolerations)
	}
	for i, tol := range want.Tolerations {
		if i < len(spec.Tolerations) && (spec.Tolerations[i].Key != tol.Key || string(spec.Tolerations[i].Effect) != tol.Effect || spec.Tolerations[i].Value != tol.Value) {
			t.Errorf("%s: toleration %d is %+v, want %+v", key, i, spec.Tolerations[i], tol)
		}
	}
	d := env.Components[key].LocalDisk
	if d == nil || d.StorageClass != "" {
		return
	}
	c := spec.Containers[0]
	// Milvus' budget is the size; the pod's limit leaves 2Gi for logs and
	// the other emptyDirs.
	if got := c.Resources.Limits[corev1.ResourceEphemeralStorage]; got.Value() != d.Size+2<<30 {
		t.Errorf("%s: ephemeral-storage limit %v, want the size %d plus 2Gi", key, &got, d.Size)
	}
	if got := c.Resources.Requests[corev1.ResourceEphemeralStorage]; got.Value() != d.Size+2<<30 {
		t.Errorf("%s: ephemeral-storage request %v, want the size %d plus 2Gi", key, &got, d.Size)
	}
	budget := false
	for _, e := range c.Env {
		budget = budget || e.Name == "LOCAL_STORAGE_SIZE" && e.Value == fmt.Sprint(d.Size>>30) && e.ValueFrom == nil
	}
	if !budget {
		t.Errorf("%s: no LOCAL_STORAGE_SIZE=%d", key, d.Size>>30)
	}
}

func nilIfEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
