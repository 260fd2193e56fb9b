package delivery

import (
	"fmt"

	"github.com/milvus-gitops/milvusgen/yamlenc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Patch is an RFC 6902 patch of the objects a chart renders, for what its
// values cannot say. Flux applies it as a HelmRelease post-renderer; Argo
// CD, which cannot post-render a Helm source, through a kustomization that
// inflates the chart (helmCharts) and patches it the same way.
type Patch struct {
	// Patch is the JSON patch, as YAML.
	Patch string
	// Kind (in Group, "apps" when empty; version v1) and LabelSelector
	// choose the objects.
	Group         string
	Kind          string
	LabelSelector string
}

// TargetGroup is the patch target's API group.
func (p Patch) TargetGroup() string {
	if p.Group == "" {
		return "apps"
	}
	return p.Group
}

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// releasePatches are the patches of a release, for what its chart has no
// keys for: on the Milvus Deployments the termination grace period, the
// priority class and the query node's disk claim; on a dependency's
// workloads the priority class, its Jobs' pod labels and placement, the
// restricted container security context, and the zone spread.
func releasePatches(env *model.Environment, r Release) ([]Patch, error) {
	var out []Patch
	var err error
	// jsonAdd appends a patch of one "add" operation.
	jsonAdd := func(group, kind, selector, path string, value any) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = yamlenc.Marshal([]jsonPatchOp{{Op: "add", Path: path, Value: value}}); err == nil {
			out = append(out, Patch{Patch: string(b), Group: group, Kind: kind, LabelSelector: selector})
		}
	}
	if r.Name == env.Release {
		milvus := "app.kubernetes.io/name=milvus,app.kubernetes.io/instance=" + env.Release
		if g := env.Availability.TerminationGracePeriodSeconds; g != nil {
			jsonAdd("", "Deployment", milvus, "/spec/template/spec/terminationGracePeriodSeconds", *g)
		}
		// One patch for every Deployment when the components share their
		// priority class, else one per component that has one.
		classes := map[string]bool{}
		for _, key := range env.ComponentNames() {
			classes[env.PlacementOf(key).PriorityClassName] = true
		}
		for _, key := range env.ComponentNames() {
			pc := env.PlacementOf(key).PriorityClassName
			switch {
			case pc == "":
			case len(classes) == 1:
				if key == env.ComponentNames()[0] {
					jsonAdd("", "Deployment", milvus, "/spec/template/spec/priorityClassName", pc)
				}
			default:
				jsonAdd("", "Deployment", labels.SelectorFromSet(env.PodLabels(key)).String(), "/spec/template/spec/priorityClassName", pc)
			}
		}
		// An upgrade under way: the chart renders the target tag for every
		// component (image.all; each Deployment's containers[0] is its
		// component, templates/*-deployment.yaml in charts 4.2.58 and
		// 5.0.19, which have no per-component image), and the components
		// not yet due in this phase are held on the source tag. The test
		// op makes a chart that moved its container fail the patch instead
		// of pinning another one.
		if err == nil {
			var ph *upgrade.Phase
			if ph, err = upgrade.Of(env); err == nil && ph != nil {
				image := env.Images.Repository(env.Milvus.Image.Repository) + ":" + ph.FromTag
				for _, key := range ph.Pinned() {
					ops := []jsonPatchOp{
						{Op: "test", Path: "/spec/template/spec/containers/0/name", Value: model.ComponentLabel(key)},
						{Op: "replace", Path: "/spec/template/spec/containers/0/image", Value: image},
					}
					// Chart 5.0 switches a 2.5-era component to the streaming
					// service when streaming is on: its first variable is
					// MILVUS_STREAMING_SERVICE_ENABLED=1 (templates/
					// {indexnode,rootcoord,querycoord,datacoord,indexcoord}-
					// deployment.yaml, 5.0.19). A 2.5 image held back ran
					// without it under chart 4.2, and runs so still; the test
					// op fails the patch if the chart moved the variable.
					if ph.From.Line() == "2.5" && ph.Streaming() && streamingSwitched[key] {
						ops = append(ops,
							jsonPatchOp{Op: "test", Path: "/spec/template/spec/containers/0/env/0/name", Value: "MILVUS_STREAMING_SERVICE_ENABLED"},
							jsonPatchOp{Op: "remove", Path: "/spec/template/spec/containers/0/env/0"})
					}
					var b []byte
					b, err = yamlenc.Marshal(ops)
					if err != nil {
						break
					}
					out = append(out, Patch{Patch: string(b), Kind: "Deployment", LabelSelector: labels.SelectorFromSet(env.PodLabels(key)).String()})
				}
			}
		}
		for _, key := range env.ComponentNames() {
			if d := env.Components[key].LocalDisk; d != nil && d.StorageClass != "" && err == nil {
				var p string
				if p, err = diskClaimPatch(d); err == nil {
					out = append(out, Patch{Patch: p, Kind: "Deployment", LabelSelector: labels.SelectorFromSet(env.PodLabels(key)).String()})
				}
			}
		}
	}
	if pc := r.PriorityClassName; pc != "" {
		// A dependency chart without a key for it: every StatefulSet of
		// the release.
		jsonAdd("", "StatefulSet", labels.SelectorFromSet(r.Selector).String(), "/spec/template/spec/priorityClassName", pc)
	}
	if j := r.Jobs; j != nil && err == nil {
		var p string
		if p, err = jobPodsPatch(j); err == nil && p != "" {
			out = append(out, Patch{Patch: p, Group: "batch", Kind: "Job", LabelSelector: labels.SelectorFromSet(j.Selector).String()})
		}
	}
	for _, h := range r.Harden {
		if err != nil {
			break
		}
		var p string
		if p, err = hardeningPatch(h); err == nil {
			out = append(out, Patch{Patch: p, Group: h.Group, Kind: h.Kind, LabelSelector: labels.SelectorFromSet(h.Labels).String()})
		}
	}
	for _, sel := range r.ZoneSpread {
		jsonAdd("", "StatefulSet", labels.SelectorFromSet(sel).String(), "/spec/template/spec/topologySpreadConstraints",
			[]corev1.TopologySpreadConstraint{generators.ZoneSpread(r.ZoneLabel, sel, corev1.DoNotSchedule)})
	}
	return out, err
}

