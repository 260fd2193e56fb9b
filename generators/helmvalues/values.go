// Package helmvalues builds the values of the official Milvus Helm chart
// from an environment. Values is a typed mirror of the chart keys we set,
// for the pinned chart versions (5.0.19 for Milvus 2.6, 4.2.58 for 2.5);
// a test checks every emitted key path against the chart's default values.
package helmvalues

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Values is the subset of the chart's values.yaml that we set.
type Values struct {
	Cluster                  Toggle                     `json:"cluster"`
	Image                    Image                      `json:"image"`
	Labels                   map[string]string          `json:"labels,omitempty"`
	SecurityContext          *corev1.PodSecurityContext `json:"securityContext,omitempty"`
	ContainerSecurityContext *corev1.SecurityContext    `json:"containerSecurityContext,omitempty"`
	Volumes                  []corev1.Volume            `json:"volumes,omitempty"`
	VolumeMounts             []corev1.VolumeMount       `json:"volumeMounts,omitempty"`
	Streaming                Streaming                  `json:"streaming"`
	// ExtraConfigFiles holds user.yaml, merged by Milvus over its defaults.
	ExtraConfigFiles map[string]string `json:"extraConfigFiles"`
	Service          Service           `json:"service"`
	ServiceAccount   ServiceAccount    `json:"serviceAccount"`
	Metrics          Metrics           `json:"metrics"`
	LivenessProbe    Probe             `json:"livenessProbe"`
	ReadinessProbe   Probe             `json:"readinessProbe"`
	Log              Log               `json:"log"`

	Proxy            *Component `json:"proxy,omitempty"`
	RootCoordinator  *Component `json:"rootCoordinator,omitempty"`
	QueryCoordinator *Component `json:"queryCoordinator,omitempty"`
	QueryNode        *Component `json:"queryNode,omitempty"`
	IndexCoordinator *Component `json:"indexCoordinator,omitempty"`
	IndexNode        *Component `json:"indexNode,omitempty"`
	DataCoordinator  *Component `json:"dataCoordinator,omitempty"`
	DataNode         *Component `json:"dataNode,omitempty"`
	MixCoordinator   *Component `json:"mixCoordinator,omitempty"`
	StreamingNode    *Component `json:"streamingNode,omitempty"`

	// The bundled dependency subcharts, all switched off: dependencies are
	// external.
	Minio      Toggle `json:"minio"`
	Etcd       Toggle `json:"etcd"`
	Pulsar     Toggle `json:"pulsar"`
	Pulsarv3   Toggle `json:"pulsarv3"`
	Kafka      Toggle `json:"kafka"`
	Woodpecker Toggle `json:"woodpecker"`

	ExternalS3     ExternalS3      `json:"externalS3"`
	ExternalEtcd   ExternalEtcd    `json:"externalEtcd"`
	ExternalPulsar *ExternalPulsar `json:"externalPulsar,omitempty"`
	ExternalKafka  *ExternalKafka  `json:"externalKafka,omitempty"`
}

// Toggle is the chart's `{enabled: bool}`.
type Toggle struct {
	Enabled bool `json:"enabled"`
}

// Image is `image.all`.
type Image struct {
	All ImageAll `json:"all"`
}

// ImageAll is the Milvus image.
type ImageAll struct {
	Repository  string   `json:"repository"`
	Tag         string   `json:"tag"`
	PullPolicy  string   `json:"pullPolicy"`
	PullSecrets []string `json:"pullSecrets,omitempty"`
}

// Streaming is the Milvus 2.6 streaming service.
type Streaming struct {
	Enabled    bool                 `json:"enabled"`
	Woodpecker *StreamingWoodpecker `json:"woodpecker,omitempty"`
}

// StreamingWoodpecker runs Woodpecker embedded in the streaming nodes.
type StreamingWoodpecker struct {
	Embedded bool `json:"embedded"`
}

// Service is the proxy Service.
type Service struct {
	Type                     string            `json:"type"`
	Annotations              map[string]string `json:"annotations,omitempty"`
	LoadBalancerSourceRanges []string          `json:"loadBalancerSourceRanges"`
}

