package yamlenc

import (
	"bytes"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// TestSameAsSigsYAML: Marshal's output is sigs.k8s.io/yaml.Marshal's, for
// the kinds of values we render: API objects with quantities, int-or-
// strings and nulls, free-form maps with numbers of every size, strings
// that look like other scalars, multi-line and long strings.
func TestSameAsSigsYAML(t *testing.T) {
	replicas := int32(3)
	values := []any{
		appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: map[string]string{"a10": "x", "a9": "y", "b": "true"}},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Strategy: appsv1.DeploymentStrategy{
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &intstr.IntOrString{Type: intstr.String, StrVal: "25%"}}}},
		},
		corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("16Gi")},
		map[string]any{
			"int": 17179869184, "neg": -1, "uint64": uint64(18446744073709551615), "float past int64": 1e19, "float": 0.5, "small": 0.001, "whole float": 2.0, "max": int64(9223372036854775807),
			"yes": "yes", "on": "on", "null-string": "null", "num-string": "0123", "empty": "", "nil": nil,
			"multi": "line one\nline two\n", "long": string(bytes.Repeat([]byte("word "), 40)),
			"colon": "a: b", "list": []any{1, "2", 3.25, map[string]any{"k": []string{}}},
		},
		[]map[string]string{{"op": "add", "path": "/spec/template/spec/priorityClassName", "value": "high"}},
	}
	for i, v := range values {
		want, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("value %d:\ngot:\n%s\nwant (sigs.k8s.io/yaml):\n%s", i, got, want)
		}
	}
}
