package monitoring

import (
	"fmt"

	"github.com/milvus-gitops/milvusgen/model"
)

// Dashboard is the subset of the Grafana dashboard JSON model we emit.
type Dashboard struct {
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	Tags          []string   `json:"tags"`
	Editable      bool       `json:"editable"`
	SchemaVersion int        `json:"schemaVersion"`
	Time          TimeRange  `json:"time"`
	Refresh       string     `json:"refresh"`
	Templating    Templating `json:"templating"`
	Panels        []Panel    `json:"panels"`
}

// TimeRange is the default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Templating holds the dashboard variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a dashboard variable (here: the Prometheus data source).
type Variable struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
	Query string `json:"query"`
}

// Panel is a time series panel.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	GridPos     GridPos     `json:"gridPos"`
	Datasource  Datasource  `json:"datasource"`
	FieldConfig FieldConfig `json:"fieldConfig"`
	Targets     []Target    `json:"targets"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Datasource refers to the data source variable.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// FieldConfig sets the unit and threshold lines.
type FieldConfig struct {
	Defaults FieldDefaults `json:"defaults"`
}

// FieldDefaults are the field defaults.
type FieldDefaults struct {
	Unit       string      `json:"unit"`
	Thresholds *Thresholds `json:"thresholds,omitempty"`
	Custom     *Custom     `json:"custom,omitempty"`
}

// Custom draws thresholds as lines.
type Custom struct {
	ThresholdsStyle ThresholdsStyle `json:"thresholdsStyle"`
}

// ThresholdsStyle is how thresholds are drawn.
type ThresholdsStyle struct {
	Mode string `json:"mode"`
}

// Thresholds are the SLO lines.
type Thresholds struct {
	Mode  string `json:"mode"`
	Steps []Step `json:"steps"`
}

// Step is one threshold.
type Step struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

// Target is one PromQL query.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
}

// BuildDashboard builds this environment's dashboard from the same metrics
// and thresholds as the alert rules.
func BuildDashboard(env *model.Environment) Dashboard {
	sel := Selector(env)
	ds := Datasource{Type: "prometheus", UID: "${datasource}"}
	slo := func(v float64) *Thresholds {
		return &Thresholds{Mode: "absolute", Steps: []Step{{Color: "green", Value: nil}, {Color: "red", Value: &v}}}
	}
	type spec struct {
		title, desc, unit string
		thresholds        *Thresholds
		targets           []Target
	}
	panels := []spec{
		{"Search and query QPS", "Successful requests per second at the proxies.", "reqps", nil, []Target{
			{Expr: fmt.Sprintf(`sum by (function_name) (rate(milvus_proxy_req_count{%s, status="success", function_name=~"Search|Query|HybridSearch"}[2m]))`, sel), LegendFormat: "{{function_name}}"},
		}},
		{"Search latency p99", "Against the SLO (red line).", "ms", slo(env.SLO.SearchP99Ms), []Target{
			{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_proxy_sq_latency_bucket{%s, query_type="search"}[5m])))`, sel), LegendFormat: "p99"},
			{Expr: fmt.Sprintf(`histogram_quantile(0.50, sum by (le) (rate(milvus_proxy_sq_latency_bucket{%s, query_type="search"}[5m])))`, sel), LegendFormat: "p50"},
		}},
		{"Insert latency p99", "Against the SLO (red line).", "ms", slo(env.SLO.InsertP99Ms), []Target{
			{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_proxy_mutation_latency_bucket{%s, msg_type="insert"}[5m])))`, sel), LegendFormat: "p99"},
		}},
		{"Request failure ratio", "Failed over total requests.", "percentunit", slo(env.SLO.ErrorRatio), []Target{
			{Expr: fmt.Sprintf(`sum(rate(milvus_proxy_req_count{%s, status="fail"}[5m])) / sum(rate(milvus_proxy_req_count{%s, status="total"}[5m]))`, sel, sel), LegendFormat: "failures"},
		}},
		{"Registered nodes", "Nodes known to the coordinators; the spec runs the replicas in the legend.", "short", nil, []Target{
			{Expr: fmt.Sprintf(`max(milvus_querycoord_querynode_num{%s})`, sel), LegendFormat: fmt.Sprintf("query nodes (spec %d)", env.Components["queryNode"].Replicas)},
			{Expr: fmt.Sprintf(`max(milvus_datacoord_datanode_num{%s})`, sel), LegendFormat: fmt.Sprintf("data nodes (spec %d)", env.Components["dataNode"].Replicas)},
			{Expr: fmt.Sprintf(`max(milvus_rootcoord_proxy_num{%s})`, sel), LegendFormat: fmt.Sprintf("proxies (spec %d)", env.Components["proxy"].Replicas)},
		}},
		{"Consumer time-tick lag", "How far query and data nodes are behind the message queue.", "ms", slo(env.Monitoring.Alerts.ConsumerLagSeconds * 1000), []Target{
			{Expr: fmt.Sprintf(`max by (component) ({__name__=~"milvus_(querynode|datanode)_consume_tt_lag_ms", %s})`, sel), LegendFormat: "{{component}}"},
		}},
		{"Pod restarts (30m)", "Container restarts of the Milvus pods (kube-state-metrics).", "short", nil, []Target{
			{Expr: fmt.Sprintf(`sum by (pod) (increase(kube_pod_container_status_restarts_total{namespace=%q, pod=~%q}[30m]))`, env.Namespace, PodPattern(env)), LegendFormat: "{{pod}}"},
		}},
		{"Scrape targets up", "Milvus pods Prometheus can scrape, by component.", "short", nil, []Target{
			{Expr: fmt.Sprintf(`sum by (component) (up{%s})`, sel), LegendFormat: "{{component}}"},
		}},
	}
	d := Dashboard{
		UID:           "milvus-" + env.Name,
		Title:         fmt.Sprintf("Milvus %s (%s)", env.Name, env.Namespace),
		Tags:          []string{"milvus", "milvusgen"},
		SchemaVersion: 39,
		Time:          TimeRange{From: "now-6h", To: "now"},
		Refresh:       "1m",
		Templating:    Templating{List: []Variable{{Name: "datasource", Label: "Prometheus", Type: "datasource", Query: "prometheus"}}},
	}
	for i, p := range panels {
		for j := range p.targets {
			p.targets[j].RefID = string(rune('A' + j))
		}
		fc := FieldConfig{Defaults: FieldDefaults{Unit: p.unit, Thresholds: p.thresholds}}
		if p.thresholds != nil {
			fc.Defaults.Custom = &Custom{ThresholdsStyle: ThresholdsStyle{Mode: "line"}}
		}
		d.Panels = append(d.Panels, Panel{
			ID: i + 1, Type: "timeseries", Title: p.title, Description: p.desc,
			GridPos:    GridPos{H: 8, W: 12, X: (i % 2) * 12, Y: (i / 2) * 8},
			Datasource: ds, FieldConfig: fc, Targets: p.targets,
		})
	}
	return d
}