// ServiceAccount of the Milvus pods.
type ServiceAccount struct {
	Create      bool              `json:"create"`
	Name        string            `json:"name,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Metrics is the metrics endpoint and the chart's ServiceMonitor.
type Metrics struct {
	Enabled        bool   `json:"enabled"`
	ServiceMonitor Toggle `json:"serviceMonitor"`
}

// Probe is the chart's global probe timing.
type Probe struct {
	Enabled             bool  `json:"enabled"`
	InitialDelaySeconds int32 `json:"initialDelaySeconds"`
	PeriodSeconds       int32 `json:"periodSeconds"`
	TimeoutSeconds      int32 `json:"timeoutSeconds"`
	SuccessThreshold    int32 `json:"successThreshold"`
	FailureThreshold    int32 `json:"failureThreshold"`
}

// Log is Milvus' log level and format.
type Log struct {
	Level  string `json:"level"`
	Format string `json:"format"`
}

// Component is one component's values. Enabled is left out for the
// streaming node, whose chart entry has no switch (streaming.enabled is).
type Component struct {
	Enabled                   *bool                             `json:"enabled,omitempty"`
	Replicas                  int32                             `json:"replicas,omitempty"`
	Resources                 *corev1.ResourceRequirements      `json:"resources,omitempty"`
	Affinity                  *corev1.Affinity                  `json:"affinity,omitempty"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	ExtraEnv                  []corev1.EnvVar                   `json:"extraEnv,omitempty"`
	Annotations               map[string]string                 `json:"annotations,omitempty"`
	ActiveStandby             *Toggle                           `json:"activeStandby,omitempty"`
	Strategy                  *appsv1.DeploymentStrategy        `json:"strategy,omitempty"`
	NodeSelector              map[string]string                 `json:"nodeSelector,omitempty"`
	Tolerations               []corev1.Toleration               `json:"tolerations,omitempty"`
	// Disk is the query node's local storage volume.
	Disk *Disk `json:"disk,omitempty"`
}

// Disk is queryNode.disk: the /var/lib/milvus/data emptyDir, and whether
// Milvus takes its size from the pod's ephemeral-storage limit
// (LOCAL_STORAGE_SIZE).
type Disk struct {
	Enabled bool   `json:"enabled"`
	Size    Toggle `json:"size"`
}

// ExternalS3 is the object storage. accessKey and secretKey stay empty: the
// keys reach the pods as MINIO_ACCESS_KEY_ID / MINIO_SECRET_ACCESS_KEY from
// a Secret, since the chart has no existing-secret option here.
type ExternalS3 struct {
	Enabled        bool   `json:"enabled"`
	Host           string `json:"host"`
	Port           string `json:"port"`
	UseSSL         bool   `json:"useSSL"`
	BucketName     string `json:"bucketName"`
	RootPath       string `json:"rootPath"`
	UseIAM         bool   `json:"useIAM"`
	CloudProvider  string `json:"cloudProvider"`
	IAMEndpoint    string `json:"iamEndpoint"`
	Region         string `json:"region"`
	UseVirtualHost bool   `json:"useVirtualHost"`
}

// ExternalEtcd is the etcd cluster.
type ExternalEtcd struct {
	Enabled   bool     `json:"enabled"`
	Endpoints []string `json:"endpoints"`
}

// ExternalPulsar is the Pulsar cluster; authParams come from a Secret.
type ExternalPulsar struct {
	Enabled        bool   `json:"enabled"`
	Host           string `json:"host"`
	Port           int    `json:"port"`
	MaxMessageSize string `json:"maxMessageSize"`
	Tenant         string `json:"tenant"`
	Namespace      string `json:"namespace"`
	AuthPlugin     string `json:"authPlugin"`
}

// ExternalKafka is the Kafka cluster; SASL credentials come from a Secret.
type ExternalKafka struct {
	Enabled          bool      `json:"enabled"`
	BrokerList       string    `json:"brokerList"`
	SecurityProtocol string    `json:"securityProtocol"`
	SASL             KafkaSASL `json:"sasl"`
}

// KafkaSASL is the mechanism; username and password stay unset.
type KafkaSASL struct {
	Mechanisms string `json:"mechanisms"`
}
