// Package verify generates the verification Job that runs the verifier
// against the deployment after a sync, with the least-privilege RBAC its
// fault phase needs.
package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/generators/backup"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/naming"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Name is the ServiceAccount, Role and RoleBinding name (the Job's name
// may carry a hash suffix).
func Name(env *model.Environment) string { return env.Release + "-verify" }

// Objects returns the ServiceAccount, Role, RoleBinding and Job.
// valuesDigest identifies what Milvus runs (delivery.ReleaseDigest): with
// Flux it is part of the Job's name, so each change is verified once; the
// Job carries it as an annotation either way, saying what it verified.
func Objects(env *model.Environment, valuesDigest string) ([]generators.Object, error) {
	v := env.Verification
	if !v.Enabled {
		return nil, nil
	}
	name := Name(env)
	labels := generators.CommonLabels(env.Name, env.Release, env.Labels)
	meta := func(n string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Namespace: env.Namespace, Labels: labels}
	}
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: meta(name),
	}
	// Only what the fault phase needs, only in this namespace: find the
	// query-node pods, delete one, or evict it through the Eviction API.
	// RBAC cannot narrow a delete to a label selector: the admission
	// policy below does.
	var rules []rbacv1.PolicyRule
	if v.Fault.Enabled {
		rules = append(rules,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete"}},
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/eviction"}, Verbs: []string{"create"}})
	}
	if env.Delivery.Kind == "flux" {
		// Read its own HelmRelease, to wait until the upgrade is done.
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"helm.toolkit.fluxcd.io"}, Resources: []string{"helmreleases"},
			ResourceNames: []string{env.Release}, Verbs: []string{"get"}})
	}
	// Read the Milvus Deployments, to wait until each runs the image this
	// commit says and has rolled out.
	images, err := deploymentImages(env)
	if err != nil {
		return nil, err
	}
	rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"},
		ResourceNames: slices.Sorted(maps.Keys(images)), Verbs: []string{"get"}})
	cron := backupCheck(env)
	if cron != "" {
		// Read the backup CronJob's last success, before the upgrade.
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"batch"}, Resources: []string{"cronjobs"},
			ResourceNames: []string{cron}, Verbs: []string{"get"}})
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta(name),
		Rules:      rules,
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta(name),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: env.Namespace}},
	}
	job, err := verifyJob(env, labels, valuesDigest, images, cron)
	if err != nil {
		return nil, err
	}
	// It always reads the Milvus Deployments it waits for (--wait-image).
	objs := []generators.Object{sa, role, binding, job}
	if v.Fault.Enabled {
		objs = append(objs, faultPolicy(env, labels)...)
	}
	return objs, nil
}

// FaultSelector is the label selector of the pods the fault phase may
// kill: this release's query nodes.
func FaultSelector(env *model.Environment) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": env.Release, "component": "querynode"}
}

// selectorString is a selector in kubectl's syntax, keys sorted.
func selectorString(sel map[string]string) string {
	keys := slices.Sorted(maps.Keys(sel))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ",")
}

// maxGeneratedNameLength is how much of a generateName the API server
// keeps before its random suffix (63 - 5).
const maxGeneratedNameLength = 58

// PolicyName is the fault policy's name: admission policies are
// cluster-scoped, so it names the namespace too.
func PolicyName(env *model.Environment) string { return Name(env) + "-pods." + env.Namespace }

// faultPolicy narrows what the Role allows, for the verifier's
// ServiceAccount only: a pod it deletes must carry every label of the
// fault selector (the deleted pod is the request's oldObject), and a pod
// it evicts must be named as the query-node Deployment names its pods
// (an Eviction carries the pod's name, not its labels, and a policy
// cannot look the pod up). Without it a bug in the verifier, or a token
// taken from its pod, could delete etcd or MinIO members. A
// ValidatingAdmissionPolicy is GA since Kubernetes 1.30 and needs no
// webhook; failurePolicy Fail refuses the request if the expression
// cannot be evaluated.
func faultPolicy(env *model.Environment, labels map[string]string) []generators.Object {
	name := PolicyName(env)
	sel := FaultSelector(env)
	keys := slices.Sorted(maps.Keys(sel))
	conds := make([]string, len(keys))
	for i, k := range keys {
		conds[i] = fmt.Sprintf("%[1]s in oldObject.metadata.labels && oldObject.metadata.labels[%[1]s] == %[2]s", strconv.Quote(k), strconv.Quote(sel[k]))
	}
	// A Deployment's pods are named <replicaset>-<5 random>, the
	// ReplicaSet <deployment>-<hash>; generateName is cut to 58 characters
	// (k8s.io/apiserver names.MaxGeneratedNameLength), so a long prefix is
	// cut the same way.
	prefix := naming.MilvusFullname(env.Release) + "-" + model.ComponentLabel("queryNode") + "-"
	if len(prefix) > maxGeneratedNameLength {
		prefix = prefix[:maxGeneratedNameLength]
	}
	fail := admissionregistrationv1.Fail
	deny := admissionregistrationv1.Deny
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": env.Namespace}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
					{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
					}},
					{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/eviction"}},
					}},
				},
			},
			MatchConditions: []admissionregistrationv1.MatchCondition{{
				Name:       "verifier",
				Expression: fmt.Sprintf("request.userInfo.username == %s", strconv.Quote("system:serviceaccount:"+env.Namespace+":"+Name(env))),
			}},
			// request.subResource is absent, not empty, on a plain delete.
			Variables: []admissionregistrationv1.Variable{{Name: "eviction", Expression: "has(request.subResource) && request.subResource == 'eviction'"}},
			Validations: []admissionregistrationv1.Validation{
				{
					Expression: "variables.eviction || (has(oldObject.metadata.labels) && " + strings.Join(conds, " && ") + ")",
					Message:    fmt.Sprintf("the verifier may delete only pods matching %s", selectorString(sel)),
				},
				{
					Expression: fmt.Sprintf("!variables.eviction || request.name.startsWith(%s)", strconv.Quote(prefix)),
					Message:    fmt.Sprintf("the verifier may evict only pods named %s*", prefix),
				},
			},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{deny},
		},
	}
	return []generators.Object{policy, binding}
}

