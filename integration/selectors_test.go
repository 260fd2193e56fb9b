package integration

import (
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
)

// TestAnalysisSelectorsMatchTheCharts renders every managed dependency of
// the committed environments, and prod with a managed Kafka, through its
// real chart and checks that each workload of the failure-domain analysis
// selects exactly as many pods (replicas of the matching StatefulSets and
// Deployments) as the analysis counts: a selector that matched nothing, or
// more than one workload, would make the simulated cluster's checks blind.
func TestAnalysisSelectorsMatchTheCharts(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	charts := extractChart(t, filepath.Join(testenv.Shared(t), "charts", "milvus-5.0.19.tgz"))
	type target struct {
		env   *model.Environment
		files render.FileSet
	}
	targets := map[string]target{}
	for name, r := range renderAll(t) {
		targets[name] = target{r.Env, r.Files}
	}
	env, files := prodWithManagedKafka(t)
	targets["prod-kafka"] = target{env, files}
	checked := map[string]bool{}
	for name, tg := range targets {
		t.Run(name, func(t *testing.T) {
			pods := map[string]int{} // dependency -> pod templates x replicas, by workload
			for _, w := range analysis.Workloads(tg.env) {
				if w.Dependency == "" {
					continue
				}
				c := templateDependency(t, helm, charts, w.Dependency, tg.env, tg.files["values-"+w.Dependency+".yaml"], "app")
				sel := labels.SelectorFromSet(w.Selector)
				n := 0
				for _, o := range c.all {
					var tmpl map[string]string
					replicas := int32(1)
					switch o.GetKind() {
					case "StatefulSet":
						var s appsv1.StatefulSet
						convert(t, o, &s)
						tmpl, replicas = s.Spec.Template.Labels, *s.Spec.Replicas
					case "Deployment":
						var d appsv1.Deployment
						convert(t, o, &d)
						tmpl = d.Spec.Template.Labels
						if d.Spec.Replicas != nil {
							replicas = *d.Spec.Replicas
						}
					default:
						continue
					}
					if sel.Matches(labels.Set(tmpl)) {
						n += int(replicas)
					}
				}
				if n != w.Replicas {
					t.Errorf("%s: selector %v matches %d pods of the %s chart, the analysis counts %d", w.Name, w.Selector, n, w.Dependency, w.Replicas)
				}
				pods[w.Name] = n
				checked[w.Dependency] = true
			}
			t.Logf("pods per workload: %v", pods)
		})
	}
	for _, d := range []string{"etcd", "minio", "pulsar", "kafka"} {
		if !checked[d] {
			t.Errorf("no environment has a managed %s: its selectors are unchecked", d)
		}
	}
}
