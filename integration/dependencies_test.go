package integration

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/chartarchive"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
)

// eachChartFile calls fn for every regular file of a packaged chart, until
// fn returns true.
func eachChartFile(t *testing.T, tgz string, fn func(name string, r io.Reader) (done bool)) {
	t.Helper()
	if err := chartarchive.Walk(tgz, func(name string, r io.Reader) (bool, error) { return fn(name, r), nil }); err != nil {
		t.Fatal(err)
	}
}

// extractChart unpacks a chart archive into a temp dir once per test.
func extractChart(t *testing.T, tgz string) string {
	t.Helper()
	dir := t.TempDir()
	if err := chartarchive.Extract(tgz, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dependencyChart is what a managed dependency's real chart (the subchart
// vendored in the Milvus chart) renders from our values file.
type dependencyChart struct {
	raw        []byte
	all        []*unstructured.Unstructured
	sets       map[string]*appsv1.StatefulSet // by the pod label the caller names
	pdbs       int
	services   map[string]*unstructured.Unstructured
	configMaps map[string]*unstructured.Unstructured
	secrets    []string
}

// templateDependency runs helm template on the vendored subchart named
// chart, released as <release>-<chart> like the overlay's release.
func templateDependency(t *testing.T, helm, charts, chart string, env *model.Environment, values []byte, setKey string) dependencyChart {
	t.Helper()
	out := run(t, helm, "template", env.Release+"-"+chart, filepath.Join(charts, "milvus", "charts", chart),
		"--namespace", env.Namespace, "--kube-version", "v1.37.2", "--values", writeTemp(t, "values.yaml", values))
	c := dependencyChart{
		raw:        out,
		all:        decodeAll(t, out),
		sets:       map[string]*appsv1.StatefulSet{},
		services:   map[string]*unstructured.Unstructured{},
		configMaps: map[string]*unstructured.Unstructured{},
	}
	for _, o := range c.all {
		switch o.GetKind() {
		case "StatefulSet":
			var s appsv1.StatefulSet
			convert(t, o, &s)
			c.sets[s.Spec.Template.Labels[setKey]] = &s
		case "PodDisruptionBudget":
			c.pdbs++
		case "Service":
			c.services[o.GetName()] = o
		case "ConfigMap":
			c.configMaps[o.GetName()] = o
		case "Secret":
			c.secrets = append(c.secrets, o.GetName())
		}
	}
	return c
}

// TestManagedDependenciesThroughTheirCharts renders every managed
// dependency's values through its real chart (the subcharts vendored in the
// Milvus chart) and checks what would run: replicas, volume claims with the
// storage class and size, anti-affinity, a disruption budget, credentials
// from Secrets only.
func TestManagedDependenciesThroughTheirCharts(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	charts := extractChart(t, filepath.Join(testenv.Shared(t), "charts", "milvus-5.0.19.tgz"))
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v137, _ := psapi.ParseVersion("v1.37")
	tested := 0
	for name, r := range renderAll(t) {
		env := r.Env
		type dep struct {
			chart, file string
			replicas    int32
			persistence model.Persistence
			secrets     map[string]string // env var -> Secret name
			restricted  bool
			image       string
		}
		var deps []dep
		if m := env.Dependencies.Etcd.Managed; m != nil {
			deps = append(deps, dep{"etcd", "values-etcd.yaml", m.Replicas, m.Persistence,
				map[string]string{"ETCD_ROOT_PASSWORD": m.RootPassword.Name}, true, m.Image.Repository + ":" + m.Image.Tag})
		}
		if m := env.Dependencies.ObjectStorage.Managed; m != nil {
			deps = append(deps, dep{"minio", "values-minio.yaml", m.Replicas, m.Persistence,
				map[string]string{"MINIO_ACCESS_KEY": m.RootCredentials.SecretName, "MINIO_SECRET_KEY": m.RootCredentials.SecretName}, true, m.Image.Repository + ":" + m.Image.Tag})
		}
		for _, d := range deps {
			tested++
			t.Run(name+"/"+d.chart, func(t *testing.T) {
				release := env.Release + "-" + d.chart
				// One StatefulSet per chart: the key does not matter.
				c := templateDependency(t, helm, charts, d.chart, env, r.Values(d.file), "")
				out := c.raw
				var sts *appsv1.StatefulSet
				for _, s := range c.sets {
					sts = s
				}
				pdb := c.pdbs > 0
				for _, name := range c.secrets {
					t.Errorf("the chart renders Secret %s: credentials must come from the existing Secret", name)
				}
				if sts == nil {
					t.Fatal("no StatefulSet")
				}
				if sts.Spec.Replicas == nil || *sts.Spec.Replicas != d.replicas {
					t.Errorf("replicas %v, want %d", sts.Spec.Replicas, d.replicas)
				}
				if len(sts.Spec.VolumeClaimTemplates) != 1 {
					t.Fatalf("volume claim templates: %d", len(sts.Spec.VolumeClaimTemplates))
				}
				vct := sts.Spec.VolumeClaimTemplates[0].Spec
				if d.persistence.StorageClass != "" && (vct.StorageClassName == nil || *vct.StorageClassName != d.persistence.StorageClass) {
					t.Errorf("storage class %v, want %s", vct.StorageClassName, d.persistence.StorageClass)
				}
				if got := vct.Resources.Requests.Storage().Value(); got != d.persistence.Size {
					t.Errorf("volume size %d, want %d", got, d.persistence.Size)
				}
				pod := sts.Spec.Template.Spec
				if got := pod.Containers[0].Image; !strings.HasSuffix(got, d.image) {
					t.Errorf("runs %s, want the pinned %s", got, d.image)
				}
				if env.Production && (pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil || len(pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0) {
					t.Errorf("production members must be on distinct nodes: %+v", pod.Affinity)
				}
				if !pdb {
					t.Error("no PodDisruptionBudget")
				}
				found := map[string]bool{}
				for _, c := range pod.Containers {
					for _, e := range c.Env {
						if want, ok := d.secrets[e.Name]; ok {
							found[e.Name] = true
							if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != want || e.Value != "" {
								t.Errorf("%s must come from Secret %s: %+v", e.Name, want, e)
							}
						}
					}
				}
				for v := range d.secrets {
					if !found[v] {
						t.Errorf("no %s in the pods", v)
					}
				}
				for _, plain := range []string{"minioadmin", `rootPassword: "`, `accessKey: "`} {
					if strings.Contains(string(out), plain) {
						t.Errorf("plaintext credential %q in the chart output", plain)
					}
				}
				if d.chart == "minio" {
					// Our bucket Job makes them (the chart's is a hook no
					// post-renderer hardens, so it is off).
					var job string
					for _, p := range r.Files.Paths() {
						if strings.HasPrefix(p, "job-"+release+"-buckets-") {
							job = string(r.Files[p])
						}
					}
					if job == "" {
						t.Error("no bucket Job in the overlay")
					}
					buckets := []string{env.Dependencies.ObjectStorage.Bucket}
					if env.Backup.Enabled && env.Backup.Storage.Host == nil {
						buckets = append(buckets, env.Backup.Storage.Bucket)
					}
					for _, b := range buckets {
						if !strings.Contains(job, " "+b) {
							t.Errorf("the bucket Job does not make bucket %s", b)
						}
					}
					for _, o := range c.all {
						if o.GetKind() == "Job" {
							t.Errorf("the chart renders Job %s: its hooks are not post-rendered", o.GetName())
						}
					}
				}
				level := psapi.LevelBaseline
				if d.restricted {
					level = psapi.LevelRestricted
				}
				// As it runs: with the release's patches (the MinIO chart has
				// no container security context keys).
				for _, o := range decodeAll(t, patched(t, r, release, out)) {
					if o.GetKind() != "StatefulSet" {
						continue
					}
					var s appsv1.StatefulSet
					convert(t, o, &s)
					if agg := policy.AggregateCheckResults(ev.EvaluatePod(psapi.LevelVersion{Level: level, Version: v137}, &s.Spec.Template.ObjectMeta, &s.Spec.Template.Spec)); !agg.Allowed {
						t.Errorf("violates %s: %s", level, agg.ForbiddenDetail())
					}
				}
				t.Log(fmt.Sprintf("%s: %d replicas, %s %d bytes, PDB, Secrets %v", release, d.replicas, d.persistence.StorageClass, d.persistence.Size, d.secrets))
			})
		}
	}
	if tested == 0 {
		t.Fatal("no environment manages a dependency")
	}
}

// TestManagedPulsarThroughItsChart renders the managed Pulsar through the
// real chart: every stateful role with its replicas, claims and spread,
// disruption budgets, and the proxy Service Milvus is pointed at.
func TestManagedPulsarThroughItsChart(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	charts := extractChart(t, filepath.Join(testenv.Shared(t), "charts", "milvus-5.0.19.tgz"))
	tested := 0
	for name, r := range renderAll(t) {
		env := r.Env
		m := env.Dependencies.MessageQueue.Managed
		if m == nil || env.Dependencies.MessageQueue.Type != "pulsar" {
			continue
		}
		tested++
		t.Run(name, func(t *testing.T) {
			c := templateDependency(t, helm, charts, "pulsar", env, r.Values("values-pulsar.yaml"), "component")
			sets, pdbs := c.sets, c.pdbs
			services := map[string]bool{}
			for name, o := range c.services {
				services[name] = true
				// The managed Pulsar has no authentication: nothing of it
				// may be reachable from outside the cluster.
				if typ, _ := dig(o.Object, "spec", "type").(string); typ != "" && typ != "ClusterIP" {
					t.Errorf("Service %s is of type %s", name, typ)
				}
			}
			var brokerConfig map[string]any
			for name, o := range c.configMaps {
				if strings.HasSuffix(name, "-broker") {
					brokerConfig, _ = o.Object["data"].(map[string]any)
				}
			}
			for _, name := range c.secrets {
				t.Errorf("the chart renders Secret %s", name)
			}
			// Every message on writeQuorum bookies, acknowledged by ackQuorum
			// (the chart's default is a single copy).
			for key, want := range map[string]int32{
				"managedLedgerDefaultEnsembleSize": m.Ledgers.EnsembleSize,
				"managedLedgerDefaultWriteQuorum":  m.Ledgers.WriteQuorum,
				"managedLedgerDefaultAckQuorum":    m.Ledgers.AckQuorum,
			} {
				if got := brokerConfig[key]; got != fmt.Sprint(want) {
					t.Errorf("broker %s = %v, want %d", key, got, want)
				}
			}
			// The broker takes the largest message Milvus sends: the
			// limit Milvus' values carry (externalPulsar.maxMessageSize),
			// and a frame 10 KiB larger for its metadata.
			var milvus struct {
				ExternalPulsar struct {
					MaxMessageSize string `json:"maxMessageSize"`
				} `json:"externalPulsar"`
			}
			if err := yaml.Unmarshal(r.Values("values.yaml"), &milvus); err != nil {
				t.Fatal(err)
			}
			limit, _ := strconv.ParseInt(milvus.ExternalPulsar.MaxMessageSize, 10, 64)
			broker, _ := strconv.ParseInt(fmt.Sprint(brokerConfig["maxMessageSize"]), 10, 64)
			frame, _ := strconv.ParseInt(fmt.Sprint(brokerConfig["nettyMaxFrameSizeBytes"]), 10, 64)
			if limit == 0 || broker < limit || frame < broker+10240 {
				t.Errorf("Milvus sends messages up to %d bytes; the broker accepts %d in frames of %d", limit, broker, frame)
			}
			if env.Production && m.Ledgers.WriteQuorum < 2 {
				t.Errorf("production keeps %d copies of each message", m.Ledgers.WriteQuorum)
			}
			for _, s := range sets {
				for _, c := range s.Spec.Template.Spec.Containers {
					if want := m.Image.Repository + ":" + m.Image.Tag; c.Image != want {
						t.Errorf("%s runs %s, want %s", s.Name, c.Image, want)
					}
				}
			}
			type role struct {
				component string
				replicas  int32
				claims    map[string]int64
			}
			for _, want := range []role{
				{"zookeeper", m.Zookeeper.Replicas, map[string]int64{"data": m.Zookeeper.Size}},
				{"bookie", m.Bookkeeper.Replicas, map[string]int64{"journal": m.Bookkeeper.JournalSize, "ledgers": m.Bookkeeper.LedgersSize}},
				{"broker", m.Broker.Replicas, nil},
				{"proxy", m.Proxy.Replicas, nil},
			} {
				s, ok := sets[want.component]
				if !ok {
					t.Errorf("no %s StatefulSet (have %v)", want.component, keys(sets))
					continue
				}
				if s.Spec.Replicas == nil || *s.Spec.Replicas != want.replicas {
					t.Errorf("%s replicas %v, want %d", want.component, s.Spec.Replicas, want.replicas)
				}
				for _, vct := range s.Spec.VolumeClaimTemplates {
					for suffix, size := range want.claims {
						if !strings.HasSuffix(vct.Name, suffix) {
							continue
						}
						delete(want.claims, suffix)
						if got := vct.Spec.Resources.Requests.Storage().Value(); got != size {
							t.Errorf("%s %s size %d, want %d", want.component, suffix, got, size)
						}
						if m.StorageClass != "" && (vct.Spec.StorageClassName == nil || *vct.Spec.StorageClassName != m.StorageClass) {
							t.Errorf("%s %s storage class %v, want %s", want.component, suffix, vct.Spec.StorageClassName, m.StorageClass)
						}
					}
				}
				for suffix := range want.claims {
					t.Errorf("%s has no %s claim", want.component, suffix)
				}
				a := s.Spec.Template.Spec.Affinity
				if env.Production && (a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0) {
					t.Errorf("%s: production members must be on distinct nodes", want.component)
				}
			}
			if pdbs < 4 {
				t.Errorf("%d PodDisruptionBudgets, want one per role", pdbs)
			}
			if host := env.Dependencies.MessageQueue.Pulsar.Host; !services[host] {
				t.Errorf("Milvus points at %s, the chart has Services %v", host, keys(services))
			}
		})
	}
	if tested == 0 {
		t.Fatal("no environment manages Pulsar")
	}
}

// prodWithManagedKafka is prod with its managed Pulsar swapped for a
// managed Kafka: no committed environment runs one, so the test builds it
// from the real prod spec (production rules included).
func prodWithManagedKafka(t *testing.T) (*model.Environment, render.FileSet) {
	t.Helper()
	const pulsar = `		messageQueue: {
			type: "pulsar"
			mode: "managed"
			managed: {
				storageClass: "fast-ssd"
				zookeeper: replicas:  3
				bookkeeper: replicas: 3
				broker: replicas:     3
				proxy: replicas:      3
			}
		}`
	const kafka = `		messageQueue: {
			type: "kafka"
			mode: "managed"
			managed: {
				storageClass: "fast-ssd"
				broker: size: 200Gi
			}
		}`
	return renderEdited(t, "prod.cue", pulsar, kafka, "prod")
}

// TestManagedKafkaThroughItsChart renders a managed Kafka through the real
// bitnami chart: brokers and ZooKeepers with their replicas, claims,
// node spread and budgets, the replication settings, and the broker
// addresses Milvus is given matching the pods the chart makes.
func TestManagedKafkaThroughItsChart(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	charts := extractChart(t, filepath.Join(testenv.Shared(t), "charts", "milvus-5.0.19.tgz"))
	env, files := prodWithManagedKafka(t)
	m := env.Dependencies.MessageQueue.Managed
	if m == nil || env.Dependencies.MessageQueue.Type != "kafka" {
		t.Fatalf("not a managed Kafka: %+v", env.Dependencies.MessageQueue)
	}
	if _, ok := files["values-pulsar.yaml"]; ok {
		t.Error("a Pulsar is still rendered")
	}
	if !strings.Contains(string(files["values.yaml"]), "brokerList: "+strings.Join(env.Dependencies.MessageQueue.Kafka.Brokers, ",")) {
		t.Errorf("Milvus is not pointed at the managed brokers %v", env.Dependencies.MessageQueue.Kafka.Brokers)
	}
	release := env.Release + "-kafka"
	c := templateDependency(t, helm, charts, "kafka", env, files["values-kafka.yaml"], "app.kubernetes.io/name")
	sets, pdbs := c.sets, c.pdbs
	services := map[string]bool{}
	for name := range c.services {
		services[name] = true
	}
	for _, name := range c.secrets {
		t.Errorf("the chart renders Secret %s", name)
	}
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v137, _ := psapi.ParseVersion("v1.37")
	for _, want := range []struct {
		name     string
		replicas int32
		size     int64
	}{{"kafka", m.Broker.Replicas, m.Broker.Size}, {"zookeeper", m.Zookeeper.Replicas, m.Zookeeper.Size}} {
		s := sets[want.name]
		if s == nil {
			t.Errorf("no %s StatefulSet (have %v)", want.name, keys(sets))
			continue
		}
		if *s.Spec.Replicas != want.replicas {
			t.Errorf("%s: %d replicas, want %d", want.name, *s.Spec.Replicas, want.replicas)
		}
		if len(s.Spec.VolumeClaimTemplates) != 1 {
			t.Fatalf("%s: %d claim templates", want.name, len(s.Spec.VolumeClaimTemplates))
		}
		c := s.Spec.VolumeClaimTemplates[0].Spec
		if c.StorageClassName == nil || *c.StorageClassName != m.StorageClass || c.Resources.Requests.Storage().Value() != want.size {
			t.Errorf("%s: claim %v %v, want %s %d", want.name, c.StorageClassName, c.Resources.Requests.Storage(), m.StorageClass, want.size)
		}
		pod := s.Spec.Template.Spec
		img := m.Image
		if want.name == "zookeeper" {
			img = m.ZookeeperImage
		}
		if got := pod.Containers[0].Image; got != "docker.io/"+img.Repository+":"+img.Tag {
			t.Errorf("%s runs %s, want the pinned %s:%s", want.name, got, img.Repository, img.Tag)
		}
		if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Errorf("%s: production members must be on distinct nodes: %+v", want.name, pod.Affinity)
		}
		if agg := policy.AggregateCheckResults(ev.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: v137}, &s.Spec.Template.ObjectMeta, &pod)); !agg.Allowed {
			t.Errorf("%s violates restricted: %s", want.name, agg.ForbiddenDetail())
		}
	}
	if pdbs != 2 {
		t.Errorf("%d PodDisruptionBudgets, want one for the brokers and one for ZooKeeper", pdbs)
	}
	if k := sets["kafka"]; k != nil {
		// Milvus' broker addresses name these pods through this Service.
		for i, b := range env.Dependencies.MessageQueue.Kafka.Brokers {
			want := fmt.Sprintf("%s-%d.%s.%s.svc.cluster.local:9092", k.Name, i, k.Spec.ServiceName, env.Namespace)
			if b != want {
				t.Errorf("broker %d: Milvus gets %s, the chart makes %s", i, b, want)
			}
		}
		if !services[k.Spec.ServiceName] {
			t.Errorf("no Service %s", k.Spec.ServiceName)
		}
		envs := map[string]string{}
		for _, e := range k.Spec.Template.Spec.Containers[0].Env {
			envs[e.Name] = e.Value
		}
		for name, want := range map[string]string{
			"KAFKA_CFG_DEFAULT_REPLICATION_FACTOR":       fmt.Sprint(m.ReplicationFactor),
			"KAFKA_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR": fmt.Sprint(m.ReplicationFactor),
			"KAFKA_CFG_MIN_INSYNC_REPLICAS":              fmt.Sprint(m.MinInsyncReplicas),
			"KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE":        "true",
			"KAFKA_CFG_TRANSACTION_STATE_LOG_MIN_ISR":    fmt.Sprint(m.MinInsyncReplicas),
			"KAFKA_CFG_ZOOKEEPER_CONNECT":                release + "-zookeeper",
		} {
			if got, ok := envs[name]; !ok || !strings.HasPrefix(got, want) {
				t.Errorf("broker %s = %q, want %q", name, got, want)
			}
		}
		// What Milvus needs, exactly as the Milvus chart's own Kafka
		// sets it (milvus-4.2.58.tgz, milvus/values.yaml, kafka:): 10 MiB
		// messages that followers can copy, time-only retention, a 4 GiB
		// heap, 90 s to stop.
		for name, want := range map[string]string{
			"KAFKA_CFG_MESSAGE_MAX_BYTES":       "10485760",
			"KAFKA_CFG_REPLICA_FETCH_MAX_BYTES": "10485760",
			"KAFKA_CFG_LOG_RETENTION_BYTES":     "-1",
			"KAFKA_CFG_LOG_RETENTION_HOURS":     "168",
			"KAFKA_CFG_LOG_ROLL_HOURS":          "24",
			"KAFKA_HEAP_OPTS":                   "-Xmx4096m -Xms4096m",
		} {
			if got := envs[name]; got != want {
				t.Errorf("broker %s = %q, want %q", name, got, want)
			}
		}
		if g := k.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 90 {
			t.Errorf("broker terminationGracePeriodSeconds = %v, want 90", g)
		}
	}
	t.Logf("%s: %d brokers (%d bytes each), %d ZooKeepers, replication %d, min ISR %d, %d PDBs", release, m.Broker.Replicas, m.Broker.Size, m.Zookeeper.Replicas, m.ReplicationFactor, m.MinInsyncReplicas, pdbs)
}
