package helmvalues

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/milvus-gitops/milvusgen/yamlenc"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/profiles"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Mount points of Secrets inside the Milvus pods; the schema derives the
// matching milvus.yaml paths.
const etcdTLSMount = "/milvus/secrets/etcd-tls"

// Generate builds the chart values of an environment.
func Generate(env *model.Environment) (*Values, error) {
	user, err := mergeConfig(env.MilvusConfig, env.Config.Extra, "")
	if err != nil {
		return nil, fmt.Errorf("user.yaml: %w", err)
	}
	userYAML, err := yamlenc.Marshal(user)
	if err != nil {
		return nil, fmt.Errorf("user.yaml: %w", err)
	}
	// An upgrade from 2.5 runs the target's chart without the streaming
	// service until the phase that starts it (package upgrade).
	streaming := env.Milvus.Line == "2.6"
	if ph, err := upgrade.Of(env); err != nil {
		return nil, err
	} else if ph != nil && !ph.Streaming() {
		streaming = false
	}
	v := &Values{
		Cluster: Toggle{Enabled: true},
		Image: Image{All: ImageAll{
			Repository:  env.Images.Repository(env.Milvus.Image.Repository),
			Tag:         env.Milvus.Image.Tag,
			PullPolicy:  env.Milvus.Image.PullPolicy,
			PullSecrets: env.Images.PullSecretsWith(env.Milvus.Image.PullSecrets),
		}},
		// The chart puts these on every pod too.
		Labels:                   generators.WithLabels(env.Labels, generators.CloudIdentityPodLabels(env.ServiceAccount.Annotations)),
		SecurityContext:          podSecurityContext(env.Security),
		ContainerSecurityContext: containerSecurityContext(env.Security),
		Streaming:                Streaming{Enabled: streaming},
		ExtraConfigFiles:         map[string]string{"user.yaml": string(userYAML)},
		// The chart's Service also carries the management port 9091
		// (/management/stop, GC pause, pprof, WebUI) whenever metrics are
		// on, with no key to leave it out (templates/service.yaml): it stays
		// ClusterIP, and a LoadBalancer of our own exposes the client port
		// only (generators/cluster.ExternalService).
		Service: chartService(env.Service),
		ServiceAccount: ServiceAccount{
			Create:      env.ServiceAccount.Create,
			Name:        env.ServiceAccount.Name,
			Annotations: nilIfEmpty(env.ServiceAccount.Annotations),
		},
		Metrics:        Metrics{Enabled: env.Metrics.Enabled},
		LivenessProbe:  probe(env.Probes.Liveness),
		ReadinessProbe: probe(env.Probes.Readiness),
		Log:            Log{Level: env.Log.Level, Format: env.Log.Format},
		ExternalS3:     externalS3(env.Dependencies.ObjectStorage),
		ExternalEtcd:   ExternalEtcd{Enabled: true, Endpoints: env.Dependencies.Etcd.Endpoints},
	}
	if env.Dependencies.MessageQueue.Type == "woodpecker" {
		v.Streaming.Woodpecker = &StreamingWoodpecker{Embedded: true}
	}
	switch mq := env.Dependencies.MessageQueue; mq.Type {
	case "pulsar":
		v.ExternalPulsar = &ExternalPulsar{
			Enabled:        true,
			Host:           mq.Pulsar.Host,
			Port:           mq.Pulsar.Port,
			MaxMessageSize: strconv.FormatInt(mq.Pulsar.MaxMessageSize, 10),
			Tenant:         mq.Pulsar.Tenant,
			Namespace:      mq.Pulsar.Namespace,
		}
		if mq.Pulsar.Auth != nil {
			v.ExternalPulsar.AuthPlugin = mq.Pulsar.Auth.Plugin
		}
	case "kafka":
		v.ExternalKafka = &ExternalKafka{
			Enabled:          true,
			BrokerList:       strings.Join(mq.Kafka.Brokers, ","),
			SecurityProtocol: mq.Kafka.SecurityProtocol,
		}
		if mq.Kafka.SASL != nil {
			v.ExternalKafka.SASL.Mechanisms = mq.Kafka.SASL.Mechanism
		}
	}
	v.Volumes, v.VolumeMounts = volumes(env)

	env2 := extraEnv(env)
	for _, c := range model.ChartComponents() {
		cv, err := component(env, c, env2)
		if err != nil {
			return nil, err
		}
		*v.slot(c.Key) = cv
	}
	return v, nil
}

