// Package dependencies generates the Helm values of the managed
// dependencies (etcd, MinIO, Pulsar or Kafka) and the releases that install them before
// Milvus. Values are typed mirrors of the chart keys we set, for the chart
// versions the Milvus chart vendors.
package dependencies

import (
	"fmt"

	"github.com/milvus-gitops/milvusgen/yamlenc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/generators/delivery"
	"github.com/milvus-gitops/milvusgen/model"
)

// Generate returns the managed dependencies' releases and values files.
func Generate(env *model.Environment) ([]delivery.Release, map[string][]byte, error) {
	var releases []delivery.Release
	files := map[string][]byte{}
	add := func(name string, chart model.Chart, values any) error {
		file := "values-" + name + ".yaml"
		b, err := yamlenc.Marshal(values)
		if err != nil {
			return fmt.Errorf("%s values: %w", name, err)
		}
		files[file] = b
		releases = append(releases, delivery.Release{Name: env.Release + "-" + name, Chart: chart, ValuesFile: file})
		return nil
	}
	if m := env.Dependencies.Etcd.Managed; m != nil {
		if err := add("etcd", m.Chart, etcdValues(env, m)); err != nil {
			return nil, nil, err
		}
	}
	if m := env.Dependencies.ObjectStorage.Managed; m != nil {
		if err := add("minio", m.Chart, minioValues(env, m)); err != nil {
			return nil, nil, err
		}
		// The MinIO chart has no key for spread constraints, nor for
		// container security contexts: patches.
		r := &releases[len(releases)-1]
		spreadByPostRender(env, r, env.DependencyPodLabels("minio", ""))
		r.Harden = minioHardening(env)
	}
	if m := env.Dependencies.MessageQueue.Managed; m != nil {
		var err error
		switch env.Dependencies.MessageQueue.Type {
		case "pulsar":
			err = add("pulsar", m.Chart, pulsarValues(env, m))
			if err == nil {
				r := &releases[len(releases)-1]
				release := env.DependencyPodLabels("pulsar", "")
				// The Pulsar chart has no key for a priority class: a patch
				// of its StatefulSets.
				r.PriorityClassName, r.Selector = env.Placement.PriorityClassName, release
				// Its initialisation Jobs' pods have no labels at all
				// (templates/pulsar-cluster-initialize.yaml and
				// bookkeeper-cluster-initialize.yaml): with NetworkPolicies
				// they would never reach ZooKeeper. Nor have they keys for
				// tolerations or a priority class.
				r.Jobs = &delivery.JobPods{Selector: release, Placement: env.Placement}
				if env.NetworkPolicies.Enabled {
					r.Jobs.Labels = release
				}
				r.Harden = pulsarHardening(env)
				// Nor has it a key for spread constraints.
				for _, c := range []string{"zookeeper", "bookie", "broker", "proxy"} {
					spreadByPostRender(env, r, env.DependencyPodLabels("pulsar", c))
				}
			}
		case "kafka":
			err = add("kafka", m.Chart, kafkaValues(env, m))
		default:
			err = fmt.Errorf("no managed %s", env.Dependencies.MessageQueue.Type)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return releases, files, nil
}

// spreadByPostRender asks the delivery to spread a StatefulSet over the
// zones after rendering (Flux only).
func spreadByPostRender(env *model.Environment, r *delivery.Release, set map[string]string) {
	if len(env.Topology.Zones) < 2 {
		return
	}
	r.ZoneLabel = env.Topology.ZoneLabel
	r.ZoneSpread = append(r.ZoneSpread, set)
}

// PodPlacement is the nodeSelector, tolerations and priorityClassName
// keys the bitnami and MinIO charts have at the top of their values (and
// Pulsar per role, without the priority class).
type PodPlacement struct {
	NodeSelector      map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations       []corev1.Toleration `json:"tolerations,omitempty"`
	PriorityClassName string              `json:"priorityClassName,omitempty"`
}

// placement is the environment's placement, for a chart's pods.
func placement(env *model.Environment) PodPlacement {
	p := env.Placement
	return PodPlacement{NodeSelector: p.NodeSelector, Tolerations: generators.Tolerations(p), PriorityClassName: p.PriorityClassName}
}

// EtcdValues are the keys of bitnami etcd 8.12.0 we set.
type EtcdValues struct {
	PodPlacement          `json:",inline"`
	Image                 BitnamiImage                 `json:"image"`
	ReplicaCount          int32                        `json:"replicaCount"`
	Auth                  EtcdAuth                     `json:"auth"`
	Persistence           Persistence                  `json:"persistence"`
	Resources             *corev1.ResourceRequirements `json:"resources,omitempty"`
	PodAntiAffinityPreset string                       `json:"podAntiAffinityPreset"`
	PDB                   BitnamiPDB                   `json:"pdb"`
	// TopologySpreadConstraints spread the members over the zones.
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	PodSecurityContext        map[string]any                    `json:"podSecurityContext"`
	ContainerSecurityContext  map[string]any                    `json:"containerSecurityContext"`
}

// EtcdAuth turns RBAC on, with the root password from a Secret, and signs
// tokens with a key from a Secret.
type EtcdAuth struct {
	RBAC  EtcdRBAC  `json:"rbac"`
	Token EtcdToken `json:"token"`
}

// EtcdToken is auth.token: JWT with an existing key.
type EtcdToken struct {
	Enabled    bool         `json:"enabled"`
	Type       string       `json:"type"`
	PrivateKey EtcdTokenKey `json:"privateKey"`
}

// EtcdTokenKey is auth.token.privateKey.
type EtcdTokenKey struct {
	Filename       string `json:"filename"`
	ExistingSecret string `json:"existingSecret"`
}

// EtcdRBAC is auth.rbac.
type EtcdRBAC struct {
	Create                    bool   `json:"create"`
	AllowNoneAuthentication   bool   `json:"allowNoneAuthentication"`
	ExistingSecret            string `json:"existingSecret"`
	ExistingSecretPasswordKey string `json:"existingSecretPasswordKey"`
}

// BitnamiPDB is the pdb block of the bitnami charts of that generation.
type BitnamiPDB struct {
	Create         bool   `json:"create"`
	MinAvailable   string `json:"minAvailable,omitempty"`
	MaxUnavailable int    `json:"maxUnavailable,omitempty"`
}

// Image is a chart's image block.
type Image struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
}

// image is the block of a chart that takes a whole repository (with its
// registry): from the mirror when the spec sets one.
func image(env *model.Environment, i model.DependencyImage) Image {
	return Image{Repository: env.Images.Repository(i.Repository), Tag: i.Tag}
}

// BitnamiImage is a bitnami chart's image block: registry and repository
// apart, with the pull secrets.
type BitnamiImage struct {
	Registry    string   `json:"registry"`
	Repository  string   `json:"repository"`
	Tag         string   `json:"tag"`
	PullSecrets []string `json:"pullSecrets,omitempty"`
}

// bitnamiImage splits the registry off (the charts join registry and
// repository, so one left in the repository would render as
// docker.io/<registry>/...); Docker Hub when none is named.
func bitnamiImage(env *model.Environment, i model.DependencyImage) BitnamiImage {
	registry, path := env.Images.Split(i.Repository)
	if registry == "" {
		registry = "docker.io"
	}
	return BitnamiImage{Registry: registry, Repository: path, Tag: i.Tag, PullSecrets: env.Images.PullSecrets}
}

// Persistence is a claim per member.
type Persistence struct {
	Enabled      bool   `json:"enabled"`
	StorageClass string `json:"storageClass,omitempty"`
	Size         string `json:"size"`
}

func etcdValues(env *model.Environment, m *model.ManagedEtcd) EtcdValues {
	pod, container := bitnamiSecurityContexts()
	v := EtcdValues{
		PodPlacement: placement(env),
		Image:        bitnamiImage(env, m.Image),
		ReplicaCount: m.Replicas,
		Auth: EtcdAuth{
			RBAC: EtcdRBAC{
				Create: true, AllowNoneAuthentication: false,
				ExistingSecret: m.RootPassword.Name, ExistingSecretPasswordKey: m.RootPassword.Key,
			},
			Token: EtcdToken{Enabled: true, Type: "jwt", PrivateKey: EtcdTokenKey{Filename: "jwt-token.pem", ExistingSecret: m.JWTKeySecret}},
		},
		Persistence:           persistence(m.Persistence),
		PodAntiAffinityPreset: antiAffinity(env),
		// A majority stays up through a drain.
		PDB:                      BitnamiPDB{Create: true, MinAvailable: "51%"},
		PodSecurityContext:       pod,
		ContainerSecurityContext: container,
	}
	v.Resources = optionalResources(m.Resources)
	v.TopologySpreadConstraints = zoneSpread(env, env.DependencyPodLabels("etcd", ""))
	return v
}

// zoneSpread spreads a member set evenly over the spec's zones (two or
// more): with zonal volumes the members keep their zones, so one zone's
// loss takes at most its even share.
func zoneSpread(env *model.Environment, pods map[string]string) []corev1.TopologySpreadConstraint {
	if len(env.Topology.Zones) < 2 {
		return nil
	}
	return []corev1.TopologySpreadConstraint{generators.ZoneSpread(env.Topology.ZoneLabel, pods, corev1.DoNotSchedule)}
}

// MinioValues are the keys of the MinIO chart 8.0.17 we set.
type MinioValues struct {
	PodPlacement        `json:",inline"`
	Image               Image                         `json:"image"`
	ImagePullSecrets    []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	Mode                string                        `json:"mode"`
	Replicas            int32                         `json:"replicas"`
	ExistingSecret      string                        `json:"existingSecret"`
	Persistence         Persistence                   `json:"persistence"`
	Resources           *corev1.ResourceRequirements  `json:"resources,omitempty"`
	Buckets             []Bucket                      `json:"buckets"`
	PodDisruptionBudget MinioPDB                      `json:"podDisruptionBudget"`
	Affinity            *corev1.Affinity              `json:"affinity,omitempty"`
	SecurityContext     MinioSecurityContext          `json:"securityContext"`
	// Environment becomes the container's environment variables.
	Environment map[string]string `json:"environment,omitempty"`
}

// Bucket is created by the chart's post-install job.
type Bucket struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
	Purge  bool   `json:"purge"`
}

