package model

// MetricsTarget is one member set of a managed dependency that Prometheus
// scrapes: the pods (by the labels their chart gives them), the container
// port by name and number, and the path. Job is the job label the scrape
// config and the PodMonitor give its series, which the alert rules select.
type MetricsTarget struct {
	Job        string
	Dependency string // etcd, minio, pulsar, kafka
	Role       string // etcd, minio, zookeeper, bookie, broker, proxy, kafka, exporter
	Pods       map[string]string
	PortName   string
	Port       int32
	Path       string
	Replicas   int32
}

// MetricsTargets are the managed dependencies' metrics endpoints, none
// when monitoring is off, as their
// charts serve them (the version each chart is pinned to; the Milvus chart
// vendors them):
//   - etcd (bitnami 8.12.0): /metrics on the client port 2379 ("client"),
//     plain HTTP: the managed etcd has no client TLS, and etcd's auth
//     covers the KV API, not /metrics (server/etcdserver/api/etcdhttp).
//   - MinIO (chart 8.0.17): /minio/v2/metrics/cluster on 9000 ("http");
//     readable without a token because the values set
//     MINIO_PROMETHEUS_AUTH_TYPE=public (cmd/metrics-router.go). Each
//     server answers for the whole cluster.
//   - Pulsar (chart 3.3.0): /metrics on the brokers' web port 8080
//     ("http"), the bookies' and ZooKeeper's HTTP port 8000 ("http"), and
//     the proxies' 8080, whose container port the chart names "sts-http"
//     (its own PodMonitor asks for "http" and finds nothing).
//   - Kafka (bitnami 15.5.1): the JMX exporter sidecar on 5556
//     ("metrics", any path) and the ZooKeeper subchart's built-in
//     exporter on 9141 ("metrics", /metrics). Not kafka-exporter: its
//     consumer-group lag comes from committed offsets, and Milvus commits
//     none (enable.auto.commit=false, Assign, a no-op Ack, in
//     pkg/mq/msgstream/mqwrapper/kafka and the 2.6 WAL alike); Milvus'
//     own time-tick lag measures how far its consumers are behind.
func (e *Environment) MetricsTargets() []MetricsTarget {
	if e.Monitoring.Mode == "none" {
		return nil // nothing scrapes them: the exporters stay off
	}
	var out []MetricsTarget
	add := func(dep, role string, pods map[string]string, portName string, port int32, path string, replicas int32) {
		job := e.Release + "-" + dep
		if role != dep {
			job += "-" + role
		}
		out = append(out, MetricsTarget{Job: job, Dependency: dep, Role: role, Pods: pods, PortName: portName, Port: port, Path: path, Replicas: replicas})
	}
	d := e.Dependencies
	if m := d.Etcd.Managed; m != nil {
		add("etcd", "etcd", e.DependencyPodLabels("etcd", ""), "client", 2379, "/metrics", m.Replicas)
	}
	if m := d.ObjectStorage.Managed; m != nil {
		add("minio", "minio", e.DependencyPodLabels("minio", ""), "http", 9000, "/minio/v2/metrics/cluster", m.Replicas)
	}
	if m := d.MessageQueue.Managed; m != nil {
		switch d.MessageQueue.Type {
		case "pulsar":
			p := func(c string) map[string]string { return e.DependencyPodLabels("pulsar", c) }
			add("pulsar", "zookeeper", p("zookeeper"), "http", 8000, "/metrics", m.Zookeeper.Replicas)
			add("pulsar", "bookie", p("bookie"), "http", 8000, "/metrics", m.Bookkeeper.Replicas)
			add("pulsar", "broker", p("broker"), "http", 8080, "/metrics", m.Broker.Replicas)
			add("pulsar", "proxy", p("proxy"), "sts-http", 8080, "/metrics", m.Proxy.Replicas)
		case "kafka":
			add("kafka", "zookeeper", e.DependencyPodLabels("kafka", "zookeeper"), "metrics", 9141, "/metrics", m.Zookeeper.Replicas)
			add("kafka", "kafka", e.DependencyPodLabels("kafka", "kafka"), "metrics", 5556, "/metrics", m.Broker.Replicas)
		}
	}
	return out
}
