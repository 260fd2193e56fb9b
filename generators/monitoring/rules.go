package monitoring

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/milvus-gitops/milvusgen/generators/backup"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is one group of rules.
type RuleGroup struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// Rule is an alerting rule.
type Rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// Threshold and Source say, for the README's alert table, what the
	// rule compares with and where that number comes from.
	Threshold string `json:"-"`
	Source    string `json:"-"`
}

// Selector is the PromQL label matcher of this environment's Milvus
// targets (the labels the scrape config and the PodMonitor set).
func Selector(env *model.Environment) string {
	return fmt.Sprintf(`namespace=%q, app_kubernetes_io_instance=%q, app_kubernetes_io_name="milvus"`, env.Namespace, env.Release)
}

// JobSelector is the matcher of one managed dependency's targets.
func JobSelector(env *model.Environment, t model.MetricsTarget) string {
	return fmt.Sprintf(`namespace=%q, job=%q`, env.Namespace, t.Job)
}

// alerts collects rules with the environment's common labels.
type alerts struct {
	env   *model.Environment
	rules []Rule
}

// add appends a rule; extra labels (a component, a job) tell alerts of the
// same name apart.
func (a *alerts) add(r Rule, severity string, extra ...string) {
	r.Labels = map[string]string{"severity": severity, "namespace": a.env.Namespace, "milvus_release": a.env.Release, "environment": a.env.Name}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Labels[extra[i]] = extra[i+1]
	}
	a.rules = append(a.rules, r)
}

// Rules derives the alert rules from the spec: SLO thresholds, the
// replicas the cluster should have, the backup schedule, the targets that
// must exist, and the managed dependencies' health. Groups: Milvus, the
// absence of what should be scraped, and one per managed dependency.
func Rules(env *model.Environment) RuleFile {
	groups := []RuleGroup{
		{Name: "milvus-" + env.Name, Rules: milvusRules(env)},
		{Name: "milvus-" + env.Name + "-absence", Rules: absenceRules(env)},
	}
	groups = append(groups, dependencyRules(env)...)
	return RuleFile{Groups: groups}
}

