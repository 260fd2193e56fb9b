package monitoring

import (
	"regexp"
	"sort"

	"github.com/milvus-gitops/milvusgen/model"
)

// RuleFileName is the rule file next to prometheus.yml.
const RuleFileName = "milvus-alerts.yml"

// Config is the part of prometheus.yml we write.
type Config struct {
	Global        Global         `json:"global"`
	RuleFiles     []string       `json:"rule_files"`
	ScrapeConfigs []ScrapeConfig `json:"scrape_configs"`
}

// Global is the global section.
type Global struct {
	ScrapeInterval     string `json:"scrape_interval"`
	EvaluationInterval string `json:"evaluation_interval"`
}

// ScrapeConfig is one scrape job.
type ScrapeConfig struct {
	JobName             string               `json:"job_name"`
	HonorLabels         bool                 `json:"honor_labels,omitempty"`
	MetricsPath         string               `json:"metrics_path,omitempty"`
	KubernetesSDConfigs []KubernetesSDConfig `json:"kubernetes_sd_configs,omitempty"`
	StaticConfigs       []StaticConfig       `json:"static_configs,omitempty"`
	RelabelConfigs      []RelabelConfig      `json:"relabel_configs,omitempty"`
}

// KubernetesSDConfig discovers targets from the Kubernetes API.
type KubernetesSDConfig struct {
	Role       string     `json:"role"`
	Namespaces Namespaces `json:"namespaces"`
}

// Namespaces restricts discovery.
type Namespaces struct {
	Names []string `json:"names"`
}

// StaticConfig is a fixed target list.
type StaticConfig struct {
	Targets []string `json:"targets"`
}

// RelabelConfig is one relabelling step.
type RelabelConfig struct {
	SourceLabels []string `json:"source_labels,omitempty"`
	Action       string   `json:"action,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	TargetLabel  string   `json:"target_label,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
}

// Relabelings keep the Milvus pods of this release on their "metrics"
// port and give every series the labels the Milvus dashboards filter on.
// The PodMonitor carries the same steps.
func Relabelings(env *model.Environment) []RelabelConfig {
	keep := func(label, value string) RelabelConfig {
		return RelabelConfig{SourceLabels: []string{label}, Action: "keep", Regex: value}
	}
	copyTo := func(from, to string) RelabelConfig {
		return RelabelConfig{SourceLabels: []string{from}, Action: "replace", TargetLabel: to}
	}
	return []RelabelConfig{
		// An evicted or completed pod keeps its IP for a while: scraping it
		// would report a target down until the object is deleted.
		{SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Action: "drop", Regex: "Pending|Succeeded|Failed"},
		keep("__meta_kubernetes_pod_label_app_kubernetes_io_instance", env.Release),
		keep("__meta_kubernetes_pod_label_app_kubernetes_io_name", "milvus"),
		keep("__meta_kubernetes_pod_container_port_name", "metrics"),
		copyTo("__meta_kubernetes_namespace", "namespace"),
		copyTo("__meta_kubernetes_pod_name", "pod"),
		copyTo("__meta_kubernetes_pod_label_app_kubernetes_io_name", "app_kubernetes_io_name"),
		copyTo("__meta_kubernetes_pod_label_app_kubernetes_io_instance", "app_kubernetes_io_instance"),
		copyTo("__meta_kubernetes_pod_label_component", "component"),
		// The official Milvus dashboard's $component variable reads this one.
		copyTo("__meta_kubernetes_pod_label_component", "app_kubernetes_io_component"),
	}
}

// PrometheusConfig is prometheus.yml for a Prometheus that scrapes this
// environment's Milvus, and kube-state-metrics for the pod and CronJob
// alerts.
func PrometheusConfig(env *model.Environment) Config {
	m := env.Monitoring
	return Config{
		Global:    Global{ScrapeInterval: m.ScrapeInterval, EvaluationInterval: m.EvaluationInterval},
		RuleFiles: []string{RuleFileName},
		ScrapeConfigs: append([]ScrapeConfig{
			{
				JobName:             "milvus-" + env.Name,
				MetricsPath:         "/metrics",
				KubernetesSDConfigs: []KubernetesSDConfig{{Role: "pod", Namespaces: Namespaces{Names: []string{env.Namespace}}}},
				RelabelConfigs:      Relabelings(env),
			},
			{
				// kube-state-metrics labels its series with the namespace
				// and pod they describe: keep those, not its own.
				JobName:       "kube-state-metrics",
				HonorLabels:   true,
				StaticConfigs: []StaticConfig{{Targets: []string{m.KubeStateMetrics}}},
			},
		}, dependencyScrapeConfigs(env)...),
	}
}

// dependencyScrapeConfigs scrape each managed dependency's member set as
// its own job (the job label the dependency rules select).
func dependencyScrapeConfigs(env *model.Environment) []ScrapeConfig {
	var out []ScrapeConfig
	for _, t := range env.MetricsTargets() {
		out = append(out, ScrapeConfig{
			JobName:             t.Job,
			MetricsPath:         t.Path,
			KubernetesSDConfigs: []KubernetesSDConfig{{Role: "pod", Namespaces: Namespaces{Names: []string{env.Namespace}}}},
			RelabelConfigs:      TargetRelabelings(t),
		})
	}
	return out
}

// TargetRelabelings keep a dependency's member set on its metrics port
// and label the series with namespace and pod.
func TargetRelabelings(t model.MetricsTarget) []RelabelConfig {
	out := []RelabelConfig{
		{SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Action: "drop", Regex: "Pending|Succeeded|Failed"},
	}
	keys := make([]string, 0, len(t.Pods))
	for k := range t.Pods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, RelabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_label_" + sanitize(k)}, Action: "keep", Regex: t.Pods[k]})
	}
	return append(out,
		RelabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_container_port_name"}, Action: "keep", Regex: t.PortName},
		RelabelConfig{SourceLabels: []string{"__meta_kubernetes_namespace"}, Action: "replace", TargetLabel: "namespace"},
		RelabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_name"}, Action: "replace", TargetLabel: "pod"},
	)
}

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// sanitize turns a Kubernetes label key into the name Prometheus'
// discovery gives it (every other character becomes "_").
func sanitize(k string) string { return invalidLabelChars.ReplaceAllString(k, "_") }
