// Package backup generates the scheduled milvus-backup CronJob (with its
// retention prune), its configuration and ServiceAccount, and the opt-in
// restore Job.
package backup

import (
	"embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/milvus-gitops/milvusgen/yamlenc"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

//go:embed scripts/*.sh
var scripts embed.FS

// Paths inside the milvus-backup image (WORKDIR /app).
const (
	configDir  = "/app/configs"
	scriptsDir = "/app/scripts"
	binary     = "/app/milvus-backup"
	milvusPort = 19530
	// metricsPort serves Milvus' management API, with the GC pause.
	metricsPort = 9091
)

// Names of the objects, shared by the CronJob, the restore Job and alerts.
func CronJobName(env *model.Environment) string { return env.Release + "-backup" }
func configName(env *model.Environment) string  { return env.Release + "-backup" }

// RestoreRequestName is the ConfigMap an operator creates to name the
// backup to restore: kubectl create configmap <it> --from-literal=backupName=...
func RestoreRequestName(env *model.Environment) string { return env.Release + "-restore-request" }

// Prefix of scheduled backup names (milvus-backup allows [A-Za-z0-9_]).
func Prefix(env *model.Environment) string { return strings.ReplaceAll(CronJobName(env), "-", "_") }

// Objects returns the backup's ServiceAccount, ConfigMap and CronJob.
func Objects(env *model.Environment) ([]generators.Object, error) {
	if !env.Backup.Enabled {
		return nil, nil
	}
	cm, err := configMap(env)
	if err != nil {
		return nil, err
	}
	pod, err := podSpec(env, "backup.sh")
	if err != nil {
		return nil, err
	}
	b := env.Backup
	pod.Containers[0].Env = append(pod.Containers[0].Env,
		corev1.EnvVar{Name: "JOB_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['batch.kubernetes.io/job-name']"}}},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		// A scheduled run starts within the starting deadline and ends within
		// the active deadline; a Job that claims an older minute is manual.
		corev1.EnvVar{Name: "MAX_START_DELAY_MINUTES", Value: strconv.FormatInt((b.StartingDeadlineSeconds+b.ActiveDeadlineSeconds)/60+1, 10)},
		corev1.EnvVar{Name: "BACKUP_PREFIX", Value: Prefix(env)},
		corev1.EnvVar{Name: "KEEP_LAST", Value: strconv.Itoa(b.Retention.KeepLast)},
		corev1.EnvVar{Name: "MAX_AGE_DAYS", Value: strconv.Itoa(deref(b.Retention.MaxAgeDays))},
	)
	if b.Strategy != "auto" {
		pod.Containers[0].Env = append(pod.Containers[0].Env, corev1.EnvVar{Name: "BACKUP_STRATEGY", Value: b.Strategy})
	}
	tz := b.TimeZone
	cron := &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: meta(env, CronJobName(env)),
		Spec: batchv1.CronJobSpec{
			Schedule:                   b.Schedule,
			TimeZone:                   &tz,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    &b.StartingDeadlineSeconds,
			SuccessfulJobsHistoryLimit: &b.SuccessfulJobsHistoryLimit,
			FailedJobsHistoryLimit:     &b.FailedJobsHistoryLimit,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(env, "backup")},
				Spec: batchv1.JobSpec{
					BackoffLimit:          &b.BackoffLimit,
					ActiveDeadlineSeconds: &b.ActiveDeadlineSeconds,
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: podLabels(env, "backup")},
						Spec:       *pod,
					},
				},
			},
		},
	}
	return []generators.Object{serviceAccount(env), cm, cron}, nil
}

