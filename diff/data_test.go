package diff

import (
	"strings"
	"testing"
)

func notesOf(t *testing.T, from, to Files) ([]string, *Report) {
	t.Helper()
	r, err := Compare("a", from, "b", to, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range r.Notes {
		out = append(out, n.Severity+": "+n.Message)
	}
	return out, r
}

func hasNote(notes []string, parts ...string) bool {
	for _, n := range notes {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(n, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestDataStrandingChanges: each change that leaves Milvus' data behind
// gets a warning naming it; the same values unchanged get none.
func TestDataStrandingChanges(t *testing.T) {
	values := func(mq, root, prefix, bucket, bucketRoot string) []byte {
		return []byte(`
` + mq + `: {enabled: true}
externalS3: {enabled: true, host: milvus-prod-minio, bucketName: ` + bucket + `, rootPath: ` + bucketRoot + `}
externalEtcd: {enabled: true, endpoints: [milvus-prod-etcd-0.milvus-prod-etcd-headless:2379]}
extraConfigFiles:
  user.yaml: |
    etcd: {rootPath: ` + root + `}
    msgChannel: {chanNamePrefix: {cluster: ` + prefix + `}}
`)
	}
	etcd := []byte(`persistence: {enabled: true, size: 20Gi, storageClass: gp3}
replicaCount: 3
`)
	dep := []byte(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: milvus-prod-etcd, namespace: milvus-prod}
spec: {chart: {spec: {chart: etcd}}}
`)
	from := Files{"values.yaml": values("externalPulsar", "milvus-prod", "milvus-prod", "milvus-bucket", "milvus-prod"), "values-etcd.yaml": etcd, "helmrelease-milvus-prod-etcd.yaml": dep}

	same, _ := notesOf(t, from, from)
	if len(same) != 0 {
		t.Errorf("no change, notes %v", same)
	}

	to := Files{
		"values.yaml":      values("externalKafka", "milvus-prod-2", "milvus-p", "other-bucket", "prod"),
		"values-etcd.yaml": []byte("persistence: {enabled: true, size: 10Gi, storageClass: gp2}\nreplicaCount: 3\n"),
	}
	notes, _ := notesOf(t, from, to)
	for _, want := range [][]string{
		{"warning", "message queue pulsar -> kafka"},
		{"warning", `etcd root path "milvus-prod" -> "milvus-prod-2"`, "no collections"},
		{"warning", `channel name prefix "milvus-prod" -> "milvus-p"`},
		{"warning", `bucket "milvus-bucket" -> "other-bucket"`},
		{"warning", `bucket root path "milvus-prod" -> "prod"`},
		{"warning", "values-etcd.yaml: persistence.size 20Gi -> 10Gi", "cannot shrink"},
		{"warning", `values-etcd.yaml: persistence.storageClass "gp3" -> "gp2"`, "cannot change class"},
		{"warning", "milvus-prod-etcd removed while Milvus' values still point at it"},
	} {
		if !hasNote(notes, want...) {
			t.Errorf("no note with %q in:\n%s", want, strings.Join(notes, "\n"))
		}
	}

	// Growing a volume is allowed (with an expandable class); removing a
	// dependency Milvus no longer names is only the uninstall warning.
	to = Files{
		"values.yaml":      []byte("externalPulsar: {enabled: true}\netcd: {enabled: true}\nexternalEtcd: {enabled: false}\n"),
		"values-etcd.yaml": []byte("persistence: {enabled: true, size: 40Gi, storageClass: gp3}\nreplicaCount: 3\n"),
	}
	notes, _ = notesOf(t, from, to)
	if hasNote(notes, "cannot shrink") || hasNote(notes, "still point at it") {
		t.Errorf("false alarm:\n%s", strings.Join(notes, "\n"))
	}
}

// TestOrderlessListsCompareAsSets: a resource inserted in the middle of a
// kustomization and a flag added in front of the verifier's arguments are
// each one change, not a shift of every later index.
func TestOrderlessListsCompareAsSets(t *testing.T) {
	kust := func(rs ...string) []byte {
		return []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [" + strings.Join(rs, ", ") + "]\n")
	}
	job := func(args string) []byte {
		return []byte(`apiVersion: batch/v1
kind: Job
metadata: {name: milvus-prod-verify-1a2b3c4d, namespace: milvus-prod}
spec: {template: {spec: {containers: [{name: verifier, args: [` + args + `]}]}}}
`)
	}
	from := Files{"kustomization.yaml": kust("a.yaml", "c.yaml", "d.yaml", "job-milvus-prod-verify-1a2b3c4d.yaml"),
		"job.yaml": job(`"--rows", "100000", "--no-fault", "--rate=5000"`)}
	to := Files{"kustomization.yaml": kust("a.yaml", "b.yaml", "c.yaml", "d.yaml", "job-milvus-prod-verify-9f8e7d6c.yaml"),
		"job.yaml": job(`"--sweep", "1,5", "--rows", "100000", "--no-fault", "--rate=4000"`)}
	_, r := notesOf(t, from, to)
	var paths []string
	for _, o := range r.Objects {
		for _, f := range o.Fields {
			paths = append(paths, o.ID+" "+f.Path)
		}
	}
	want := []string{
		`batch/v1 Job milvus-prod/milvus-prod-verify-<hash> spec.template.spec.containers[name=verifier].args["--rate"]`,
		`batch/v1 Job milvus-prod/milvus-prod-verify-<hash> spec.template.spec.containers[name=verifier].args["--sweep"]`,
		`file kustomization.yaml resources["b.yaml"]`,
		`file kustomization.yaml resources["job-milvus-prod-verify-<hash>.yaml"]`,
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
}

// TestUpgradePhaseNote: a phase transition is the first thing a reviewer
// reads.
func TestUpgradePhaseNote(t *testing.T) {
	hr := func(note string) []byte {
		ann := ""
		if note != "" {
			ann = "\n  annotations: {milvusgen.io/upgrade-phase: \"" + note + "\"}"
		}
		return []byte("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: milvus-prod\n  namespace: milvus-prod" + ann + "\n")
	}
	p1 := "phase 1 of 5 (2.6 patch release): mixCoordinator on v2.6.15; streamingNode, queryNode, dataNode, proxy stay on v2.6.14"
	p2 := "phase 2 of 5 (2.6 patch release): mixCoordinator, streamingNode on v2.6.15; queryNode, dataNode, proxy stay on v2.6.14"
	notes, _ := notesOf(t, Files{"hr.yaml": hr(p1)}, Files{"hr.yaml": hr(p2)})
	if !hasNote(notes, "warning: upgrade "+p2) {
		t.Errorf("notes %v", notes)
	}
	notes, _ = notesOf(t, Files{"hr.yaml": hr(p1)}, Files{"hr.yaml": hr("")})
	if !hasNote(notes, "upgrade, last phase: every component moves to the target image") {
		t.Errorf("notes %v", notes)
	}
}

// TestPhasedImageChangeIsNotARestartOfEverything: in an upgrade phase the
// image tag moves for the components due, not for every pod; and Argo CD
// moving the Milvus and dependency values into release directories still
// gets them compared.
func TestPhasedImageChangeIsNotARestartOfEverything(t *testing.T) {
	hr := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: milvus-x\n  namespace: argocd\n  annotations: {milvusgen.io/upgrade-phase: \"phase 1 of 5\"}\n"
	from := Files{"values.yaml": []byte("image: {all: {tag: v2.6.14}}\n"), "values-etcd.yaml": []byte("persistence: {size: 20Gi}\n")}
	to := Files{"milvus-x/values.yaml": []byte("image: {all: {tag: v2.6.15}}\n"), "milvus-x-etcd/values-etcd.yaml": []byte("persistence: {size: 10Gi}\n"), "app.yaml": []byte(hr)}
	notes, _ := notesOf(t, from, to)
	if hasNote(notes, "every Milvus pod restarts") {
		t.Errorf("a phase reported as a restart of every pod:\n%s", strings.Join(notes, "\n"))
	}
	if hasNote(notes, "Milvus image v2.6.14 -> v2.6.15") {
		t.Errorf("in a phase the phase note says which components move, not an image change of all:\n%s", strings.Join(notes, "\n"))
	}
	for _, want := range []string{"values-etcd.yaml: persistence.size 20Gi -> 10Gi", "upgrade phase 1 of 5"} {
		if !hasNote(notes, want) {
			t.Errorf("no %q in:\n%s", want, strings.Join(notes, "\n"))
		}
	}
	if !strings.HasPrefix(notes[0], "warning: upgrade phase 1 of 5") {
		t.Errorf("the phase is not the first note:\n%s", strings.Join(notes, "\n"))
	}
}
