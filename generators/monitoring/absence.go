package monitoring

import (
	"fmt"
	"time"

	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// absenceRules fire when what should be scraped is not: a rule on a
// metric that is missing never fires, so every Milvus component, every
// managed dependency's member set, the coordinators' node counts and
// kube-state-metrics get a rule of their own.
//
// absent(up{...} == 1) is true one scrape after the last successful one:
// up is 0 for a failing target, and a target gone from discovery leaves no
// up at all. Pods are replaced within a few scrapes in a rollout, so the
// rule waits absentFor before it fires.
func absenceRules(env *model.Environment) []Rule {
	sel := Selector(env)
	wait := absentFor(env)
	out := &alerts{env: env}
	for _, key := range upgrade.Running(env) {
		c := model.ComponentLabel(key)
		replicas := env.Components[key].Replicas
		out.add(Rule{
			Alert: "MilvusComponentAbsent",
			Expr:  fmt.Sprintf(`absent(up{%s, component=%q} == 1)`, sel, c),
			For:   wait,
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: no %s is up", env.Name, c),
				"description": fmt.Sprintf("None of the %d %s pods can be scraped, or none exists: every alert on its metrics is blind. kubectl -n %s get pods -l component=%s", replicas, c, env.Namespace, c),
			},
			Threshold: "no target up for " + wait, Source: "10 × monitoring.scrapeInterval, at least 5m",
		}, "critical", "component", c)
		out.add(Rule{
			Alert: "MilvusComponentTargetsBelowReplicas",
			Expr:  fmt.Sprintf(`(count(up{%s, component=%q} == 1) or vector(0)) < %d`, sel, c, replicas),
			For:   "30m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: {{ $value }} of %d %s pods scraped for 30 minutes", env.Name, replicas, c),
				"description": fmt.Sprintf("Fewer %s pods answer than the spec runs, for longer than a rollout takes. kubectl -n %s get pods -l component=%s", c, env.Namespace, c),
			},
			Threshold: fmt.Sprintf("< %d targets up for 30m", replicas), Source: "the spec's replicas",
		}, "warning", "component", c)
	}
	// The coordinators' node counts: the Missing and Degraded rules
	// compare them, and stay silent when the coordinator stops exporting.
	for _, n := range nodeCounts(env) {
		out.add(Rule{
			Alert: "MilvusNodeCountAbsent",
			Expr:  fmt.Sprintf(`absent(%s{%s})`, n.metric, sel),
			For:   "10m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: no coordinator reports %s", env.Name, n.metric),
				"description": fmt.Sprintf("The coordinator that counts %s exports nothing: the %sMissing and %sDegraded alerts cannot fire. Check the coordinator pod and its metrics.", n.what, "Milvus"+n.name, "Milvus"+n.name),
			},
			Threshold: "absent for 10m", Source: "ours",
		}, "critical", "metric", n.metric)
	}
	out.add(Rule{
		Alert: "MilvusKubeStateMetricsAbsent",
		Expr:  fmt.Sprintf(`absent(kube_pod_container_status_restarts_total{namespace=%q, pod=~%q})`, env.Namespace, PodPattern(env)),
		For:   "15m",
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("Milvus %s: kube-state-metrics reports nothing about the Milvus pods", env.Name),
			"description": fmt.Sprintf("The restart, memory and backup alerts read kube-state-metrics (%s in configmap mode): without it they are blind.", env.Monitoring.KubeStateMetrics),
		},
		Threshold: "absent for 15m", Source: "ours",
	}, "warning")
	for _, t := range env.MetricsTargets() {
		js := JobSelector(env, t)
		what := t.Dependency
		if t.Role != t.Dependency {
			what += " " + t.Role
		}
		out.add(Rule{
			Alert: "MilvusDependencyAbsent",
			Expr:  fmt.Sprintf(`absent(up{%s} == 1)`, js),
			For:   wait,
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: no %s pod is up", env.Name, what),
				"description": fmt.Sprintf("None of the %d %s pods can be scraped on %s (%d %s), or none exists: Milvus cannot work without it, and its alerts are blind.", t.Replicas, what, t.PortName, t.Port, t.Path),
			},
			Threshold: "no target up for " + wait, Source: "10 × monitoring.scrapeInterval, at least 5m",
		}, "critical", "job", t.Job)
		out.add(Rule{
			Alert: "MilvusDependencyTargetsBelowReplicas",
			Expr:  fmt.Sprintf(`(count(up{%s} == 1) or vector(0)) < %d`, js, t.Replicas),
			For:   "30m",
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Milvus %s: {{ $value }} of %d %s pods scraped for 30 minutes", env.Name, t.Replicas, what),
				"description": fmt.Sprintf("Fewer %s pods answer than the spec runs, for longer than a rollout takes. kubectl -n %s get pods -l %s", what, env.Namespace, selectorString(t.Pods)),
			},
			Threshold: fmt.Sprintf("< %d targets up for 30m", t.Replicas), Source: "the spec's replicas",
		}, "warning", "job", t.Job)
	}
	return out.rules
}

// absentFor is how long a target may be missing before its absence
// alerts: ten scrapes, at least five minutes.
func absentFor(env *model.Environment) string {
	d, err := time.ParseDuration(env.Monitoring.ScrapeInterval)
	if err != nil || 10*d < 5*time.Minute {
		return "5m"
	}
	return promDuration(10 * d)
}

// promDuration prints a duration as Prometheus writes one (1h30m, 5m).
func promDuration(d time.Duration) string {
	s := ""
	if h := d / time.Hour; h > 0 {
		s += fmt.Sprintf("%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		s += fmt.Sprintf("%dm", m)
		d -= m * time.Minute
	}
	if sec := d / time.Second; sec > 0 || s == "" {
		s += fmt.Sprintf("%ds", sec)
	}
	return s
}