// RestoreObjects returns the opt-in restore Job. It is written to
// out/<env>/restore/, which the overlay's kustomization does not include:
// Flux and Argo CD never apply it; an operator does, on purpose.
func RestoreObjects(env *model.Environment) ([]generators.Object, error) {
	if !env.Backup.Enabled {
		return nil, nil
	}
	pod, err := podSpec(env, "restore.sh")
	if err != nil {
		return nil, err
	}
	pod.Containers[0].Name = "restore"
	pod.Containers[0].Env = append(pod.Containers[0].Env,
		corev1.EnvVar{Name: "BACKUP_NAME", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: RestoreRequestName(env)},
			Key:                  "backupName",
		}}},
		corev1.EnvVar{Name: "RESTORE_SUFFIX", Value: env.Backup.Restore.Suffix},
	)
	zero := int32(0)
	day := int32(86400)
	deadline := env.Backup.ActiveDeadlineSeconds
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(env, env.Release+"-restore"),
		Spec: batchv1.JobSpec{
			// A restore runs once: a retry could half-restore twice.
			BackoffLimit:            &zero,
			ActiveDeadlineSeconds:   &deadline,
			TTLSecondsAfterFinished: &day,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(env, "restore")},
				Spec:       *pod,
			},
		},
	}
	return []generators.Object{job}, nil
}

func podSpec(env *model.Environment, script string) (*corev1.PodSpec, error) {
	b := env.Backup
	no := false
	mode := int32(0o555)
	env2 := credentialEnv(env)
	if len(b.Collections) > 0 {
		env2 = append(env2, corev1.EnvVar{Name: "BACKUP_FILTER", Value: strings.Join(b.Collections, ",")})
	}
	spec := &corev1.PodSpec{
		ServiceAccountName: env.Release + "-backup",
		// milvus-backup talks to Milvus and object storage, not to the
		// Kubernetes API.
		AutomountServiceAccountToken: &no,
		RestartPolicy:                corev1.RestartPolicyNever,
		// milvus-backup reads MINIO_PORT, MILVUS_PORT, ... before its config
		// file: the service links of a Service named "minio" or "milvus"
		// (MINIO_PORT=tcp://...) would crash it.
		EnableServiceLinks: &no,
		ImagePullSecrets:   generators.PullSecrets(env),
		SecurityContext:    generators.RestrictedPodSecurityContext(),
		Containers: []corev1.Container{{
			Name:            "backup",
			Image:           env.Images.Repository(b.Image.Repository) + ":" + b.Image.Tag,
			ImagePullPolicy: corev1.PullPolicy(b.Image.PullPolicy),
			// The image's entrypoint starts a server; run the script.
			Command:         []string{"/bin/sh", scriptsDir + "/" + script},
			Env:             env2,
			Resources:       generators.ResourceRequirements(b.Resources),
			SecurityContext: generators.RestrictedContainerSecurityContext(),
			VolumeMounts: []corev1.VolumeMount{
				{Name: "config", MountPath: configDir, ReadOnly: true},
				{Name: "scripts", MountPath: scriptsDir, ReadOnly: true},
				{Name: "tmp", MountPath: "/tmp"},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: configName(env)},
				Items:                []corev1.KeyToPath{{Key: "backup.yaml", Path: "backup.yaml"}},
			}}},
			{Name: "scripts", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: configName(env)},
				Items:                []corev1.KeyToPath{{Key: "backup.sh", Path: "backup.sh"}, {Key: "restore.sh", Path: "restore.sh"}},
				DefaultMode:          &mode,
			}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
	generators.Place(spec, env.Placement)
	return spec, nil
}

// credentialEnv: milvus-backup reads every credential from the
// environment; they come from Secrets only.
func credentialEnv(env *model.Environment) []corev1.EnvVar {
	var out []corev1.EnvVar
	if c := env.Backup.MilvusCredentials; c != nil {
		out = append(out, generators.SecretEnv("MILVUS_USER", c.Username.Name, c.Username.Key), generators.SecretEnv("MILVUS_PASSWORD", c.Password.Name, c.Password.Key))
	}
	if c := env.Dependencies.ObjectStorage.Credentials; c != nil {
		out = append(out, generators.SecretEnv("MINIO_ACCESS_KEY", c.AccessKeyID.Name, c.AccessKeyID.Key), generators.SecretEnv("MINIO_SECRET_KEY", c.SecretAccessKey.Name, c.SecretAccessKey.Key))
	}
	if c := backupCredentials(env); c != nil {
		out = append(out, generators.SecretEnv("MINIO_BACKUP_ACCESS_KEY", c.AccessKeyID.Name, c.AccessKeyID.Key), generators.SecretEnv("MINIO_BACKUP_SECRET_KEY", c.SecretAccessKey.Name, c.SecretAccessKey.Key))
	}
	return out
}

