// Package model holds the validated environment spec as Go structs.
//
// The structs are decoded from the CUE value after the schema has applied
// its defaults and rules, so every field is concrete and valid; generators
// read only these types, never CUE.
package model

// Environment is one validated environment spec.
type Environment struct {
	Name            string               `json:"name"`
	Namespace       string               `json:"namespace"`
	Release         string               `json:"release"`
	Labels          map[string]string    `json:"labels"`
	Production      bool                 `json:"production"`
	Milvus          Milvus               `json:"milvus"`
	Images          Images               `json:"images"`
	Components      map[string]Component `json:"components"`
	Topology        Topology             `json:"topology"`
	Placement       Placement            `json:"placement"`
	Availability    Availability         `json:"availability"`
	Dependencies    Dependencies         `json:"dependencies"`
	Service         Service              `json:"service"`
	NetworkPolicies NetworkPolicies      `json:"networkPolicies"`
	Log             Log                  `json:"log"`
	Metrics         Metrics              `json:"metrics"`
	Probes          Probes               `json:"probes"`
	Security        Security             `json:"security"`
	ServiceAccount  ServiceAccount       `json:"serviceAccount"`
	Secrets         Secrets              `json:"secrets"`
	Delivery        Delivery             `json:"delivery"`
	Config          Config               `json:"config"`
	SLO             SLO                  `json:"slo"`
	Backup          Backup               `json:"backup"`
	Monitoring      Monitoring           `json:"monitoring"`
	Verification    Verification         `json:"verification"`
	// MilvusConfig holds the milvus.yaml keys the schema derives from the
	// spec (typed config fields, dependencies); Config.Extra adds the rest.
	MilvusConfig map[string]any `json:"milvusConfig"`
}

// Config holds the free-form milvus.yaml overrides (config.extra). The
// typed config fields are folded into MilvusConfig by the schema; the
// schema guarantees that the two never set the same key.
type Config struct {
	Extra map[string]any `json:"extra"`
}

// Milvus is the version and image.
type Milvus struct {
	Version      string   `json:"version"`
	Line         string   `json:"line"`
	Coordinators string   `json:"coordinators"`
	Chart        Chart    `json:"chart"`
	Image        Image    `json:"image"`
	Upgrade      *Upgrade `json:"upgrade,omitempty"`
}

// Upgrade is an upgrade to Milvus.Version under way: the version every
// component ran before it, and the phase this commit makes (package
// upgrade has the plans).
type Upgrade struct {
	From  string `json:"from"`
	Phase int    `json:"phase"`
	// AllowRestart lets this phase's commit also roll pods the phase
	// does not move (gen vet refuses it otherwise, and when nothing needs
	// it).
	AllowRestart bool `json:"allowRestart"`
}

// Chart is the pinned Milvus Helm chart.
type Chart struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Repository string `json:"repository"`
}

// Image is the Milvus container image.
type Image struct {
	Repository  string   `json:"repository"`
	Tag         string   `json:"tag"`
	PullPolicy  string   `json:"pullPolicy"`
	PullSecrets []string `json:"pullSecrets"`
}

// Component is one Milvus component (proxy, queryNode, ...).
type Component struct {
	Replicas      int32             `json:"replicas"`
	Resources     *Resources        `json:"resources,omitempty"`
	Annotations   map[string]string `json:"annotations"`
	AntiAffinity  string            `json:"antiAffinity"`
	ActiveStandby bool              `json:"activeStandby"`
	Placement     *Placement        `json:"placement,omitempty"`
	LocalDisk     *LocalDisk        `json:"localDisk,omitempty"`
}

// Placement chooses where pods may run.
type Placement struct {
	NodeSelector      map[string]string `json:"nodeSelector,omitempty"`
	Tolerations       []Toleration      `json:"tolerations,omitempty"`
	PriorityClassName string            `json:"priorityClassName,omitempty"`
}

// Toleration is a Kubernetes toleration.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// LocalDisk is the query node's local storage.
type LocalDisk struct {
	Size         int64  `json:"size"`
	StorageClass string `json:"storageClass,omitempty"`
}

// PlacementOf is a component's placement: each field the component sets,
// the environment's otherwise.
func (e *Environment) PlacementOf(key string) Placement {
	p := e.Placement
	c, ok := e.Components[key]
	if !ok || c.Placement == nil {
		return p
	}
	if len(c.Placement.NodeSelector) > 0 {
		p.NodeSelector = c.Placement.NodeSelector
	}
	if len(c.Placement.Tolerations) > 0 {
		p.Tolerations = c.Placement.Tolerations
	}
	if c.Placement.PriorityClassName != "" {
		p.PriorityClassName = c.Placement.PriorityClassName
	}
	return p
}