// slot returns the field of a component key.
func (v *Values) slot(key string) **Component {
	switch key {
	case "proxy":
		return &v.Proxy
	case "rootCoordinator":
		return &v.RootCoordinator
	case "queryCoordinator":
		return &v.QueryCoordinator
	case "queryNode":
		return &v.QueryNode
	case "indexCoordinator":
		return &v.IndexCoordinator
	case "indexNode":
		return &v.IndexNode
	case "dataCoordinator":
		return &v.DataCoordinator
	case "dataNode":
		return &v.DataNode
	case "mixCoordinator":
		return &v.MixCoordinator
	case "streamingNode":
		return &v.StreamingNode
	}
	panic("helmvalues: unknown chart component " + key) // a programming error, not user input
}

// component builds one component's values. A chart component the
// environment does not run is switched off explicitly, so that a chart
// default (mixCoordinator and indexNode are on by default in 4.x) never
// decides what runs.
func component(env *model.Environment, c model.ComponentInfo, extraEnv []corev1.EnvVar) (*Component, error) {
	spec, ok := env.Components[c.Key]
	if !ok {
		if c.Key == "streamingNode" {
			return nil, nil // governed by streaming.enabled
		}
		off := false
		return &Component{Enabled: &off}, nil
	}
	out := &Component{
		Replicas:                  spec.Replicas,
		Affinity:                  affinity(env, c.Key, spec),
		TopologySpreadConstraints: spread(env, c.Key),
		ExtraEnv:                  extraEnv,
		Annotations:               nilIfEmpty(spec.Annotations),
	}
	if c.Key != "streamingNode" {
		on := true
		out.Enabled = &on
	}
	if spec.AntiAffinity == "required" {
		out.Strategy = replaceOneByOne()
	}
	if strings.HasSuffix(c.Key, "Coordinator") {
		out.ActiveStandby = &Toggle{Enabled: spec.ActiveStandby}
	}
	if spec.Resources != nil {
		r := generators.ResourceRequirements(*spec.Resources)
		out.Resources = &r
	}
	// The chart has per-component keys for these; the priority class it
	// has none for is a patch (generators/delivery).
	place := env.PlacementOf(c.Key)
	out.NodeSelector = nilIfEmpty(place.NodeSelector)
	out.Tolerations = generators.Tolerations(place)
	if d := spec.LocalDisk; d != nil {
		localDisk(out, d)
	}
	return out, nil
}

// localDiskHeadroom is ephemeral storage beyond Milvus' budget: the
// container's logs, /tmp and the other emptyDirs count against the same
// limit, and a pod over it is evicted.
const localDiskHeadroom = 2 << 30

// localDisk sizes the query node's local storage. Milvus gets the size as
// its budget (LOCAL_STORAGE_SIZE, in GiB; the schema keeps it whole). On the
// chart's emptyDir the size plus headroom is the pod's ephemeral-storage
// request and limit, so the scheduler places it on a node with the room;
// with a storage class the volume is replaced by a claim of that size
// (generators/delivery). queryNode.disk.size.enabled stays off: it would
// derive the budget from the limit, headroom included.
func localDisk(out *Component, d *model.LocalDisk) {
	out.Disk = &Disk{Enabled: true}
	out.ExtraEnv = append(append([]corev1.EnvVar(nil), out.ExtraEnv...), corev1.EnvVar{Name: "LOCAL_STORAGE_SIZE", Value: strconv.FormatInt(d.Size>>30, 10)})
	if d.StorageClass != "" {
		return
	}
	if out.Resources == nil {
		out.Resources = &corev1.ResourceRequirements{}
	}
	q := *resource.NewQuantity(d.Size+localDiskHeadroom, resource.BinarySI)
	if out.Resources.Requests == nil {
		out.Resources.Requests = corev1.ResourceList{}
	}
	if out.Resources.Limits == nil {
		out.Resources.Limits = corev1.ResourceList{}
	}
	out.Resources.Requests[corev1.ResourceEphemeralStorage] = q
	out.Resources.Limits[corev1.ResourceEphemeralStorage] = q
}

