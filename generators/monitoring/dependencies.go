package monitoring

import (
	"fmt"
	"sort"
	"strings"

	"github.com/milvus-gitops/milvusgen/model"
)

// dependencyRules are one group per managed dependency the environment
// has, with the vendors' thresholds where they publish any:
//   - etcd: its own mixin (etcd-io/etcd v3.5.25, contrib/mixin/mixin.libsonnet);
//   - MinIO: its monitoring docs (min.io "Monitoring and Alerting using
//     Prometheus") and docs/metrics/prometheus/alerts.md at the release;
//   - Pulsar and Kafka: no published thresholds; ours, derived from what
//     Milvus needs, say so in the Source.
//
// External dependencies are not scraped by this environment (their
// operators watch them); only Milvus' view of them (latency, lag) is.
func dependencyRules(env *model.Environment) []RuleGroup {
	byDep := map[string][]model.MetricsTarget{}
	var deps []string
	for _, t := range env.MetricsTargets() {
		if _, ok := byDep[t.Dependency]; !ok {
			deps = append(deps, t.Dependency)
		}
		byDep[t.Dependency] = append(byDep[t.Dependency], t)
	}
	var groups []RuleGroup
	for _, dep := range deps {
		out := &alerts{env: env}
		targets := map[string]model.MetricsTarget{}
		for _, t := range byDep[dep] {
			targets[t.Role] = t
		}
		switch dep {
		case "etcd":
			etcdRules(out, targets["etcd"])
		case "minio":
			minioRules(out, targets["minio"])
		case "pulsar":
			pulsarRules(out, targets)
		case "kafka":
			kafkaRules(out, targets)
		}
		groups = append(groups, RuleGroup{Name: "milvus-" + env.Name + "-" + dep, Rules: out.rules})
	}
	return groups
}

// quorum is the majority of n voting members.
func quorum(n int32) int32 { return n/2 + 1 }

// quorumRule fires when fewer members answer than a majority: the
// ensemble refuses writes (etcd, ZooKeeper). From the spec's replicas, not
// from the targets Prometheus still sees (members that vanished from
// discovery are not counted as down otherwise).
func quorumRule(out *alerts, alert, what string, t model.MetricsTarget, source string) {
	if t.Replicas < 3 {
		return // one member: DependencyAbsent says it all
	}
	out.add(Rule{
		Alert: alert,
		Expr:  fmt.Sprintf(`(count(up{%s} == 1) or vector(0)) < %d`, JobSelector(out.env, t), quorum(t.Replicas)),
		For:   "3m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $value }} of %d %s members up, below quorum", out.env.Name, t.Replicas, what),
			"description": fmt.Sprintf("Without a majority (%d) %s accepts no writes: Milvus stops. Bring members back before anything else (kubectl -n %s get pods -l %s).", quorum(t.Replicas), what, out.env.Namespace, selectorString(t.Pods)),
		},
		Threshold: fmt.Sprintf("< %d members up for 3m", quorum(t.Replicas)), Source: source,
	}, "critical", "job", t.Job)
}

