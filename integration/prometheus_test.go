package integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/generators/backup"
	"github.com/milvus-gitops/milvusgen/generators/monitoring"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
)

// shippedRules reads the alert rules as they ship: from the rendered
// ConfigMap, or the rendered PrometheusRule. It also returns prometheus.yml
// when the ConfigMap carries one.
func shippedRules(t *testing.T, r rendered) (monitoring.RuleFile, []byte) {
	t.Helper()
	switch r.Env.Monitoring.Mode {
	case "configmap":
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(r.Files[fmt.Sprintf("configmap-%s-prometheus.yaml", r.Env.Release)], &cm); err != nil {
			t.Fatal(err)
		}
		var rf monitoring.RuleFile
		if err := yaml.UnmarshalStrict([]byte(cm.Data[monitoring.RuleFileName]), &rf); err != nil {
			t.Fatal(err)
		}
		return rf, []byte(cm.Data["prometheus.yml"])
	case "operator":
		var pr monv1.PrometheusRule
		if err := yaml.UnmarshalStrict(r.Files[fmt.Sprintf("prometheusrule-%s.yaml", r.Env.Release)], &pr); err != nil {
			t.Fatal(err)
		}
		var rf monitoring.RuleFile
		for _, g := range pr.Spec.Groups {
			rg := monitoring.RuleGroup{Name: g.Name}
			for _, rule := range g.Rules {
				mr := monitoring.Rule{Alert: rule.Alert, Expr: rule.Expr.String(), Labels: rule.Labels, Annotations: rule.Annotations}
				if rule.For != nil {
					mr.For = string(*rule.For)
				}
				rg.Rules = append(rg.Rules, mr)
			}
			rf.Groups = append(rf.Groups, rg)
		}
		return rf, nil
	}
	return monitoring.RuleFile{}, nil
}

// TestPromtool runs the real promtool: check config on prometheus.yml,
// check rules on the alert rules, and unit tests with input series that
// make each alert fire and not fire.
func TestPromtool(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	tested := 0
	for name, r := range renderAll(t) {
		if r.Env.Monitoring.Mode == "none" {
			continue
		}
		tested++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rules, config := shippedRules(t, r)
			dir := t.TempDir()
			rb, err := yaml.Marshal(rules)
			if err != nil {
				t.Fatal(err)
			}
			write(t, dir, monitoring.RuleFileName, rb)
			if config != nil {
				write(t, dir, "prometheus.yml", config)
				run(t, promtool, "check", "config", filepath.Join(dir, "prometheus.yml"))
			}
			run(t, promtool, "check", "rules", filepath.Join(dir, monitoring.RuleFileName))

			tests, covered := ruleTests(r.Env, rules)
			var names []string
			for _, g := range rules.Groups {
				for _, rule := range g.Rules {
					if !covered[keyOf(rule)] {
						t.Errorf("alert %s has no unit test", keyOf(rule))
						continue
					}
					names = append(names, keyOf(rule))
				}
			}
			// Groups over days (the backup's) are evaluated hourly: at the
			// minute they would take promtool a quarter of a minute each.
			args := []string{"test", "rules"}
			for _, every := range []string{"1m", "1h"} {
				tf := testFile{RuleFiles: tests.RuleFiles, EvaluationInterval: every}
				for _, g := range tests.Tests {
					if g.Interval == every {
						tf.Tests = append(tf.Tests, g)
					}
				}
				if len(tf.Tests) == 0 {
					continue
				}
				tb, err := yaml.Marshal(tf)
				if err != nil {
					t.Fatal(err)
				}
				write(t, dir, "tests-"+every+".yml", tb)
				args = append(args, filepath.Join(dir, "tests-"+every+".yml"))
			}
			out := run(t, promtool, args...)
			if !strings.Contains(string(out), "SUCCESS") {
				t.Errorf("promtool test rules:\n%s", out)
			}
			t.Logf("%d alerts unit-tested: %s", len(names), strings.Join(names, ", "))
		})
	}
	if tested == 0 {
		t.Fatal("no environment renders alert rules")
	}
}

