package integration

import (
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// TestOurPodsAreRestricted evaluates every Pod template we generate (the
// backup CronJob, the restore Job, ...) against the "restricted" Pod
// Security Standard, and checks what the standard does not require but we
// promise: a read-only root filesystem and no API token unless needed.
func TestOurPodsAreRestricted(t *testing.T) {
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	version, err := psapi.ParseVersion("v1.37")
	if err != nil {
		t.Fatal(err)
	}
	restricted := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: version}
	seen := 0
	for name, r := range renderAll(t) {
		// Accounts bound to a Role need their token; the others must not
		// mount one.
		bound := map[string]bool{}
		for _, p := range r.Files.Paths() {
			if !strings.HasPrefix(p, "rolebinding-") {
				continue
			}
			var rb rbacv1.RoleBinding
			convert(t, decodeAll(t, r.Files[p])[0], &rb)
			for _, s := range rb.Subjects {
				bound[s.Name] = true
			}
		}
		for _, p := range r.Files.Paths() {
			if strings.HasSuffix(p, "kustomization.yaml") || strings.HasPrefix(filepath.Base(p), "values") {
				continue
			}
			for _, o := range decodeAll(t, r.Files[p]) {
				var tmpl *corev1.PodTemplateSpec
				switch o.GetKind() {
				case "CronJob":
					var c batchv1.CronJob
					convert(t, o, &c)
					tmpl = &c.Spec.JobTemplate.Spec.Template
				case "Job":
					var j batchv1.Job
					convert(t, o, &j)
					tmpl = &j.Spec.Template
				case "Deployment", "StatefulSet", "DaemonSet", "Pod":
					t.Errorf("%s: unexpected %s: add it to this test", p, o.GetKind())
				}
				if tmpl == nil {
					continue
				}
				seen++
				agg := policy.AggregateCheckResults(ev.EvaluatePod(restricted, &tmpl.ObjectMeta, &tmpl.Spec))
				if !agg.Allowed {
					t.Errorf("%s/%s: violates restricted: %s", name, p, agg.ForbiddenDetail())
				}
				if a := tmpl.Spec.AutomountServiceAccountToken; a == nil || *a != bound[tmpl.Spec.ServiceAccountName] {
					t.Errorf("%s/%s: automountServiceAccountToken %v, but its account has a Role: %v", name, p, a, bound[tmpl.Spec.ServiceAccountName])
				}
				for _, c := range tmpl.Spec.Containers {
					if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
						t.Errorf("%s/%s: container %s has a writable root filesystem", name, p, c.Name)
					}
					if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
						t.Errorf("%s/%s: container %s has no resources", name, p, c.Name)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no Pod template rendered: nothing was checked")
	}
	t.Logf("%d Pod templates pass restricted", seen)
}
