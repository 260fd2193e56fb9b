package model

// Persistence is a volume claim per member.
type Persistence struct {
	StorageClass string `json:"storageClass"`
	Size         int64  `json:"size"`
}

// ManagedEtcd is the etcd this overlay deploys.
type ManagedEtcd struct {
	Chart        Chart           `json:"chart"`
	Image        DependencyImage `json:"image"`
	Replicas     int32           `json:"replicas"`
	Persistence  Persistence     `json:"persistence"`
	Resources    *Resources      `json:"resources,omitempty"`
	RootPassword SecretKeyRef    `json:"rootPassword"`
	JWTKeySecret string          `json:"jwtKeySecret"`
}

// ManagedMinio is the MinIO this overlay deploys.
type ManagedMinio struct {
	Chart           Chart           `json:"chart"`
	Image           DependencyImage `json:"image"`
	MCImage         DependencyImage `json:"mcImage"`
	Replicas        int32           `json:"replicas"`
	Persistence     Persistence     `json:"persistence"`
	Resources       *Resources      `json:"resources,omitempty"`
	RootCredentials RootCredentials `json:"rootCredentials"`
}

// RootCredentials names the Secret with MinIO's root keys.
type RootCredentials struct {
	SecretName string `json:"secretName"`
}

// ManagedQueue is the message queue this overlay deploys: Pulsar or
// Kafka (MessageQueue.Type says which). The spec gives each its own
// definition; the model holds both shapes, and each generator reads its own
// fields (the others are zero).
type ManagedQueue struct {
	Chart Chart           `json:"chart"`
	Image DependencyImage `json:"image"`
	// Kafka only: the ZooKeeper subchart's image.
	ZookeeperImage DependencyImage `json:"zookeeperImage"`
	// Kafka only: the JMX exporter's image.
	JMXExporterImage DependencyImage `json:"jmxExporterImage"`
	// Pulsar only: copies of each message.
	Ledgers struct {
		EnsembleSize int32 `json:"ensembleSize"`
		WriteQuorum  int32 `json:"writeQuorum"`
		AckQuorum    int32 `json:"ackQuorum"`
	} `json:"ledgers"`
	StorageClass string `json:"storageClass"`
	Zookeeper    struct {
		Replicas  int32      `json:"replicas"`
		Size      int64      `json:"size"`
		Resources *Resources `json:"resources,omitempty"`
	} `json:"zookeeper"`
	// Pulsar only.
	Bookkeeper struct {
		Replicas    int32 `json:"replicas"`
		JournalSize int64 `json:"journalSize"`
		LedgersSize int64 `json:"ledgersSize"`
	} `json:"bookkeeper"`
	Broker struct {
		Replicas int32 `json:"replicas"`
		// Kafka only: each broker's log volume and resources, and the
		// settings Milvus needs (schema/dependencies.cue #ManagedKafka).
		Size                          int64      `json:"size"`
		Resources                     *Resources `json:"resources,omitempty"`
		MaxMessageBytes               int64      `json:"maxMessageBytes"`
		RetentionHours                int32      `json:"retentionHours"`
		Heap                          int64      `json:"heap"`
		TerminationGracePeriodSeconds int64      `json:"terminationGracePeriodSeconds"`
	} `json:"broker"`
	// Pulsar only.
	Proxy struct {
		Replicas int32 `json:"replicas"`
	} `json:"proxy"`
	// Kafka only.
	ReplicationFactor int32 `json:"replicationFactor"`
	MinInsyncReplicas int32 `json:"minInsyncReplicas"`
}

// DependencyImage is a managed dependency's container image.
type DependencyImage struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
}

// DependencyPodLabels are the labels a managed dependency's chart puts on
// the pods of one of its member sets (component: "" for etcd and MinIO;
// "zookeeper", "bookie", "broker" or "proxy" for Pulsar; "kafka" or
// "zookeeper" for Kafka): what spread constraints, anti-affinity and the
// failure-domain analysis select them by. Release names are
// <release>-<dependency> (generators/dependencies).
func (e *Environment) DependencyPodLabels(dependency, component string) map[string]string {
	instance := e.Release + "-" + dependency
	switch dependency {
	case "minio":
		return map[string]string{"app": "minio", "release": instance}
	case "pulsar":
		// Without a component: every pod of the release that carries the
		// chart's labels (a selector on component="" would match none).
		l := map[string]string{"app": "pulsar", "release": instance}
		if component != "" {
			l["component"] = component
		}
		return l
	case "kafka":
		switch component {
		case "zookeeper":
			return map[string]string{"app.kubernetes.io/name": "zookeeper", "app.kubernetes.io/instance": instance}
		}
		return map[string]string{"app.kubernetes.io/name": "kafka", "app.kubernetes.io/instance": instance, "app.kubernetes.io/component": "kafka"}
	default: // etcd
		return map[string]string{"app.kubernetes.io/name": dependency, "app.kubernetes.io/instance": instance}
	}
}