func milvusRules(env *model.Environment) []Rule {
	sel := Selector(env)
	a := env.Monitoring.Alerts
	out := &alerts{env: env}
	out.add(Rule{
		Alert: "MilvusSearchLatencyHigh",
		Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_proxy_sq_latency_bucket{%s, query_type="search"}[5m]))) > %s`,
			sel, num(env.SLO.SearchP99Ms)),
		For: a.For,
		Annotations: map[string]string{
			"summary": fmt.Sprintf("Milvus %s: search p99 above the %s ms SLO", env.Name, num(env.SLO.SearchP99Ms)),
			"description": "Search p99 latency at the proxies is {{ $value | humanize }} ms. Check query node CPU and memory, " +
				"segments loaded per node (growing segments, compaction backlog), and the nprobe / ef of the slow requests.",
		},
		Threshold: fmt.Sprintf("p99 > %s ms for %s", num(env.SLO.SearchP99Ms), a.For), Source: "slo.searchP99Ms, monitoring.alerts.for",
	}, "warning")
	out.add(Rule{
		Alert: "MilvusInsertLatencyHigh",
		Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_proxy_mutation_latency_bucket{%s, msg_type="insert"}[5m]))) > %s`,
			sel, num(env.SLO.InsertP99Ms)),
		For: a.For,
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: insert p99 above the %s ms SLO", env.Name, num(env.SLO.InsertP99Ms)),
			"description": "Insert p99 latency at the proxies is {{ $value | humanize }} ms. Check the message queue's latency, streaming/data node load, and whether writes are being throttled (quota).",
		},
		Threshold: fmt.Sprintf("p99 > %s ms for %s", num(env.SLO.InsertP99Ms), a.For), Source: "slo.insertP99Ms",
	}, "warning")
	out.add(Rule{
		Alert: "MilvusRequestFailuresHigh",
		Expr: fmt.Sprintf(`sum(rate(milvus_proxy_req_count{%s, status="fail"}[5m])) / sum(rate(milvus_proxy_req_count{%s, status="total"}[5m])) > %s`,
			sel, sel, num(env.SLO.ErrorRatio)),
		For: a.For,
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: request failure ratio above %s", env.Name, num(env.SLO.ErrorRatio)),
			"description": "{{ $value | humanizePercentage }} of requests fail. Break milvus_proxy_req_count{status=\"fail\"} down by function_name, then read the proxy logs for the error.",
		},
		Threshold: fmt.Sprintf("failed/total > %s for %s", num(env.SLO.ErrorRatio), a.For), Source: "slo.errorRatio",
	}, "critical")
	// Registered nodes, as the coordinators see them. On 2.6 every
	// streaming node also embeds a query node that querycoord counts. A
	// rollout (maxSurge 0) or a drain takes out maxUnavailable nodes for a
	// while: below that floor is critical at once, one short is a warning
	// only when it lasts longer than a rollout.
	for _, n := range nodeCounts(env) {
		check := fmt.Sprintf("Check their pods (kubectl -n %s get pods -l component=%s): pending (anti-affinity, resources), crash-looping, or not ready.",
			env.Namespace, model.ComponentLabel(n.component))
		if floor := n.want - env.Availability.MaxUnavailable; floor > 0 {
			out.add(Rule{
				Alert: "Milvus" + n.name + "Missing",
				Expr:  fmt.Sprintf(`max(%s{%s}) < %d`, n.metric, sel, floor),
				For:   "5m",
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("Milvus %s: only {{ $value }} of %d %s registered", env.Name, n.want, n.what),
					"description": fmt.Sprintf("More %s are missing than a rollout or a drain takes out (%d). %s", n.what, env.Availability.MaxUnavailable, check),
				},
				Threshold: fmt.Sprintf("< %d registered for 5m", floor), Source: "replicas − availability.maxUnavailable",
			}, "critical")
		}
		out.add(Rule{
			Alert: "Milvus" + n.name + "Degraded",
			Expr:  fmt.Sprintf(`max(%s{%s}) < %d`, n.metric, sel, n.want),
			For:   "30m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: {{ $value }} of %d %s registered for 30 minutes", env.Name, n.want, n.what),
				"description": fmt.Sprintf("Fewer %s than the spec runs, for longer than a rollout takes. %s", n.what, check),
			},
			Threshold: fmt.Sprintf("< %d registered for 30m", n.want), Source: "the spec's replicas",
		}, "warning")
	}
	out.add(Rule{
		Alert: "MilvusWritesDenied",
		Expr:  fmt.Sprintf(`sum(increase(milvus_rootcoord_force_deny_writing_counter{%s}[5m])) > 0`, sel),
		For:   "1m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s denies writes", env.Name),
			"description": "The quota center forces writes to be denied: memory or disk protection, or time-tick lag. Check query node memory, the object storage, and message queue health.",
		},
		Threshold: "any denial in 5m", Source: "Milvus' quota center (quotaAndLimits)",
	}, "critical")
	out.add(Rule{
		Alert: "MilvusConsumerLagHigh",
		Expr: fmt.Sprintf(`max(max(milvus_querynode_consume_tt_lag_ms{%s}) or max(milvus_datanode_consume_tt_lag_ms{%s})) > %s`,
			sel, sel, num(a.ConsumerLagSeconds*1000)),
		For: a.For,
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: consumers lag more than %s s behind the message queue", env.Name, num(a.ConsumerLagSeconds)),
			"description": "The time-tick lag of query or data nodes is {{ $value | humanize }} ms: searches with Strong or Bounded consistency wait for it. Check the message queue and the lagging nodes' CPU.",
		},
		Threshold: fmt.Sprintf("> %s s for %s", num(a.ConsumerLagSeconds), a.For), Source: "monitoring.alerts.consumerLagSeconds",
	}, "warning")
	out.add(Rule{
		Alert: "MilvusTargetDown",
		Expr:  fmt.Sprintf(`up{%s} == 0`, sel),
		For:   "5m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $labels.pod }} cannot be scraped", env.Name),
			"description": "Prometheus cannot scrape {{ $labels.pod }} ({{ $labels.component }}) on :9091/metrics. The pod is down, restarting, or its network is broken.",
		},
		Threshold: "up == 0 for 5m", Source: "ours: longer than a pod restart",
	}, "critical")
	out.add(Rule{
		Alert: "MilvusPodRestarting",
		Expr: fmt.Sprintf(`increase(kube_pod_container_status_restarts_total{namespace=%q, pod=~%q}[30m]) > %d`,
			env.Namespace, PodPattern(env), a.RestartsPer30m),
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: {{ $labels.pod }} restarts repeatedly", env.Name),
			"description": fmt.Sprintf("{{ $labels.pod }} restarted more than %d times in 30 minutes. Check kubectl -n %s describe pod {{ $labels.pod }} (OOMKilled? probes?) and its previous logs.", a.RestartsPer30m, env.Namespace),
		},
		Threshold: fmt.Sprintf("> %d restarts in 30m", a.RestartsPer30m), Source: "monitoring.alerts.restartsPer30m",
	}, "warning")
	if env.Backup.Enabled {
		stale := time.Duration(env.Backup.StaleAfterHours) * time.Hour
		cron := fmt.Sprintf(`namespace=%q, cronjob=%q`, env.Namespace, backup.CronJobName(env))
		out.add(Rule{
			Alert: "MilvusBackupStale",
			Expr:  fmt.Sprintf(`time() - kube_cronjob_status_last_successful_time{%s} > %d`, cron, int64(stale.Seconds())),
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: no successful backup for %d hours", env.Name, env.Backup.StaleAfterHours),
				"description": fmt.Sprintf("The last successful run of CronJob %s was {{ $value | humanizeDuration }} ago. Check its failed Jobs' logs (kubectl -n %s logs job/<name>): storage credentials, bucket, Milvus reachability.", backup.CronJobName(env), env.Namespace),
			},
			Threshold: fmt.Sprintf("> %d h since the last success", env.Backup.StaleAfterHours), Source: "backup.staleAfterHours",
		}, "critical")
		out.add(Rule{
			Alert: "MilvusBackupNeverSucceeded",
			Expr:  fmt.Sprintf(`(time() - kube_cronjob_created{%s} > %d) unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{%s}`, cron, int64(stale.Seconds()), cron),
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: the backup has never succeeded", env.Name),
				"description": fmt.Sprintf("CronJob %s exists for more than %d hours without one successful run. Check its Jobs' logs.", backup.CronJobName(env), env.Backup.StaleAfterHours),
			},
			Threshold: fmt.Sprintf("no success %d h after creation", env.Backup.StaleAfterHours), Source: "backup.staleAfterHours",
		}, "critical")
	}
	out.rules = append(out.rules, milvusHealthRules(env)...)
	return out.rules
}

