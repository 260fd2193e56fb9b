package integration

import (
	"fmt"
	"strings"

	"github.com/milvus-gitops/milvusgen/model"
)

// histogramSeries is a histogram whose observations all land in
// (low, high]: p99 is low + (high-low)*0.99; in the quiet case all land in
// (0, low]. name renders a series from its labels.
func histogramSeries(name func(labels string) string, extra string, threshold float64, fire bool) ([]series, float64) {
	low, high := threshold/2, threshold*2
	lowRate := "0+0x30"
	if !fire {
		lowRate = "0+60x30"
	}
	with := func(le string) string {
		if extra == "" {
			return "le=" + le
		}
		return extra + ",le=" + le
	}
	return []series{
		{name(with(fmt.Sprintf("%q", num(low)))), lowRate},
		{name(with(fmt.Sprintf("%q", num(high)))), "0+60x30"},
		{name(with(`"+Inf"`)), "0+60x30"},
	}, low + (high-low)*0.99
}

// healthScenarios: the message queue's write latency (by version line),
// the channel checkpoint, segment loading, memory and unsynced inserts.
func healthScenarios(env *model.Environment, m func(name, extra string) string, histogram func(name, extra string, threshold float64, fire bool) ([]series, float64)) []scenario {
	var out []scenario
	walFire, walP99 := histogram("milvus_wal_append_message_duration_seconds_bucket", `status="ok"`, 0.2, true)
	walQuiet, _ := histogram("milvus_wal_append_message_duration_seconds_bucket", `status="ok"`, 0.2, false)
	// Failed appends (timeouts included) are not the queue's latency.
	slowErrors, _ := histogram("milvus_wal_append_message_duration_seconds_bucket", `status="error"`, 0.2, true)
	walQuiet = append(walQuiet, slowErrors...)
	out = append(out, scenario{alert: "MilvusWALAppendLatencyHigh", fire: walFire, quiet: walQuiet, value: walP99})
	mqFire, mqP99 := histogram("milvus_msgstream_request_latency_bucket", `message_op_type="produce"`, 200, true)
	mqQuiet, _ := histogram("milvus_msgstream_request_latency_bucket", `message_op_type="produce"`, 200, false)
	// Creating producers is slow by nature and must not count.
	mqQuiet = append(mqQuiet, series{m("milvus_msgstream_request_latency_bucket", `message_op_type="create_producer",le="+Inf"`), "0+60x30"})
	out = append(out, scenario{alert: "MilvusMessageQueueSendLatencyHigh", fire: mqFire, quiet: mqQuiet, value: mqP99})

	// time() is the seconds since the start of the test: a checkpoint
	// that stays at 0 is an hour old at 60m; one that follows the clock
	// is never behind.
	ckpt := m("milvus_datacoord_channel_checkpoint_unix_seconds", `channel_name="by-dev-rootcoord-dml_0_100v0"`)
	out = append(out, scenario{alert: "MilvusChannelCheckpointLagging", evalTime: "60m",
		fire: []series{{ckpt, "0x70"}}, quiet: []series{{ckpt, "0+60x70"}}, value: 3600})

	tasks := m("milvus_querycoord_task_num", `querycoord_task_type="segment_grow"`)
	loads := m("milvus_querynode_load_segment_latency_count", `node_id="7"`)
	out = append(out, scenario{alert: "MilvusSegmentLoadingStuck", evalTime: "45m",
		fire:  []series{{tasks, "3x60"}, {loads, "5x60"}},
		quiet: []series{{tasks, "3x60"}, {loads, "0+1x60"}}, value: 3})

	pod := env.ChartFullname() + "-querynode-5d8f7-abcde"
	rss := m("process_resident_memory_bytes", fmt.Sprintf(`pod=%q,component="querynode"`, pod))
	limit := fmt.Sprintf(`kube_pod_container_resource_limits{namespace=%q,pod=%q,container="querynode",resource="memory",unit="byte"}`, env.Namespace, pod)
	cpuLimit := fmt.Sprintf(`kube_pod_container_resource_limits{namespace=%q,pod=%q,container="querynode",resource="cpu",unit="core"}`, env.Namespace, pod)
	out = append(out, scenario{alert: "MilvusMemoryNearLimit",
		fire:         []series{{rss, "950000000x30"}, {limit, "1000000000x30"}, {cpuLimit, "1x30"}},
		quiet:        []series{{rss, "500000000x30"}, {limit, "1000000000x30"}, {cpuLimit, "1x30"}},
		seriesLabels: map[string]string{"namespace": env.Namespace, "pod": pod}, value: 0.95})

	inserts := m("milvus_proxy_mutation_latency_count", `msg_type="insert",node_id="3"`)
	synced := m("milvus_datanode_flushed_data_rows", `data_source="streaming",node_id="4"`)
	out = append(out, scenario{alert: "MilvusInsertsNotSynced",
		fire:  []series{{inserts, "0+10x30"}, {synced, "5x30"}},
		quiet: []series{{inserts, "0+10x30"}, {synced, "0+10x30"}}})
	return out
}

