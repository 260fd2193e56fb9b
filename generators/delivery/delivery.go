// Package delivery generates the GitOps objects that install the Milvus
// chart: a Flux HelmRepository and HelmRelease, or an Argo CD Application.
package delivery

import (
	"fmt"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// ValuesFile is the name of the Helm values file in the overlay.
const ValuesFile = "values.yaml"

// Result is what a delivery generator adds to the overlay: objects, and for
// Flux the kustomize configMapGenerator that turns values.yaml into a
// ConfigMap with a content hash in its name.
type Result struct {
	Objects []generators.Object
	// ValuesConfigMap, when set, is the name of the ConfigMap to generate
	// from values.yaml.
	ValuesConfigMap string
	// NameReferences tells kustomize which fields of custom resources refer
	// to that ConfigMap, so the hashed name reaches them.
	NameReferences []NameReference
}

// NameReference is a field of a custom resource that names a ConfigMap.
type NameReference struct {
	Group, Version, Kind, Path string
}

// Generate dispatches on the environment's delivery kind.
func Generate(env *model.Environment) (*Result, error) {
	switch env.Delivery.Kind {
	case "flux":
		return flux(env)
	case "argocd":
		return argocd(env)
	}
	return nil, fmt.Errorf("delivery: unknown kind %q", env.Delivery.Kind)
}
