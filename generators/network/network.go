// Package network generates the NetworkPolicies of an environment: every
// pod in its namespace is isolated for ingress, and only what the
// deployment needs is let in. Egress stays open (DNS, the cloud's object
// storage and identity endpoints, external dependencies have addresses
// the spec does not know).
package network

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// The Milvus ports: clients, and metrics with the management API
// (templates/service.yaml of the chart: 19530 "milvus", 9091 "metrics").
const (
	ClientPort  = 19530
	MetricsPort = 9091
)

// Policies are the environment's NetworkPolicies, none when switched off.
func Policies(env *model.Environment) []*networkingv1.NetworkPolicy {
	if !env.NetworkPolicies.Enabled {
		return nil
	}
	milvus := &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": env.Release}}
	jobs := []networkingv1.NetworkPolicyPeer{
		peer(map[string]string{"app.kubernetes.io/name": "milvus-backup", "app.kubernetes.io/instance": env.Release}),
		peer(map[string]string{"app.kubernetes.io/name": "milvusgen-verifier", "app.kubernetes.io/instance": env.Release}),
	}
	var monitoring []networkingv1.NetworkPolicyPeer
	if env.Monitoring.Mode == "configmap" && len(env.NetworkPolicies.PrometheusPodLabels) > 0 {
		// The ConfigMap's Prometheus mounts it, so it runs in this
		// namespace.
		monitoring = append(monitoring, peer(env.NetworkPolicies.PrometheusPodLabels))
	}
	for _, ns := range env.NetworkPolicies.MetricsFrom {
		monitoring = append(monitoring, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			// Every namespace carries its name as this label (Kubernetes
			// 1.22+).
			MatchLabels: map[string]string{corev1.LabelMetadataName: ns},
		}})
	}

	out := []*networkingv1.NetworkPolicy{
		// Nothing gets in unless a policy below lets it.
		policy(env, env.Release+"-default-deny", metav1.LabelSelector{}, nil),
		// Milvus' components talk to each other on their own ports; the
		// backup and verification Jobs use the client and metrics ports
		// (milvus-backup pauses garbage collection through 9091).
		policy(env, env.Release+"-milvus", *milvus, append([]networkingv1.NetworkPolicyIngressRule{
			{From: []networkingv1.NetworkPolicyPeer{{PodSelector: milvus}}},
			{From: jobs, Ports: ports(ClientPort, MetricsPort)},
		}, metricsRule(monitoring, MetricsPort)...)),
		// The client port of the proxies, from anywhere: clients in other
		// namespaces and, through the LoadBalancer, the spec's source
		// ranges (which the load balancer enforces). Nothing else of
		// Milvus is reachable from outside the namespace.
		policy(env, env.Release+"-proxy-clients", metav1.LabelSelector{MatchLabels: env.PodLabels("proxy")},
			[]networkingv1.NetworkPolicyIngressRule{{Ports: ports(ClientPort)}}),
	}
	// Each managed dependency: its own members and Jobs, Milvus, and for
	// the object storage the backup and restore Jobs.
	for _, dep := range managed(env) {
		self := metav1.LabelSelector{MatchLabels: dep.release}
		from := []networkingv1.NetworkPolicyPeer{{PodSelector: &self}, {PodSelector: milvus}}
		if dep.name == "minio" {
			from = append(from, jobs[0])
		}
		rules := []networkingv1.NetworkPolicyIngressRule{{From: from}}
		rules = append(rules, metricsRule(monitoring, dep.metrics...)...)
		out = append(out, policy(env, env.Release+"-"+dep.name, self, rules))
	}
	return out
}

type dependency struct {
	name    string
	release map[string]string // every pod of the dependency's release
	// metrics are the ports its metrics are served on
	// (model.MetricsTargets).
	metrics []int32
}

// managed are the managed dependencies with the label every pod of their
// release carries (members and the charts' Jobs alike), and the ports
// Prometheus scrapes on them.
func managed(env *model.Environment) []dependency {
	var out []dependency
	instance := func(dep string) map[string]string {
		return map[string]string{"app.kubernetes.io/instance": env.Release + "-" + dep}
	}
	release := func(dep string) map[string]string {
		return map[string]string{"release": env.Release + "-" + dep}
	}
	d := env.Dependencies
	if d.Etcd.Managed != nil {
		out = append(out, dependency{name: "etcd", release: instance("etcd")})
	}
	if d.ObjectStorage.Managed != nil {
		out = append(out, dependency{name: "minio", release: release("minio")})
	}
	if d.MessageQueue.Managed != nil {
		switch d.MessageQueue.Type {
		case "kafka":
			out = append(out, dependency{name: "kafka", release: instance("kafka")})
		case "pulsar":
			out = append(out, dependency{name: "pulsar", release: release("pulsar")})
		}
	}
	targets := env.MetricsTargets()
	for i := range out {
		for _, t := range targets {
			if t.Dependency == out[i].name && !slices.Contains(out[i].metrics, t.Port) {
				out[i].metrics = append(out[i].metrics, t.Port)
			}
		}
		slices.Sort(out[i].metrics)
	}
	return out
}

func metricsRule(from []networkingv1.NetworkPolicyPeer, port ...int32) []networkingv1.NetworkPolicyIngressRule {
	if len(from) == 0 || len(port) == 0 {
		return nil
	}
	return []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: ports(port...)}}
}

func peer(labels map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: labels}}
}

func ports(ps ...int32) []networkingv1.NetworkPolicyPort {
	tcp := corev1.ProtocolTCP
	var out []networkingv1.NetworkPolicyPort
	for _, p := range ps {
		port := intstr.FromInt32(p)
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &port})
	}
	return out
}

func policy(env *model.Environment, name string, pods metav1.LabelSelector, ingress []networkingv1.NetworkPolicyIngressRule) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace,
			Labels: generators.CommonLabels(env.Name, env.Release, env.Labels)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: pods,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     ingress,
		},
	}
}