// TestDashboardQueriesParse feeds every dashboard query to promtool as a
// recording rule, so a PromQL typo in a panel fails here.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	for name, r := range renderAll(t) {
		if !r.Env.Monitoring.Dashboard {
			continue
		}
		d := monitoring.BuildDashboard(r.Env)
		var rules []map[string]string
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:panel%d:%s", p.ID, strings.ToLower(tg.RefID)), "expr": tg.Expr})
			}
		}
		b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		write(t, dir, "dashboard.yml", b)
		run(t, promtool, "check", "rules", filepath.Join(dir, "dashboard.yml"))
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(r.Files[fmt.Sprintf("configmap-%s-dashboard.yaml", r.Env.Release)], &cm); err != nil {
			t.Fatal(err)
		}
		if cm.Labels["grafana_dashboard"] != "1" || len(cm.Data) != 1 {
			t.Errorf("%s: dashboard ConfigMap not labelled for the Grafana sidecar: %v", name, cm.Labels)
		}
	}
}

func write(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// promtool unit test file format.
type testFile struct {
	RuleFiles          []string    `json:"rule_files"`
	EvaluationInterval string      `json:"evaluation_interval"`
	Tests              []testGroup `json:"tests"`
}

type testGroup struct {
	Name          string          `json:"name"`
	Interval      string          `json:"interval"`
	InputSeries   []series        `json:"input_series"`
	AlertRuleTest []alertRuleTest `json:"alert_rule_test"`
}

type series struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type alertRuleTest struct {
	EvalTime  string     `json:"eval_time"`
	Alertname string     `json:"alertname"`
	ExpAlerts []expAlert `json:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `json:"exp_labels"`
	ExpAnnotations map[string]string `json:"exp_annotations"`
}

// scenario makes one alert fire (and another input keeps it quiet).
type scenario struct {
	alert       string
	interval    string
	evalTime    string
	fire, quiet []series
	// seriesLabels are the labels of the firing series that the
	// expression keeps (none after an aggregation).
	seriesLabels map[string]string
	// value is $value when it fires.
	value float64
	// match are the labels that tell the rule apart from others of the
	// same alert name (component, job, metric).
	match map[string]string
}

// ruleKey names one rule: its alert and the labels in match.
func ruleKey(alert string, match map[string]string) string {
	keys := make([]string, 0, len(match))
	for k := range match {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(alert)
	for _, k := range keys {
		fmt.Fprintf(&b, ",%s=%s", k, match[k])
	}
	return b.String()
}

// distinguishing are the rule labels that tell rules of one alert name
// apart.
var distinguishing = []string{"component", "job", "metric"}

func keyOf(r monitoring.Rule) string {
	match := map[string]string{}
	for _, k := range distinguishing {
		if v, ok := r.Labels[k]; ok {
			match[k] = v
		}
	}
	return ruleKey(r.Alert, match)
}

func ruleTests(env *model.Environment, rules monitoring.RuleFile) (testFile, map[string]bool) {
	sel := fmt.Sprintf(`namespace=%q,app_kubernetes_io_instance=%q,app_kubernetes_io_name="milvus"`, env.Namespace, env.Release)
	m := func(name, extra string) string {
		if extra != "" {
			return fmt.Sprintf("%s{%s,%s}", name, sel, extra)
		}
		return fmt.Sprintf("%s{%s}", name, sel)
	}
	histogram := func(name, extra string, threshold float64, fire bool) ([]series, float64) {
		return histogramSeries(func(labels string) string { return m(name, labels) }, extra, threshold, fire)
	}
	searchFire, searchP99 := histogram("milvus_proxy_sq_latency_bucket", `query_type="search"`, env.SLO.SearchP99Ms, true)
	searchQuiet, _ := histogram("milvus_proxy_sq_latency_bucket", `query_type="search"`, env.SLO.SearchP99Ms, false)
	insertFire, insertP99 := histogram("milvus_proxy_mutation_latency_bucket", `msg_type="insert"`, env.SLO.InsertP99Ms, true)
	insertQuiet, _ := histogram("milvus_proxy_mutation_latency_bucket", `msg_type="insert"`, env.SLO.InsertP99Ms, false)
	failRatio := math.Min(0.5, env.SLO.ErrorRatio*10)
	lag := env.Monitoring.Alerts.ConsumerLagSeconds * 1000
	pod := env.ChartFullname() + "-querynode-5d8f7-abcde"
	otherPod := env.ChartFullname() + "-tools-5d8f7-abcde" // same prefix, not a Milvus component

	scenarios := []scenario{
		{alert: "MilvusSearchLatencyHigh", fire: searchFire, quiet: searchQuiet, value: searchP99},
		{alert: "MilvusInsertLatencyHigh", fire: insertFire, quiet: insertQuiet, value: insertP99},
		{
			alert: "MilvusRequestFailuresHigh",
			fire: []series{
				{m("milvus_proxy_req_count", `function_name="Search",status="total"`), "0+1000x30"},
				{m("milvus_proxy_req_count", `function_name="Search",status="fail"`), fmt.Sprintf("0+%sx30", num(1000*failRatio))},
			},
			quiet: []series{
				{m("milvus_proxy_req_count", `function_name="Search",status="total"`), "0+1000x30"},
				{m("milvus_proxy_req_count", `function_name="Search",status="fail"`), "0+0x30"},
			},
			value: failRatio,
		},
		{alert: "MilvusWritesDenied", fire: []series{{m("milvus_rootcoord_force_deny_writing_counter", ""), "0+1x30"}}, quiet: []series{{m("milvus_rootcoord_force_deny_writing_counter", ""), "3+0x30"}}},
		{alert: "MilvusConsumerLagHigh", fire: []series{{m("milvus_querynode_consume_tt_lag_ms", `node_id="7"`), fmt.Sprintf("%sx30", num(lag*2))}}, quiet: []series{{m("milvus_datanode_consume_tt_lag_ms", `node_id="8"`), fmt.Sprintf("%sx30", num(lag/2))}}, value: lag * 2},
		{
			alert:        "MilvusTargetDown",
			fire:         []series{{m("up", fmt.Sprintf(`job="milvus",pod=%q,component="querynode"`, pod)), "0x30"}},
			quiet:        []series{{m("up", fmt.Sprintf(`job="milvus",pod=%q,component="querynode"`, pod)), "1x30"}},
			seriesLabels: labelMap(sel + fmt.Sprintf(`,job="milvus",pod=%q,component="querynode"`, pod)),
		},
		{
			alert: "MilvusPodRestarting",
			fire:  []series{{fmt.Sprintf(`kube_pod_container_status_restarts_total{namespace=%q,pod=%q,container="querynode"}`, env.Namespace, pod), "0+1x40"}},
			quiet: []series{
				{fmt.Sprintf(`kube_pod_container_status_restarts_total{namespace=%q,pod=%q,container="querynode"}`, env.Namespace, pod), "2+0x40"},
				{fmt.Sprintf(`kube_pod_container_status_restarts_total{namespace=%q,pod=%q,container="tools"}`, env.Namespace, otherPod), "0+1x40"},
			},
			seriesLabels: map[string]string{"namespace": env.Namespace, "pod": pod, "container": "querynode"},
			evalTime:     "40m",
		},
	}
	queryNodes := float64(env.Components["queryNode"].Replicas)
	if sn, ok := env.Components["streamingNode"]; ok {
		queryNodes += float64(sn.Replicas) // 2.6: streaming nodes embed a query node
	}
	for _, n := range []struct {
		name, metric string
		want         float64
	}{
		{"QueryNodes", "milvus_querycoord_querynode_num", queryNodes},
		{"DataNodes", "milvus_datacoord_datanode_num", float64(env.Components["dataNode"].Replicas)},
		{"Proxies", "milvus_rootcoord_proxy_num", float64(env.Components["proxy"].Replicas)},
	} {
		floor := n.want - float64(env.Availability.MaxUnavailable)
		if floor > 0 {
			// Below the floor: critical after 5m; one short is not.
			scenarios = append(scenarios, scenario{
				alert: "Milvus" + n.name + "Missing",
				fire:  []series{{m(n.metric, ""), fmt.Sprintf("%sx30", num(floor-1))}},
				quiet: []series{{m(n.metric, ""), fmt.Sprintf("%sx30", num(floor))}},
				value: floor - 1,
			})
		}
		// One short for longer than a rollout: a warning after 30m, not before.
		scenarios = append(scenarios, scenario{
			alert: "Milvus" + n.name + "Degraded", evalTime: "45m",
			fire:  []series{{m(n.metric, ""), fmt.Sprintf("%sx50", num(n.want-1))}},
			quiet: []series{{m(n.metric, ""), fmt.Sprintf("%sx20 %sx30", num(n.want-1), num(n.want))}},
			value: n.want - 1,
		})
	}
	if env.Backup.Enabled {
		cron := map[string]string{"namespace": env.Namespace, "cronjob": backup.CronJobName(env)}
		cronSel := fmt.Sprintf(`namespace=%q,cronjob=%q`, env.Namespace, backup.CronJobName(env))
		stale := float64(env.Backup.StaleAfterHours * 3600)
		eval := stale + 3600
		scenarios = append(scenarios,
			scenario{
				alert: "MilvusBackupStale", interval: "1h", evalTime: fmt.Sprintf("%dh", env.Backup.StaleAfterHours+1),
				fire:         []series{{"kube_cronjob_status_last_successful_time{" + cronSel + "}", fmt.Sprintf("0x%d", env.Backup.StaleAfterHours+2)}},
				quiet:        []series{{"kube_cronjob_status_last_successful_time{" + cronSel + "}", fmt.Sprintf("%sx%d", num(eval-3600), env.Backup.StaleAfterHours+2)}},
				seriesLabels: cron, value: eval,
			},
			scenario{
				alert: "MilvusBackupNeverSucceeded", interval: "1h", evalTime: fmt.Sprintf("%dh", env.Backup.StaleAfterHours+1),
				fire: []series{{"kube_cronjob_created{" + cronSel + "}", fmt.Sprintf("0x%d", env.Backup.StaleAfterHours+2)}},
				quiet: []series{
					{"kube_cronjob_created{" + cronSel + "}", fmt.Sprintf("0x%d", env.Backup.StaleAfterHours+2)},
					{"kube_cronjob_status_last_successful_time{" + cronSel + "}", fmt.Sprintf("%sx%d", num(eval-3600), env.Backup.StaleAfterHours+2)},
				},
				seriesLabels: cron,
			},
		)
	}

	scenarios = append(scenarios, healthScenarios(env, m, histogram)...)
	scenarios = append(scenarios, absenceScenarios(env, sel, m)...)
	scenarios = append(scenarios, dependencyScenarios(env)...)

	byKey := map[string]monitoring.Rule{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			byKey[keyOf(r)] = r
		}
	}
	// An alert name shared by several rules (one per component, job or
	// metric) is tested one rule at a time: the others' quiet input keeps
	// them quiet in that test.
	siblings := map[string][]series{}
	for _, s := range scenarios {
		if _, ok := byKey[ruleKey(s.alert, s.match)]; ok && len(s.match) > 0 {
			siblings[s.alert] = append(siblings[s.alert], s.quiet...)
		}
	}
	others := func(s scenario) []series {
		var out []series
		own := map[string]bool{}
		for _, x := range append(append([]series{}, s.fire...), s.quiet...) {
			own[x.Series] = true
		}
		for _, x := range siblings[s.alert] {
			if !own[x.Series] {
				out = append(out, x)
				own[x.Series] = true
			}
		}
		return out
	}
	tf := testFile{RuleFiles: []string{monitoring.RuleFileName}, EvaluationInterval: "1m"}
	covered := map[string]bool{}
	for _, s := range scenarios {
		rule, ok := byKey[ruleKey(s.alert, s.match)]
		if !ok {
			continue
		}
		covered[ruleKey(s.alert, s.match)] = true
		interval, eval := s.interval, s.evalTime
		if interval == "" {
			interval = "1m"
		}
		if eval == "" {
			eval = "25m"
		}
		labels := map[string]string{}
		for k, v := range s.seriesLabels {
			labels[k] = v
		}
		for k, v := range rule.Labels {
			labels[k] = v
		}
		annotations := map[string]string{}
		for k, v := range rule.Annotations {
			annotations[k] = expand(v, s.value, labels)
		}
		tf.Tests = append(tf.Tests,
			testGroup{Name: ruleKey(s.alert, s.match) + " fires", Interval: interval, InputSeries: append(s.fire, others(s)...),
				AlertRuleTest: []alertRuleTest{{EvalTime: eval, Alertname: s.alert, ExpAlerts: []expAlert{{ExpLabels: labels, ExpAnnotations: annotations}}}}},
			testGroup{Name: ruleKey(s.alert, s.match) + " stays quiet", Interval: interval, InputSeries: append(s.quiet, others(s)...),
				AlertRuleTest: []alertRuleTest{{EvalTime: eval, Alertname: s.alert, ExpAlerts: []expAlert{}}}},
		)
	}
	return tf, covered
}

// expand renders the template forms our annotations use, the way
// Prometheus' template functions do.
func expand(s string, value float64, labels map[string]string) string {
	r := []string{
		"{{ $value | humanizePercentage }}", fmt.Sprintf("%.4g%%", value*100),
		"{{ $value | humanizeDuration }}", humanizeDuration(value),
		"{{ $value | humanize1024 }}", humanize1024(value),
		"{{ $value | humanize }}", humanize(value),
		"{{ $value }}", fmt.Sprint(value),
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r = append(r, "{{ $labels."+k+" }}", labels[k])
	}
	return strings.NewReplacer(r...).Replace(s)
}

// scaleUp multiplies a value below 1 by 1000 until it reaches 1, and
// names the SI prefix that undoes it, as Prometheus' humanize functions do.
func scaleUp(v float64) (float64, string) {
	prefix := ""
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(v) >= 1 {
			break
		}
		prefix = p
		v *= 1000
	}
	return v, prefix
}

// scaleDown divides v by base until it is below base, naming the prefix.
func scaleDown(v, base float64, prefixes []string) (float64, string) {
	prefix := ""
	for _, p := range prefixes {
		if math.Abs(v) < base {
			break
		}
		prefix = p
		v /= base
	}
	return v, prefix
}

// humanize is Prometheus' template function: SI prefixes, four
// significant digits.
func humanize(v float64) string {
	if v == 0 {
		return fmt.Sprintf("%.4g", v)
	}
	if math.Abs(v) < 1 {
		v, p := scaleUp(v)
		return fmt.Sprintf("%.4g%s", v, p)
	}
	v, p := scaleDown(v, 1000, []string{"k", "M", "G", "T", "P", "E", "Z", "Y"})
	return fmt.Sprintf("%.4g%s", v, p)
}

func humanize1024(v float64) string {
	if math.Abs(v) < 1 {
		return fmt.Sprintf("%.4g", v)
	}
	v, p := scaleDown(v, 1024, []string{"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"})
	return fmt.Sprintf("%.4g%s", v, p)
}

// humanizeDuration is Prometheus' for whole seconds: leading zero units
// are left out.
func humanizeDuration(v float64) string {
	if v != 0 && math.Abs(v) < 1 {
		v, p := scaleUp(v)
		return fmt.Sprintf("%.4g%ss", v, p)
	}
	s := int64(v)
	d, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh %dm %ds", d, h, m, sec)
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	}
	return fmt.Sprintf("%.4gs", v)
}

func num(f float64) string { return fmt.Sprint(f) }

// labelMap parses `a="x",b="y"` into a map.
func labelMap(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = strings.Trim(v, `"`)
	}
	return out
}
