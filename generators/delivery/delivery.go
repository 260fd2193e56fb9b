// Package delivery generates the GitOps objects that install the Milvus
// chart and the managed dependencies: Flux HelmRepositories and
// HelmReleases, or Argo CD Applications, one release each, dependencies
// first.
package delivery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// ReleaseDigest is the hex SHA-256 of what the Milvus release and its
// managed dependencies run: each release's chart, Helm values and the
// patches applied after rendering (Flux post-renderers, Argo CD's release
// kustomization). A change of any of them changes what runs, and must be
// verified again. depValues are the dependencies' values files by name.
func ReleaseDigest(env *model.Environment, values []byte, deps []Release, depValues map[string][]byte) (string, error) {
	h := sha256.New()
	for _, r := range append([]Release{{Name: env.Release, Chart: env.Milvus.Chart, ValuesFile: ValuesFile}}, deps...) {
		patches, err := releasePatches(env, r)
		if err != nil {
			return "", err
		}
		pb, err := json.Marshal(patches)
		if err != nil {
			return "", err
		}
		v := values
		if r.Name != env.Release {
			v = depValues[r.ValuesFile]
		}
		fmt.Fprintf(h, "%s\n%s\n%s\n%d\n", r.Name, r.Chart.Repository, r.Chart.Version, len(v))
		h.Write(v)
		fmt.Fprintf(h, "%d\n", len(pb))
		h.Write(pb)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// upgradeAnnotation describes the phase of an upgrade under way for the
// Milvus release's object, "" without one or in its last phase (which
// renders as the environment without an upgrade).
func upgradeAnnotation(env *model.Environment) (string, error) {
	ph, err := upgrade.Of(env)
	if err != nil || ph == nil || ph.Last() {
		return "", err
	}
	return ph.Describe(), nil
}

// ValuesFile is the name of the Helm values file in the overlay.
const ValuesFile = "values.yaml"

// Release is one Helm release the overlay delivers.
type Release struct {
	// Name is the Helm release name, and the HelmRelease's or
	// Application's.
	Name  string
	Chart model.Chart
	// ValuesFile is the values file in the overlay.
	ValuesFile string
	// ZoneSpread lists the StatefulSets (by their labels, which their pods
	// carry too) that a chart cannot spread over zones itself: with Flux a
	// post-renderer adds the constraint (Argo CD cannot post-render).
	ZoneSpread []map[string]string
	// ZoneLabel is the topology key of that spreading.
	ZoneLabel string
	// PriorityClassName goes on every StatefulSet the release's Selector
	// matches, for a chart without a key for it.
	PriorityClassName string
	Selector          map[string]string
	// Jobs patches the pods of the release's Jobs that its Selector
	// matches, for a chart whose Jobs have no keys for these.
	Jobs *JobPods
	// Harden are the workloads of a chart with no keys for a restricted
	// container security context: a patch sets one on each container.
	Harden []Hardening
}

// JobPods is what the pods of a chart's Jobs get: labels (their own
// metadata carries them, their pods nothing) and the placement.
type JobPods struct {
	Selector  map[string]string
	Labels    map[string]string
	Placement model.Placement
}

// Hardening is a chart's workload (by kind and labels) with its
// containers, which JSON patches address by index: the counts are the
// pinned chart's, and the tests render the real chart to hold them to it.
type Hardening struct {
	Group, Kind string
	Labels      map[string]string
	Init, Main  int
	// Writable are emptyDir mounts the image needs to run as non-root
	// (on the first main container).
	Writable []string
}

// Result is what a delivery generator adds to the overlay: objects, and for
// Flux the kustomize configMapGenerators that turn the values files into
// ConfigMaps with a content hash in their names.
type Result struct {
	Objects []generators.Object
	// ValuesConfigMaps are the ConfigMaps to generate, by values file.
	ValuesConfigMaps []ValuesConfigMap
	// NameReferences tells kustomize which fields of custom resources refer
	// to those ConfigMaps, so the hashed names reach them.
	NameReferences []NameReference
	// Files are files besides objects (Argo CD: the kustomization of a
	// release that inflates its chart), by overlay path.
	Files map[string][]byte
	// ValuesPaths moves values files: a values file named here lives at
	// that overlay path instead of the overlay's root.
	ValuesPaths map[string]string
}

// ValuesPath is where a values file lives in the overlay.
func (r *Result) ValuesPath(file string) string {
	if p, ok := r.ValuesPaths[file]; ok {
		return p
	}
	return file
}

// ValuesConfigMap is a ConfigMap generated from a values file.
type ValuesConfigMap struct {
	Name, File string
}

// NameReference is a field of a custom resource that names a ConfigMap.
type NameReference struct {
	Group, Version, Kind, Path string
}

// Generate dispatches on the environment's delivery kind. deps are the
// managed dependencies, installed before Milvus.
// releaseDigest identifies what the Milvus release runs: digest is
// ReleaseDigest's.
func Generate(env *model.Environment, deps []Release, releaseDigest string) (*Result, error) {
	switch env.Delivery.Kind {
	case "flux":
		return flux(env, deps)
	case "argocd":
		return argocd(env, deps, releaseDigest)
	}
	return nil, fmt.Errorf("delivery: unknown kind %q", env.Delivery.Kind)
}
