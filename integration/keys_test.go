package integration

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/milvuskeys"
)

// TestValuesKeysExistInChart checks every key path we emit against the
// default values.yaml of the pinned chart version. The chart ships no
// values schema and silently ignores unknown keys, so a typo such as
// `rootCoord` (the reference scenario's) would ship unnoticed.
//
// Below a default that is an empty map or list, or null, the chart passes
// the value through as free-form Kubernetes YAML (affinity, resources,
// extraEnv, annotations, ...): nothing further is checked there.
//
// A few keys are read by the chart's templates but missing from its
// values.yaml; they are listed here with the template that reads them, and
// the test checks that the template really does.
var undocumentedChartKeys = map[string]string{
	"image.all.pullSecrets":                   "templates/proxy-deployment.yaml",
	"streamingNode.topologySpreadConstraints": "templates/streamingnode-deployment.yaml",
}

func TestValuesKeysExistInChart(t *testing.T) {
	shared := testenv.Shared(t)
	for name, r := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(shared, "reference", fmt.Sprintf("milvus-chart-%s-values.yaml", r.Env.Milvus.Chart.Version))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var defaults, ours map[string]any
			if err := yaml.Unmarshal(b, &defaults); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(r.Values("values.yaml"), &ours); err != nil {
				t.Fatal(err)
			}
			var unknown []string
			walkKeys(defaults, ours, "", &unknown)
			sort.Strings(unknown)
			chart := filepath.Join(shared, "charts", fmt.Sprintf("milvus-%s.tgz", r.Env.Milvus.Chart.Version))
			for _, u := range unknown {
				tmpl, ok := undocumentedChartKeys[u]
				if ok && strings.Contains(chartFile(t, chart, "milvus/"+tmpl), ".Values."+u) {
					continue
				}
				t.Errorf("values key %s does not exist in chart %s", u, r.Env.Milvus.Chart.Version)
			}
		})
	}
}

// chartFile reads one file out of a packaged chart.
func chartFile(t *testing.T, tgz, name string) string {
	t.Helper()
	var content *string
	eachChartFile(t, tgz, func(n string, r io.Reader) bool {
		if n != name {
			return false
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		c := string(b)
		content = &c
		return true
	})
	if content == nil {
		t.Fatalf("%s: no %s", tgz, name)
	}
	return *content
}

func walkKeys(def, ours map[string]any, prefix string, unknown *[]string) {
	for k, v := range ours {
		path := strings.TrimPrefix(prefix+"."+k, ".")
		d, ok := def[k]
		if !ok {
			*unknown = append(*unknown, path)
			continue
		}
		dm, dIsMap := d.(map[string]any)
		om, oIsMap := v.(map[string]any)
		if dIsMap && len(dm) > 0 && oIsMap {
			walkKeys(dm, om, path, unknown)
		}
	}
}

// TestKeyCheckBites proves the walk reports what the reference scenario got
// wrong.
func TestKeyCheckBites(t *testing.T) {
	def := map[string]any{"rootCoordinator": map[string]any{"replicas": 1, "resources": map[string]any{}}}
	ours := map[string]any{
		"rootCoord":       map[string]any{"replicas": 1},
		"rootCoordinator": map[string]any{"replica": 2, "resources": map[string]any{"limits": map[string]any{"cpu": "1"}}},
	}
	var unknown []string
	walkKeys(def, ours, "", &unknown)
	sort.Strings(unknown)
	if strings.Join(unknown, ",") != "rootCoord,rootCoordinator.replica" {
		t.Errorf("got %v", unknown)
	}
}

// TestUserYAMLKeysExistInMilvus checks every key of the rendered user.yaml
// (what the schema derives and config.extra) against the keys the
// environment's Milvus version reads (package milvuskeys): Milvus ignores
// the others without a word.
func TestUserYAMLKeysExistInMilvus(t *testing.T) {
	for name, r := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			var values struct {
				ExtraConfigFiles map[string]string `json:"extraConfigFiles"`
			}
			if err := yaml.Unmarshal(r.Values("values.yaml"), &values); err != nil {
				t.Fatal(err)
			}
			var user map[string]any
			if err := yaml.Unmarshal([]byte(values.ExtraConfigFiles["user.yaml"]), &user); err != nil {
				t.Fatal(err)
			}
			known, err := milvuskeys.For(r.Env.Milvus.Line)
			if err != nil {
				t.Fatal(err)
			}
			keys := milvuskeys.Leaves(user)
			if len(keys) == 0 {
				t.Fatal("user.yaml has no keys")
			}
			for _, k := range keys {
				if !known.Known(k) {
					t.Errorf("user.yaml key %s: Milvus %s does not read it (%s)", k, r.Env.Milvus.Line, known.Source)
				}
			}
			t.Logf("%d keys, all read by Milvus %s", len(keys), r.Env.Milvus.Line)
		})
	}
}