func etcdRules(out *alerts, t model.MetricsTarget) {
	js := JobSelector(out.env, t)
	name := out.env.Name
	quorumRule(out, "MilvusEtcdInsufficientMembers", "etcd", t, "etcd mixin etcdInsufficientMembers (3m), with the spec's replicas")
	out.add(Rule{
		Alert: "MilvusEtcdNoLeader",
		Expr:  fmt.Sprintf(`etcd_server_has_leader{%s} == 0`, js),
		For:   "1m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: etcd member {{ $labels.pod }} has no leader", name),
			"description": "The member cannot serve writes: Milvus' coordinators lose their sessions and metadata updates fail. Check the members' network and disk.",
		},
		Threshold: "has_leader == 0 for 1m", Source: "etcd mixin etcdNoLeader",
	}, "critical")
	out.add(Rule{
		Alert: "MilvusEtcdLeaderChangesHigh",
		Expr:  fmt.Sprintf(`max(increase(etcd_server_leader_changes_seen_total{%s}[15m])) >= 4`, js),
		For:   "5m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: etcd changed leader {{ $value }} times in 15 minutes", name),
			"description": "Frequent elections stall writes each time: usually slow disks (fsync) or CPU starvation of the members.",
		},
		Threshold: ">= 4 changes in 15m, for 5m", Source: "etcd mixin etcdHighNumberOfLeaderChanges",
	}, "warning")
	for _, h := range []struct {
		alert, metric, what string
		limit               float64
	}{
		{"MilvusEtcdFsyncSlow", "etcd_disk_wal_fsync_duration_seconds_bucket", "WAL fsync", 0.5},
		{"MilvusEtcdCommitSlow", "etcd_disk_backend_commit_duration_seconds_bucket", "backend commit", 0.25},
	} {
		out.add(Rule{
			Alert: h.alert,
			Expr:  fmt.Sprintf(`histogram_quantile(0.99, sum by (pod, le) (rate(%s{%s}[5m]))) > %s`, h.metric, js, num(h.limit)),
			For:   "10m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: etcd %s p99 is {{ $value | humanizeDuration }} on {{ $labels.pod }}", name, h.what),
				"description": "etcd needs fast disks: slow syncs delay every write and cause leader elections. Move it to SSD volumes or away from noisy neighbours.",
			},
			Threshold: fmt.Sprintf("p99 > %s s for 10m", num(h.limit)), Source: "etcd mixin",
		}, "warning")
	}
	out.add(Rule{
		Alert: "MilvusEtcdDatabaseQuotaLowSpace",
		Expr:  fmt.Sprintf(`max(etcd_mvcc_db_total_size_in_bytes{%s} / etcd_server_quota_backend_bytes{%s}) * 100 > 95`, js, js),
		For:   "10m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: etcd's database is at {{ $value | humanize }}%% of its quota", name),
			"description": "At the quota etcd raises NOSPACE and refuses writes. Compact and defragment (Milvus' compaction of etcd runs on its own schedule), or raise --quota-backend-bytes.",
		},
		Threshold: "> 95% of the quota for 10m", Source: "etcd mixin etcdBackendQuotaLowSpace",
	}, "critical")
}

func minioRules(out *alerts, t model.MetricsTarget) {
	js := JobSelector(out.env, t)
	name := out.env.Name
	// Every server reports the cluster's figures: max over them.
	for _, o := range []struct{ alert, metric, what string }{
		{"MilvusMinioNodesOffline", "minio_cluster_nodes_offline_total", "servers"},
		{"MilvusMinioDrivesOffline", "minio_cluster_drive_offline_total", "drives"},
	} {
		out.add(Rule{
			Alert: o.alert,
			Expr:  fmt.Sprintf(`max(avg_over_time(%s{%s}[5m])) > 0`, o.metric, js),
			For:   "10m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: {{ $value }} MinIO %s offline", name, o.what),
				"description": "Erasure coding still serves data, but one more failure may lose write quorum. Check the MinIO pods and their volumes.",
			},
			Threshold: "> 0 for 10m", Source: "MinIO docs (NodesOffline, DisksOffline)",
		}, "warning")
	}
	if t.Replicas >= 4 { // distributed mode: erasure sets
		out.add(Rule{
			Alert: "MilvusMinioErasureSetDegraded",
			Expr:  fmt.Sprintf(`min(minio_cluster_health_erasure_set_status{%s}) < 1`, js),
			For:   "5m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: a MinIO erasure set lost its quorum", name),
				"description": "An erasure set cannot serve reads or writes: Milvus' binlogs and indexes in it are unavailable. Bring its drives back.",
			},
			Threshold: "status < 1 for 5m", Source: "MinIO docs/metrics/prometheus/alerts.md (MinIOClusterTolerance)",
		}, "critical")
	}
	out.add(Rule{
		Alert: "MilvusMinioCapacityLow",
		Expr:  fmt.Sprintf(`max(minio_cluster_capacity_usable_free_bytes{%s}) / max(minio_cluster_capacity_usable_total_bytes{%s}) < 0.1`, js, js),
		For:   "15m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: MinIO has {{ $value | humanizePercentage }} of its usable capacity free", name),
			"description": "Milvus writes binlogs, indexes and compaction output there; a full store stops flushes. Grow the volumes or drop data.",
		},
		Threshold: "< 10% free for 15m", Source: "ours (MinIO publishes none)",
	}, "warning")
}

