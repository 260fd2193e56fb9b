package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

// crdSchema is one served version of a CRD, ready to validate objects the
// way the API server does: OpenAPI schema, unknown-field pruning (strict
// field validation rejects what would be pruned), and CEL rules.
type crdSchema struct {
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
	cel        *cel.Validator
}

// loadCRDs reads every CRD in ../shared/crds, keyed by "group/version, Kind".
func loadCRDs(t *testing.T) map[string]*crdSchema {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Shared(t), "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs: %v", err)
	}
	out := map[string]*crdSchema{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(b, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				t.Fatal(err)
			}
			validator, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				t.Fatal(err)
			}
			structural, err := structuralschema.NewStructural(&internal)
			if err != nil {
				t.Fatalf("%s %s: %v", f, v.Name, err)
			}
			key := fmt.Sprintf("%s/%s, %s", crd.Spec.Group, v.Name, crd.Spec.Names.Kind)
			out[key] = &crdSchema{validator, structural, cel.NewValidator(structural, true, celconfig.PerCallLimit)}
		}
	}
	return out
}

func (c *crdSchema) validate(obj *unstructured.Unstructured) field.ErrorList {
	errs := validation.ValidateCustomResource(nil, obj.Object, c.validator)
	copied := runtime.DeepCopyJSON(obj.Object)
	pruned := pruning.PruneWithOptions(copied, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range pruned {
		errs = append(errs, field.Invalid(field.NewPath(p), nil, "unknown field"))
	}
	if c.cel != nil {
		celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj.Object, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs
}

// TestDeliveryObjectsMatchCRDs validates every custom resource we render
// (Flux HelmRelease and HelmRepository, Argo CD Application, External
// Secrets ExternalSecret, Prometheus Operator objects) against the
// real CRDs. The Application is a local struct: this is its contract test.
func TestDeliveryObjectsMatchCRDs(t *testing.T) {
	crds := loadCRDs(t)
	seen := map[string]bool{}
	for name, r := range renderAll(t) {
		for _, obj := range decodeOverlay(t, r) {
			gvk := obj.GroupVersionKind()
			if !strings.Contains(gvk.Group, ".") || strings.HasSuffix(gvk.Group, ".k8s.io") {
				continue // built-in types (core, apps, batch, policy, rbac...): typed k8s.io/api structs
			}
			c, ok := crds[gvk.GroupVersion().String()+", "+gvk.Kind]
			if !ok {
				t.Errorf("%s: %s %s has no CRD in ../shared/crds", name, gvk, obj.GetName())
				continue
			}
			seen[gvk.Kind] = true
			for _, e := range c.validate(obj) {
				t.Errorf("%s: %s %s: %v", name, gvk.Kind, obj.GetName(), e)
			}
		}
	}
	for _, kind := range []string{"HelmRelease", "HelmRepository", "Application", "PodMonitor", "PrometheusRule", "ExternalSecret"} {
		if !seen[kind] {
			t.Errorf("no environment renders a %s: the contract is untested", kind)
		}
	}
}

// TestCRDValidationBites proves the validation rejects the mistakes it is
// there for: an unknown field, a missing required field, a bad enum.
func TestCRDValidationBites(t *testing.T) {
	crds := loadCRDs(t)
	app := crds["argoproj.io/v1alpha1, Application"]
	release := crds["helm.toolkit.fluxcd.io/v2, HelmRelease"]
	cases := []struct {
		name string
		c    *crdSchema
		obj  string
		want string
	}{
		{"unknown field", app, `{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"a"},"spec":{"project":"default","destination":{"server":"x"},"sources":[{"repoURL":"r","helm":{"valueFile":["v"]}}]}}`, "unknown field"},
		{"missing destination", app, `{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"a"},"spec":{"project":"default"}}`, "spec.destination"},
		{"bad drift mode", release, `{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"a"},"spec":{"interval":"1m","chart":{"spec":{"chart":"milvus","sourceRef":{"kind":"HelmRepository","name":"m"}}},"driftDetection":{"mode":"sometimes"}}}`, "spec.driftDetection.mode"},
		{"bad interval", release, `{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"a"},"spec":{"interval":"ten minutes","chart":{"spec":{"chart":"milvus","sourceRef":{"kind":"HelmRepository","name":"m"}}}}}`, "spec.interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := decodeAll(t, []byte(tc.obj))[0]
			errs := tc.c.validate(obj)
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("want an error about %s, got %v", tc.want, errs)
			}
		})
	}
}