// MinioPDB is the chart's PodDisruptionBudget.
type MinioPDB struct {
	Enabled        bool `json:"enabled"`
	MaxUnavailable int  `json:"maxUnavailable"`
}

// MinioSecurityContext is all the chart supports: a non-root UID.
type MinioSecurityContext struct {
	Enabled    bool  `json:"enabled"`
	RunAsUser  int64 `json:"runAsUser"`
	RunAsGroup int64 `json:"runAsGroup"`
	FSGroup    int64 `json:"fsGroup"`
}

func minioValues(env *model.Environment, m *model.ManagedMinio) MinioValues {
	mode := "distributed"
	if m.Replicas < 4 {
		mode = "standalone"
	}
	v := MinioValues{
		PodPlacement:     placement(env),
		Image:            image(env, m.Image),
		ImagePullSecrets: generators.PullSecrets(env),
		Mode:             mode,
		Replicas:         m.Replicas,
		ExistingSecret:   m.RootCredentials.SecretName,
		Persistence:      persistence(m.Persistence),
		// No buckets from the chart: its make-bucket Job is a Helm hook,
		// which no post-renderer hardens (BucketsJob does the work).
		Buckets:             []Bucket{},
		PodDisruptionBudget: MinioPDB{Enabled: true, MaxUnavailable: 1},
		SecurityContext:     MinioSecurityContext{Enabled: true, RunAsUser: 1000, RunAsGroup: 1000, FSGroup: 1000},
	}
	if env.Monitoring.Mode != "none" {
		// The metrics need a bearer token by default, which the chart's
		// monitors get from a post-install Job running kubectl with
		// cluster RBAC. Public metrics instead (cmd/metrics-router.go:
		// NoAuthMiddleware): the NetworkPolicy lets only the metricsFrom
		// namespaces reach the port for them, and they hold no data.
		v.Environment = map[string]string{"MINIO_PROMETHEUS_AUTH_TYPE": "public"}
	}
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: env.DependencyPodLabels("minio", "")},
		TopologyKey:   env.Topology.HostnameLabel,
	}
	if antiAffinity(env) == "hard" {
		v.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}}
	} else {
		v.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}}
	}
	v.Resources = optionalResources(m.Resources)
	return v
}