func pulsarRules(out *alerts, targets map[string]model.MetricsTarget) {
	name := out.env.Name
	zk, bookie, broker := targets["zookeeper"], targets["bookie"], targets["broker"]
	quorumRule(out, "MilvusPulsarZookeeperQuorumLost", "Pulsar's ZooKeeper", zk, "ZooKeeper majority quorum, with the spec's replicas")
	zookeeperLeaderRule(out, "MilvusPulsarZookeeperNoLeader", zk)
	out.add(Rule{
		Alert: "MilvusPulsarBookieReadOnly",
		Expr:  fmt.Sprintf(`bookie_SERVER_STATUS{%s} < 1`, JobSelector(out.env, bookie)),
		For:   "5m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: bookie {{ $labels.pod }} is read-only or unregistered", name),
			"description": "A bookie turns read-only when its ledger or journal disk fills (diskUsageThreshold). New ledgers need writable bookies for their ensemble: with too few, Milvus' writes fail. Grow the bookie volumes.",
		},
		Threshold: "status < 1 (0 read-only, -1 unregistered) for 5m", Source: "BookKeeper BookieStateManager (1 writable)",
	}, "critical")
	out.add(Rule{
		Alert: "MilvusPulsarBookieWriteLatencyHigh",
		Expr:  fmt.Sprintf(`max(bookkeeper_server_ADD_ENTRY_REQUEST{%s, success="true", quantile="0.99"}) > %d`, JobSelector(out.env, bookie), timeTickIntervalMs),
		For:   "10m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: bookie add-entry p99 is {{ $value | humanize }} ms", name),
			"description": "Bookies persist each message before Pulsar acknowledges it: slower than Milvus' 200 ms time tick, inserts slow down and consumers lag. Check the journal disks.",
		},
		Threshold: "p99 > 200 ms for 10m", Source: "ours: proxy.timeTickInterval (200 ms)",
	}, "warning")
	// The backlog lives on the bookies' ledger volumes, writeQuorum times:
	// alert when it would fill half of them.
	m := out.env.Dependencies.MessageQueue.Managed
	limit := int64(m.Bookkeeper.Replicas) * m.Bookkeeper.LedgersSize / int64(max(m.Ledgers.WriteQuorum, 1)) / 2
	out.add(Rule{
		Alert: "MilvusPulsarBacklogHigh",
		Expr:  fmt.Sprintf(`sum(pulsar_storage_backlog_size{%s}) > %d`, JobSelector(out.env, broker), limit),
		For:   "15m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: Pulsar holds {{ $value | humanize1024 }}B of unacknowledged messages", name),
			"description": "Milvus' subscriptions are not keeping up (or a dropped collection's subscription was left behind): the backlog grows on the bookies' disks. Check the consumers' lag (MilvusConsumerLagHigh) and pulsar-admin topics stats.",
		},
		Threshold: fmt.Sprintf("> %s for 15m", bytesIEC(limit)), Source: "half the bookies' ledger volumes ÷ ledgers.writeQuorum",
	}, "warning")
}

// bytesIEC prints a byte count in the largest binary unit it reaches.
func bytesIEC(b int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b >= u.size {
			return fmt.Sprintf("%.4g %s", float64(b)/float64(u.size), u.suffix)
		}
	}
	return fmt.Sprintf("%d B", b)
}

