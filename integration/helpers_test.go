package integration

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

type rendered = testenv.Rendered

func renderAll(t *testing.T) map[string]rendered { return testenv.RenderAll(t) }

func decodeAll(t *testing.T, stream []byte) []*unstructured.Unstructured {
	return testenv.DecodeAll(t, stream)
}

func run(t *testing.T, name string, args ...string) []byte { return testenv.Run(t, name, args...) }

func writeTemp(t *testing.T, name string, b []byte) string { return testenv.WriteTemp(t, name, b) }