// backupCredentials are the backup storage's, else Milvus' own.
func backupCredentials(env *model.Environment) *model.S3Credentials {
	s := env.Backup.Storage
	if s.Credentials != nil {
		return s.Credentials
	}
	if s.UseIAM != nil && *s.UseIAM {
		return nil
	}
	return env.Dependencies.ObjectStorage.Credentials
}

func configMap(env *model.Environment) (*corev1.ConfigMap, error) {
	cfg, err := yamlenc.Marshal(config(env))
	if err != nil {
		return nil, err
	}
	data := map[string]string{"backup.yaml": string(cfg)}
	for _, s := range []string{"backup.sh", "restore.sh"} {
		b, err := scripts.ReadFile("scripts/" + s)
		if err != nil {
			return nil, err
		}
		data[s] = string(b)
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(env, configName(env)),
		Data:       data,
	}, nil
}

func config(env *model.Environment) Config {
	o := env.Dependencies.ObjectStorage
	s := env.Backup.Storage
	c := Config{
		Log:    LogConfig{Level: "info", Console: true},
		Milvus: MilvusConfig{Address: env.ChartFullname(), Port: milvusPort},
		Minio: MinioConfig{
			StorageType: storageType(o.CloudProvider, o.Host, o.UseIAM),
			Address:     o.Host, Port: o.Port, Region: o.Region, UseSSL: o.UseSSL,
			UseIAM: o.UseIAM, IAMEndpoint: o.IAMEndpoint,
			BucketName: o.Bucket, RootPath: o.RootPath,
			BackupAddress:    or(s.Host, o.Host),
			BackupPort:       or(s.Port, o.Port),
			BackupRegion:     or(s.Region, o.Region),
			BackupUseSSL:     or(s.UseSSL, o.UseSSL),
			BackupUseIAM:     or(s.UseIAM, o.UseIAM),
			BackupBucketName: s.Bucket,
			BackupRootPath:   s.RootPath,
		},
		Backup: BackupConfig{GCPause: GCPauseConfig{
			Enable:  true,
			Address: fmt.Sprintf("http://%s:%d", env.ChartFullname(), metricsPort),
		}},
	}
	c.Minio.BackupStorageType = storageType(o.CloudProvider, c.Minio.BackupAddress, c.Minio.BackupUseIAM)
	c.Minio.CrossStorage = c.Minio.BackupAddress != o.Host || c.Minio.BackupPort != o.Port || s.Credentials != nil
	return c
}

// storageType maps Milvus' cloudProvider to milvus-backup's storage type:
// an S3-compatible endpoint (MinIO, Ceph, ...) is "minio"; AWS itself "aws".
func storageType(provider, host string, iam bool) string {
	switch provider {
	case "aws":
		if iam || strings.HasSuffix(host, ".amazonaws.com") {
			return "aws"
		}
		return "minio"
	case "aliyun":
		return "ali"
	case "tencent":
		return "tc"
	}
	return provider // gcp, azure
}

// serviceAccount carries the backup's cloud identity in its annotations.
// No API token is mounted: the identity webhooks (EKS, Azure) project a
// token of their own, and GKE serves it from the metadata server.
func serviceAccount(env *model.Environment) *corev1.ServiceAccount {
	no := false
	m := meta(env, env.Release+"-backup")
	if a := env.Backup.ServiceAccount.Annotations; len(a) > 0 {
		m.Annotations = a
	}
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   m,
		AutomountServiceAccountToken: &no,
	}
}

func meta(env *model.Environment, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: env.Namespace, Labels: generators.CommonLabels(env.Name, env.Release, env.Labels)}
}

func podLabels(env *model.Environment, component string) map[string]string {
	l := generators.CommonLabels(env.Name, env.Release, env.Labels)
	l["app.kubernetes.io/name"] = "milvus-backup"
	l["app.kubernetes.io/component"] = component
	// The backup's cloud identity reaches its pods (Azure needs a label).
	return generators.WithLabels(l, generators.CloudIdentityPodLabels(env.Backup.ServiceAccount.Annotations))
}

func or[T any](p *T, def T) T {
	if p != nil {
		return *p
	}
	return def
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