// Resources are requests and limits: CPU in cores, memory in bytes.
type Resources struct {
	Requests Quantities `json:"requests"`
	Limits   Quantities `json:"limits"`
}

// Quantities is one of requests or limits.
type Quantities struct {
	CPU    float64 `json:"cpu"`
	Memory int64   `json:"memory"`
}

// Topology is where pods may run.
type Topology struct {
	Nodes         int      `json:"nodes"`
	Zones         []string `json:"zones"`
	ZoneSpread    string   `json:"zoneSpread"`
	AntiAffinity  string   `json:"antiAffinity"`
	ZoneLabel     string   `json:"zoneLabel"`
	HostnameLabel string   `json:"hostnameLabel"`
	// Tolerate is the failure the environment must survive: "none",
	// "node" or "zone" (package analysis checks it).
	Tolerate string `json:"tolerate"`
	// NodeSize is each node's allocatable capacity, when declared.
	NodeSize *Quantities `json:"nodeSize,omitempty"`
}

// Availability covers disruption budgets and graceful termination.
type Availability struct {
	PodDisruptionBudgets          bool   `json:"podDisruptionBudgets"`
	MaxUnavailable                int32  `json:"maxUnavailable"`
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// Dependencies are the external services.
type Dependencies struct {
	Etcd          Etcd          `json:"etcd"`
	ObjectStorage ObjectStorage `json:"objectStorage"`
	MessageQueue  MessageQueue  `json:"messageQueue"`
}

// SecretKeyRef names one key of an existing Secret.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Etcd is the etcd cluster: external, or managed by this overlay (then
// Endpoints are derived).
type Etcd struct {
	Mode      string       `json:"mode"`
	Managed   *ManagedEtcd `json:"managed,omitempty"`
	Endpoints []string     `json:"endpoints"`
	TLS       *EtcdTLS     `json:"tls,omitempty"`
	Auth      *Basic       `json:"auth,omitempty"`
}

// EtcdTLS is a Secret holding a client certificate, key and CA.
type EtcdTLS struct {
	SecretName string `json:"secretName"`
	CAKey      string `json:"caKey"`
	CertKey    string `json:"certKey"`
	KeyKey     string `json:"keyKey"`
}

// Basic is a username and password, both from Secrets.
type Basic struct {
	Username SecretKeyRef `json:"username"`
	Password SecretKeyRef `json:"password"`
}

// ObjectStorage is an S3-compatible bucket: external, or a managed MinIO
// (then host, port and credentials are derived).
type ObjectStorage struct {
	Mode           string         `json:"mode"`
	Managed        *ManagedMinio  `json:"managed,omitempty"`
	Host           string         `json:"host"`
	Port           int            `json:"port"`
	UseSSL         bool           `json:"useSSL"`
	Bucket         string         `json:"bucket"`
	RootPath       string         `json:"rootPath"`
	Region         string         `json:"region"`
	CloudProvider  string         `json:"cloudProvider"`
	UseVirtualHost bool           `json:"useVirtualHost"`
	UseIAM         bool           `json:"useIAM"`
	IAMEndpoint    string         `json:"iamEndpoint"`
	Credentials    *S3Credentials `json:"credentials,omitempty"`
}

// S3Credentials are access keys from Secrets.
type S3Credentials struct {
	AccessKeyID     SecretKeyRef `json:"accessKeyID"`
	SecretAccessKey SecretKeyRef `json:"secretAccessKey"`
}

// MessageQueue is the log broker: pulsar, kafka or woodpecker.
type MessageQueue struct {
	Type    string        `json:"type"`
	Mode    string        `json:"mode"`
	Managed *ManagedQueue `json:"managed,omitempty"`
	Pulsar  *Pulsar       `json:"pulsar,omitempty"`
	Kafka   *Kafka        `json:"kafka,omitempty"`
}

// Pulsar is an external Pulsar cluster.
type Pulsar struct {
	Host           string      `json:"host"`
	Port           int         `json:"port"`
	Tenant         string      `json:"tenant"`
	Namespace      string      `json:"namespace"`
	MaxMessageSize int64       `json:"maxMessageSize"`
	Auth           *PulsarAuth `json:"auth,omitempty"`
}

// PulsarAuth is an auth plugin and its secret parameters.
type PulsarAuth struct {
	Plugin string       `json:"plugin"`
	Params SecretKeyRef `json:"params"`
}

// Kafka is an external Kafka cluster.
type Kafka struct {
	Brokers          []string   `json:"brokers"`
	SecurityProtocol string     `json:"securityProtocol"`
	SASL             *KafkaSASL `json:"sasl,omitempty"`
}

// KafkaSASL is a SASL mechanism and credentials from Secrets.
type KafkaSASL struct {
	Mechanism string       `json:"mechanism"`
	Username  SecretKeyRef `json:"username"`
	Password  SecretKeyRef `json:"password"`
}

// Service exposes the proxy.
type Service struct {
	Type                     string            `json:"type"`
	Annotations              map[string]string `json:"annotations"`
	LoadBalancerSourceRanges []string          `json:"loadBalancerSourceRanges"`
	PublicSourceRanges       bool              `json:"publicSourceRanges"`
}

// Log is Milvus' log level and format.
type Log struct {
	Level  string `json:"level"`
	Format string `json:"format"`
}

// Metrics switches the metrics endpoint.
type Metrics struct {
	Enabled bool `json:"enabled"`
}

// Probes are the chart's global probes.
type Probes struct {
	Liveness  Probe `json:"liveness"`
	Readiness Probe `json:"readiness"`
}

// Probe is one probe's timing.
type Probe struct {
	Enabled             bool  `json:"enabled"`
	InitialDelaySeconds int32 `json:"initialDelaySeconds"`
	PeriodSeconds       int32 `json:"periodSeconds"`
	TimeoutSeconds      int32 `json:"timeoutSeconds"`
	SuccessThreshold    int32 `json:"successThreshold"`
	FailureThreshold    int32 `json:"failureThreshold"`
}

// NetworkPolicies switch the namespace's ingress isolation.
type NetworkPolicies struct {
	Enabled             bool              `json:"enabled"`
	MetricsFrom         []string          `json:"metricsFrom"`
	PrometheusPodLabels map[string]string `json:"prometheusPodLabels"`
}

// Security is the pod hardening level. With RunAsNonRoot the identity is
// complete after loading (the spec's fields, the image profile's for the
// rest); without it the pointers are nil.
type Security struct {
	RunAsNonRoot           bool    `json:"runAsNonRoot"`
	RunAsUser              *int64  `json:"runAsUser,omitempty"`
	RunAsGroup             *int64  `json:"runAsGroup,omitempty"`
	FSGroup                *int64  `json:"fsGroup,omitempty"`
	SupplementalGroups     []int64 `json:"supplementalGroups,omitempty"`
	ReadOnlyRootFilesystem bool    `json:"readOnlyRootFilesystem"`
}

// ServiceAccount of the Milvus pods.
type ServiceAccount struct {
	Create      bool              `json:"create"`
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations"`
}

// Delivery is the GitOps controller.
type Delivery struct {
	Kind   string  `json:"kind"`
	Flux   *Flux   `json:"flux,omitempty"`
	ArgoCD *ArgoCD `json:"argocd,omitempty"`
}

// Flux settings of the HelmRelease.
type Flux struct {
	Interval       string `json:"interval"`
	SourceInterval string `json:"sourceInterval"`
	Timeout        string `json:"timeout"`
	Retries        int    `json:"retries"`
	DriftDetection string `json:"driftDetection"`
}

// ArgoCD settings of the Application.
type ArgoCD struct {
	Namespace   string        `json:"namespace"`
	Project     string        `json:"project"`
	Source      ArgoSource    `json:"source"`
	Automated   ArgoAutomated `json:"automated"`
	SyncOptions []string      `json:"syncOptions"`
	Retry       ArgoRetry     `json:"retry"`
}

// ArgoSource is the Git repository holding out/.
type ArgoSource struct {
	RepoURL        string `json:"repoURL"`
	TargetRevision string `json:"targetRevision"`
	Path           string `json:"path"`
}

// ArgoAutomated is the automated sync policy.
type ArgoAutomated struct {
	Enabled  bool `json:"enabled"`
	Prune    bool `json:"prune"`
	SelfHeal bool `json:"selfHeal"`
}

// ArgoRetry is the sync retry policy.
type ArgoRetry struct {
	Limit   int64       `json:"limit"`
	Backoff ArgoBackoff `json:"backoff"`
}

// ArgoBackoff is the retry backoff.
type ArgoBackoff struct {
	Duration    string `json:"duration"`
	Factor      int64  `json:"factor"`
	MaxDuration string `json:"maxDuration"`
}