// absenceScenarios: for every Milvus component, every coordinator node
// count, kube-state-metrics and every dependency member set, a series
// that disappears (or too few that stay).
func absenceScenarios(env *model.Environment, sel string, m func(name, extra string) string) []scenario {
	var out []scenario
	gone := func(value string) string { return value + "x5 _x40" } // present, then no samples at all
	below := func(up func(i int) string, replicas int32) scenario {
		var fire, quiet []series
		for i := 0; i < int(replicas); i++ {
			quiet = append(quiet, series{up(i), "1x45"})
			if i > 0 {
				fire = append(fire, series{up(i), "1x45"})
			} else {
				fire = append(fire, series{up(i), "0x45"}) // one failing: up 0
			}
		}
		return scenario{evalTime: "40m", fire: fire, quiet: quiet, value: float64(replicas - 1)}
	}
	for _, key := range env.ComponentNames() {
		c := model.ComponentLabel(key)
		up := func(i int) string {
			return m("up", fmt.Sprintf(`job="milvus",component=%q,pod="%s-%s-5d8f7-%d"`, c, env.ChartFullname(), c, i))
		}
		match := map[string]string{"component": c}
		out = append(out, scenario{alert: "MilvusComponentAbsent", match: match,
			fire: []series{{up(0), gone("1")}}, quiet: []series{{up(0), "1x45"}}, value: 1})
		s := below(up, env.Components[key].Replicas)
		s.alert, s.match = "MilvusComponentTargetsBelowReplicas", match
		out = append(out, s)
	}
	for _, metric := range []string{"milvus_querycoord_querynode_num", "milvus_datacoord_datanode_num", "milvus_rootcoord_proxy_num"} {
		// absent() of a plain selector keeps its equality matchers.
		out = append(out, scenario{alert: "MilvusNodeCountAbsent", match: map[string]string{"metric": metric},
			fire: []series{{m(metric, ""), gone("3")}}, quiet: []series{{m(metric, ""), "3x45"}}, value: 1, seriesLabels: labelMap(sel)})
	}
	restarts := fmt.Sprintf(`kube_pod_container_status_restarts_total{namespace=%q,pod="%s-proxy-5d8f7-abcde",container="proxy"}`, env.Namespace, env.ChartFullname())
	out = append(out, scenario{alert: "MilvusKubeStateMetricsAbsent", evalTime: "35m",
		fire: []series{{restarts, gone("0")}}, quiet: []series{{restarts, "0x45"}}, value: 1})
	for _, t := range env.MetricsTargets() {
		up := func(i int) string { return depSeries(env, t, "up", fmt.Sprintf(`pod="%s-%d"`, t.Job, i)) }
		match := map[string]string{"job": t.Job}
		out = append(out, scenario{alert: "MilvusDependencyAbsent", match: match,
			fire: []series{{up(0), gone("1")}}, quiet: []series{{up(0), "1x45"}}, value: 1})
		s := below(up, t.Replicas)
		s.alert, s.match = "MilvusDependencyTargetsBelowReplicas", match
		out = append(out, s)
	}
	return out
}

// depSeries is a series of a dependency target's job.
func depSeries(env *model.Environment, t model.MetricsTarget, name, extra string) string {
	labels := fmt.Sprintf(`namespace=%q,job=%q`, env.Namespace, t.Job)
	if extra != "" {
		labels += "," + extra
	}
	return name + "{" + labels + "}"
}

