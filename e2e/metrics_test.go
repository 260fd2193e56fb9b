package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/milvus-gitops/milvusgen/generators/monitoring"
	"github.com/milvus-gitops/milvusgen/internal/promqlnames"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/milvusmetrics"
	"github.com/milvus-gitops/milvusgen/spec"
)

// notServedByTheTestServer are the Milvus metric families the rules and
// dashboards of a 2.5 environment use that the Milvus server of the
// tests (standalone 2.3.5, hack/milvus.sh) does not serve after the
// verifier's workload, each with the reason. Every other name must be
// served, with the type milvusmetrics records for 2.5 and the labels the
// queries match on: the check that our metric lists, generated from
// Milvus' source, agree with what a running Milvus exports, for the names
// that version shares.
var notServedByTheTestServer = map[string]string{
	// Added after 2.3: milvus-io/milvus #34960 (July 2024, 2.4.x).
	"milvus_rootcoord_force_deny_writing_counter": "added in 2.4 (#34960)",
	// Added under this name with the import metrics, milvus-io/milvus
	// #36519 (September 2024, 2.5).
	"milvus_datanode_flushed_data_rows": "added in 2.5 (#36519)",
}

// checkServedMetrics scrapes the running server's /metrics and holds the
// names our queries use to what it serves.
func checkServedMetrics(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	served, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	milvusServed := 0
	for name := range served {
		if strings.HasPrefix(name, "milvus_") {
			milvusServed++
		}
	}
	if milvusServed < 50 {
		t.Fatalf("%s serves only %d milvus_ families", url, milvusServed)
	}

	set, err := spec.Load(filepath.Join(testenv.RepoRoot(t), "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := milvusmetrics.For("2.5")
	if err != nil {
		t.Fatal(err)
	}
	type use struct {
		labels map[string]bool
		where  string
	}
	used := map[string]*use{} // family name -> labels matched on
	for _, name := range set.Names() {
		env, err := set.Environment(name)
		if err != nil {
			t.Fatal(err)
		}
		env.Milvus.Line = "2.5"
		env.Monitoring.Mode = "configmap"
		for where, expr := range monitoring.Expressions(env) {
			sels, err := promqlnames.Of(expr)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sels {
				if !strings.HasPrefix(s.Name, "milvus_") {
					continue
				}
				fam, ok := list.Lookup(s.Name)
				if !ok {
					t.Errorf("%s: %s is not a Milvus 2.5 metric", where, s.Name)
					continue
				}
				u := used[fam.Name]
				if u == nil {
					u = &use{labels: map[string]bool{}, where: name + ", " + where}
					used[fam.Name] = u
				}
				for _, l := range s.Labels {
					u.labels[l] = true
				}
			}
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	var missing []string
	for _, n := range names {
		mf, ok := served[n]
		if !ok {
			if _, known := notServedByTheTestServer[n]; !known {
				missing = append(missing, fmt.Sprintf("%s (used by %s)", n, used[n].where))
			}
			continue
		}
		fam, _ := list.Lookup(n)
		if got := strings.ToLower(mf.GetType().String()); got != fam.Type {
			t.Errorf("%s: served as a %s, listed as a %s", n, got, fam.Type)
		}
		have := map[string]bool{}
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				have[lp.GetName()] = true
			}
		}
		for l := range used[n].labels {
			if !have[l] && !slices.Contains(relabelled, l) && !(l == "le" && mf.GetType() == dto.MetricType_HISTOGRAM) {
				t.Errorf("%s: the queries match on %q, the server's series have %v", n, l, keys(have))
			}
		}
		t.Logf("served: %s (%s)", n, fam.Type)
	}
	if len(missing) > 0 {
		t.Errorf("Milvus 2.3.5 does not serve (add each to notServedByTheTestServer with the reason, or fix the query):\n  %s", strings.Join(missing, "\n  "))
	}
	for n := range notServedByTheTestServer {
		if _, ok := served[n]; ok {
			t.Errorf("%s is listed as not served but is served now: remove it from notServedByTheTestServer", n)
		}
	}
}

// relabelled are the labels scraping adds, not the server.
var relabelled = []string{"namespace", "pod", "job", "instance", "component",
	"app_kubernetes_io_instance", "app_kubernetes_io_name", "app_kubernetes_io_component"}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
