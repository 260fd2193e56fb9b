package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/chartarchive"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
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
			if len(hrPostRenderers(t, r, r.Env.Release)) == 0 {
				t.Fatal("the HelmRelease has no post-renderer")
			}
			chart := filepath.Join(shared, "charts", fmt.Sprintf("milvus-%s.tgz", r.Env.Milvus.Chart.Version))
			stream := run(t, helm, "template", r.Env.Release, chart, "--namespace", r.Env.Namespace, "--kube-version", "v1.37.2", "--values", writeTemp(t, "values.yaml", r.Values("values.yaml")))
			out := patched(t, r, r.Env.Release, stream)
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

// argoVariant renders prod as if delivered by Argo CD: its managed MinIO
// and Pulsar then reach their zones through kustomizations too.
func argoVariant(t *testing.T) rendered {
	t.Helper()
	env, files := renderEdited(t, "prod.cue", `	delivery: kind: "flux"`, `	delivery: {
		kind: "argocd"
		argocd: source: repoURL: "https://git.example.com/platform/milvus-gitops.git"
	}`, "prod")
	return rendered{Env: env, Files: files}
}

// TestArgoCDKustomizationsInflateAndPatch builds every release directory
// an Argo CD environment has (the chart inflated by kustomize's helmCharts,
// then patched) with the real kustomize and helm binaries, as Argo CD's
// repo server does with kustomize.buildOptions: --enable-helm, the charts
// put where kustomize looks before downloading. Every Milvus Deployment
// must get the grace period, every StatefulSet the release spreads its
// zone constraint, and every object the environment's namespace.
func TestArgoCDKustomizationsInflateAndPatch(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	kustomize := testenv.Tool(t, "kustomize")
	shared := testenv.Shared(t)
	all := renderAll(t)
	all["prod-argocd"] = argoVariant(t)
	tested := 0
	for name, r := range all {
		if r.Env.Delivery.Kind != "argocd" {
			continue
		}
		for _, p := range r.Files.Paths() {
			dir, file := filepath.Split(p)
			if file != "kustomization.yaml" || dir == "" || dir == "restore/" {
				continue
			}
			tested++
			t.Run(name+"/"+dir, func(t *testing.T) {
				var k types.Kustomization
				if err := yaml.UnmarshalStrict(r.Files[p], &k); err != nil {
					t.Fatal(err)
				}
				if len(k.HelmCharts) != 1 {
					t.Fatalf("helmCharts: %d", len(k.HelmCharts))
				}
				hc := k.HelmCharts[0]
				work := t.TempDir()
				for _, q := range r.Files.Paths() {
					if rel, ok := strings.CutPrefix(q, dir); ok {
						writeFile(t, filepath.Join(work, rel), r.Files[q])
					}
				}
				// kustomize's chart home: charts/<name>-<version>/<name>.
				home := filepath.Join(work, "charts", hc.Name+"-"+hc.Version)
				if hc.Name == "milvus" {
					if err := chartarchive.Extract(filepath.Join(shared, "charts", "milvus-"+hc.Version+".tgz"), home); err != nil {
						t.Fatal(err)
					}
				} else {
					vendored := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
					if err := os.CopyFS(filepath.Join(home, hc.Name), os.DirFS(filepath.Join(vendored, "milvus", "charts", hc.Name))); err != nil {
						t.Fatal(err)
					}
				}
				out := run(t, kustomize, "build", "--enable-helm", "--helm-command", helm, work)
				objs := decodeAll(t, out)
				deployments, sets, spread := 0, 0, 0
				for _, o := range objs {
					if ns := o.GetNamespace(); ns != "" && ns != r.Env.Namespace {
						t.Errorf("%s %s in namespace %s, want %s", o.GetKind(), o.GetName(), ns, r.Env.Namespace)
					}
					switch o.GetKind() {
					case "Deployment":
						var d appsv1.Deployment
						convert(t, o, &d)
						deployments++
						if g := r.Env.Availability.TerminationGracePeriodSeconds; g != nil && hc.Name == "milvus" {
							if got := d.Spec.Template.Spec.TerminationGracePeriodSeconds; got == nil || *got != *g {
								t.Errorf("%s: terminationGracePeriodSeconds %v, want %d", d.Name, got, *g)
							}
						}
						if hc.Name == "milvus" {
							checkPatchedPlacement(t, r.Env, d)
						}
					case "StatefulSet":
						var s appsv1.StatefulSet
						convert(t, o, &s)
						sets++
						for _, c := range s.Spec.Template.Spec.TopologySpreadConstraints {
							if c.TopologyKey == r.Env.Topology.ZoneLabel {
								spread++
							}
						}
					}
				}
				if hc.Name == "milvus" && deployments != len(r.Env.Components) {
					t.Errorf("%d Deployments, want %d", deployments, len(r.Env.Components))
				}
				// Each zone spread patch (one per member set) must have hit one.
				want := 0
				for _, p := range k.Patches {
					if p.Target != nil && p.Target.Kind == "StatefulSet" && strings.Contains(p.Patch, "topologySpreadConstraints") {
						want++
					}
				}
				if hc.Name != "milvus" && (want == 0 || spread != want) {
					t.Errorf("%d StatefulSets spread over zones, want %d (one per patch)", spread, want)
				}
				t.Logf("%d objects: %d Deployments, %d StatefulSets (%d spread over zones)", len(objs), deployments, sets, spread)
			})
		}
	}
	if tested < 3 {
		t.Fatalf("%d release kustomizations tested: want tenant-eu's Milvus and prod's MinIO and Pulsar under Argo CD", tested)
	}
}

// checkPatchedPlacement: what the chart has no key for and a patch sets on
// a Milvus Deployment: the priority class, and the query node's local disk
// as a claim of its storage class, with Milvus' budget.
func checkPatchedPlacement(t *testing.T, env *model.Environment, d appsv1.Deployment) {
	t.Helper()
	var key string
	for _, k := range env.ComponentNames() {
		if model.ComponentLabel(k) == d.Spec.Template.Labels["component"] {
			key = k
		}
	}
	spec := d.Spec.Template.Spec
	if want := env.PlacementOf(key).PriorityClassName; spec.PriorityClassName != want {
		t.Errorf("%s: priorityClassName %q, want %q", d.Name, spec.PriorityClassName, want)
	}
	l := env.Components[key].LocalDisk
	if l == nil || l.StorageClass == "" {
		return
	}
	found := false
	for _, v := range spec.Volumes {
		if v.Name != "disk" {
			continue
		}
		found = true
		if v.EmptyDir != nil || v.Ephemeral == nil || v.Ephemeral.VolumeClaimTemplate == nil {
			t.Errorf("%s: volume disk is %+v, want only a generic ephemeral volume", d.Name, v.VolumeSource)
			continue
		}
		c := v.Ephemeral.VolumeClaimTemplate.Spec
		if c.StorageClassName == nil || *c.StorageClassName != l.StorageClass || c.Resources.Requests.Storage().Value() != l.Size {
			t.Errorf("%s: disk claim %v %v, want %s %d", d.Name, c.StorageClassName, c.Resources.Requests.Storage(), l.StorageClass, l.Size)
		}
	}
	if !found {
		t.Errorf("%s: no disk volume", d.Name)
	}
	budget := false
	for _, e := range spec.Containers[0].Env {
		budget = budget || e.Name == "LOCAL_STORAGE_SIZE" && e.Value == fmt.Sprint(l.Size>>30)
	}
	if !budget {
		t.Errorf("%s: no LOCAL_STORAGE_SIZE=%d", d.Name, l.Size>>30)
	}
}
