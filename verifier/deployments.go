package verifier

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	cronJobs    = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
)

// WaitImages waits until each named Deployment runs its image (first
// container) and has rolled out: its controller observed the latest spec,
// and every replica is updated and available with no old one left. This
// is what the delivery says runs, seen live: with Argo CD the parent's
// PostSync hook starts before the child Application has synced Milvus,
// and in an upgrade phase only some components move.
func WaitImages(ctx context.Context, dyn dynamic.Interface, namespace string, want map[string]string, timeout time.Duration) error {
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	deadline := time.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		var waiting []string
		for _, n := range names {
			d, err := dyn.Resource(deployments).Namespace(namespace).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				waiting = append(waiting, fmt.Sprintf("%s: %v", n, err))
				continue
			}
			if ok, why := rolledOut(d, want[n]); !ok {
				waiting = append(waiting, n+": "+why)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Deployments not rolled out to their images after %s: %s", timeout, strings.Join(waiting, "; "))
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

// rolledOut reports whether Deployment d runs image and has rolled out,
// or why not.
func rolledOut(d *unstructured.Unstructured, image string) (bool, string) {
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	got := ""
	if len(containers) > 0 {
		c, _ := containers[0].(map[string]any)
		got, _ = c["image"].(string)
	}
	if got != image {
		return false, fmt.Sprintf("runs %s, waiting for %s", got, image)
	}
	n := func(path ...string) int64 { v, _, _ := unstructured.NestedInt64(d.Object, path...); return v }
	want := int64(1)
	if r, ok, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); ok {
		want = r
	}
	switch {
	case n("status", "observedGeneration") < d.GetGeneration():
		return false, "generation not observed yet"
	case n("status", "updatedReplicas") < want:
		return false, fmt.Sprintf("%d of %d replicas updated", n("status", "updatedReplicas"), want)
	case n("status", "replicas") > want:
		return false, fmt.Sprintf("%d old replicas left", n("status", "replicas")-want)
	case n("status", "availableReplicas") < want:
		return false, fmt.Sprintf("%d of %d replicas available", n("status", "availableReplicas"), want)
	}
	return true, ""
}

// BackupFresh checks that the backup CronJob last succeeded within maxAge
// before now: what the MilvusBackupStale alert watches
// (kube_cronjob_status_last_successful_time), asked before an upgrade
// changes what a restore would have to undo.
// It returns the backup's age (negative: it never succeeded), and an
// error when it is too old, never succeeded, or cannot be read (then
// checked is false: the check could not be made).
func BackupFresh(ctx context.Context, dyn dynamic.Interface, namespace, name string, maxAge time.Duration, now time.Time) (age time.Duration, checked bool, err error) {
	cj, err := dyn.Resource(cronJobs).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, false, fmt.Errorf("backup CronJob %s/%s: %w", namespace, name, err)
	}
	last, _, _ := unstructured.NestedString(cj.Object, "status", "lastSuccessfulTime")
	if last == "" {
		return -1, true, fmt.Errorf("backup CronJob %s/%s has never succeeded: take a backup before the upgrade (kubectl create job --from=cronjob/%s)", namespace, name, name)
	}
	t, err := time.Parse(time.RFC3339, last)
	if err != nil {
		return 0, false, fmt.Errorf("backup CronJob %s/%s: lastSuccessfulTime %q: %w", namespace, name, last, err)
	}
	if age = now.Sub(t); age > maxAge {
		return age, true, fmt.Errorf("the last successful backup (CronJob %s/%s, %s) is %s old, more than %s: take a backup before the upgrade (kubectl create job --from=cronjob/%s)",
			namespace, name, last, age.Round(time.Minute), maxAge, name)
	}
	return age, true, nil
}
