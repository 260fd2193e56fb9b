package integration

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

// TestScrapeTargetsExist renders every managed dependency through its real
// chart (and patches) and finds, for every metrics target the scrape
// config and PodMonitors select, pods with those labels that declare the
// named container port with that number: a wrong label or port name would
// leave a job without targets (and only the absence alert to say so).
func TestScrapeTargetsExist(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	depCharts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	checked := 0
	for name, r := range renderAll(t) {
		targets := r.Env.MetricsTargets()
		if len(targets) == 0 {
			continue
		}
		pods := everyPod(t, helm, shared, depCharts, r)
		for _, tg := range targets {
			sel := labels.SelectorFromSet(tg.Pods)
			found := 0
			for key, pod := range pods {
				if !sel.Matches(labels.Set(pod.Labels)) {
					continue
				}
				for _, c := range pod.Spec.Containers {
					for _, p := range c.Ports {
						if p.Name == tg.PortName {
							found++
							if p.ContainerPort != tg.Port {
								t.Errorf("%s: %s: %s/%s names port %s %d, the target says %d", name, tg.Job, key, c.Name, p.Name, p.ContainerPort, tg.Port)
							}
						}
					}
				}
			}
			if found == 0 {
				t.Errorf("%s: no pod matches %v with a container port named %q: job %s would have no targets", name, tg.Pods, tg.PortName, tg.Job)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no environment has a dependency to scrape")
	}
}