// antiAffinity: production spreads members over nodes (hard), others
// prefer to.
func antiAffinity(env *model.Environment) string {
	if env.Production {
		return "hard"
	}
	return "soft"
}

func persistence(p model.Persistence) Persistence {
	return Persistence{Enabled: true, StorageClass: p.StorageClass, Size: quantity(p.Size)}
}

// quantity writes a size in bytes as Kubernetes does (20Gi).
func quantity(bytes int64) string { return resource.NewQuantity(bytes, resource.BinarySI).String() }

func optionalResources(r *model.Resources) *corev1.ResourceRequirements {
	if r == nil {
		return nil
	}
	rr := generators.ResourceRequirements(*r)
	return &rr
}

// minioBuckets are the buckets the chart creates: Milvus' own, and the
// backup bucket when backups go to the same MinIO (no host of their own).
func minioBuckets(env *model.Environment) []Bucket {
	buckets := []Bucket{{Name: env.Dependencies.ObjectStorage.Bucket, Policy: "none", Purge: false}}
	b := env.Backup.Storage
	if env.Backup.Enabled && b.Host == nil && b.Bucket != "" && b.Bucket != env.Dependencies.ObjectStorage.Bucket {
		buckets = append(buckets, Bucket{Name: b.Bucket, Policy: "none", Purge: false})
	}
	return buckets
}

