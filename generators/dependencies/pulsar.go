package dependencies

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// PulsarValues are the keys of Apache Pulsar chart 3.3.0 we set. The chart
// runs its initialisation jobs on install.
type PulsarValues struct {
	// The chart bundles a Prometheus and Grafana stack; monitoring is the
	// environment's own.
	KubePrometheusStack struct {
		Enabled bool `json:"enabled"`
	} `json:"kube-prometheus-stack"`
	Images PulsarImages `json:"images"`
	// PulsarMetadata is the cluster-initialisation Job, which otherwise
	// runs the chart's default apachepulsar/pulsar-all image.
	PulsarMetadata struct {
		Image Image `json:"image"`
	} `json:"pulsar_metadata"`
	Components PulsarComponents `json:"components"`
	Affinity   PulsarAffinity   `json:"affinity"`
	Volumes    PulsarVolumes    `json:"volumes"`
	Zookeeper  PulsarZookeeper  `json:"zookeeper"`
	Bookkeeper PulsarBookkeeper `json:"bookkeeper"`
	Broker     PulsarBroker     `json:"broker"`
	Proxy      PulsarProxy      `json:"proxy"`
	// Autorecovery is set only for its placement.
	Autorecovery *PulsarPlacement `json:"autorecovery,omitempty"`
}

// PulsarImages: every component runs the same image.
type PulsarImages struct {
	// ImagePullSecrets go on every pod of the chart (pulsar.imagePullSecrets).
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	Zookeeper        Image    `json:"zookeeper"`
	Bookie           Image    `json:"bookie"`
	Autorecovery     Image    `json:"autorecovery"`
	Broker           Image    `json:"broker"`
	Proxy            Image    `json:"proxy"`
}

// PulsarBroker are the brokers, with the ledger quorums (the chart's
// default keeps one copy of each message).
type PulsarBroker struct {
	PulsarStateless
	ConfigData map[string]string `json:"configData"`
}

// PulsarProxy are the proxies; their Service stays inside the cluster (the
// chart's default is a LoadBalancer, and the managed Pulsar has no auth).
type PulsarProxy struct {
	PulsarStateless
	Service struct {
		Type string `json:"type"`
	} `json:"service"`
}

// PulsarComponents: the cluster Milvus needs, without functions, toolset
// or the manager UI.
type PulsarComponents struct {
	Zookeeper     bool `json:"zookeeper"`
	Bookkeeper    bool `json:"bookkeeper"`
	Autorecovery  bool `json:"autorecovery"`
	Broker        bool `json:"broker"`
	Proxy         bool `json:"proxy"`
	Functions     bool `json:"functions"`
	Toolset       bool `json:"toolset"`
	PulsarManager bool `json:"pulsar_manager"`
}

// PulsarAffinity spreads every component's pods over nodes.
type PulsarAffinity struct {
	AntiAffinity bool   `json:"anti_affinity"`
	Type         string `json:"type"`
}

// PulsarVolumes turns persistence on, without the chart's local storage.
type PulsarVolumes struct {
	Persistence  bool `json:"persistence"`
	LocalStorage bool `json:"local_storage"`
}

// PulsarVolume is one claim template.
type PulsarVolume struct {
	Name             string `json:"name"`
	Size             string `json:"size"`
	LocalStorage     bool   `json:"local_storage"`
	StorageClassName string `json:"storageClassName,omitempty"`
}

// PulsarPDB is a component's disruption budget.
type PulsarPDB struct {
	UsePolicy      bool `json:"usePolicy"`
	MaxUnavailable int  `json:"maxUnavailable"`
}

// PulsarZookeeper is the ZooKeeper ensemble.
type PulsarZookeeper struct {
	PulsarPlacement `json:",inline"`
	ReplicaCount    int32          `json:"replicaCount"`
	Affinity        PulsarAffinity `json:"affinity"`
	Volumes         struct {
		Data PulsarVolume `json:"data"`
	} `json:"volumes"`
	PDB PulsarPDB `json:"pdb"`
}

// PulsarBookkeeper are the bookies.
type PulsarBookkeeper struct {
	PulsarPlacement `json:",inline"`
	ReplicaCount    int32          `json:"replicaCount"`
	Affinity        PulsarAffinity `json:"affinity"`
	Volumes         struct {
		Journal PulsarVolume `json:"journal"`
		Ledgers PulsarVolume `json:"ledgers"`
	} `json:"volumes"`
	PDB PulsarPDB `json:"pdb"`
}

