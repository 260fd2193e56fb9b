// Package monitoring generates Prometheus scraping and alerting for Milvus
// (a prometheus.yml ConfigMap, or Prometheus Operator objects, from one
// source of rules) and a Grafana dashboard ConfigMap.
package monitoring

import (
	"encoding/json"
	"fmt"

	"github.com/milvus-gitops/milvusgen/yamlenc"
	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// Objects returns the monitoring objects of the environment's mode, and
// the dashboard.
func Objects(env *model.Environment) ([]generators.Object, error) {
	var out []generators.Object
	switch env.Monitoring.Mode {
	case "configmap":
		cm, err := prometheusConfigMap(env)
		if err != nil {
			return nil, err
		}
		out = append(out, cm)
	case "operator":
		rule, err := prometheusRule(env)
		if err != nil {
			return nil, err
		}
		out = append(out, podMonitor(env), rule)
		for _, t := range env.MetricsTargets() {
			out = append(out, dependencyPodMonitor(env, t))
		}
	}
	if env.Monitoring.Dashboard {
		d, err := dashboardConfigMap(env)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func meta(env *model.Environment, name string, extra map[string]string) metav1.ObjectMeta {
	labels := generators.CommonLabels(env.Name, env.Release, env.Labels)
	for k, v := range extra {
		labels[k] = v
	}
	return metav1.ObjectMeta{Name: name, Namespace: env.Namespace, Labels: labels}
}

func prometheusConfigMap(env *model.Environment) (*corev1.ConfigMap, error) {
	cfg, err := yamlenc.Marshal(PrometheusConfig(env))
	if err != nil {
		return nil, err
	}
	rules, err := yamlenc.Marshal(Rules(env))
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(env, env.Release+"-prometheus", nil),
		Data:       map[string]string{"prometheus.yml": string(cfg), RuleFileName: string(rules)},
	}, nil
}

func podMonitor(env *model.Environment) *monv1.PodMonitor {
	var relabel []monv1.RelabelConfig
	for _, r := range Relabelings(env) {
		rc := monv1.RelabelConfig{Action: r.Action, Regex: r.Regex, TargetLabel: r.TargetLabel, Replacement: r.Replacement}
		for _, l := range r.SourceLabels {
			rc.SourceLabels = append(rc.SourceLabels, monv1.LabelName(l))
		}
		relabel = append(relabel, rc)
	}
	port := "metrics"
	path := "/metrics"
	interval := monv1.Duration(env.Monitoring.ScrapeInterval)
	return &monv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monv1.SchemeGroupVersion.String(), Kind: monv1.PodMonitorsKind},
		ObjectMeta: meta(env, env.Release, env.Monitoring.OperatorLabels),
		Spec: monv1.PodMonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{
				"app.kubernetes.io/name":     "milvus",
				"app.kubernetes.io/instance": env.Release,
			}},
			NamespaceSelector: monv1.NamespaceSelector{MatchNames: []string{env.Namespace}},
			PodMetricsEndpoints: []monv1.PodMetricsEndpoint{{
				Port:           &port,
				Path:           path,
				Interval:       interval,
				RelabelConfigs: relabel,
			}},
		},
	}
}

// dependencyPodMonitor scrapes one managed dependency's member set, with
// the job label its rules select (the operator's default would be
// <namespace>/<name>).
func dependencyPodMonitor(env *model.Environment, t model.MetricsTarget) *monv1.PodMonitor {
	port, job := t.PortName, t.Job
	relabel := []monv1.RelabelConfig{{Action: "replace", TargetLabel: "job", Replacement: &job}}
	return &monv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monv1.SchemeGroupVersion.String(), Kind: monv1.PodMonitorsKind},
		ObjectMeta: meta(env, t.Job, env.Monitoring.OperatorLabels),
		Spec: monv1.PodMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: t.Pods},
			NamespaceSelector: monv1.NamespaceSelector{MatchNames: []string{env.Namespace}},
			PodMetricsEndpoints: []monv1.PodMetricsEndpoint{{
				Port:           &port,
				Path:           t.Path,
				Interval:       monv1.Duration(env.Monitoring.ScrapeInterval),
				RelabelConfigs: relabel,
			}},
		},
	}
}

func prometheusRule(env *model.Environment) (*monv1.PrometheusRule, error) {
	var groups []monv1.RuleGroup
	for _, g := range Rules(env).Groups {
		rg := monv1.RuleGroup{Name: g.Name}
		for _, r := range g.Rules {
			rule := monv1.Rule{Alert: r.Alert, Expr: intstr.FromString(r.Expr), Labels: r.Labels, Annotations: r.Annotations}
			if r.For != "" {
				d := monv1.Duration(r.For)
				rule.For = &d
			}
			rg.Rules = append(rg.Rules, rule)
		}
		groups = append(groups, rg)
	}
	return &monv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monv1.SchemeGroupVersion.String(), Kind: monv1.PrometheusRuleKind},
		ObjectMeta: meta(env, env.Release, env.Monitoring.OperatorLabels),
		Spec:       monv1.PrometheusRuleSpec{Groups: groups},
	}, nil
}

func dashboardConfigMap(env *model.Environment) (*corev1.ConfigMap, error) {
	b, err := json.MarshalIndent(BuildDashboard(env), "", "  ")
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		// The Grafana sidecar loads ConfigMaps with this label.
		ObjectMeta: meta(env, env.Release+"-dashboard", map[string]string{"grafana_dashboard": "1"}),
		Data:       map[string]string{fmt.Sprintf("milvus-%s.json", env.Name): string(b) + "\n"},
	}, nil
}