// nodeCount is a coordinator's count of registered nodes of one kind.
type nodeCount struct {
	name, metric, component, what string
	want                          int32
}

func nodeCounts(env *model.Environment) []nodeCount {
	// A streaming node registers with the query coordinator too, once
	// it runs (upgrade.Running).
	queryNodes := env.Components["queryNode"].Replicas
	if sn, ok := env.Components["streamingNode"]; ok && slices.Contains(upgrade.Running(env), "streamingNode") {
		queryNodes += sn.Replicas
	}
	return []nodeCount{
		{"QueryNodes", "milvus_querycoord_querynode_num", "queryNode", "query nodes", queryNodes},
		{"DataNodes", "milvus_datacoord_datanode_num", "dataNode", "data nodes", env.Components["dataNode"].Replicas},
		{"Proxies", "milvus_rootcoord_proxy_num", "proxy", "proxies", env.Components["proxy"].Replicas},
	}
}

// PodPattern matches the names of this release's Milvus pods (and not
// other pods that share the prefix): <fullname>-<component>-<hash>-<id>.
func PodPattern(env *model.Environment) string {
	var comps []string
	for _, k := range env.ComponentNames() {
		comps = append(comps, model.ComponentLabel(k))
	}
	return fmt.Sprintf("%s-(%s)-.*", env.ChartFullname(), strings.Join(comps, "|"))
}

// num prints a number without trailing zeros or exponent.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
