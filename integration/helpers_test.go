package integration

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/milvus-gitops/milvusgen/internal/testrender"
)

type rendered = testrender.Rendered

func renderAll(t *testing.T) map[string]rendered { return testrender.RenderAll(t) }

func decodeAll(t *testing.T, stream []byte) []*unstructured.Unstructured {
	return testrender.DecodeAll(t, stream)
}

func run(t *testing.T, name string, args ...string) []byte { return testrender.Run(t, name, args...) }

func writeTemp(t *testing.T, name string, b []byte) string { return testrender.WriteTemp(t, name, b) }