// zookeeperLeaderRule: ZooKeeper exports synced_followers on the leader
// only (LeaderZooKeeperServer): in an ensemble, its absence means no
// leader, and the ensemble serves nothing.
func zookeeperLeaderRule(out *alerts, alert string, t model.MetricsTarget) {
	if t.Replicas < 3 {
		return
	}
	js := JobSelector(out.env, t)
	out.add(Rule{
		Alert: alert,
		Expr:  fmt.Sprintf(`absent(synced_followers{%s})`, js),
		For:   "5m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: no ZooKeeper leader reports (%s)", out.env.Name, t.Job),
			"description": "Only the leader exports synced_followers: without one the ensemble serves no requests. Check the members' logs for election loops.",
		},
		Threshold: "no leader for 5m", Source: "ZooKeeper LeaderZooKeeperServer (leader-only metric)",
	}, "critical", "job", t.Job)
	out.add(Rule{
		Alert: alert[:len(alert)-len("NoLeader")] + "FollowersBehind",
		Expr:  fmt.Sprintf(`max(synced_followers{%s}) < %d`, js, t.Replicas-1),
		For:   "15m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $value }} of %d ZooKeeper followers in sync", out.env.Name, t.Replicas-1),
			"description": "A follower is down or cannot keep up: one more failure may cost the quorum.",
		},
		Threshold: fmt.Sprintf("< %d synced for 15m", t.Replicas-1), Source: "the spec's replicas",
	}, "warning", "job", t.Job)
}

func kafkaRules(out *alerts, targets map[string]model.MetricsTarget) {
	name := out.env.Name
	zk, kafka := targets["zookeeper"], targets["kafka"]
	quorumRule(out, "MilvusKafkaZookeeperQuorumLost", "Kafka's ZooKeeper", zk, "ZooKeeper majority quorum, with the spec's replicas")
	zookeeperLeaderRule(out, "MilvusKafkaZookeeperNoLeader", zk)
	js := JobSelector(out.env, kafka)
	out.add(Rule{
		Alert: "MilvusKafkaOfflinePartitions",
		Expr:  fmt.Sprintf(`sum(kafka_controller_kafkacontroller_offlinepartitionscount_value{%s}) > 0`, js),
		For:   "1m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $value }} Kafka partitions have no leader", name),
			"description": "Milvus cannot write to or read from the channels on them. Bring the brokers holding their replicas back.",
		},
		Threshold: "> 0 for 1m", Source: "ours: any offline partition stops a channel",
	}, "critical")
	out.add(Rule{
		Alert: "MilvusKafkaNoActiveController",
		// Only while every broker's exporter answers: one sidecar not
		// scraped would otherwise read as no controller.
		Expr: fmt.Sprintf(`sum(kafka_controller_kafkacontroller_activecontrollercount_value{%s}) != 1 and on () count(up{%s} == 1) == %d`,
			js, js, kafka.Replicas),
		For: "5m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $value }} active Kafka controllers", name),
			"description": "Exactly one broker must be the controller: with none, leader elections and topic creation (a new collection's channels) stop. Check ZooKeeper.",
		},
		Threshold: "!= 1 for 5m, every broker scraped", Source: "ours: Kafka has exactly one controller",
	}, "critical")
	out.add(Rule{
		Alert: "MilvusKafkaUnderReplicatedPartitions",
		Expr:  fmt.Sprintf(`sum(kafka_server_replicamanager_total_underreplicatedpartitions_value{%s}) > 0`, js),
		For:   "10m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $value }} Kafka partitions under-replicated", name),
			"description": "Some partitions have fewer in-sync copies than the replication factor: one more broker loss below min.insync.replicas stops Milvus' writes. Check the brokers' disks and network.",
		},
		Threshold: "> 0 for 10m", Source: "ours",
	}, "warning")
	out.add(Rule{
		Alert: "MilvusKafkaIsrShrinking",
		Expr:  fmt.Sprintf(`sum(rate(kafka_server_replicamanager_total_isrshrinkspersec_count{%s}[5m])) > 0`, js),
		For:   "10m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: Kafka in-sync replica sets keep shrinking", name),
			"description": "Followers keep falling out of sync: a slow broker, disk or network. Under-replicated partitions follow.",
		},
		Threshold: "shrinks for 10m", Source: "ours",
	}, "warning")
}

// selectorString prints labels as kubectl's -l takes them, sorted.
func selectorString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}
