package generators

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/milvus-gitops/milvusgen/model"
)

// NonRootUID is the UID our own Jobs run as (no image we run needs root).
const NonRootUID int64 = 65532

// RestrictedPodSecurityContext passes the "restricted" Pod Security
// Standard: non-root with a fixed UID/GID, RuntimeDefault seccomp.
func RestrictedPodSecurityContext() *corev1.PodSecurityContext {
	yes := true
	uid := NonRootUID
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   &yes,
		RunAsUser:      &uid,
		RunAsGroup:     &uid,
		FSGroup:        &uid,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// RestrictedContainerSecurityContext: no privilege escalation, no
// capabilities, a read-only root filesystem.
func RestrictedContainerSecurityContext() *corev1.SecurityContext {
	yes, no := true, false
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		ReadOnlyRootFilesystem:   &yes,
		RunAsNonRoot:             &yes,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// PullSecrets are the environment's image pull secrets as a pod takes them.
func PullSecrets(env *model.Environment) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, s := range env.Images.PullSecrets {
		out = append(out, corev1.LocalObjectReference{Name: s})
	}
	return out
}

// SecretEnv is an environment variable read from a Secret key.
func SecretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret},
			Key:                  key,
		},
	}}
}

// ResourceRequirements converts spec resources (CPU in cores, whole
// millicores as the schema enforces; memory in bytes) into Kubernetes ones.
func ResourceRequirements(r model.Resources) corev1.ResourceRequirements {
	list := func(q model.Quantities) corev1.ResourceList {
		return corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(math.Round(q.CPU*1000)), resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(q.Memory, resource.BinarySI),
		}
	}
	return corev1.ResourceRequirements{Requests: list(r.Requests), Limits: list(r.Limits)}
}

// Tolerations converts the spec's tolerations.
func Tolerations(p model.Placement) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range p.Tolerations {
		out = append(out, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: corev1.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds,
		})
	}
	return out
}

// Place sets a pod's node selector, tolerations and priority class.
func Place(spec *corev1.PodSpec, p model.Placement) {
	if len(p.NodeSelector) > 0 {
		spec.NodeSelector = p.NodeSelector
	}
	spec.Tolerations = Tolerations(p)
	spec.PriorityClassName = p.PriorityClassName
}
