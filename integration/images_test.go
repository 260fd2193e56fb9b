package integration

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/profiles"
)

// podSpecs are the pod templates of every workload object, keyed by
// source, kind and name.
func podSpecs(t *testing.T, source string, objs []*unstructured.Unstructured) map[string]corev1.PodTemplateSpec {
	t.Helper()
	out := map[string]corev1.PodTemplateSpec{}
	for _, o := range objs {
		key := fmt.Sprintf("%s: %s %s", source, o.GetKind(), o.GetName())
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			convert(t, o, &d)
			out[key] = d.Spec.Template
		case "StatefulSet":
			var s appsv1.StatefulSet
			convert(t, o, &s)
			out[key] = s.Spec.Template
		case "DaemonSet":
			var d appsv1.DaemonSet
			convert(t, o, &d)
			out[key] = d.Spec.Template
		case "Job":
			var j batchv1.Job
			convert(t, o, &j)
			out[key] = j.Spec.Template
		case "CronJob":
			var c batchv1.CronJob
			convert(t, o, &c)
			out[key] = c.Spec.JobTemplate.Spec.Template
		case "Pod":
			var p corev1.Pod
			convert(t, o, &p)
			out[key] = corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}
		}
	}
	return out
}

// everyObject renders everything an environment runs: the Milvus chart and
// each managed dependency's chart through the real helm CLI, with the
// patches its HelmRelease post-renders or its Argo CD kustomization
// applies (through kustomize), and the overlay's own objects (the restore
// Job included). Objects are keyed by source ("milvus chart", "etcd
// chart", ..., "overlay").
func everyObject(t *testing.T, helm, shared, depCharts string, r rendered) map[string][]*unstructured.Unstructured {
	t.Helper()
	env := r.Env
	chart := filepath.Join(shared, "charts", fmt.Sprintf("milvus-%s.tgz", env.Milvus.Chart.Version))
	stream := run(t, helm, "template", env.Release, chart, "--namespace", env.Namespace, "--kube-version", "v1.37.2",
		"--values", writeTemp(t, "values.yaml", r.Values("values.yaml")))
	out := map[string][]*unstructured.Unstructured{"milvus chart": decodeAll(t, patched(t, r, env.Release, stream))}
	for _, dep := range []string{"etcd", "minio", "kafka", "pulsar"} {
		values := r.Values("values-" + dep + ".yaml")
		if values == nil {
			continue
		}
		c := templateDependency(t, helm, depCharts, dep, env, values, "")
		out[dep+" chart"] = decodeAll(t, patched(t, r, env.Release+"-"+dep, c.raw))
	}
	out["overlay"] = decodeOverlay(t, r)
	return out
}

// everyPod is the pod template of every workload everyObject renders.
func everyPod(t *testing.T, helm, shared, depCharts string, r rendered) map[string]corev1.PodTemplateSpec {
	t.Helper()
	pods := map[string]corev1.PodTemplateSpec{}
	for source, objs := range everyObject(t, helm, shared, depCharts, r) {
		for k, v := range podSpecs(t, source, objs) {
			pods[k] = v
		}
	}
	if len(pods) == 0 {
		t.Fatal("no pods rendered")
	}
	return pods
}

// hrPostRenderers are the kustomize patches of a release's Flux
// HelmRelease post-renderers, none without one.
func hrPostRenderers(t *testing.T, r rendered, release string) []types.Patch {
	t.Helper()
	b, ok := r.Files["helmrelease-"+release+".yaml"]
	if !ok {
		return nil
	}
	var hr helmv2.HelmRelease
	if err := yaml.UnmarshalStrict(b, &hr); err != nil {
		t.Fatal(err)
	}
	var patches []types.Patch
	for _, pr := range hr.Spec.PostRenderers {
		for _, p := range pr.Kustomize.Patches {
			patches = append(patches, types.Patch{Patch: p.Patch, Target: &types.Selector{
				ResId: resIDSelector(p.Target.Group, p.Target.Version, p.Target.Kind), LabelSelector: p.Target.LabelSelector,
			}})
		}
	}
	return patches
}

// patched applies a release's patches to its chart output: the Flux
// HelmRelease's post-renderers, or the patches of its Argo CD release
// kustomization.
func patched(t *testing.T, r rendered, release string, stream []byte) []byte {
	t.Helper()
	patches := hrPostRenderers(t, r, release)
	if b, ok := r.Files[release+"/kustomization.yaml"]; ok {
		var k types.Kustomization
		if err := yaml.UnmarshalStrict(b, &k); err != nil {
			t.Fatal(err)
		}
		patches = append(patches, k.Patches...)
	}
	if len(patches) == 0 {
		return stream
	}
	// Helm, and Flux with it, does not post-render hooks: they stay as the
	// chart renders them (Argo CD's kustomize build patches them; none of
	// the charts we render has one left).
	var hooks [][]byte
	if _, flux := r.Files["helmrelease-"+release+".yaml"]; flux {
		var rest [][]byte
		for _, o := range decodeAll(t, stream) {
			b, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
				hooks = append(hooks, b)
			} else {
				rest = append(rest, b)
			}
		}
		stream = bytes.Join(rest, []byte("---\n"))
	}
	kb, err := yaml.Marshal(types.Kustomization{Resources: []string{"chart.yaml"}, Patches: patches})
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
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		out = append(append(out, "---\n"...), h...)
	}
	return out
}