// dependencyScenarios: each managed dependency's alerts, firing and quiet.
func dependencyScenarios(env *model.Environment) []scenario {
	var out []scenario
	targets := map[string]model.MetricsTarget{}
	for _, t := range env.MetricsTargets() {
		targets[t.Dependency+"/"+t.Role] = t
	}
	one := func(alert string, t model.MetricsTarget, name, extra, fire, quiet string, value float64, kept ...string) scenario {
		s := depSeries(env, t, name, extra)
		sc := scenario{alert: alert, fire: []series{{s, fire}}, quiet: []series{{s, quiet}}, value: value}
		if len(kept) > 0 {
			sc.seriesLabels = map[string]string{}
			all := labelMap(strings.TrimSuffix(strings.SplitN(s, "{", 2)[1], "}"))
			for _, k := range kept {
				sc.seriesLabels[k] = all[k]
			}
		}
		return sc
	}
	quorum := func(alert string, t model.MetricsTarget) scenario {
		q := int(t.Replicas/2 + 1)
		up := func(i int) series {
			return series{depSeries(env, t, "up", fmt.Sprintf(`pod="%s-%d"`, t.Job, i)), "1x30"}
		}
		var fire, quiet []series
		for i := 0; i < q; i++ {
			quiet = append(quiet, up(i))
			if i < q-1 {
				fire = append(fire, up(i))
			}
		}
		if len(fire) == 0 {
			fire = []series{{depSeries(env, t, "up", `pod="down-0"`), "0x30"}}
		}
		return scenario{alert: alert, match: map[string]string{"job": t.Job}, fire: fire, quiet: quiet, value: float64(q - 1)}
	}
	zookeeper := func(prefix string, t model.MetricsTarget) []scenario {
		followers := depSeries(env, t, "synced_followers", fmt.Sprintf(`pod="%s-0"`, t.Job))
		upOnly := depSeries(env, t, "up", fmt.Sprintf(`pod="%s-0"`, t.Job))
		return []scenario{
			quorum(prefix+"QuorumLost", t),
			{alert: prefix + "NoLeader", match: map[string]string{"job": t.Job},
				fire:         []series{{upOnly, "1x30"}},
				quiet:        []series{{upOnly, "1x30"}, {followers, fmt.Sprintf("%dx30", t.Replicas-1)}},
				seriesLabels: map[string]string{"namespace": env.Namespace, "job": t.Job}, value: 1},
			{alert: prefix + "FollowersBehind", match: map[string]string{"job": t.Job},
				fire:  []series{{followers, fmt.Sprintf("%dx30", t.Replicas-2)}},
				quiet: []series{{followers, fmt.Sprintf("%dx30", t.Replicas-1)}}, value: float64(t.Replicas - 2)},
		}
	}
	if t, ok := targets["etcd/etcd"]; ok {
		hist := func(alert, metric string, limit float64) scenario {
			name := func(labels string) string { return depSeries(env, t, metric, `pod="etcd-0",`+labels) }
			fire, p99 := histogramSeries(name, "", limit, true)
			quiet, _ := histogramSeries(name, "", limit, false)
			return scenario{alert: alert, fire: fire, quiet: quiet, value: p99, seriesLabels: map[string]string{"pod": "etcd-0"}}
		}
		size := depSeries(env, t, "etcd_mvcc_db_total_size_in_bytes", `pod="etcd-0"`)
		quota := depSeries(env, t, "etcd_server_quota_backend_bytes", `pod="etcd-0"`)
		out = append(out,
			quorum("MilvusEtcdInsufficientMembers", t),
			one("MilvusEtcdNoLeader", t, "etcd_server_has_leader", `pod="etcd-0"`, "0x30", "1x30", 0, "namespace", "job", "pod"),
			one("MilvusEtcdLeaderChangesHigh", t, "etcd_server_leader_changes_seen_total", `pod="etcd-0"`, "0+1x30", "7+0x30", 15),
			hist("MilvusEtcdFsyncSlow", "etcd_disk_wal_fsync_duration_seconds_bucket", 0.5),
			hist("MilvusEtcdCommitSlow", "etcd_disk_backend_commit_duration_seconds_bucket", 0.25),
			scenario{alert: "MilvusEtcdDatabaseQuotaLowSpace", fire: []series{{size, "97x30"}, {quota, "100x30"}}, quiet: []series{{size, "50x30"}, {quota, "100x30"}}, value: 97},
		)
	}
	if t, ok := targets["minio/minio"]; ok {
		free := depSeries(env, t, "minio_cluster_capacity_usable_free_bytes", `server="minio-0:9000"`)
		total := depSeries(env, t, "minio_cluster_capacity_usable_total_bytes", `server="minio-0:9000"`)
		out = append(out,
			one("MilvusMinioNodesOffline", t, "minio_cluster_nodes_offline_total", `server="minio-0:9000"`, "1x30", "0x30", 1),
			one("MilvusMinioDrivesOffline", t, "minio_cluster_drive_offline_total", `server="minio-0:9000"`, "2x30", "0x30", 2),
			one("MilvusMinioErasureSetDegraded", t, "minio_cluster_health_erasure_set_status", `server="minio-0:9000",pool="0",set="0"`, "0x30", "1x30", 0),
			scenario{alert: "MilvusMinioCapacityLow", fire: []series{{free, "5x30"}, {total, "100x30"}}, quiet: []series{{free, "50x30"}, {total, "100x30"}}, value: 0.05},
		)
	}
	if t, ok := targets["pulsar/zookeeper"]; ok {
		out = append(out, zookeeper("MilvusPulsarZookeeper", t)...)
	}
	if t, ok := targets["pulsar/bookie"]; ok {
		out = append(out,
			one("MilvusPulsarBookieReadOnly", t, "bookie_SERVER_STATUS", `pod="bookie-0"`, "0x30", "1x30", 0, "namespace", "job", "pod"),
			one("MilvusPulsarBookieWriteLatencyHigh", t, "bookkeeper_server_ADD_ENTRY_REQUEST", `pod="bookie-0",success="true",quantile="0.99"`, "300x30", "20x30", 300),
		)
	}
	if t, ok := targets["pulsar/broker"]; ok {
		m := env.Dependencies.MessageQueue.Managed
		limit := float64(int64(m.Bookkeeper.Replicas) * m.Bookkeeper.LedgersSize / int64(m.Ledgers.WriteQuorum) / 2)
		backlog := depSeries(env, t, "pulsar_storage_backlog_size", `cluster="pulsar",namespace_="x",pod="broker-0"`)
		backlog = strings.Replace(backlog, `namespace_="x"`, `topic="persistent://public/default/by-dev-rootcoord-dml_0"`, 1)
		out = append(out, scenario{alert: "MilvusPulsarBacklogHigh",
			fire: []series{{backlog, fmt.Sprintf("%.0fx30", limit*2)}}, quiet: []series{{backlog, fmt.Sprintf("%.0fx30", limit/2)}}, value: limit * 2})
	}
	if t, ok := targets["kafka/zookeeper"]; ok {
		out = append(out, zookeeper("MilvusKafkaZookeeper", t)...)
	}
	// No active controller fires only while every broker is scraped: a
	// sidecar that is not must not read as a lost controller.
	noController := func(t model.MetricsTarget) scenario {
		var up []series
		for i := 0; i < int(t.Replicas); i++ {
			up = append(up, series{depSeries(env, t, "up", fmt.Sprintf(`pod="kafka-%d"`, i)), "1x30"})
		}
		count := func(pod, v string) series {
			return series{depSeries(env, t, "kafka_controller_kafkacontroller_activecontrollercount_value", fmt.Sprintf(`pod=%q`, pod)), v}
		}
		// Quiet: the controller's sidecar is not scraped (its series gone,
		// its target down) while the other brokers report 0.
		quiet := append([]series{count("kafka-1", "0x30")}, up[1:]...)
		quiet = append(quiet, series{depSeries(env, t, "up", `pod="kafka-0"`), "0x30"})
		return scenario{alert: "MilvusKafkaNoActiveController",
			fire:  append([]series{count("kafka-0", "0x30"), count("kafka-1", "0x30")}, up...),
			quiet: quiet, value: 0}
	}
	if t, ok := targets["kafka/kafka"]; ok {
		out = append(out,
			one("MilvusKafkaOfflinePartitions", t, "kafka_controller_kafkacontroller_offlinepartitionscount_value", `pod="kafka-0"`, "2x30", "0x30", 2),
			noController(t),
			one("MilvusKafkaUnderReplicatedPartitions", t, "kafka_server_replicamanager_total_underreplicatedpartitions_value", `pod="kafka-0"`, "3x30", "0x30", 3),
			one("MilvusKafkaIsrShrinking", t, "kafka_server_replicamanager_total_isrshrinkspersec_count", `pod="kafka-0"`, "0+1x30", "4+0x30", 0),
		)
	}
	return out
}
