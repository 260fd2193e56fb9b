package integration

import (
	"fmt"
	"path/filepath"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

// TestFluxPostRendererSetsGracePeriod applies the HelmRelease's
// post-renderer patches to the real chart output the way helm-controller
// does (a kustomize build over the rendered manifests) and checks every
// Milvus Deployment gets the spec's terminationGracePeriodSeconds.
func TestFluxPostRendererSetsGracePeriod(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	tested := 0
	for name, r := range renderAll(t) {
		g := r.Env.Availability.TerminationGracePeriodSeconds
		if g == nil || r.Env.Delivery.Kind != "flux" {
			continue
		}
		tested++
		t.Run(name, func(t *testing.T) {
			var hr helmv2.HelmRelease
			if err := yaml.UnmarshalStrict(r.Files[fmt.Sprintf("helmrelease-%s.yaml", r.Env.Release)], &hr); err != nil {
				t.Fatal(err)
			}
			chart := filepath.Join(shared, "charts", fmt.Sprintf("milvus-%s.tgz", r.Env.Milvus.Chart.Version))
			stream := run(t, helm, "template", r.Env.Release, chart, "--namespace", r.Env.Namespace, "--kube-version", "v1.37.2", "--values", writeTemp(t, "values.yaml", r.Files["values.yaml"]))

			k := types.Kustomization{Resources: []string{"chart.yaml"}}
			for _, pr := range hr.Spec.PostRenderers {
				for _, p := range pr.Kustomize.Patches {
					k.Patches = append(k.Patches, types.Patch{Patch: p.Patch, Target: &types.Selector{
						ResId:         resIDSelector(p.Target.Group, p.Target.Version, p.Target.Kind),
						LabelSelector: p.Target.LabelSelector,
					}})
				}
			}
			kb, err := yaml.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			fs := filesys.MakeFsInMemory()
			_ = fs.WriteFile("/r/chart.yaml", stream)
			_ = fs.WriteFile("/r/kustomization.yaml", kb)
			res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/r")
			if err != nil {
				t.Fatal(err)
			}
			out, _ := res.AsYaml()
			n := 0
			for _, o := range decodeAll(t, out) {
				if o.GetKind() != "Deployment" {
					continue
				}
				var d appsv1.Deployment
				convert(t, o, &d)
				n++
				if got := d.Spec.Template.Spec.TerminationGracePeriodSeconds; got == nil || *got != *g {
					t.Errorf("%s: terminationGracePeriodSeconds %v, want %d", d.Name, got, *g)
				}
			}
			if n != len(r.Env.Components) {
				t.Errorf("patched %d Deployments, want %d", n, len(r.Env.Components))
			}
		})
	}
	if tested == 0 {
		t.Fatal("no Flux environment sets a grace period: the post-renderer is untested")
	}
}

func resIDSelector(group, version, kind string) resid.ResId {
	return resid.ResId{Gvk: resid.Gvk{Group: group, Version: version, Kind: kind}}
}
