package dependencies

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/milvus-gitops/milvusgen/model"
)

// KafkaValues are the keys of bitnami Kafka chart 15.5.1 we set.
type KafkaValues struct {
	PodPlacement `json:",inline"`
	// TopologySpreadConstraints spread the brokers over the zones.
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	Image                     BitnamiImage                      `json:"image"`
	ReplicaCount              int32                             `json:"replicaCount"`
	// Milvus creates a topic per channel.
	AutoCreateTopicsEnable bool `json:"autoCreateTopicsEnable"`
	// Milvus deletes a collection's topics when it drops it.
	DeleteTopicEnable                    bool            `json:"deleteTopicEnable"`
	DefaultReplicationFactor             int32           `json:"defaultReplicationFactor"`
	OffsetsTopicReplicationFactor        int32           `json:"offsetsTopicReplicationFactor"`
	TransactionStateLogReplicationFactor int32           `json:"transactionStateLogReplicationFactor"`
	TransactionStateLogMinIsr            int32           `json:"transactionStateLogMinIsr"`
	ExtraEnvVars                         []corev1.EnvVar `json:"extraEnvVars"`
	// The bitnami chart writes these as KAFKA_CFG_* strings; a leading
	// "_" keeps a number from being printed in scientific notation
	// (its values.yaml does the same).
	MaxMessageBytes               string                       `json:"maxMessageBytes"`
	LogRetentionHours             int32                        `json:"logRetentionHours"`
	LogRetentionBytes             string                       `json:"logRetentionBytes"`
	HeapOpts                      string                       `json:"heapOpts"`
	TerminationGracePeriodSeconds int64                        `json:"terminationGracePeriodSeconds"`
	Persistence                   Persistence                  `json:"persistence"`
	Resources                     *corev1.ResourceRequirements `json:"resources,omitempty"`
	PodAntiAffinityPreset         string                       `json:"podAntiAffinityPreset"`
	PDB                           BitnamiPDB                   `json:"pdb"`
	PodSecurityContext            map[string]any               `json:"podSecurityContext"`
	ContainerSecurityContext      map[string]any               `json:"containerSecurityContext"`
	Zookeeper                     KafkaZookeeper               `json:"zookeeper"`
	Metrics                       *KafkaMetrics                `json:"metrics,omitempty"`
}

// KafkaMetrics are the chart's exporters: the JMX exporter sidecar only
// (model.MetricsTargets says why not kafka-exporter).
type KafkaMetrics struct {
	JMX KafkaJMX `json:"jmx"`
}

// KafkaJMX is metrics.jmx of the chart.
type KafkaJMX struct {
	Enabled                  bool                         `json:"enabled"`
	Image                    BitnamiImage                 `json:"image"`
	Resources                *corev1.ResourceRequirements `json:"resources,omitempty"`
	ContainerSecurityContext map[string]any               `json:"containerSecurityContext"`
}

// ZookeeperMetrics is the ZooKeeper subchart's metrics block: ZooKeeper's
// own Prometheus provider (ZOO_ENABLE_PROMETHEUS_METRICS), no sidecar.
type ZookeeperMetrics struct {
	Enabled bool `json:"enabled"`
}

// KafkaZookeeper is the chart's bundled ZooKeeper ensemble.
type KafkaZookeeper struct {
	PodPlacement `json:",inline"`
	// TopologySpreadConstraints spread the ensemble over the zones.
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	Image                     BitnamiImage                      `json:"image"`
	Enabled                   bool                              `json:"enabled"`
	Resources                 *corev1.ResourceRequirements      `json:"resources,omitempty"`
	ReplicaCount              int32                             `json:"replicaCount"`
	Persistence               Persistence                       `json:"persistence"`
	PodAntiAffinityPreset     string                            `json:"podAntiAffinityPreset"`
	PDB                       BitnamiPDB                        `json:"pdb"`
	PodSecurityContext        map[string]any                    `json:"podSecurityContext"`
	ContainerSecurityContext  map[string]any                    `json:"containerSecurityContext"`
	Metrics                   ZookeeperMetrics                  `json:"metrics"`
}

