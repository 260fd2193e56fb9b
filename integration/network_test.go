package integration

import (
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

// endpoint is a pod (namespace and labels) or, with only an address, a
// client outside the cluster.
type endpoint struct {
	namespace string
	labels    map[string]string
	ip        string
}

// allowed evaluates NetworkPolicy ingress as Kubernetes defines it
// (networking/v1 API reference, "NetworkPolicySpec"): a pod no policy
// selects for Ingress accepts everything; a selected pod accepts what at
// least one rule of a selecting policy allows, a rule matching when one of
// its peers matches the source (or it has none) and one of its ports
// matches (or it has none). Namespaces carry their kubernetes.io/
// metadata.name label.
func allowed(policies []networkingv1.NetworkPolicy, src, dst endpoint, port int32) bool {
	selecting := 0
	for _, p := range policies {
		if p.Namespace != dst.namespace || !matches(&p.Spec.PodSelector, dst.labels) || !ingressType(p) {
			continue
		}
		selecting++
		for _, r := range p.Spec.Ingress {
			if peersMatch(p.Namespace, r.From, src) && portsMatch(r.Ports, port) {
				return true
			}
		}
	}
	return selecting == 0
}

func ingressType(p networkingv1.NetworkPolicy) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return true
	}
	for _, t := range p.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress {
			return true
		}
	}
	return false
}

func matches(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}

func peersMatch(policyNS string, peers []networkingv1.NetworkPolicyPeer, src endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		switch {
		case p.IPBlock != nil:
			if src.ip == "" {
				continue
			}
			prefix, err := netip.ParsePrefix(p.IPBlock.CIDR)
			addr, err2 := netip.ParseAddr(src.ip)
			if err == nil && err2 == nil && prefix.Contains(addr) {
				return true
			}
		case src.namespace == "":
			// A client outside the cluster matches IP blocks only.
		case p.NamespaceSelector != nil:
			nsLabels := map[string]string{corev1.LabelMetadataName: src.namespace}
			if matches(p.NamespaceSelector, nsLabels) && (p.PodSelector == nil || matches(p.PodSelector, src.labels)) {
				return true
			}
		case p.PodSelector != nil:
			if src.namespace == policyNS && matches(p.PodSelector, src.labels) {
				return true
			}
		}
	}
	return false
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if p.Port == nil {
			return true
		}
		lo, hi := p.Port.IntVal, p.Port.IntVal
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if p.Port.Type == 0 && port >= lo && port <= hi {
			return true
		}
	}
	return false
}

