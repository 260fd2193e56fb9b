package delivery

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// Patch is an RFC 6902 patch of the objects a chart renders, for what its
// values cannot say. Flux applies it as a HelmRelease post-renderer; Argo
// CD, which cannot post-render a Helm source, through a kustomization that
// inflates the chart (helmCharts) and patches it the same way.
type Patch struct {
	// Patch is the JSON patch, as YAML.
	Patch string
	// Kind (apps/v1) and LabelSelector choose the objects.
	Kind          string
	LabelSelector string
}

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// releasePatches are the patches of a release: the termination grace
// period of every Milvus Deployment (the chart has no key for it) and the
// zone spread of the StatefulSets of charts without a key for it.
func releasePatches(env *model.Environment, r Release) ([]Patch, error) {
	var out []Patch
	if g := env.Availability.TerminationGracePeriodSeconds; g != nil && r.Name == env.Release {
		p, err := yaml.Marshal([]jsonPatchOp{{Op: "add", Path: "/spec/template/spec/terminationGracePeriodSeconds", Value: *g}})
		if err != nil {
			return nil, err
		}
		out = append(out, Patch{Patch: string(p), Kind: "Deployment",
			LabelSelector: "app.kubernetes.io/name=milvus,app.kubernetes.io/instance=" + env.Release})
	}
	for _, sel := range r.ZoneSpread {
		p, err := yaml.Marshal([]jsonPatchOp{{
			Op: "add", Path: "/spec/template/spec/topologySpreadConstraints",
			Value: []corev1.TopologySpreadConstraint{generators.ZoneSpread(r.ZoneLabel, sel, corev1.DoNotSchedule)},
		}})
		if err != nil {
			return nil, err
		}
		out = append(out, Patch{Patch: string(p), Kind: "StatefulSet", LabelSelector: labels.SelectorFromSet(sel).String()})
	}
	return out, nil
}
