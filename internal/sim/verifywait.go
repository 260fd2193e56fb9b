package sim

import (
	"context"
	"fmt"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/milvus-gitops/milvusgen/verifier"
)

// WaitResult is what the verification Job's own checks saw before it
// would measure: the Deployments it waits for, and the backup check.
type WaitResult struct {
	// Deployments it waited for, each on its image and rolled out.
	Deployments int
	// Backup is the backup check's verdict ("" without one): the
	// simulated CronJob never ran, so a readable one says so.
	Backup string
}

// VerifierWait runs the verifier's pre-measurement checks (--wait-image,
// --backup-cronjob) against the converged cluster as the Job's own
// ServiceAccount: its Role must let it read what it waits for, and the
// live Deployments must run the images the Job expects. Nil without a
// verification Job.
func VerifierWait(ctx context.Context, d *Deployer) (*WaitResult, error) {
	raw, sa, jobNS, ok, err := jobArgs(d.Stream)
	if err != nil || !ok {
		return nil, err
	}
	want := map[string]string{}
	var ns, cron string
	maxAge := 26 * time.Hour
	for i := 0; i+1 < len(raw); i++ {
		switch raw[i] {
		case "--wait-image":
			name, image, _ := strings.Cut(raw[i+1], "=")
			want[name] = image
		case "--fault-namespace":
			ns = raw[i+1]
		case "--backup-cronjob":
			cron = raw[i+1]
		case "--backup-max-age":
			if maxAge, err = time.ParseDuration(raw[i+1]); err != nil {
				return nil, err
			}
		}
	}
	if ns == "" {
		ns = jobNS
	}
	tok, err := d.Cluster.Client.CoreV1().ServiceAccounts(jobNS).CreateToken(ctx, sa, &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for %s: %w", sa, err)
	}
	dyn, err := dynamic.NewForConfig(&rest.Config{Host: d.Cluster.Config.Host, BearerToken: tok.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}}) // self-signed, loopback only
	if err != nil {
		return nil, err
	}
	r := &WaitResult{Deployments: len(want)}
	if err := verifier.WaitImages(ctx, dyn, ns, want, time.Minute); err != nil {
		return r, fmt.Errorf("as %s: %w", sa, err)
	}
	if cron != "" {
		_, checked, err := verifier.BackupFresh(ctx, dyn, ns, cron, maxAge, time.Now())
		if !checked {
			return r, fmt.Errorf("as %s: %w", sa, err)
		}
		r.Backup = "pass"
		if err != nil {
			r.Backup = "fail (the simulated CronJob never ran): " + err.Error()
		}
	}
	return r, nil
}

// jobArgs are the verification Job's arguments and identity.
func jobArgs(stream []byte) (args []string, sa, ns string, ok bool, err error) {
	objs, err := objects(stream)
	if err != nil {
		return nil, "", "", false, err
	}
	for _, o := range objs {
		component, _, _ := unstructured.NestedString(o.Object, "spec", "template", "metadata", "labels", "app.kubernetes.io/component")
		if o.GetKind() != "Job" || component != "verification" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if len(containers) == 0 {
			continue
		}
		args, _, _ = unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		sa, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
		return args, sa, o.GetNamespace(), true, nil
	}
	return nil, "", "", false, nil
}
