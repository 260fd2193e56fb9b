package dependencies

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// BucketsJob creates the managed MinIO's buckets (Milvus' and the
// backup's), in place of the chart's make-bucket Job: that one is a Helm
// post-install hook, which Helm (and Flux with it) does not post-render,
// so it cannot be given the "restricted" security context the chart has
// no keys for, and a restricted namespace refuses it (the simulated
// cluster showed the install hang on it). This one waits for MinIO, makes
// each bucket if missing, and changes nothing else; its name carries a
// hash of its spec because a Job's template is immutable.
func BucketsJob(env *model.Environment) *batchv1.Job {
	m := env.Dependencies.ObjectStorage.Managed
	if m == nil {
		return nil
	}
	release := env.Release + "-minio"
	var buckets []string
	for _, b := range minioBuckets(env) {
		buckets = append(buckets, b.Name)
	}
	// mc keeps its configuration in MC_CONFIG_DIR (an emptyDir: the root
	// filesystem is read-only); the endpoint is the chart's Service.
	script := fmt.Sprintf(`set -eu
until mc alias set minio http://%s:9000 "$ACCESS_KEY" "$SECRET_KEY" >/dev/null; do
  echo "waiting for MinIO"; sleep 5
done
for b in %s; do
  mc mb --ignore-existing "minio/$b"
done
`, release, strings.Join(buckets, " "))
	no, yes := false, true
	uid := int64(65532)
	backoff := int32(6)
	// Long enough for MinIO's volumes to be provisioned and its servers
	// to form their erasure set. No TTL: a GitOps controller would apply
	// a deleted Job again.
	deadline := int64(3600)
	labels := generators.CommonLabels(env.Name, env.Release, env.Labels)
	// The release label lets it through the MinIO NetworkPolicy (package
	// network: a release's own pods reach it).
	podLabels := generators.WithLabels(labels, map[string]string{"app": "minio-buckets", "release": release})
	spec := batchv1.JobSpec{
		BackoffLimit:          &backoff,
		ActiveDeadlineSeconds: &deadline,
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
			Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyOnFailure,
				AutomountServiceAccountToken: &no,
				EnableServiceLinks:           &no,
				ImagePullSecrets:             generators.PullSecrets(env),
				SecurityContext: &corev1.PodSecurityContext{
					RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				Containers: []corev1.Container{{
					Name:    "buckets",
					Image:   env.Images.Repository(m.MCImage.Repository) + ":" + m.MCImage.Tag,
					Command: []string{"/bin/sh", "-c", script},
					Env: []corev1.EnvVar{
						generators.SecretEnv("ACCESS_KEY", m.RootCredentials.SecretName, "accesskey"),
						generators.SecretEnv("SECRET_KEY", m.RootCredentials.SecretName, "secretkey"),
						{Name: "MC_CONFIG_DIR", Value: "/tmp/mc"},
					},
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					},
					SecurityContext: generators.RestrictedContainerSecurityContext(),
					VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
				}},
				Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			},
		},
	}
	generators.Place(&spec.Template.Spec, env.Placement)
	// encoding/json sorts map keys: the same spec, the same name.
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err) // a JobSpec always marshals
	}
	digest := sha256.Sum256(b)
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: release + "-buckets-" + hex.EncodeToString(digest[:])[:8], Namespace: env.Namespace, Labels: labels,
		},
		Spec: spec,
	}
	if env.Delivery.Kind == "argocd" {
		// With the MinIO Application, before Milvus (wave 0).
		job.Annotations = map[string]string{generators.ArgoCDSyncWave: "-1"}
	}
	return job
}
