package diff

import (
	"strings"
	"testing"
)

func TestStripHashKeepsRealNames(t *testing.T) {
	cases := map[[2]string]string{
		{"ConfigMap", "milvus-prod-values-79k72dhfbc"}: "milvus-prod-values-<hash>",
		{"Job", "milvus-prod-verify-529b90a5"}:         "milvus-prod-verify-<hash>",
		{"ConfigMap", "milvus-prod-prometheus"}:        "milvus-prod-prometheus",
		{"ConfigMap", "milvus-prod-dashboard"}:         "milvus-prod-dashboard",
		{"Deployment", "milvus-prod-79k72dhfbc"}:       "milvus-prod-79k72dhfbc",
	}
	for in, want := range cases {
		if got := stripHash(in[0], in[1]); got != want {
			t.Errorf("stripHash(%v) = %s, want %s", in, got, want)
		}
	}
}

func TestCompareNamesListElementsAndNotes(t *testing.T) {
	from := Files{"values.yaml": []byte(`
image: {all: {tag: v2.5.10}}
mixCoordinator: {enabled: false}
queryNode:
  replicas: 3
  extraEnv:
  - {name: A, value: "1"}
  - {name: KEY, valueFrom: {secretKeyRef: {name: s3, key: id}}}
`)}
	to := Files{"values.yaml": []byte(`
image: {all: {tag: v2.6.15}}
mixCoordinator: {enabled: true}
queryNode:
  replicas: 1
  extraEnv:
  - {name: NEW, value: "0"}
  - {name: A, value: "1"}
  - {name: KEY, valueFrom: {secretKeyRef: {name: s3-rotated, key: id}}}
`)}
	r, err := Compare("a", from, "b", to, nil)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range r.Objects[0].Fields {
		paths = append(paths, f.Path)
	}
	joined := strings.Join(paths, " ")
	for _, want := range []string{"queryNode.extraEnv[name=KEY].valueFrom.secretKeyRef.name", "queryNode.extraEnv[name=NEW]", "queryNode.replicas"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no change at %s in %v", want, paths)
		}
	}
	if strings.Contains(joined, "[name=A]") {
		t.Errorf("an element that only moved is reported: %v", paths)
	}
	var notes []string
	for _, n := range r.Notes {
		notes = append(notes, n.Severity+": "+n.Message)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{
		"warning: upgrade 2.5 -> 2.6 from v2.5.10 (mixCoordinator false)",
		"warning: queryNode replicas 3 -> 1: below the HA floor",
		"warning: Secret reference changed in values.yaml: queryNode.extraEnv[name=KEY]",
		"warning: every Milvus pod restarts: image",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing note %q in:\n%s", want, all)
		}
	}
}

func TestRenameTouchesIdentitiesOnly(t *testing.T) {
	from := Files{"pdb.yaml": []byte(`apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: milvus-staging-proxy, namespace: milvus-staging, labels: {app.kubernetes.io/instance: milvus-staging}}
spec: {selector: {matchLabels: {app.kubernetes.io/instance: milvus-staging}}, note: "bucket milvus-staging"}
`)}
	to := Files{"pdb.yaml": []byte(`apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: milvus-prod-proxy, namespace: milvus-prod, labels: {app.kubernetes.io/instance: milvus-prod}}
spec: {selector: {matchLabels: {app.kubernetes.io/instance: milvus-prod}}, note: "bucket milvus-prod"}
`)}
	r, err := Compare("staging", from, "prod", to, map[string]string{"milvus-staging": "milvus-prod"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Objects) != 1 || len(r.Objects[0].Fields) != 1 || r.Objects[0].Fields[0].Path != "spec.note" {
		t.Errorf("want only the non-identity field to differ, got %+v", r.Objects)
	}
}

// TestRenameDottedNames: a cluster-scoped name that carries both the
// release and the namespace, and its file in the kustomization, are read
// as the other environment's in every part.
func TestRenameDottedNames(t *testing.T) {
	rename := map[string]string{"milvus-staging": "milvus-prod"}
	for in, want := range map[string]string{
		"milvus-staging-verify-pods.milvus-staging":                                       "milvus-prod-verify-pods.milvus-prod",
		"validatingadmissionpolicy-milvus-staging-verify-pods.milvus-staging.yaml":        "validatingadmissionpolicy-milvus-prod-verify-pods.milvus-prod.yaml",
		"validatingadmissionpolicybinding-milvus-staging-verify-pods.milvus-staging.yaml": "validatingadmissionpolicybinding-milvus-prod-verify-pods.milvus-prod.yaml",
		"etcd.milvus-staging-extra.svc":                                                   "etcd.milvus-prod-extra.svc",
		"notmilvus-staging":                                                               "notmilvus-staging",
	} {
		if got := replaceToken(in, rename); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}