// TestImagesComeFromTheMirror: with images.registry set, every container
// of every pod the environment runs (the Milvus chart's, every dependency
// chart's including their Jobs and init containers, the backup, restore
// and verification Jobs) pulls from the mirror, with the pull secrets;
// without one, every image names a tag or digest.
func TestImagesComeFromTheMirror(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	depCharts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	mirrored := 0
	all := renderAll(t)
	// prod from a mirror: MinIO, mc and Pulsar (tenant-eu has neither).
	env, files := renderEdited(t, "prod.cue", `	delivery: kind: "flux"`, `	delivery: kind: "flux"
	images: {registry: "mirror.example.internal:5000/hub", pullSecrets: ["mirror-pull"]}`, "prod")
	all["prod-mirrored"] = rendered{Env: env, Files: files}
	for name, r := range all {
		t.Run(name, func(t *testing.T) {
			env := r.Env
			if env.Images.Registry != "" {
				mirrored++
			}
			images := 0
			for key, pod := range everyPod(t, helm, shared, depCharts, r) {
				for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
					images++
					checkImage(t, env, key+"/"+c.Name, c.Image)
				}
				have := map[string]bool{}
				for _, s := range pod.Spec.ImagePullSecrets {
					have[s.Name] = true
				}
				for _, s := range env.Images.PullSecrets {
					if !have[s] {
						t.Errorf("%s: no imagePullSecret %s (has %v)", key, s, pod.Spec.ImagePullSecrets)
					}
				}
			}
			t.Logf("%d containers checked", images)
		})
	}
	if mirrored == 0 {
		t.Fatal("no environment sets images.registry: nothing tested the mirror")
	}
}

func checkImage(t *testing.T, env *model.Environment, where, image string) {
	t.Helper()
	if mirror := env.Images.Registry; mirror != "" && !strings.HasPrefix(image, mirror+"/") {
		t.Errorf("%s: image %s is not from the mirror %s", where, image, mirror)
	}
	last := image[strings.LastIndex(image, "/")+1:]
	if !strings.Contains(last, ":") && !strings.Contains(image, "@sha256:") {
		t.Errorf("%s: image %s names no tag", where, image)
	}
}

// profileOf finds the image profile of a rendered container image.
func profileOf(env *model.Environment, image string) (profiles.Profile, bool) {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	_, path := env.Images.Split(repo)
	if mirror := env.Images.Registry; mirror != "" {
		path = strings.TrimPrefix(repo, mirror+"/")
	}
	path = strings.TrimPrefix(path, "docker.io/")
	if _, milvus := env.Images.Split(env.Milvus.Image.Repository); path == milvus || path == env.Milvus.Image.Repository {
		p, err := profiles.Milvus(env.Milvus.Line)
		return p, err == nil
	}
	for _, p := range profiles.Others {
		if _, want := (model.Images{}).Split(p.Repository); path == want {
			return p, true
		}
	}
	return profiles.Profile{}, false
}

// identity is what a container runs as: the container's security context
// over the pod's, and the image's USER where neither says.
func identity(p profiles.Profile, pod corev1.PodSpec, c corev1.Container) profiles.Identity {
	id := profiles.Identity{UID: p.User, GID: p.Group}
	if psc := pod.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			id.UID = *psc.RunAsUser
		}
		if psc.RunAsGroup != nil {
			id.GID = *psc.RunAsGroup
		}
		id.Groups = append(id.Groups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			id.Groups = append(id.Groups, *psc.FSGroup)
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			id.UID = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			id.GID = *sc.RunAsGroup
		}
		id.ReadOnlyRoot = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	}
	for _, m := range c.VolumeMounts {
		id.Mounts = append(id.Mounts, m.MountPath)
	}
	return id
}