// PulsarPlacement is a role's nodeSelector and tolerations (the chart has
// no priority class key: generators/delivery patches it).
type PulsarPlacement struct {
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
}

// PulsarStateless is brokers and proxies.
type PulsarStateless struct {
	PulsarPlacement `json:",inline"`
	ReplicaCount    int32          `json:"replicaCount"`
	Affinity        PulsarAffinity `json:"affinity"`
	PDB             PulsarPDB      `json:"pdb"`
}

func pulsarValues(env *model.Environment, m *model.ManagedQueue) PulsarValues {
	vol := func(name string, b int64) PulsarVolume {
		return PulsarVolume{Name: name, Size: quantity(b), LocalStorage: false, StorageClassName: m.StorageClass}
	}
	pdb := PulsarPDB{UsePolicy: true, MaxUnavailable: 1}
	maxMessage := int64(5242880)
	if p := env.Dependencies.MessageQueue.Pulsar; p != nil {
		maxMessage = p.MaxMessageSize
	}
	affinity := "preferredDuringSchedulingIgnoredDuringExecution"
	if env.Production {
		affinity = "requiredDuringSchedulingIgnoredDuringExecution"
	}
	spread := PulsarAffinity{AntiAffinity: true, Type: affinity}
	v := PulsarValues{
		Components: PulsarComponents{Zookeeper: true, Bookkeeper: true, Autorecovery: true, Broker: true, Proxy: true},
		Affinity:   spread,
		Volumes:    PulsarVolumes{Persistence: true, LocalStorage: false},
		Broker: PulsarBroker{
			PulsarStateless: PulsarStateless{ReplicaCount: m.Broker.Replicas, Affinity: spread, PDB: pdb},
			ConfigData: map[string]string{
				"managedLedgerDefaultEnsembleSize": strconv.Itoa(int(m.Ledgers.EnsembleSize)),
				"managedLedgerDefaultWriteQuorum":  strconv.Itoa(int(m.Ledgers.WriteQuorum)),
				"managedLedgerDefaultAckQuorum":    strconv.Itoa(int(m.Ledgers.AckQuorum)),
				// The broker accepts the largest message Milvus sends
				// (Milvus' pulsar.maxMessageSize), and a frame carries it
				// with its metadata: Pulsar's conf/broker.conf defaults are
				// maxMessageSize=5242880, nettyMaxFrameSizeBytes=5253120
				// (10 KiB more). Set both, so that raising Milvus' limit
				// raises the broker's with it.
				"maxMessageSize":         strconv.FormatInt(maxMessage, 10),
				"nettyMaxFrameSizeBytes": strconv.FormatInt(maxMessage+10240, 10),
			},
		},
		Proxy: PulsarProxy{PulsarStateless: PulsarStateless{ReplicaCount: m.Proxy.Replicas, Affinity: spread, PDB: pdb}},
	}
	v.Proxy.Service.Type = "ClusterIP"
	img := image(env, m.Image)
	v.Images = PulsarImages{ImagePullSecrets: env.Images.PullSecrets, Zookeeper: img, Bookie: img, Autorecovery: img, Broker: img, Proxy: img}
	v.PulsarMetadata.Image = img
	place := PulsarPlacement{NodeSelector: env.Placement.NodeSelector, Tolerations: generators.Tolerations(env.Placement)}
	v.Zookeeper.PulsarPlacement, v.Bookkeeper.PulsarPlacement = place, place
	v.Broker.PulsarPlacement, v.Proxy.PulsarPlacement = place, place
	if len(place.NodeSelector)+len(place.Tolerations) > 0 {
		v.Autorecovery = &place
	}
	v.Zookeeper.Affinity = spread
	v.Bookkeeper.Affinity = spread
	v.Zookeeper.ReplicaCount = m.Zookeeper.Replicas
	v.Zookeeper.Volumes.Data = vol("data", m.Zookeeper.Size)
	v.Zookeeper.PDB = pdb
	v.Bookkeeper.ReplicaCount = m.Bookkeeper.Replicas
	v.Bookkeeper.Volumes.Journal = vol("journal", m.Bookkeeper.JournalSize)
	v.Bookkeeper.Volumes.Ledgers = vol("ledgers", m.Bookkeeper.LedgersSize)
	v.Bookkeeper.PDB = pdb
	return v
}