// minioHardening: the MinIO chart 8.0.17 sets only UID, GID and fsGroup
// (templates/statefulset.yaml): one container.
func minioHardening(env *model.Environment) []delivery.Hardening {
	return []delivery.Hardening{
		{Group: "apps", Kind: "StatefulSet", Labels: env.DependencyPodLabels("minio", ""), Main: 1},
	}
}

// pulsarHardening: the Pulsar chart 3.3.0 has no container security
// context keys; its workloads' containers with our values
// (templates/*-statefulset.yaml and *-cluster-initialize.yaml): the
// init containers wait for ZooKeeper, BookKeeper or the brokers, or verify
// the cluster id. The image's USER is 10000 (profiles.Pulsar).
func pulsarHardening(env *model.Environment) []delivery.Hardening {
	set := func(component string, init int) delivery.Hardening {
		return delivery.Hardening{Group: "apps", Kind: "StatefulSet", Labels: env.DependencyPodLabels("pulsar", component), Init: init, Main: 1}
	}
	job := func(component string, init int) delivery.Hardening {
		return delivery.Hardening{Group: "batch", Kind: "Job", Labels: env.DependencyPodLabels("pulsar", component), Init: init, Main: 1}
	}
	return []delivery.Hardening{
		set("zookeeper", 0), set("bookie", 1), set("recovery", 1), set("broker", 2), set("proxy", 2),
		job("pulsar-init", 2), job("bookie-init", 1),
	}
}
