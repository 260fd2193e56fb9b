package milvusmetrics

import (
	"strings"
	"testing"
)

// TestExtract reads the forms Milvus' pkg/metrics uses: literals,
// constants of another file, qualified role constants, concatenation,
// package-level string variables, and helpers that set Namespace and
// Subsystem themselves.
func TestExtract(t *testing.T) {
	files := map[string][]byte{
		"a.go": []byte(`package metrics
const (
	milvusNamespace = "milvus"
	nodeIDLabelName = "node_id"
)
var subsystemCGO = "cgo"
var (
	ProxySearchLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: milvusNamespace,
		Subsystem: typeutil.ProxyRole,
		Name:      "sq_" + "latency",
	}, []string{nodeIDLabelName, queryTypeLabelName})
	ForceDeny = prometheus.NewCounter(prometheus.CounterOpts{Namespace: milvusNamespace, Subsystem: typeutil.RootCoordRole, Name: "force_deny_writing_counter"})
	Futures = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: milvusNamespace, Subsystem: subsystemCGO, Name: "active_future_total"}, []string{nodeIDLabelName})
	Appended = newWALCounterVec(prometheus.CounterOpts{Name: "append_message_total"}, WALChannelLabelName)
)
func newWALCounterVec(opts prometheus.CounterOpts, extra ...string) *prometheus.CounterVec {
	opts.Namespace = milvusNamespace
	opts.Subsystem = "wal"
	return prometheus.NewCounterVec(opts, mergeLabel(extra...))
}
func mergeLabel(extra ...string) []string {
	labels := make([]string, 0, 1+len(extra))
	labels = append(labels, NodeIDLabelName)
	return append(labels, extra...)
}
func showcase(ns string) { prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "x"}) }
`),
		"b.go": []byte(`package metrics
const (
	queryTypeLabelName = "query_type"
	NodeIDLabelName = nodeIDLabelName
	WALChannelLabelName = "channel_name"
)
`),
	}
	fams, unresolved, err := Extract(files, map[string]string{"typeutil.ProxyRole": "proxy", "typeutil.RootCoordRole": "rootcoord"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fams {
		got = append(got, f.Line())
	}
	want := []string{
		"milvus_cgo_active_future_total gauge node_id",
		"milvus_proxy_sq_latency histogram node_id,query_type",
		"milvus_rootcoord_force_deny_writing_counter counter -",
		"milvus_wal_append_message_total counter channel_name,node_id",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(unresolved) != 1 || !strings.HasPrefix(unresolved[0], "a.go:") {
		t.Errorf("the showcase with a parameter as its namespace must be reported unresolved, got %v", unresolved)
	}
}

func TestLookup(t *testing.T) {
	for _, line := range []string{"2.5", "2.6"} {
		s, err := For(line)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s.Source, "v"+line+".") || s.Len() < 200 {
			t.Errorf("%s: source %q, %d families", line, s.Source, s.Len())
		}
		for series, want := range map[string]bool{
			"milvus_proxy_sq_latency_bucket": true,
			"milvus_proxy_sq_latency_count":  true,
			"milvus_proxy_sq_latency":        true,
			"milvus_proxy_req_count":         true,
			"milvus_proxy_req_count_bucket":  false, // a counter has no buckets
			"milvus_proxy_search_latency":    false,
		} {
			if _, got := s.Lookup(series); got != want {
				t.Errorf("%s: Lookup(%s) = %v, want %v", line, series, got, want)
			}
		}
		f, _ := s.Lookup("milvus_proxy_sq_latency_bucket")
		if !f.HasLabel("query_type") || !f.HasLabel("le") || f.HasLabel("msg_type") {
			t.Errorf("%s: labels of %s: %v", line, f.Name, f.Labels)
		}
	}
	// What changed between the lines, as Milvus' source says: 2.6 added
	// the streaming node's WAL flusher.
	s25, _ := For("2.5")
	s26, _ := For("2.6")
	if _, ok := s26.Lookup("milvus_wal_flusher_time_tick"); !ok {
		t.Error("2.6 exports milvus_wal_flusher_time_tick")
	}
	if _, ok := s25.Lookup("milvus_wal_flusher_time_tick"); ok {
		t.Error("2.5 has no WAL flusher")
	}
	if _, err := For("2.4"); err == nil {
		t.Error("no list for 2.4, but no error")
	}
}