// jobPodsPatch gives the pods of a chart's Jobs that carry no labels (the
// Pulsar chart's initialisation Jobs) their release's, so that the
// NetworkPolicies let them reach their release's members, and the
// environment's placement, which the chart has no keys for. A strategic
// merge patch; "" when there is nothing to set.
func jobPodsPatch(j *JobPods) (string, error) {
	tmpl := map[string]any{}
	if len(j.Labels) > 0 {
		tmpl["metadata"] = map[string]any{"labels": j.Labels}
	}
	spec := map[string]any{}
	if len(j.Placement.NodeSelector) > 0 {
		spec["nodeSelector"] = j.Placement.NodeSelector
	}
	if t := generators.Tolerations(j.Placement); len(t) > 0 {
		spec["tolerations"] = t
	}
	if j.Placement.PriorityClassName != "" {
		spec["priorityClassName"] = j.Placement.PriorityClassName
	}
	if len(spec) > 0 {
		tmpl["spec"] = spec
	}
	if len(tmpl) == 0 {
		return "", nil
	}
	b, err := yamlenc.Marshal(map[string]any{
		"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "initialize"},
		"spec": map[string]any{"template": tmpl},
	})
	return string(b), err
}

// diskClaimPatch turns the chart's query node "disk" emptyDir
// (/var/lib/milvus/data) into a generic ephemeral volume of the storage
// class: a claim made with the pod and deleted with it. A strategic merge
// patch, since the volume is found by name (kustomize and Flux's
// post-renderer take both kinds; the target selects, the name is unused).
func diskClaimPatch(d *model.LocalDisk) (string, error) {
	class := d.StorageClass
	patch := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "querynode"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"volumes": []any{map[string]any{
				"name":     "disk",
				"emptyDir": nil,
				"ephemeral": corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						StorageClassName: &class,
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceStorage: *resource.NewQuantity(d.Size, resource.BinarySI),
						}},
					},
				}},
			}},
		}}},
	}
	b, err := yamlenc.Marshal(patch)
	return string(b), err
}

// hardeningPatch sets the "restricted" container security context on
// every container of a workload (no privilege escalation, no
// capabilities, non-root, RuntimeDefault seccomp).
func hardeningPatch(h Hardening) (string, error) {
	no, yes := false, true
	sc := corev1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		RunAsNonRoot:             &yes,
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	var ops []jsonPatchOp
	for i := 0; i < h.Init; i++ {
		ops = append(ops, jsonPatchOp{Op: "add", Path: fmt.Sprintf("/spec/template/spec/initContainers/%d/securityContext", i), Value: sc})
	}
	for i := 0; i < h.Main; i++ {
		ops = append(ops, jsonPatchOp{Op: "add", Path: fmt.Sprintf("/spec/template/spec/containers/%d/securityContext", i), Value: sc})
	}
	b, err := yamlenc.Marshal(ops)
	return string(b), err
}

// streamingSwitched are the components whose Deployment in chart 5.0.19
// sets MILVUS_STREAMING_SERVICE_ENABLED when streaming.enabled is on.
var streamingSwitched = map[string]bool{"indexNode": true, "rootCoordinator": true, "queryCoordinator": true, "dataCoordinator": true, "indexCoordinator": true}