// TestEveryContainerRunsItsImage holds every container every environment
// runs (the Milvus chart's through helm template, every dependency chart's,
// both with their patches, our Jobs) to its image's profile: the identity
// the rendered security contexts give it can execute the image, and what
// the image writes is a volume or writable for it; and every pod to the
// "restricted" Pod Security Standard the namespace enforces.
func TestEveryContainerRunsItsImage(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	depCharts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	version, err := psapi.ParseVersion(generators.KubernetesVersion)
	if err != nil {
		t.Fatal(err)
	}
	restricted := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: version}
	for name, r := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			env := r.Env
			seen := map[string]int{}
			for key, pod := range everyPod(t, helm, shared, depCharts, r) {
				// With a non-root Milvus the namespace enforces "restricted":
				// every pod must pass it, the charts' included.
				if env.Security.RunAsNonRoot {
					if agg := policy.AggregateCheckResults(ev.EvaluatePod(restricted, &pod.ObjectMeta, &pod.Spec)); !agg.Allowed {
						t.Errorf("%s: violates restricted: %s", key, agg.ForbiddenDetail())
					}
				}
				for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
					p, ok := profileOf(env, c.Image)
					if !ok {
						t.Errorf("%s/%s: image %s has no profile (package profiles)", key, c.Name, c.Image)
						continue
					}
					seen[p.Name]++
					id := identity(p, pod.Spec, c)
					if err := p.Check(id); err != nil {
						t.Errorf("%s/%s: %v", key, c.Name, err)
					}
					if strings.HasPrefix(key, "milvus chart") && env.Security.RunAsNonRoot && id.UID == 0 {
						t.Errorf("%s/%s: runs as root although security.runAsNonRoot", key, c.Name)
					}
				}
			}
			t.Logf("containers by profile: %v", seen)
		})
	}
}

// TestAzureWorkloadIdentityReachesThePods: Azure's webhook injects the
// token only into pods labelled azure.workload.identity/use: "true", so a
// client-id annotation on the ServiceAccounts must bring that label onto
// every Milvus pod (through the real chart) and every backup pod.
func TestAzureWorkloadIdentityReachesThePods(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	depCharts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	env, files := renderEdited(t, "staging.cue",
		`serviceAccount: annotations: "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/milvus-staging"`,
		`serviceAccount: annotations: "azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000000"`, "staging")
	labelled := 0
	for key, pod := range everyPod(t, helm, shared, depCharts, rendered{Env: env, Files: files}) {
		if strings.Contains(key, "verify") {
			continue // the verifier talks to Milvus and the API server only
		}
		if pod.Labels["azure.workload.identity/use"] != "true" {
			t.Errorf("%s: pod not labelled azure.workload.identity/use", key)
			continue
		}
		labelled++
	}
	if labelled == 0 {
		t.Fatal("no pod checked")
	}
}

// TestPlacementReachesEveryPod: the environment's tolerations, node
// selector and priority class reach every pod of every dependency chart
// (through its keys or the release's patches) and of our Jobs, and each
// Milvus component's priority class its pods (a patch: the chart has no
// key).
func TestPlacementReachesEveryPod(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	depCharts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	placed := 0
	all := renderAll(t)
	// prod with a placement: MinIO, Pulsar (whose Jobs and StatefulSets
	// get theirs through patches) and the Milvus 2.6 components.
	env, files := renderEdited(t, "prod.cue", `	delivery: kind: "flux"`, `	delivery: kind: "flux"
	placement: {
		nodeSelector: "node-pool": "milvus"
		priorityClassName: "milvus-production"
		tolerations: [{key: "dedicated", value: "milvus", effect: "NoSchedule"}]
	}`, "prod")
	all["prod-placed"] = rendered{Env: env, Files: files}
	for name, r := range all {
		want := r.Env.Placement
		if len(want.Tolerations)+len(want.NodeSelector) == 0 && want.PriorityClassName == "" {
			continue
		}
		placed++
		t.Run(name, func(t *testing.T) {
			for key, pod := range everyPod(t, helm, shared, depCharts, r) {
				if strings.HasPrefix(key, "milvus chart") {
					if want := r.Env.PlacementOf(componentOf(r.Env, pod)).PriorityClassName; pod.Spec.PriorityClassName != want {
						t.Errorf("%s: priorityClassName %q, want %q", key, pod.Spec.PriorityClassName, want)
					}
					continue // nodeSelector and tolerations per component: checkPlacement
				}
				if fmt.Sprint(pod.Spec.NodeSelector) != fmt.Sprint(nilIfEmptyMap(want.NodeSelector)) {
					t.Errorf("%s: nodeSelector %v, want %v", key, pod.Spec.NodeSelector, want.NodeSelector)
				}
				if len(pod.Spec.Tolerations) != len(want.Tolerations) {
					t.Errorf("%s: tolerations %v, want %v", key, pod.Spec.Tolerations, want.Tolerations)
				}
				if pod.Spec.PriorityClassName != want.PriorityClassName {
					t.Errorf("%s: priorityClassName %q, want %q", key, pod.Spec.PriorityClassName, want.PriorityClassName)
				}
			}
		})
	}
	if placed == 0 {
		t.Fatal("no environment sets a placement: nothing tested")
	}
}

// componentOf is the spec key of a Milvus pod's component.
func componentOf(env *model.Environment, pod corev1.PodTemplateSpec) string {
	for _, k := range env.ComponentNames() {
		if model.ComponentLabel(k) == pod.Labels["component"] {
			return k
		}
	}
	return ""
}