// TestNetworkPoliciesLetInOnlyWhatIsNeeded evaluates the rendered
// NetworkPolicies against the pods the environment really runs (their
// labels from the Milvus chart, the dependency charts and our Jobs),
// table-driven: who may reach which port.
func TestNetworkPoliciesLetInOnlyWhatIsNeeded(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	depCharts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	all := renderAll(t)
	// reach is one row: may src reach dst's port? src and dst are pod
	// keys ("Kind name" as everyPod names them), or a special source.
	type reach struct {
		src, dst string
		port     int32
		want     bool
	}
	for _, tc := range []struct {
		env  string
		rows []reach
	}{
		{env: "prod", rows: []reach{
			// Milvus reaches its dependencies and itself.
			{"Deployment milvus-prod-querynode", "StatefulSet milvus-prod-etcd", 2379, true},
			{"Deployment milvus-prod-datanode", "StatefulSet milvus-prod-minio", 9000, true},
			{"Deployment milvus-prod-streamingnode", "StatefulSet milvus-prod-pulsar-proxy", 6650, true},
			{"Deployment milvus-prod-proxy", "Deployment milvus-prod-querynode", 21123, true},
			// Members reach each other, and the charts' Jobs their release.
			{"StatefulSet milvus-prod-etcd", "StatefulSet milvus-prod-etcd", 2380, true},
			{"StatefulSet milvus-prod-pulsar-broker", "StatefulSet milvus-prod-pulsar-bookie", 3181, true},
			{"Job milvus-prod-minio-buckets", "StatefulSet milvus-prod-minio", 9000, true},
			{"Job milvus-prod-pulsar-pulsar-init", "StatefulSet milvus-prod-pulsar-zookeeper", 2181, true},
			// The Jobs: backup to Milvus (client, GC pause) and MinIO; the
			// verifier to Milvus only.
			{"CronJob milvus-prod-backup", "Deployment milvus-prod-proxy", 19530, true},
			{"CronJob milvus-prod-backup", "Deployment milvus-prod-mixcoord", 9091, true},
			{"CronJob milvus-prod-backup", "StatefulSet milvus-prod-minio", 9000, true},
			{"CronJob milvus-prod-backup", "StatefulSet milvus-prod-etcd", 2379, false},
			{"Job milvus-prod-verify", "Deployment milvus-prod-proxy", 19530, true},
			{"Job milvus-prod-verify", "StatefulSet milvus-prod-etcd", 2379, false},
			{"Job milvus-prod-verify", "Deployment milvus-prod-querynode", 21123, false},
			// Nobody else reaches the dependencies, even in the namespace.
			{"stranger", "StatefulSet milvus-prod-etcd", 2379, false},
			{"stranger", "StatefulSet milvus-prod-minio", 9000, false},
			{"other-namespace", "StatefulSet milvus-prod-pulsar-proxy", 6650, false},
			{"StatefulSet milvus-prod-etcd", "StatefulSet milvus-prod-minio", 9000, false},
			// From outside the namespace only the proxies' client port, and
			// the metrics port to the monitoring namespace.
			{"other-namespace", "Deployment milvus-prod-proxy", 19530, true},
			{"external", "Deployment milvus-prod-proxy", 19530, true},
			{"other-namespace", "Deployment milvus-prod-proxy", 9091, false},
			{"external", "Deployment milvus-prod-proxy", 9091, false},
			{"other-namespace", "Deployment milvus-prod-querynode", 21123, false},
			{"stranger", "Deployment milvus-prod-querynode", 21123, false},
			{"monitoring", "Deployment milvus-prod-querynode", 9091, true},
			{"monitoring", "Deployment milvus-prod-querynode", 21123, false},
			// The dependencies' metrics ports to the same scrapers: the
			// monitoring namespace, and prod's own Prometheus (monitoring
			// mode "configmap": it mounts the ConfigMap in this namespace).
			{"monitoring", "StatefulSet milvus-prod-etcd", 2379, true},
			{"monitoring", "StatefulSet milvus-prod-etcd", 2380, false},
			{"prometheus", "Deployment milvus-prod-proxy", 9091, true},
			{"prometheus", "StatefulSet milvus-prod-pulsar-broker", 8080, true},
			{"prometheus", "StatefulSet milvus-prod-pulsar-broker", 6650, false},
			{"prometheus", "StatefulSet milvus-prod-minio", 9000, true},
		}},
		{env: "tenant-eu", rows: []reach{
			{"Deployment milvus-tenant-eu-datanode", "StatefulSet milvus-tenant-eu-kafka", 9092, true},
			{"StatefulSet milvus-tenant-eu-kafka", "StatefulSet milvus-tenant-eu-kafka-zookeeper", 2181, true},
			{"Deployment milvus-tenant-eu-proxy", "StatefulSet milvus-tenant-eu-kafka-zookeeper", 2181, true},
			{"stranger", "StatefulSet milvus-tenant-eu-kafka", 9092, false},
			{"CronJob milvus-tenant-eu-backup", "StatefulSet milvus-tenant-eu-kafka", 9092, false},
		}},
	} {
		t.Run(tc.env, func(t *testing.T) {
			r := all[tc.env]
			var policies []networkingv1.NetworkPolicy
			for _, o := range decodeOverlay(t, r) {
				if o.GetKind() == "NetworkPolicy" {
					var np networkingv1.NetworkPolicy
					convert(t, o, &np)
					policies = append(policies, np)
				}
			}
			if len(policies) == 0 {
				t.Fatal("no NetworkPolicy rendered")
			}
			pods := everyPod(t, helm, shared, depCharts, r)
			ns := r.Env.Namespace
			find := func(key string) endpoint {
				switch key {
				case "stranger":
					return endpoint{namespace: ns, labels: map[string]string{"app": "debug"}}
				case "other-namespace":
					return endpoint{namespace: "default", labels: map[string]string{"app": "client"}}
				case "monitoring":
					return endpoint{namespace: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
				case "prometheus":
					return endpoint{namespace: ns, labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
				case "external":
					return endpoint{ip: "10.1.2.3"}
				}
				// The pod whose key ends in the name, or (a Job's pods have
				// generated suffixes) starts with it.
				var names []string
				for k, p := range pods {
					names = append(names, k)
					if strings.HasSuffix(k, ": "+key) {
						return endpoint{namespace: ns, labels: p.Labels}
					}
				}
				sort.Strings(names)
				for _, k := range names {
					if strings.Contains(k, ": "+key+"-") {
						return endpoint{namespace: ns, labels: pods[k].Labels}
					}
				}
				t.Fatalf("no pod %q among %v", key, names)
				return endpoint{}
			}
			for _, row := range tc.rows {
				if got := allowed(policies, find(row.src), find(row.dst), row.port); got != row.want {
					t.Errorf("%s -> %s:%d allowed %v, want %v", row.src, row.dst, row.port, got, row.want)
				}
			}
		})
	}
}
