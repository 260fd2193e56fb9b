// Package generators holds what every generator shares. Each subpackage
// turns a validated model.Environment into Kubernetes objects: pure
// functions, no I/O, no clocks, no globals.
package generators

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is a Kubernetes object with its type set, as the writer needs it:
// the kind and name name its file.
type Object interface {
	GetObjectKind() schema.ObjectKind
	GetName() string
	GetNamespace() string
}

// CommonLabels are put on every object we generate (not on the chart's
// objects: Helm labels those itself).
func CommonLabels(env, release string, extra map[string]string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/managed-by": "milvusgen",
		"app.kubernetes.io/part-of":    "milvus",
		"app.kubernetes.io/instance":   release,
		"milvusgen.io/environment":     env,
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// ArgoCDSyncWave is the annotation that orders an Argo CD sync. Argo CD
// applies wave by wave, lowest first, and orders by kind only within a
// wave. The waves we use: the Namespace -3, ExternalSecrets -2, the managed
// dependencies' Applications -1, Milvus' Application 0.
const ArgoCDSyncWave = "argocd.argoproj.io/sync-wave"

// ReleaseDigestAnnotation carries the digest of what the Milvus release
// runs (chart version, values, post-render patches). On Argo CD's Milvus
// Application it makes every such change a change of the overlay's own
// objects: the values file and a release directory's kustomization are
// read by the child Application, not synced by the parent, so without it
// a values-only change left the parent in sync and its PostSync
// verification hook never ran.
const ReleaseDigestAnnotation = "milvusgen.io/release-digest"

// UpgradePhaseAnnotation says, on the Milvus release's HelmRelease or
// Application, which phase of an upgrade this commit makes and which
// components stay on the old image (package upgrade).
const UpgradePhaseAnnotation = "milvusgen.io/upgrade-phase"

// ZoneSpread spreads the pods matching selector evenly over the values of
// the zone label: maxSkew 1, and nodeTaintsPolicy Honor, so that a zone
// whose nodes are all tainted (cordoned, unreachable) is no domain (with
// the default, Ignore, its empty count would hold replacements Pending
// under DoNotSchedule).
func ZoneSpread(zoneLabel string, selector map[string]string, action corev1.UnsatisfiableConstraintAction) corev1.TopologySpreadConstraint {
	honor := corev1.NodeInclusionPolicyHonor
	return corev1.TopologySpreadConstraint{
		MaxSkew:           1,
		TopologyKey:       zoneLabel,
		WhenUnsatisfiable: action,
		LabelSelector:     &metav1.LabelSelector{MatchLabels: selector},
		NodeTaintsPolicy:  &honor,
	}
}

// KubernetesVersion is the Kubernetes minor we render for and validate
// against: the Pod Security version the namespaces enforce, and the version
// charts see when they are rendered outside a cluster.
const KubernetesVersion = "v1.37"