// deploymentImages are the Milvus Deployments the chart renders (named as
// its templates name them: <fullname>-<component label>) and the image
// each runs in this commit (upgrade.Tags; the repository as the values'
// image.all.repository).
func deploymentImages(env *model.Environment) (map[string]string, error) {
	tags, err := upgrade.Tags(env)
	if err != nil {
		return nil, err
	}
	repo := env.Images.Repository(env.Milvus.Image.Repository)
	out := map[string]string{}
	for key, tag := range tags {
		out[naming.MilvusFullname(env.Release)+"-"+model.ComponentLabel(key)] = repo + ":" + tag
	}
	return out, nil
}

// backupCheck is the backup CronJob whose last success the run checks,
// or "": in the first phase of an upgrade of an environment with backups,
// the restore point if the upgrade must be undone (no Milvus upgrade is
// reversed otherwise). For 2.5 -> 2.6 that phase changes no version yet.
func backupCheck(env *model.Environment) string {
	ph, err := upgrade.Of(env)
	if err != nil || ph == nil || ph.N != 1 || !env.Backup.Enabled {
		return ""
	}
	return backup.CronJobName(env)
}

// verifyJob is the Job; images are the Deployments it waits for
// (deploymentImages), cron the backup it checks (backupCheck, or "").
func verifyJob(env *model.Environment, labels map[string]string, valuesDigest string, images map[string]string, cron string) (*batchv1.Job, error) {
	ph, err := upgrade.Of(env)
	if err != nil {
		return nil, err
	}
	v := env.Verification
	w := v.Workload
	args := []string{
		"--address", fmt.Sprintf("%s:19530", env.ChartFullname()),
		"--health-url", fmt.Sprintf("http://%s:9091/healthz", env.ChartFullname()),
		// With Flux the Job may start while the chart still rolls out.
		"--health-timeout", "15m",
		"--rows", strconv.Itoa(w.Rows),
		"--dim", strconv.Itoa(w.Dim),
		"--queries", strconv.Itoa(w.Queries),
		"--concurrency", strconv.Itoa(w.Concurrency),
		"--top-k", strconv.Itoa(w.TopK),
		"--index", w.Index,
		"--nlist", strconv.Itoa(w.NList),
		"--nprobe", strconv.Itoa(w.NProbe),
		"--ef", strconv.Itoa(w.Ef),
		"--replicas", strconv.Itoa(w.Replicas),
		"--slo-p99-ms", num(env.SLO.SearchP99Ms),
		"--slo-recall", num(env.SLO.Recall),
		"--slo-availability", num(env.SLO.Availability),
		// The spec's error ratio, as a count of the benchmark's searches.
		"--slo-max-errors", strconv.Itoa(int(env.SLO.ErrorRatio * float64(w.Queries))),
		"--timeout", fmt.Sprintf("%ds", v.ActiveDeadlineSeconds-60),
		"--report", "/tmp/report.json",
		// Collections of runs killed mid-way (a pod deleted, a node
		// lost): older than any run can last.
		"--cleanup-older-than", fmt.Sprintf("%ds", 2*v.ActiveDeadlineSeconds),
	}
	if env.SLO.SearchQPS > 0 {
		// p99 at the rate users state it for (open loop); errors there
		// count against the same ratio.
		args = append(args, "--rate", num(env.SLO.SearchQPS), "--rate-duration", w.RateDuration,
			"--slo-error-ratio", num(env.SLO.ErrorRatio))
	}
	if len(w.Sweep) > 0 {
		levels := make([]string, len(w.Sweep))
		for i, l := range w.Sweep {
			levels[i] = strconv.Itoa(l)
		}
		args = append(args, "--sweep", strings.Join(levels, ","), "--sweep-duration", w.SweepDuration)
	}
	// An upgrade phase also writes, deletes and flushes while searching
	// (30 s unless the workload says): the windows where flush or writes
	// fail (package upgrade) are measured there, and the mixed phase
	// reports errors without failing the run.
	mixed := w.MixedDuration
	if mixed == "" && ph != nil && !ph.Last() {
		mixed = "30s"
	}
	if mixed != "" {
		args = append(args, "--mixed-duration", mixed)
	}
	args = append(args, "--fault-namespace", env.Namespace)
	// An upgrade's phases each get their own run, which says which it
	// verified (the phase is in the Job's spec: Flux names a new Job;
	// Argo CD's sync comes from the Application's annotations).
	if ph != nil && !ph.Last() {
		args = append(args, "--upgrade-phase", ph.Describe())
	}
	if env.Delivery.Kind == "flux" {
		args = append(args, "--wait-helmrelease", env.Release)
	}
	// What runs, seen live, before measuring: with Argo CD the parent's
	// PostSync hook starts before the child Application has synced
	// Milvus, and in an upgrade phase only some components move.
	for _, d := range slices.Sorted(maps.Keys(images)) {
		args = append(args, "--wait-image", d+"="+images[d])
	}
	if cron != "" {
		args = append(args, "--backup-cronjob", cron, "--backup-max-age", fmt.Sprintf("%dh", env.Backup.StaleAfterHours))
	}
	if v.Fault.Enabled {
		args = append(args,
			"--fault-selector", selectorString(FaultSelector(env)),
			"--fault-pods", strconv.Itoa(v.Fault.Pods),
			"--fault-mode", v.Fault.Mode,
			"--fault-window", v.Fault.Window,
		)
	} else {
		args = append(args, "--no-fault")
	}
	var env2 []corev1.EnvVar
	if c := v.MilvusCredentials; c != nil {
		env2 = append(env2, generators.SecretEnv("MILVUS_USERNAME", c.Username.Name, c.Username.Key), generators.SecretEnv("MILVUS_PASSWORD", c.Password.Name, c.Password.Key))
	}
	automount := true  // the Role's reads (--wait-image)
	grace := int64(90) // the verifier's cleanup gets up to 60 s after SIGTERM
	no := false
	zero := int32(0)
	podLabels := map[string]string{}
	for k, val := range labels {
		podLabels[k] = val
	}
	podLabels["app.kubernetes.io/name"] = "milvusgen-verifier"
	podLabels["app.kubernetes.io/component"] = "verification"
	spec := batchv1.JobSpec{
		// A verdict is a verdict: a failed run is not retried into a pass.
		BackoffLimit:          &zero,
		ActiveDeadlineSeconds: &v.ActiveDeadlineSeconds,
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
			Spec: corev1.PodSpec{
				ServiceAccountName:            Name(env),
				TerminationGracePeriodSeconds: &grace,
				AutomountServiceAccountToken:  &automount,
				EnableServiceLinks:            &no,
				RestartPolicy:                 corev1.RestartPolicyNever,
				ImagePullSecrets:              generators.PullSecrets(env),
				SecurityContext:               generators.RestrictedPodSecurityContext(),
				Containers: []corev1.Container{{
					Name:            "verifier",
					Image:           v.Image.Ref(env.Images),
					ImagePullPolicy: corev1.PullPolicy(v.Image.PullPolicy),
					Args:            args,
					Env:             env2,
					Resources:       generators.ResourceRequirements(v.Resources),
					SecurityContext: generators.RestrictedContainerSecurityContext(),
					VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
				}},
				Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			},
		},
	}
	generators.Place(&spec.Template.Spec, env.Placement)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: Name(env), Namespace: env.Namespace, Labels: labels},
		Spec:       spec,
	}
	switch env.Delivery.Kind {
	case "argocd":
		// Runs after every sync; the previous run is deleted first.
		job.Spec.TTLSecondsAfterFinished = &v.TTLSecondsAfterFinished
		job.Annotations = map[string]string{
			"argocd.argoproj.io/hook":               "PostSync",
			"argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
			// Not what makes it run again (Argo CD does not compare hooks):
			// the same annotation on the Milvus Application does.
			generators.ReleaseDigestAnnotation: valuesDigest,
		}
	default:
		// A Job's template is immutable: a new name (a hash of what it runs
		// and of what Milvus runs) makes Flux create a new Job, and prune
		// the old, when either changes. No TTL: Flux would re-create a
		// removed Job and kill a query node again.
		b, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append(b, valuesDigest...))
		job.Name = fmt.Sprintf("%s-%s", Name(env), hex.EncodeToString(sum[:])[:8])
		job.Annotations = map[string]string{generators.ReleaseDigestAnnotation: valuesDigest}
	}
	return job, nil
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