// replaceOneByOne is the rollout of a component whose pods need a node each:
// a surge pod would need a node more than the replicas, and with as many
// replicas as nodes the default rollout (maxSurge 25%) never finishes. So
// one old pod goes first, and its node takes the new one.
func replaceOneByOne() *appsv1.DeploymentStrategy {
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	return &appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one},
	}
}

func affinity(env *model.Environment, key string, spec model.Component) *corev1.Affinity {
	a := &corev1.Affinity{}
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: env.PodLabels(key)},
		TopologyKey:   env.Topology.HostnameLabel,
	}
	switch spec.AntiAffinity {
	case "required":
		a.PodAntiAffinity = &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term},
		}
	case "preferred":
		a.PodAntiAffinity = &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}},
		}
	}
	if len(env.Topology.Zones) > 0 {
		a.NodeAffinity = &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{
						Key:      env.Topology.ZoneLabel,
						Operator: corev1.NodeSelectorOpIn,
						Values:   env.Topology.Zones,
					}},
				}},
			},
		}
	}
	if a.PodAntiAffinity == nil && a.NodeAffinity == nil {
		return nil
	}
	return a
}

func spread(env *model.Environment, key string) []corev1.TopologySpreadConstraint {
	if len(env.Topology.Zones) < 2 {
		return nil
	}
	c := generators.ZoneSpread(env.Topology.ZoneLabel, env.PodLabels(key), corev1.UnsatisfiableConstraintAction(env.Topology.ZoneSpread))
	// Count only the pods of the current rollout, so that a rolling update
	// is not held back by the old ReplicaSet's pods.
	c.MatchLabelKeys = []string{"pod-template-hash"}
	return []corev1.TopologySpreadConstraint{c}
}

// extraEnv is what every Milvus container gets: credentials from Secrets
// (Milvus maps MINIO_ACCESS_KEY_ID to minio.accessKeyID and so on), and the
// ports again, because a Service named "minio" or "pulsar" in the namespace
// injects MINIO_PORT=tcp://... which Milvus would read as minio.port.
func extraEnv(env *model.Environment) []corev1.EnvVar {
	var out []corev1.EnvVar
	os := env.Dependencies.ObjectStorage
	out = append(out, corev1.EnvVar{Name: "MINIO_PORT", Value: strconv.Itoa(os.Port)})
	if c := os.Credentials; c != nil {
		out = append(out, secretEnv("MINIO_ACCESS_KEY_ID", c.AccessKeyID), secretEnv("MINIO_SECRET_ACCESS_KEY", c.SecretAccessKey))
	}
	if a := env.Dependencies.Etcd.Auth; a != nil {
		out = append(out, secretEnv("ETCD_AUTH_USERNAME", a.Username), secretEnv("ETCD_AUTH_PASSWORD", a.Password))
	}
	if m := env.Dependencies.Etcd.Managed; m != nil {
		// The managed etcd has RBAC on; its user is root.
		out = append(out, corev1.EnvVar{Name: "ETCD_AUTH_USERNAME", Value: "root"}, secretEnv("ETCD_AUTH_PASSWORD", m.RootPassword))
	}
	switch mq := env.Dependencies.MessageQueue; mq.Type {
	case "pulsar":
		out = append(out, corev1.EnvVar{Name: "PULSAR_PORT", Value: strconv.Itoa(mq.Pulsar.Port)})
		if a := mq.Pulsar.Auth; a != nil {
			out = append(out, secretEnv("PULSAR_AUTHPARAMS", a.Params))
		}
	case "kafka":
		if s := mq.Kafka.SASL; s != nil {
			out = append(out, secretEnv("KAFKA_SASLUSERNAME", s.Username), secretEnv("KAFKA_SASLPASSWORD", s.Password))
		}
	}
	return out
}

