package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/verifier"
	"k8s.io/client-go/dynamic"
)

// TestFaultInjectionTouchesOnlyItsTargets runs the verifier's pod killer
// against the real API server: it deletes exactly the pods asked for,
// among the running pods of its namespace and selector, and nothing else;
// eviction respects a PodDisruptionBudget.
func TestFaultInjectionTouchesOnlyItsTargets(t *testing.T) {
	s := server(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ns := range []string{"fault-target", "fault-other"} {
		createNamespace(t, s, ns)
	}
	mk := func(ns, name string, labels map[string]string, phase corev1.PodPhase) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/none",
				SecurityContext: restrictedContainer()}}, SecurityContext: restrictedPod()},
		}
		created, err := kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// No kubelet here: set the status a kubelet would report.
		created.Status.Phase = phase
		if phase == corev1.PodRunning {
			created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	qn := map[string]string{"app.kubernetes.io/instance": "milvus-x", "component": "querynode"}
	mk("fault-target", "qn-a", qn, corev1.PodRunning)
	mk("fault-target", "qn-b", qn, corev1.PodRunning)
	mk("fault-target", "qn-c", qn, corev1.PodPending) // not running: never a target
	mk("fault-target", "proxy-a", map[string]string{"app.kubernetes.io/instance": "milvus-x", "component": "proxy"}, corev1.PodRunning)
	mk("fault-other", "qn-z", qn, corev1.PodRunning) // another namespace

	killer := &verifier.PodKiller{Client: kube, Namespace: "fault-target", Selector: "app.kubernetes.io/instance=milvus-x,component=querynode", Count: 1, Mode: "delete"}
	// The preflight asks the real API server (RBAC) what the identity may
	// do: the admin may; a service account without a Role may not, and
	// hears which verbs it lacks.
	if err := killer.Preflight(ctx); err != nil {
		t.Errorf("preflight as admin: %v", err)
	}
	nobody := rest.CopyConfig(cfg)
	nobody.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:fault-target:nobody"}
	nobodyKube, err := kubernetes.NewForConfig(nobody)
	if err != nil {
		t.Fatal(err)
	}
	denied := &verifier.PodKiller{Client: nobodyKube, Namespace: "fault-target", Selector: killer.Selector, Count: 1, Mode: "delete"}
	if err := denied.Preflight(ctx); err == nil || !strings.Contains(err.Error(), "may not list pods, delete pods in namespace fault-target") {
		t.Errorf("preflight without a Role: %v", err)
	}
	killed, err := killer.Kill(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(killed, []string{"qn-a"}) {
		t.Errorf("killed %v, want the first running target only", killed)
	}
	left := func(ns string) []string {
		l, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range l.Items {
			if p.DeletionTimestamp == nil {
				names = append(names, p.Name)
			}
		}
		slices.Sort(names)
		return names
	}
	if got := left("fault-target"); !slices.Equal(got, []string{"proxy-a", "qn-b", "qn-c"}) {
		t.Errorf("fault-target pods left: %v", got)
	}
	if got := left("fault-other"); !slices.Equal(got, []string{"qn-z"}) {
		t.Errorf("another namespace was touched: %v", got)
	}

	// Too few targets is an error, not a smaller fault.
	killer.Count = 2
	if _, err := killer.Kill(ctx); err == nil || !strings.Contains(err.Error(), "1 running pods match") {
		t.Errorf("want a refusal, got %v", err)
	}
	// An empty selector would match everything.
	if _, err := (&verifier.PodKiller{Client: kube, Namespace: "fault-target", Count: 1}).Kill(ctx); err == nil {
		t.Error("an empty selector was accepted")
	}

	// Eviction respects a PodDisruptionBudget that allows no disruption.
	pdb := fmt.Sprintf(`apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: qn, namespace: fault-target}
spec:
  minAvailable: 1
  selector: {matchLabels: {component: querynode}}
`)
	if _, _, err := kubectl(s, []byte(pdb), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	// No disruption controller runs here: report the budget's status as it would.
	if _, _, err := kubectl(s, nil, "patch", "pdb", "qn", "-n", "fault-target", "--subresource=status", "--type=merge",
		"-p", `{"status":{"currentHealthy":1,"desiredHealthy":1,"disruptionsAllowed":0,"expectedPods":1,"observedGeneration":1}}`); err != nil {
		t.Fatal(err)
	}
	evict := &verifier.PodKiller{Client: kube, Namespace: "fault-target", Selector: "component=querynode", Count: 1, Mode: "evict"}
	if _, err := evict.Kill(ctx); err == nil || !strings.Contains(err.Error(), "disruption budget") {
		t.Errorf("eviction must be refused by the PDB, got %v", err)
	}
}

func restrictedPod() *corev1.PodSecurityContext {
	yes := true
	return &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
}

func restrictedContainer() *corev1.SecurityContext {
	no := false
	return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

// TestVerifierWaitsForTheHelmRelease: the verifier's rollout wait against
// a real HelmRelease object: not ready while Flux has not observed the
// latest generation or reports it not Ready; ready once it does.
func TestVerifierWaitsForTheHelmRelease(t *testing.T) {
	s := server(t)
	createNamespace(t, s, "wait-hr")
	hr := `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: milvus-x, namespace: wait-hr}
spec:
  interval: 10m
  chart: {spec: {chart: milvus, version: 5.0.19, sourceRef: {kind: HelmRepository, name: milvus}}}
`
	if _, _, err := kubectl(s, []byte(hr), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", s.Kubeconfig)
	dyn, err := verifier.DynamicClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := verifier.WaitHelmRelease(ctx, dyn, "wait-hr", "milvus-x", 2*time.Second); err == nil || !strings.Contains(err.Error(), "not observed") {
		t.Fatalf("a HelmRelease Flux has not reconciled must not count as ready: %v", err)
	}
	setStatus := func(ready string) {
		patch := fmt.Sprintf(`{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":%q,"reason":"x","message":"upgrade","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}`, ready)
		if _, _, err := kubectl(s, nil, "patch", "helmrelease", "milvus-x", "-n", "wait-hr", "--subresource=status", "--type=merge", "-p", patch); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("False")
	if err := verifier.WaitHelmRelease(ctx, dyn, "wait-hr", "milvus-x", 2*time.Second); err == nil || !strings.Contains(err.Error(), "Ready=False") {
		t.Fatalf("Ready=False must not count as ready: %v", err)
	}
	setStatus("True")
	if err := verifier.WaitHelmRelease(ctx, dyn, "wait-hr", "milvus-x", 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestFaultPolicyConfinesTheVerifier applies prod's committed verifier
// RBAC and admission policy to the real API server and acts as the
// verifier's ServiceAccount: RBAC lets it delete and evict any pod of the
// namespace, the policy only this release's query nodes. An etcd pod is
// refused both ways; a query node may go; the admin is not bound.
func TestFaultPolicyConfinesTheVerifier(t *testing.T) {
	s := server(t)
	root := testenv.RepoRoot(t)
	const ns, sa = "milvus-prod", "system:serviceaccount:milvus-prod:milvus-prod-verify"
	createNamespace(t, s, ns)
	var stream []byte
	for _, f := range []string{"serviceaccount-milvus-prod-verify.yaml", "role-milvus-prod-verify.yaml", "rolebinding-milvus-prod-verify.yaml",
		"validatingadmissionpolicy-milvus-prod-verify-pods.milvus-prod.yaml", "validatingadmissionpolicybinding-milvus-prod-verify-pods.milvus-prod.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "out", "prod", f))
		if err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, b...), []byte("\n---\n")...)
	}
	if _, stderr, err := kubectl(s, stream, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	asSA := rest.CopyConfig(cfg)
	asSA.Impersonate = rest.ImpersonationConfig{UserName: sa}
	verifierKube, err := kubernetes.NewForConfig(asSA)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pod := func(name string, labels map[string]string) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/none",
				SecurityContext: restrictedContainer()}}, SecurityContext: restrictedPod()},
		}
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	qn := map[string]string{"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": "milvus-prod", "component": "querynode"}
	pod("milvus-prod-querynode-5d8f7c9b4-abcde", qn)
	pod("milvus-prod-querynode-5d8f7c9b4-fghij", qn)
	pod("milvus-prod-etcd-0", map[string]string{"app.kubernetes.io/name": "etcd", "app.kubernetes.io/instance": "milvus-prod-etcd"})
	pod("milvus-prod-proxy-7c9d-klmno", map[string]string{"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": "milvus-prod", "component": "proxy"})

	del := func(c kubernetes.Interface, name string, dry bool) error {
		o := metav1.DeleteOptions{}
		if dry {
			o.DryRun = []string{metav1.DryRunAll}
		}
		return c.CoreV1().Pods(ns).Delete(ctx, name, o)
	}
	evict := func(name string) error {
		return verifierKube.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	}
	// The API server loads a new policy within a second or so: wait on a
	// dry run, which admission judges like the real request.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := del(verifierKube, "milvus-prod-etcd-0", true)
		if err != nil && strings.Contains(err.Error(), "may delete only pods matching") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy never refused the etcd pod's deletion; last: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := del(verifierKube, "milvus-prod-etcd-0", false); err == nil || !strings.Contains(err.Error(), "app.kubernetes.io/instance=milvus-prod,app.kubernetes.io/name=milvus,component=querynode") {
		t.Errorf("deleting etcd as the verifier: %v, want the policy's refusal", err)
	}
	if err := evict("milvus-prod-etcd-0"); err == nil || !strings.Contains(err.Error(), "may evict only pods named milvus-prod-querynode-") {
		t.Errorf("evicting etcd as the verifier: %v, want the policy's refusal", err)
	}
	if err := del(verifierKube, "milvus-prod-proxy-7c9d-klmno", false); err == nil || !strings.Contains(err.Error(), "may delete only pods matching") {
		t.Errorf("deleting a proxy as the verifier: %v, want the policy's refusal", err)
	}
	if err := del(verifierKube, "milvus-prod-querynode-5d8f7c9b4-abcde", false); err != nil {
		t.Errorf("deleting a query node as the verifier: %v", err)
	}
	if err := evict("milvus-prod-querynode-5d8f7c9b4-fghij"); err != nil {
		t.Errorf("evicting a query node as the verifier: %v", err)
	}
	if err := del(admin, "milvus-prod-etcd-0", true); err != nil {
		t.Errorf("the policy binds only the verifier, yet the admin was refused: %v", err)
	}
}

// TestVerifierWaitsForTheImages: the verifier's wait for the Milvus
// Deployments (--wait-image) and its backup check (--backup-cronjob)
// against real objects: a Deployment counts only once it runs the image
// and its controller has rolled it out with no old replica left; a backup
// counts only when it succeeded recently enough.
func TestVerifierWaitsForTheImages(t *testing.T) {
	s := server(t)
	createNamespace(t, s, "wait-img")
	dep := `apiVersion: apps/v1
kind: Deployment
metadata: {name: milvus-x-proxy, namespace: wait-img}
spec:
  replicas: 2
  selector: {matchLabels: {component: proxy}}
  template:
    metadata: {labels: {component: proxy}}
    spec: {containers: [{name: proxy, image: "milvusdb/milvus:%s"}]}
`
	apply := func(doc string) {
		t.Helper()
		if _, _, err := kubectl(s, []byte(doc), "apply", "-f", "-"); err != nil {
			t.Fatal(err)
		}
	}
	status := func(kind, name, patch string) {
		t.Helper()
		if _, _, err := kubectl(s, nil, "patch", kind, name, "-n", "wait-img", "--subresource=status", "--type=merge", "-p", patch); err != nil {
			t.Fatal(err)
		}
	}
	apply(fmt.Sprintf(dep, "v2.5.16"))
	t.Setenv("KUBECONFIG", s.Kubeconfig)
	dyn, err := verifier.DynamicClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := map[string]string{"milvus-x-proxy": "milvusdb/milvus:v2.6.15"}
	wait := func(wantErr string) {
		t.Helper()
		err := verifier.WaitImages(ctx, dyn, "wait-img", want, 1500*time.Millisecond)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("got %v, want %q", err, wantErr)
		}
	}
	wait("runs milvusdb/milvus:v2.5.16, waiting for milvusdb/milvus:v2.6.15")
	apply(fmt.Sprintf(dep, "v2.6.15")) // generation 2
	status("deployment", "milvus-x-proxy", `{"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":0,"readyReplicas":2,"availableReplicas":2}}`)
	wait("generation not observed yet")
	status("deployment", "milvus-x-proxy", `{"status":{"observedGeneration":2,"replicas":3,"updatedReplicas":2,"readyReplicas":3,"availableReplicas":3}}`)
	wait("1 old replicas left")
	status("deployment", "milvus-x-proxy", `{"status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"readyReplicas":1,"availableReplicas":1}}`)
	wait("1 of 2 replicas available")
	status("deployment", "milvus-x-proxy", `{"status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}}`)
	wait("")

	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if _, checked, err := verifier.BackupFresh(ctx, dyn, "wait-img", "milvus-x-backup", 26*time.Hour, now); checked || err == nil {
		t.Fatalf("a missing CronJob is no check: checked %v, %v", checked, err)
	}
	apply(`apiVersion: batch/v1
kind: CronJob
metadata: {name: milvus-x-backup, namespace: wait-img}
spec:
  schedule: "0 2 * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: backup, image: busybox}]}}}}
`)
	if age, checked, err := verifier.BackupFresh(ctx, dyn, "wait-img", "milvus-x-backup", 26*time.Hour, now); !checked || age >= 0 || err == nil || !strings.Contains(err.Error(), "has never succeeded") {
		t.Fatalf("never succeeded: %v %v %v", age, checked, err)
	}
	status("cronjob", "milvus-x-backup", `{"status":{"lastSuccessfulTime":"2026-12-07T02:00:00Z"}}`)
	if age, checked, err := verifier.BackupFresh(ctx, dyn, "wait-img", "milvus-x-backup", 26*time.Hour, now); !checked || err != nil || age != 10*time.Hour {
		t.Fatalf("10 h old: %v %v %v", age, checked, err)
	}
	if _, checked, err := verifier.BackupFresh(ctx, dyn, "wait-img", "milvus-x-backup", 6*time.Hour, now); !checked || err == nil || !strings.Contains(err.Error(), "is 10h0m0s old, more than 6h0m0s") {
		t.Fatalf("too old: %v %v", checked, err)
	}
	// A run whose backup is too old fails before it measures (or
	// connects): a failed verification, exit 1, with the reason.
	cfg := &verifier.Config{BackupCronJob: "milvus-x-backup", BackupMaxAge: time.Hour, FaultNamespace: "wait-img", Timeout: time.Minute,
		WaitImages: want, HealthTimeout: 5 * time.Second}
	r := verifier.Run(ctx, cfg, verifier.Deps{Dynamic: func() (dynamic.Interface, error) { return dyn, nil }, Log: io.Discard,
		Connect: func(context.Context, verifier.ConnectOptions) (verifier.Milvus, error) {
			t.Fatal("a run without a recent backup must not connect")
			return nil, nil
		}})
	if r.Verdict != verifier.Fail || r.ExitCode() != 1 || !strings.Contains(r.Error, "more than 1h0m0s") || len(r.SLOs) != 1 || r.SLOs[0].Pass {
		t.Errorf("verdict %s, exit %d, error %q, SLOs %+v", r.Verdict, r.ExitCode(), r.Error, r.SLOs)
	}
}
