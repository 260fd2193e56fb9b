package e2e

import (
	"strings"
	"testing"
)

// TestAPIServerRejectsBrokenObjects proves the harness bites: each broken
// object is refused with the API server's own message.
func TestAPIServerRejectsBrokenObjects(t *testing.T) {
	s := server(t)
	createNamespace(t, s, "e2e-negative")
	cases := []struct {
		name, manifest, want string
	}{
		{
			name: "unknown field",
			manifest: `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: x}
spec: {maxUnavailable: 1, selectr: {matchLabels: {a: b}}}`,
			want: `unknown field "spec.selectr"`,
		},
		{
			name: "selector does not match the template",
			manifest: `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: busybox}]}`,
			want: "selector` does not match template `labels`",
		},
		{
			name: "bad Flux interval",
			manifest: `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: x}
spec:
  interval: ten minutes
  chart: {spec: {chart: milvus, sourceRef: {kind: HelmRepository, name: milvus}}}`,
			want: "spec.interval",
		},
		{
			name: "Argo CD Application without project",
			manifest: `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: x}
spec:
  destination: {server: "https://kubernetes.default.svc", namespace: x}
  source: {repoURL: "https://example.com/x.git", path: ., targetRevision: HEAD}`,
			want: "spec.project: Required value",
		},
		{
			name: "privileged pod in a restricted namespace",
			manifest: `apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  containers:
  - name: c
    image: busybox
    securityContext: {privileged: true}`,
			want: `violates PodSecurity "restricted`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := dryRun(t, s, "e2e-negative", []byte(tc.manifest))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want %q in:\n%v", tc.want, err)
			}
		})
	}
}