func secretEnv(name string, ref model.SecretKeyRef) corev1.EnvVar {
	return generators.SecretEnv(name, ref.Name, ref.Key)
}

func volumes(env *model.Environment) ([]corev1.Volume, []corev1.VolumeMount) {
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	if t := env.Dependencies.Etcd.TLS; t != nil {
		mode := int32(0o440)
		vols = append(vols, corev1.Volume{Name: "etcd-tls", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: t.SecretName, DefaultMode: &mode},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "etcd-tls", MountPath: etcdTLSMount, ReadOnly: true})
	}
	// What the image profile says Milvus writes gets a volume: the paths a
	// non-root process cannot write in the image, and with a read-only
	// root filesystem every one (the chart mounts only
	// /var/lib/milvus/data, on query and index nodes).
	if env.Security.RunAsNonRoot || env.Security.ReadOnlyRootFilesystem {
		for _, w := range milvusProfile(env).Writes {
			if w.Access == profiles.Volume || env.Security.ReadOnlyRootFilesystem {
				name := "milvus-" + strings.ReplaceAll(strings.Trim(w.Path, "/"), "/", "-")
				vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
				mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: w.Path})
			}
		}
	}
	return vols, mounts
}

// milvusProfile is the image profile of the environment's Milvus line
// (the spec loader has refused lines without one).
func milvusProfile(env *model.Environment) profiles.Profile {
	p, err := profiles.Milvus(env.Milvus.Line)
	if err != nil {
		panic(err)
	}
	return p
}

func podSecurityContext(s model.Security) *corev1.PodSecurityContext {
	psc := &corev1.PodSecurityContext{
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if s.RunAsNonRoot {
		yes := true
		psc.RunAsNonRoot = &yes
		psc.RunAsUser = s.RunAsUser
		psc.RunAsGroup = s.RunAsGroup
		psc.FSGroup = s.FSGroup
		psc.SupplementalGroups = s.SupplementalGroups
	}
	return psc
}

func containerSecurityContext(s model.Security) *corev1.SecurityContext {
	no := false
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if s.ReadOnlyRootFilesystem {
		yes := true
		sc.ReadOnlyRootFilesystem = &yes
	}
	return sc
}

func probe(p model.Probe) Probe {
	return Probe{
		Enabled:             p.Enabled,
		InitialDelaySeconds: p.InitialDelaySeconds,
		PeriodSeconds:       p.PeriodSeconds,
		TimeoutSeconds:      p.TimeoutSeconds,
		SuccessThreshold:    p.SuccessThreshold,
		FailureThreshold:    p.FailureThreshold,
	}
}

func externalS3(o model.ObjectStorage) ExternalS3 {
	return ExternalS3{
		Enabled:        true,
		Host:           o.Host,
		Port:           strconv.Itoa(o.Port),
		UseSSL:         o.UseSSL,
		BucketName:     o.Bucket,
		RootPath:       o.RootPath,
		UseIAM:         o.UseIAM,
		CloudProvider:  o.CloudProvider,
		IAMEndpoint:    o.IAMEndpoint,
		Region:         o.Region,
		UseVirtualHost: o.UseVirtualHost,
	}
}

// mergeConfig returns derived with extra merged in, without changing either.
// The schema keeps their keys apart; a collision is reported, not resolved.
func mergeConfig(derived, extra map[string]any, at string) (map[string]any, error) {
	out := make(map[string]any, len(derived)+len(extra))
	for k, v := range derived {
		out[k] = v
	}
	for k, v := range extra {
		cur, ok := out[k]
		if !ok {
			out[k] = v
			continue
		}
		cm, ok1 := cur.(map[string]any)
		em, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("config.extra.%s%s is set by the spec already", at, k)
		}
		merged, err := mergeConfig(cm, em, at+k+".")
		if err != nil {
			return nil, err
		}
		out[k] = merged
	}
	return out, nil
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func chartService(s model.Service) Service {
	if s.Type == "LoadBalancer" {
		return Service{Type: "ClusterIP", LoadBalancerSourceRanges: []string{}}
	}
	return Service{Type: s.Type, Annotations: nilIfEmpty(s.Annotations), LoadBalancerSourceRanges: []string{}}
}
