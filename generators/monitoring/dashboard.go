package monitoring

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Dashboard is the Grafana dashboard JSON model (schemaVersion 39) with
// the top-level fields an import expects; ID is null so that Grafana
// assigns one.
type Dashboard struct {
	ID            *int        `json:"id"`
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Tags          []string    `json:"tags"`
	Timezone      string      `json:"timezone"`
	Editable      bool        `json:"editable"`
	GraphTooltip  int         `json:"graphTooltip"`
	SchemaVersion int         `json:"schemaVersion"`
	Version       int         `json:"version"`
	Time          TimeRange   `json:"time"`
	Refresh       string      `json:"refresh"`
	Annotations   Annotations `json:"annotations"`
	Links         []any       `json:"links"`
	Templating    Templating  `json:"templating"`
	Panels        []Panel     `json:"panels"`
}

// Annotations are the dashboard's annotation queries (none).
type Annotations struct {
	List []any `json:"list"`
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

// Panel is a time series panel, or a row (Type "row") that heads the
// panels below it.
type Panel struct {
	ID          int           `json:"id"`
	Type        string        `json:"type"`
	Title       string        `json:"title"`
	Description string        `json:"description,omitempty"`
	GridPos     GridPos       `json:"gridPos"`
	Datasource  *Datasource   `json:"datasource,omitempty"`
	FieldConfig *FieldConfig  `json:"fieldConfig,omitempty"`
	Options     *PanelOptions `json:"options,omitempty"`
	Targets     []Target      `json:"targets,omitempty"`
	// Collapsed and Panels are a row's (its panels follow it in the
	// list while it is open).
	Collapsed *bool    `json:"collapsed,omitempty"`
	Panels    *[]Panel `json:"panels,omitempty"`
}

// PanelOptions are a time series panel's legend and tooltip.
type PanelOptions struct {
	Legend  Legend  `json:"legend"`
	Tooltip Tooltip `json:"tooltip"`
}

// Legend is where the series names go.
type Legend struct {
	DisplayMode string `json:"displayMode"`
	Placement   string `json:"placement"`
	ShowLegend  bool   `json:"showLegend"`
}

// Tooltip is the hover tooltip.
type Tooltip struct {
	Mode string `json:"mode"`
	Sort string `json:"sort"`
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
	Defaults  FieldDefaults `json:"defaults"`
	Overrides []any         `json:"overrides"`
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
	RefID        string      `json:"refId"`
	Datasource   *Datasource `json:"datasource,omitempty"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
}

// panelSpec is one panel before layout.
type panelSpec struct {
	title, desc, unit string
	thresholds        *Thresholds
	targets           []Target
}

// row is a titled group of panels.
type row struct {
	title  string
	panels []panelSpec
}

// DashboardUID is the dashboard's stable UID: Grafana allows 40
// characters of [A-Za-z0-9_-]; a longer environment name is cut and given
// a hash of the whole, so that two environments never share one.
func DashboardUID(env *model.Environment) string {
	uid := "milvus-" + env.Name
	if len(uid) <= 40 {
		return uid
	}
	sum := sha256.Sum256([]byte(env.Name))
	return uid[:31] + "-" + hex.EncodeToString(sum[:])[:8]
}

// BuildDashboard builds this environment's dashboard from the same metrics
// and thresholds as the alert rules: a row for Milvus and one for each
// managed dependency. It imports into Grafana as it is (the data source
// is a variable) and loads through the sidecar.
func BuildDashboard(env *model.Environment) Dashboard {
	rows := []row{{title: "Milvus", panels: milvusPanels(env)}}
	rows = append(rows, dependencyRows(env)...)
	d := Dashboard{
		UID:           DashboardUID(env),
		Title:         fmt.Sprintf("Milvus %s (%s)", env.Name, env.Namespace),
		Tags:          []string{"milvus", "milvusgen"},
		Editable:      true,
		Timezone:      "browser",
		GraphTooltip:  1,
		SchemaVersion: 39,
		Version:       1,
		Time:          TimeRange{From: "now-6h", To: "now"},
		Refresh:       "1m",
		Annotations:   Annotations{List: []any{}},
		Links:         []any{},
		Templating:    Templating{List: []Variable{{Name: "datasource", Label: "Prometheus", Type: "datasource", Query: "prometheus"}}},
	}
	ds := Datasource{Type: "prometheus", UID: "${datasource}"}
	id, y := 1, 0
	for _, r := range rows {
		open := false
		d.Panels = append(d.Panels, Panel{ID: id, Type: "row", Title: r.title, GridPos: GridPos{H: 1, W: 24, X: 0, Y: y}, Collapsed: &open, Panels: &[]Panel{}})
		id++
		y++
		for i, p := range r.panels {
			for j := range p.targets {
				p.targets[j].RefID = string(rune('A' + j))
				p.targets[j].Datasource = &ds
			}
			fc := FieldConfig{Defaults: FieldDefaults{Unit: p.unit, Thresholds: p.thresholds}, Overrides: []any{}}
			if p.thresholds != nil {
				fc.Defaults.Custom = &Custom{ThresholdsStyle: ThresholdsStyle{Mode: "line"}}
			}
			d.Panels = append(d.Panels, Panel{
				ID: id, Type: "timeseries", Title: p.title, Description: p.desc,
				GridPos:    GridPos{H: 8, W: 12, X: (i % 2) * 12, Y: y + (i/2)*8},
				Datasource: &ds, FieldConfig: &fc, Targets: p.targets, Options: &PanelOptions{Legend: Legend{DisplayMode: "list", Placement: "bottom", ShowLegend: true}, Tooltip: Tooltip{Mode: "multi", Sort: "none"}},
			})
			id++
		}
		y += (len(r.panels) + 1) / 2 * 8
	}
	return d
}

func slo(v float64) *Thresholds {
	return &Thresholds{Mode: "absolute", Steps: []Step{{Color: "green", Value: nil}, {Color: "red", Value: &v}}}
}

func milvusPanels(env *model.Environment) []panelSpec {
	sel := Selector(env)
	panels := []panelSpec{
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
			{Expr: fmt.Sprintf(`max(milvus_querynode_consume_tt_lag_ms{%s})`, sel), LegendFormat: "query nodes"},
			{Expr: fmt.Sprintf(`max(milvus_datanode_consume_tt_lag_ms{%s})`, sel), LegendFormat: "data nodes"},
		}},
		{"Channel checkpoint age", "Time since the oldest channel's data was synced to object storage.", "s", slo(3 * syncPeriodSeconds), []Target{
			{Expr: fmt.Sprintf(`time() - min(milvus_datacoord_channel_checkpoint_unix_seconds{%s})`, sel), LegendFormat: "oldest channel"},
		}},
		{"Memory against the limit", "Resident memory over the container's limit; Milvus throttles writes above 0.85 and refuses them above 0.95.", "percentunit", slo(memoryHighWaterLevel), []Target{
			{Expr: fmt.Sprintf(`max by (pod) (process_resident_memory_bytes{%s}) / on (pod) max by (pod) (kube_pod_container_resource_limits{namespace=%q, pod=~%q, resource="memory"})`, sel, env.Namespace, PodPattern(env)), LegendFormat: "{{pod}}"},
		}},
		{"Pod restarts (30m)", "Container restarts of the Milvus pods (kube-state-metrics).", "short", nil, []Target{
			{Expr: fmt.Sprintf(`sum by (pod) (increase(kube_pod_container_status_restarts_total{namespace=%q, pod=~%q}[30m]))`, env.Namespace, PodPattern(env)), LegendFormat: "{{pod}}"},
		}},
		{"Scrape targets up", "Milvus pods Prometheus can scrape, by component.", "short", nil, []Target{
			{Expr: fmt.Sprintf(`sum by (component) (up{%s})`, sel), LegendFormat: "{{component}}"},
		}},
	}
	if upgrade.MetricsLine(env) == "2.6" {
		panels = append(panels, panelSpec{"WAL append latency p99", "Streaming nodes' appends to the log, against the proxies' 200 ms time tick.", "s", slo(timeTickIntervalMs / 1000.0), []Target{
			{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_wal_append_message_duration_seconds_bucket{%s, status="ok"}[5m])))`, sel), LegendFormat: "p99"},
		}})
	} else {
		panels = append(panels, panelSpec{"Message queue send latency p99", "Milvus' producers waiting for the message queue, against the proxies' 200 ms time tick.", "ms", slo(timeTickIntervalMs), []Target{
			{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(milvus_msgstream_request_latency_bucket{%s, message_op_type="produce"}[5m])))`, sel), LegendFormat: "p99"},
		}})
	}
	return panels
}

// dependencyRows are a row per managed dependency: its targets up against
// the spec's replicas, and the figures its alerts compare.
func dependencyRows(env *model.Environment) []row {
	var rows []row
	var current *row
	for _, t := range env.MetricsTargets() {
		if current == nil || current.title != t.Dependency {
			rows = append(rows, row{title: t.Dependency})
			current = &rows[len(rows)-1]
		}
		js := JobSelector(env, t)
		what := t.Dependency
		if t.Role != t.Dependency {
			what += " " + t.Role
		}
		current.panels = append(current.panels, panelSpec{what + ": members up", fmt.Sprintf("Targets answering on %s; the spec runs %d.", t.PortName, t.Replicas), "short", nil, []Target{
			{Expr: fmt.Sprintf(`count(up{%s} == 1)`, js), LegendFormat: fmt.Sprintf("up (spec %d)", t.Replicas)},
		}})
		switch t.Dependency + "/" + t.Role {
		case "etcd/etcd":
			current.panels = append(current.panels,
				panelSpec{"etcd disk latency p99", "WAL fsync and backend commit (the mixin warns at 0.5 s and 0.25 s).", "s", nil, []Target{
					{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket{%s}[5m])))`, js), LegendFormat: "WAL fsync"},
					{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(etcd_disk_backend_commit_duration_seconds_bucket{%s}[5m])))`, js), LegendFormat: "backend commit"},
				}},
				panelSpec{"etcd database against its quota", "At the quota etcd refuses writes.", "percentunit", slo(0.95), []Target{
					{Expr: fmt.Sprintf(`max(etcd_mvcc_db_total_size_in_bytes{%s} / etcd_server_quota_backend_bytes{%s})`, js, js), LegendFormat: "used"},
				}},
				panelSpec{"etcd leader", "Members without a leader, and leader changes in 15 minutes.", "short", nil, []Target{
					{Expr: fmt.Sprintf(`count(etcd_server_has_leader{%s} == 0)`, js), LegendFormat: "members without leader"},
					{Expr: fmt.Sprintf(`max(increase(etcd_server_leader_changes_seen_total{%s}[15m]))`, js), LegendFormat: "leader changes (15m)"},
				}})
		case "minio/minio":
			current.panels = append(current.panels,
				panelSpec{"MinIO offline", "Servers and drives offline.", "short", nil, []Target{
					{Expr: fmt.Sprintf(`max(minio_cluster_nodes_offline_total{%s})`, js), LegendFormat: "servers"},
					{Expr: fmt.Sprintf(`max(minio_cluster_drive_offline_total{%s})`, js), LegendFormat: "drives"},
				}},
				panelSpec{"MinIO usable capacity free", "Milvus' binlogs, indexes and backups live here.", "percentunit", nil, []Target{
					{Expr: fmt.Sprintf(`max(minio_cluster_capacity_usable_free_bytes{%s}) / max(minio_cluster_capacity_usable_total_bytes{%s})`, js, js), LegendFormat: "free"},
				}})
		case "pulsar/broker":
			current.panels = append(current.panels, panelSpec{"Pulsar backlog", "Unacknowledged bytes of Milvus' subscriptions.", "bytes", nil, []Target{
				{Expr: fmt.Sprintf(`sum(pulsar_storage_backlog_size{%s})`, js), LegendFormat: "backlog"},
			}})
		case "pulsar/bookie":
			current.panels = append(current.panels,
				panelSpec{"Bookie add-entry latency p99", "Against the proxies' 200 ms time tick.", "ms", slo(timeTickIntervalMs), []Target{
					{Expr: fmt.Sprintf(`max by (pod) (bookkeeper_server_ADD_ENTRY_REQUEST{%s, success="true", quantile="0.99"})`, js), LegendFormat: "{{pod}}"},
				}},
				panelSpec{"Bookie status", "1 writable, 0 read-only, -1 unregistered.", "short", nil, []Target{
					{Expr: fmt.Sprintf(`bookie_SERVER_STATUS{%s}`, js), LegendFormat: "{{pod}}"},
				}})
		case "pulsar/zookeeper", "kafka/zookeeper":
			current.panels = append(current.panels, panelSpec{what + ": synced followers", fmt.Sprintf("Reported by the leader only; the spec runs %d followers.", t.Replicas-1), "short", nil, []Target{
				{Expr: fmt.Sprintf(`max(synced_followers{%s})`, js), LegendFormat: "synced followers"},
			}})
		case "kafka/kafka":
			current.panels = append(current.panels,
				panelSpec{"Kafka partitions", "Offline and under-replicated partitions, active controllers.", "short", nil, []Target{
					{Expr: fmt.Sprintf(`sum(kafka_controller_kafkacontroller_offlinepartitionscount_value{%s})`, js), LegendFormat: "offline"},
					{Expr: fmt.Sprintf(`sum(kafka_server_replicamanager_total_underreplicatedpartitions_value{%s})`, js), LegendFormat: "under-replicated"},
					{Expr: fmt.Sprintf(`sum(kafka_controller_kafkacontroller_activecontrollercount_value{%s})`, js), LegendFormat: "active controllers"},
				}},
				panelSpec{"Kafka ISR shrinks", "In-sync replica sets shrinking per second.", "short", nil, []Target{
					{Expr: fmt.Sprintf(`sum(rate(kafka_server_replicamanager_total_isrshrinkspersec_count{%s}[5m]))`, js), LegendFormat: "shrinks/s"},
				}})
		}
	}
	return rows
}

// Expressions are every alert rule's and every dashboard panel's PromQL
// query, by where they come from: what a test holds to the metric names
// the environment's Milvus version and exporters have.
func Expressions(env *model.Environment) map[string]string {
	out := map[string]string{}
	for _, g := range Rules(env).Groups {
		for i, r := range g.Rules {
			out[fmt.Sprintf("rule %s #%d (%s)", g.Name, i, r.Alert)] = r.Expr
		}
	}
	for _, p := range BuildDashboard(env).Panels {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %q %s", p.Title, tg.RefID)] = tg.Expr
		}
	}
	return out
}
