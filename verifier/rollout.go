package verifier

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// helmReleases is Flux's HelmRelease resource.
var helmReleases = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}

// WaitHelmRelease waits until Flux has reconciled the HelmRelease's latest
// spec (observedGeneration caught up) and reports it Ready: helm-controller
// marks it Ready only once the upgraded workloads are ready, so the
// verification measures the new release, not the old pods it replaces.
func WaitHelmRelease(ctx context.Context, dyn dynamic.Interface, namespace, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for attempt := 0; ; attempt++ {
		hr, err := dyn.Resource(helmReleases).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if ok, why := helmReleaseReady(hr); ok {
				return nil
			} else {
				last = why
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("HelmRelease %s/%s not ready after %s: %s", namespace, name, timeout, last)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

func helmReleaseReady(hr *unstructured.Unstructured) (bool, string) {
	gen := hr.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(hr.Object, "status", "observedGeneration")
	if observed < gen {
		return false, fmt.Sprintf("generation %d not observed yet (%d)", gen, observed)
	}
	conds, _, _ := unstructured.NestedSlice(hr.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			if m["status"] == "True" {
				return true, ""
			}
			return false, fmt.Sprintf("Ready=%v: %v", m["status"], m["message"])
		}
	}
	return false, "no Ready condition yet"
}