func kafkaValues(env *model.Environment, m *model.ManagedQueue) KafkaValues {
	size := func(b int64) Persistence {
		return persistence(model.Persistence{StorageClass: m.StorageClass, Size: b})
	}
	pod, container := bitnamiSecurityContexts()
	v := KafkaValues{
		PodPlacement:                         placement(env),
		Image:                                bitnamiImage(env, m.Image),
		ReplicaCount:                         m.Broker.Replicas,
		AutoCreateTopicsEnable:               true,
		DeleteTopicEnable:                    true,
		DefaultReplicationFactor:             m.ReplicationFactor,
		OffsetsTopicReplicationFactor:        m.ReplicationFactor,
		TransactionStateLogReplicationFactor: m.ReplicationFactor,
		TransactionStateLogMinIsr:            m.MinInsyncReplicas,
		// The chart has no key for these; the bitnami image maps
		// KAFKA_CFG_* onto server.properties. Followers must fetch the
		// largest message; segments roll daily so that time retention
		// frees space (as the Milvus chart's own Kafka sets them).
		ExtraEnvVars: []corev1.EnvVar{
			{Name: "KAFKA_CFG_MIN_INSYNC_REPLICAS", Value: strconv.Itoa(int(m.MinInsyncReplicas))},
			{Name: "KAFKA_CFG_REPLICA_FETCH_MAX_BYTES", Value: strconv.FormatInt(m.Broker.MaxMessageBytes, 10)},
			{Name: "KAFKA_CFG_LOG_ROLL_HOURS", Value: "24"},
		},
		MaxMessageBytes:               "_" + strconv.FormatInt(m.Broker.MaxMessageBytes, 10),
		LogRetentionHours:             m.Broker.RetentionHours,
		LogRetentionBytes:             "_-1",
		HeapOpts:                      fmt.Sprintf("-Xmx%dm -Xms%dm", m.Broker.Heap>>20, m.Broker.Heap>>20),
		TerminationGracePeriodSeconds: m.Broker.TerminationGracePeriodSeconds,
		Persistence:                   size(m.Broker.Size),
		PodAntiAffinityPreset:         antiAffinity(env),
		PDB:                           BitnamiPDB{Create: true, MaxUnavailable: 1},
		PodSecurityContext:            pod,
		ContainerSecurityContext:      container,
		Zookeeper: KafkaZookeeper{
			PodPlacement:             placement(env),
			Image:                    bitnamiImage(env, m.ZookeeperImage),
			Enabled:                  true,
			ReplicaCount:             m.Zookeeper.Replicas,
			Persistence:              size(m.Zookeeper.Size),
			PodAntiAffinityPreset:    antiAffinity(env),
			PDB:                      BitnamiPDB{Create: true, MaxUnavailable: 1},
			PodSecurityContext:       pod,
			ContainerSecurityContext: container,
		},
	}
	if env.Monitoring.Mode != "none" {
		// What the alert rules read (model.MetricsTargets). The chart's
		// exporter image defaults to docker.io whatever the broker's
		// registry: set it, so that it comes from the mirror too.
		v.Zookeeper.Metrics.Enabled = true
		small := &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
		}
		v.Metrics = &KafkaMetrics{
			JMX: KafkaJMX{Enabled: true, Image: bitnamiImage(env, m.JMXExporterImage), Resources: small, ContainerSecurityContext: container},
		}
	}
	v.Resources = optionalResources(m.Broker.Resources)
	v.Zookeeper.Resources = optionalResources(m.Zookeeper.Resources)
	v.TopologySpreadConstraints = zoneSpread(env, env.DependencyPodLabels("kafka", "kafka"))
	v.Zookeeper.TopologySpreadConstraints = zoneSpread(env, env.DependencyPodLabels("kafka", "zookeeper"))
	return v
}

// bitnamiSecurityContexts are the pod and container security contexts the
// bitnami charts pass through: the pods pass "restricted".
func bitnamiSecurityContexts() (pod, container map[string]any) {
	uid := int64(1001) // the bitnami images' user
	pod = map[string]any{"enabled": true, "fsGroup": uid, "seccompProfile": map[string]any{"type": "RuntimeDefault"}}
	container = map[string]any{
		"enabled": true, "runAsUser": uid, "runAsNonRoot": true, "allowPrivilegeEscalation": false,
		"capabilities": map[string]any{"drop": []string{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}
	return pod, container
}
