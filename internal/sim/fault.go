package sim

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/milvus-gitops/milvusgen/verifier"
)

// FaultResult is the verifier's fault phase against the simulated cluster.
type FaultResult struct {
	ServiceAccount string
	Selector       string
	Killed         []string
	// Recovered is how long until the verifier again saw as many running
	// targets as before the kill.
	Recovered time.Duration
}

// verifyJob is the verification Job's arguments by flag and identity,
// when it has a fault phase (jobArgs).
func verifyJob(stream []byte) (args map[string]string, sa, ns string, ok bool, err error) {
	raw, sa, ns, ok, err := jobArgs(stream)
	if err != nil || !ok {
		return nil, "", "", false, err
	}
	args = map[string]string{}
	for i := 0; i+1 < len(raw); i++ {
		args[raw[i]] = raw[i+1]
	}
	if _, fault := args["--fault-selector"]; !fault {
		return nil, "", "", false, nil
	}
	return args, sa, ns, true, nil
}

// VerifierFault runs the Kubernetes half of the verifier's fault phase
// with the verification Job's own ServiceAccount (a token from the
// TokenRequest API, so only its Role applies): it kills its targets, and
// then watches until as many are running as before.
func VerifierFault(ctx context.Context, d *Deployer) (*FaultResult, error) {
	args, sa, jobNS, ok, err := verifyJob(d.Stream)
	if err != nil || !ok {
		return nil, err
	}
	ns := args["--fault-namespace"]
	tok, err := d.Cluster.Client.CoreV1().ServiceAccounts(jobNS).CreateToken(ctx, sa, &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for %s: %w", sa, err)
	}
	cfg := &rest.Config{Host: d.Cluster.Config.Host, BearerToken: tok.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}} // self-signed, loopback only
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	count, _ := strconv.Atoi(args["--fault-pods"])
	k := &verifier.PodKiller{Client: client, Namespace: ns, Selector: args["--fault-selector"], Count: max(count, 1), Mode: args["--fault-mode"]}
	// The verifier's own preflight, as the Job's identity: the rendered
	// Role must let it through (SelfSubjectAccessReview).
	if err := k.Preflight(ctx); err != nil {
		return nil, fmt.Errorf("as %s: %w", sa, err)
	}
	before, err := k.Targets(ctx)
	if err != nil {
		return nil, fmt.Errorf("as %s: %w", sa, err)
	}
	r := &FaultResult{ServiceAccount: sa, Selector: k.Selector}
	start := time.Now()
	if r.Killed, err = k.Kill(ctx); err != nil {
		return r, fmt.Errorf("as %s: %w", sa, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		now, err := k.Targets(ctx)
		if err != nil {
			return r, err
		}
		if len(now) >= len(before) && !slices.ContainsFunc(now, func(p corev1.Pod) bool { return slices.Contains(r.Killed, p.Name) }) {
			r.Recovered = time.Since(start)
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%d of %d targets running 2m after the kill", len(now), len(before))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
