// Package cluster generates the environment's Namespace and the
// PodDisruptionBudgets of the Milvus components (the chart makes none).
package cluster

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// PodSecurityVersion pins the Pod Security Standards version the namespace
// enforces: the Kubernetes minor we validate against.
const PodSecurityVersion = generators.KubernetesVersion

// Namespace is the environment's namespace with Pod Security admission
// labels: "restricted" is enforced when the Milvus pods run as non-root
// (the default; every other pod we render, and the managed dependencies'
// through their values or patches, pass it), "baseline" when the spec
// runs Milvus as root; warnings and audit are always at "restricted", so
// the gap stays visible.
func Namespace(env *model.Environment) *corev1.Namespace {
	enforce := "baseline"
	if env.Security.RunAsNonRoot {
		enforce = "restricted"
	}
	labels := generators.CommonLabels(env.Name, env.Release, env.Labels)
	for _, mode := range []string{"enforce", "warn", "audit"} {
		level := "restricted"
		if mode == "enforce" {
			level = enforce
		}
		labels["pod-security.kubernetes.io/"+mode] = level
		labels["pod-security.kubernetes.io/"+mode+"-version"] = PodSecurityVersion
	}
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: env.Namespace, Labels: labels},
	}
	// Argo CD syncs by wave before kind: the namespace goes first, before
	// the ExternalSecrets (-2), the dependencies (-1) and Milvus (0).
	if env.Delivery.Kind == "argocd" {
		ns.Annotations = map[string]string{generators.ArgoCDSyncWave: "-3"}
	}
	return ns
}

// PodDisruptionBudgets returns one policy/v1 PDB per component, in a stable
// order. Evictions (node drains, cluster upgrades) then take at most
// maxUnavailable pods of a component at a time.
func PodDisruptionBudgets(env *model.Environment) []*policyv1.PodDisruptionBudget {
	if !env.Availability.PodDisruptionBudgets {
		return nil
	}
	var out []*policyv1.PodDisruptionBudget
	maxUnavailable := intstr.FromInt32(env.Availability.MaxUnavailable)
	// A crash-looping pod must not block a drain: it serves nothing.
	alwaysAllow := policyv1.AlwaysAllow
	for _, key := range upgrade.Running(env) {
		out = append(out, &policyv1.PodDisruptionBudget{
			TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("%s-%s", env.Release, model.ComponentLabel(key)),
				Namespace: env.Namespace,
				Labels:    generators.CommonLabels(env.Name, env.Release, env.Labels),
			},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MaxUnavailable:             &maxUnavailable,
				Selector:                   &metav1.LabelSelector{MatchLabels: env.PodLabels(key)},
				UnhealthyPodEvictionPolicy: &alwaysAllow,
			},
		})
	}
	return out
}

// ClientPort is Milvus' gRPC and REST port on the proxies (the chart's
// container port "milvus").
const ClientPort = 19530

// ExternalService is the LoadBalancer a LoadBalancer spec asks for: the
// proxies' client port only, from the spec's source ranges. The chart's own
// Service stays ClusterIP, because it always adds the management port 9091
// (/management/stop, garbage-collection pause, pprof, WebUI), which must
// not leave the cluster.
func ExternalService(env *model.Environment) *corev1.Service {
	if env.Service.Type != "LoadBalancer" {
		return nil
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        env.Release + "-external",
			Namespace:   env.Namespace,
			Labels:      generators.CommonLabels(env.Name, env.Release, env.Labels),
			Annotations: env.Service.Annotations,
		},
		Spec: corev1.ServiceSpec{
			Type:                     corev1.ServiceTypeLoadBalancer,
			Selector:                 env.PodLabels("proxy"),
			LoadBalancerSourceRanges: env.Service.LoadBalancerSourceRanges,
			Ports: []corev1.ServicePort{{
				Name: "milvus", Protocol: corev1.ProtocolTCP, Port: ClientPort,
				TargetPort: intstr.FromString("milvus"),
			}},
		},
	}
}
