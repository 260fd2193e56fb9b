package monitoring

import (
	"fmt"

	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Facts from Milvus' configs/milvus.yaml (v2.5.16 and v2.6.15 agree) that
// the health rules' thresholds derive from.
const (
	// proxy.timeTickInterval: the proxies publish a time tick every
	// 200 ms; a write to the message queue slower than that at p99 holds
	// every consumer's tick back.
	timeTickIntervalMs = 200
	// dataNode.segment.syncPeriod: buffered rows are synced to object
	// storage at least every 600 s, and the channel checkpoint follows
	// (dataNode.channel.updateChannelCheckpointInterval, 60 s). Three
	// periods behind means syncing has stopped, and a restart would replay
	// that much of the log.
	syncPeriodSeconds = 600
	// quotaAndLimits.limitWriting.memProtection: writes are throttled
	// above 0.85 of the memory limit and refused above 0.95.
	memoryLowWaterLevel, memoryHighWaterLevel = 0.85, 0.95
)

// milvusHealthRules watch what users hit in production besides latency:
// the message queue's write latency as Milvus sees it, the channel
// checkpoint, segment loading, memory against the limit, and inserts that
// are never synced. The metric names differ by version line where Milvus
// changed them (milvusmetrics has both lists; a test checks every name).
func milvusHealthRules(env *model.Environment) []Rule {
	sel := Selector(env)
	out := &alerts{env: env}
	mq := env.Dependencies.MessageQueue.Type
	switch upgrade.MetricsLine(env) {
	case "2.6":
		// 2.6 writes through the streaming node's WAL; its append
		// duration covers the message queue underneath.
		out.add(Rule{
			Alert: "MilvusWALAppendLatencyHigh",
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_wal_append_message_duration_seconds_bucket{%s, status="ok"}[5m]))) > %s`,
				sel, num(timeTickIntervalMs/1000.0)),
			For: "10m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: WAL appends take {{ $value | humanizeDuration }} at p99", env.Name),
				"description": fmt.Sprintf("Streaming nodes append to the %s log slower than the proxies' 200 ms time tick: inserts slow down and consumers lag. Check the message queue (its own alerts) and the streaming nodes' CPU.", mq),
			},
			Threshold: "p99 > 0.2 s for 10m", Source: "proxy.timeTickInterval (200 ms)",
		}, "warning")
	default:
		// 2.5 times every producer send, in ms, in each queue's client
		// (pkg/mq/msgstream/mqwrapper/{kafka,pulsar}/*_producer.go).
		out.add(Rule{
			Alert: "MilvusMessageQueueSendLatencyHigh",
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_msgstream_request_latency_bucket{%s, message_op_type="produce"}[5m]))) > %d`,
				sel, timeTickIntervalMs),
			For: "10m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: sends to %s take {{ $value | humanize }} ms at p99", env.Name, mq),
				"description": fmt.Sprintf("Milvus' producers wait longer for %s than the proxies' 200 ms time tick: inserts slow down and consumers lag. Check the message queue (its own alerts: replication, disks) and the network.", mq),
			},
			Threshold: "p99 > 200 ms for 10m", Source: "proxy.timeTickInterval (200 ms)",
		}, "warning")
	}
	out.add(Rule{
		Alert: "MilvusChannelCheckpointLagging",
		Expr:  fmt.Sprintf(`time() - min(milvus_datacoord_channel_checkpoint_unix_seconds{%s}) > %d`, sel, 3*syncPeriodSeconds),
		For:   "10m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: a channel checkpoint is {{ $value | humanizeDuration }} old", env.Name),
			"description": "Data of at least one channel has not been synced to object storage for three sync periods: flushes fail or a node is stuck, and a restart replays that much of the log. Check milvus_datacoord_channel_checkpoint_unix_seconds by channel_name, the object storage, and the streaming/data nodes' logs.",
		},
		Threshold: fmt.Sprintf("> %d s behind for 10m", 3*syncPeriodSeconds), Source: "3 × dataNode.segment.syncPeriod (600 s)",
	}, "warning")
	out.add(Rule{
		Alert: "MilvusSegmentLoadingStuck",
		Expr: fmt.Sprintf(`sum(milvus_querycoord_task_num{%s, querycoord_task_type="segment_grow"}) > 0 unless sum(increase(milvus_querynode_load_segment_latency_count{%s}[30m])) > 0`,
			sel, sel),
		For: "30m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $value }} segment loads pending, none finished in 30 minutes", env.Name),
			"description": "The query coordinator has segment load tasks, but no query node finished a load for half an hour: collections stay partly loaded and searches miss data. Check query node memory (loads wait for room), the object storage, and the query coordinator's logs.",
		},
		Threshold: "tasks pending, no load done in 30m, for 30m", Source: "ours",
	}, "warning")
	out.add(Rule{
		Alert: "MilvusMemoryNearLimit",
		Expr: fmt.Sprintf(`max by (namespace, pod) (process_resident_memory_bytes{%s}) / on (namespace, pod) max by (namespace, pod) (kube_pod_container_resource_limits{namespace=%q, pod=~%q, resource="memory"}) > %s`,
			sel, env.Namespace, PodPattern(env), num((memoryLowWaterLevel+memoryHighWaterLevel)/2)),
		For: "15m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit", env.Name),
			"description": "Above 85% Milvus throttles writes, above 95% it refuses them, and at the limit the pod is OOM-killed. Release or compact collections, add query nodes, or raise the limit.",
		},
		Threshold: "RSS > 0.9 × limit for 15m", Source: "between memProtection's 0.85 and 0.95 water levels",
	}, "warning")
	out.add(Rule{
		Alert: "MilvusInsertsNotSynced",
		Expr: fmt.Sprintf(`sum(increase(milvus_proxy_mutation_latency_count{%s, msg_type="insert"}[1h])) > 0 unless sum(increase(milvus_datanode_flushed_data_rows{%s}[1h])) > 0`,
			sel, sel),
		For: "15m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: inserts for an hour, nothing synced to object storage", env.Name),
			"description": "Growing segments are not flushed: their rows stay in memory and in the log only. Check the data/streaming nodes' logs (sync errors), the object storage, and milvus_datanode_flush_buffer_op_count{status=\"fail\"}.",
		},
		Threshold: "inserts but no synced rows in 1h, for 15m", Source: "dataNode.segment.syncPeriod (600 s) × 6",
	}, "warning")
	return out.rules
}
