package monitoring_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/generators/monitoring"
	"github.com/milvus-gitops/milvusgen/internal/promqlnames"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/milvusmetrics"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/spec"
)

// targetLabels are the labels scraping adds to every series (the
// relabelling of prometheus.go and the PodMonitors), not the exporter.
var targetLabels = []string{"namespace", "pod", "job", "instance", "component",
	"app_kubernetes_io_instance", "app_kubernetes_io_name", "app_kubernetes_io_component"}

// exporters is the list of the other exporters' families.
func exporters(t *testing.T) *milvusmetrics.Set {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "exporters.metrics"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := milvusmetrics.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unknownNames lists the metric names and labels of a PromQL expression
// that the version's Milvus (milvus_*) or the exporters do not have.
func unknownNames(expr string, milvus, others *milvusmetrics.Set) ([]string, error) {
	sels, err := promqlnames.Of(expr)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, sel := range sels {
		if sel.Name == "" {
			bad = append(bad, fmt.Sprintf("%s: a selector without a metric name cannot be checked", sel.Text))
			continue
		}
		set := others
		if strings.HasPrefix(sel.Name, "milvus_") {
			set = milvus
		}
		fam, ok := set.Lookup(sel.Name)
		if !ok {
			bad = append(bad, sel.Name)
			continue
		}
		for _, l := range sel.Labels {
			if !slices.Contains(targetLabels, l) && !fam.HasLabel(l) {
				bad = append(bad, fmt.Sprintf("%s{%s} (its labels: %s)", sel.Name, l, strings.Join(fam.Labels, ",")))
			}
		}
	}
	return bad, nil
}

// expressions are every rule's and every dashboard panel's queries.
func expressions(env *model.Environment) map[string]string { return monitoring.Expressions(env) }

// TestMetricNamesExistForTheVersion: every metric name and label a rule or
// a panel uses exists in the Milvus version line the environment runs
// (Milvus' own pkg/metrics at the pinned release) or in the exporter it
// comes from. Each environment is also checked as if it ran the other
// version line, so a rule picks the name its line has.
func TestMetricNamesExistForTheVersion(t *testing.T) {
	set, err := spec.Load(filepath.Join(testenv.RepoRoot(t), "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	others := exporters(t)
	checked := 0
	for _, name := range set.Names() {
		env, err := set.Environment(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range milvusmetrics.Lines() {
			e := *env
			e.Milvus.Line = line
			e.Monitoring.Mode = "configmap" // every rule, also for dev
			milvus, err := milvusmetrics.For(line)
			if err != nil {
				t.Fatal(err)
			}
			for where, expr := range expressions(&e) {
				bad, err := unknownNames(expr, milvus, others)
				if err != nil {
					t.Errorf("%s on %s, %s: %v", name, line, where, err)
				}
				for _, b := range bad {
					t.Errorf("%s on Milvus %s, %s: unknown %s", name, line, where, b)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d expressions checked", checked)
	}
}

// TestUnknownNamesAreFound: the check finds a renamed metric, a label the
// metric does not have, and a histogram suffix on a counter.
func TestUnknownNamesAreFound(t *testing.T) {
	milvus, _ := milvusmetrics.For("2.6")
	others := exporters(t)
	for expr, want := range map[string]string{
		`rate(milvus_proxy_search_latency_bucket[5m])`:                "milvus_proxy_search_latency_bucket",
		`milvus_proxy_sq_latency_bucket{msg_type="insert"}`:           "milvus_proxy_sq_latency_bucket{msg_type}",
		`milvus_proxy_req_count_bucket`:                               "milvus_proxy_req_count_bucket",
		`etcd_server_has_leaders == 0`:                                "etcd_server_has_leaders",
		`max(milvus_wal_flusher_time_tick{namespace="x", pod="y"})`:   "",
		`{__name__=~"milvus_(querynode|datanode)_consume_tt_lag_ms"}`: "without a metric name",
	} {
		bad, err := unknownNames(expr, milvus, others)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(bad, "; ")
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want it to name %q", expr, got, want)
		}
	}
	// 2.5 has no WAL flusher.
	m25, _ := milvusmetrics.For("2.5")
	if bad, _ := unknownNames(`milvus_wal_flusher_time_tick`, m25, others); len(bad) != 1 {
		t.Errorf("2.5: %v", bad)
	}
}
