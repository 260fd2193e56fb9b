package integration

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/milvus-gitops/milvusgen/generators/secrets"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

// wholeSecret marks a Secret mounted or imported entirely (no single key).
const wholeSecret = "*"

// TestSecretKeysCoverTheWholeSystem renders the whole system of every
// environment (our overlay, the Milvus chart with our values, every managed
// dependency's chart) through the real charts and collects every Secret a
// pod reads. Each must be listed by model.SecretKeys, which the
// ExternalSecrets are built from, with the keys the pods read; and each
// listed Secret must be read by some pod (no stale entries). Where an
// environment uses ExternalSecrets, they must be exactly that list.
func TestSecretKeysCoverTheWholeSystem(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	charts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	withExternal := 0
	for name, r := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			env := r.Env
			objs := decodeOverlay(t, r)
			milvusChart := filepath.Join(shared, "charts", fmt.Sprintf("milvus-%s.tgz", env.Milvus.Chart.Version))
			objs = append(objs, decodeAll(t, run(t, helm, "template", env.Release, milvusChart, "--namespace", env.Namespace,
				"--kube-version", "v1.37.2", "--values", writeTemp(t, "values.yaml", r.Values("values.yaml"))))...)
			for _, dep := range []string{"etcd", "minio", "pulsar", "kafka"} {
				values := r.Values("values-" + dep + ".yaml")
				if values == nil {
					continue
				}
				objs = append(objs, templateDependency(t, helm, charts, dep, env, values, "").all...)
			}

			read := secretsReadByPods(t, objs)
			want := env.SecretKeys()
			if len(read) == 0 {
				t.Fatal("no pod reads a Secret: the walk is broken")
			}
			for secret, keys := range read {
				listed, ok := want[secret]
				if !ok {
					t.Errorf("pods read Secret %s (keys %v), which SecretKeys does not list", secret, sorted(keys))
					continue
				}
				for k := range keys {
					if k != wholeSecret && !contains(listed, k) {
						t.Errorf("pods read key %s of Secret %s, which SecretKeys does not list (%v)", k, secret, listed)
					}
				}
			}
			for secret, keys := range want {
				if _, ok := read[secret]; !ok {
					t.Errorf("SecretKeys lists Secret %s (%v), which no pod reads", secret, keys)
				}
			}

			var external []*secrets.ExternalSecret
			for _, o := range objs {
				if o.GetKind() == "ExternalSecret" {
					var x secrets.ExternalSecret
					convert(t, o, &x)
					external = append(external, &x)
				}
			}
			if env.Secrets.ExternalSecrets == nil {
				if len(external) > 0 {
					t.Errorf("%d ExternalSecrets rendered without secrets.externalSecrets", len(external))
				}
				return
			}
			withExternal++
			got := map[string][]string{}
			for _, x := range external {
				if x.Spec.Target.Name != x.Name || x.Namespace != env.Namespace {
					t.Errorf("ExternalSecret %s/%s targets Secret %s", x.Namespace, x.Name, x.Spec.Target.Name)
				}
				for _, d := range x.Spec.Data {
					got[x.Spec.Target.Name] = append(got[x.Spec.Target.Name], d.SecretKey)
					if d.RemoteRef.Key == "" || d.RemoteRef.Property != d.SecretKey {
						t.Errorf("ExternalSecret %s key %s: remote ref %+v", x.Name, d.SecretKey, d.RemoteRef)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("ExternalSecrets create %v, the spec references %v", got, want)
			}
			t.Logf("%d Secrets, all from ExternalSecrets: %v", len(want), want)
		})
	}
	if withExternal == 0 {
		t.Error("no environment uses ExternalSecrets: that path is untested")
	}
}

// secretsReadByPods returns, per Secret not created in the stream itself,
// the keys that pods read from it: environment variables, envFrom,
// secret volumes and projected volumes.
func secretsReadByPods(t *testing.T, objs []*unstructured.Unstructured) map[string]map[string]bool {
	t.Helper()
	created := map[string]bool{}
	read := map[string]map[string]bool{}
	add := func(secret, key string) {
		if read[secret] == nil {
			read[secret] = map[string]bool{}
		}
		read[secret][key] = true
	}
	addVolume := func(name string, items []corev1.KeyToPath) {
		if len(items) == 0 {
			add(name, wholeSecret)
		}
		for _, i := range items {
			add(name, i.Key)
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Secret" {
			created[o.GetName()] = true
		}
		var path []string
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			path = []string{"spec", "template", "spec"}
		case "CronJob":
			path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
		case "Pod":
			path = []string{"spec"}
		default:
			continue
		}
		raw, ok := dig(o.Object, path...).(map[string]any)
		if !ok {
			t.Fatalf("%s %s has no pod spec", o.GetKind(), o.GetName())
		}
		var pod corev1.PodSpec
		convert(t, &unstructured.Unstructured{Object: raw}, &pod)
		for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil {
					add(e.SecretRef.Name, wholeSecret)
				}
			}
		}
		for _, v := range pod.Volumes {
			if v.Secret != nil {
				addVolume(v.Secret.SecretName, v.Secret.Items)
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.Secret != nil {
						addVolume(s.Secret.Name, s.Secret.Items)
					}
				}
			}
		}
	}
	for name := range created {
		delete(read, name)
	}
	return read
}

func sorted(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestArgoCDSyncOrder checks the sync waves of every Argo CD environment:
// Argo CD orders by wave before kind, so the Namespace must come strictly
// first, the ExternalSecrets before every Application, the dependencies'
// Applications before Milvus'.
func TestArgoCDSyncOrder(t *testing.T) {
	tested := 0
	for name, r := range renderAll(t) {
		if r.Env.Delivery.Kind != "argocd" {
			continue
		}
		tested++
		wave := func(o *unstructured.Unstructured) int {
			w, err := strconv.Atoi(o.GetAnnotations()["argocd.argoproj.io/sync-wave"])
			if err != nil {
				return 0 // Argo CD's default wave
			}
			return w
		}
		objs := decodeOverlay(t, r)
		var ns *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "Namespace" {
				ns = o
			}
		}
		if ns == nil {
			t.Fatalf("%s: no Namespace", name)
		}
		for _, o := range objs {
			if o == ns {
				continue
			}
			if wave(o) <= wave(ns) {
				t.Errorf("%s: %s %s in wave %d, not after the Namespace (%d)", name, o.GetKind(), o.GetName(), wave(o), wave(ns))
			}
			for _, app := range objs {
				if app.GetKind() != "Application" {
					continue
				}
				if o.GetKind() == "ExternalSecret" && wave(o) >= wave(app) {
					t.Errorf("%s: ExternalSecret %s (wave %d) not before Application %s (wave %d)", name, o.GetName(), wave(o), app.GetName(), wave(app))
				}
				if o.GetKind() == "Application" && o.GetName() != r.Env.Release && app.GetName() == r.Env.Release && wave(o) >= wave(app) {
					t.Errorf("%s: dependency %s (wave %d) not before Milvus (wave %d)", name, o.GetName(), wave(o), wave(app))
				}
			}
		}
	}
	if tested == 0 {
		t.Error("no environment is delivered by Argo CD")
	}
}
