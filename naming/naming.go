// Package naming lists the Kubernetes names an environment derives from its
// name, namespace and release (our objects, the Milvus chart's and every
// managed dependency chart's) and checks each against what Kubernetes,
// Helm and Flux accept, so that a name too long for one derived object is
// refused at the spec field to shorten instead of failing at sync.
//
// The table is the names the generators and the pinned charts produce;
// integration's TestDerivedNamesCoverTheRenders renders every environment
// through the real charts and fails when a rendered name is longer (under
// a rule as strict) than every name listed here.
package naming

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/milvus-gitops/milvusgen/model"
)

// Rule is what Kubernetes (or Helm) accepts for one kind of name.
type Rule int

const (
	// Subdomain: a DNS-1123 subdomain of at most 253 characters (ConfigMap,
	// Secret, Deployment, ServiceAccount, Role, NetworkPolicy, ...).
	Subdomain Rule = iota
	// Label: a DNS-1123 label of at most 63 characters (Namespace).
	Label
	// Service: a DNS-1035 label (starts with a letter), at most 63.
	Service
	// Job: at most 63, since the Job controller copies the name into the
	// job-name label of its pods (batch/v1 validation refuses longer).
	Job
	// StatefulSet: at most 52: its pods carry the controller-revision-hash
	// label, the name plus "-" and a 10-character hash, which must fit 63
	// (kubernetes/kubernetes#64023); the pods' hostnames (name-N) must be
	// DNS labels too.
	StatefulSet
	// CronJob: at most 52: the controller names each Job after it plus "-"
	// and an 8+ digit schedule time, and the Job name must fit 63 (batch/v1
	// validation of CronJob).
	CronJob
	// HelmRelease: Helm refuses release names longer than 53 (they become
	// label values with suffixes), a DNS-1123 subdomain otherwise.
	HelmRelease
	// LabelValue: a label value, at most 63 (app.kubernetes.io/instance
	// carries the release names, milvusgen.io/environment the name).
	LabelValue
)

// Max is the longest name the rule accepts.
func (r Rule) Max() int {
	switch r {
	case Subdomain:
		return validation.DNS1123SubdomainMaxLength
	case StatefulSet, CronJob:
		return 52
	case HelmRelease:
		return 53
	default:
		return validation.DNS1123LabelMaxLength
	}
}

func (r Rule) String() string {
	return [...]string{"a DNS-1123 subdomain", "a DNS-1123 label", "a DNS-1035 label", "a Job name",
		"a StatefulSet name", "a CronJob name", "a Helm release name", "a label value"}[r]
}

// Errors are what Kubernetes' validation says of value under the rule.
func (r Rule) Errors(value string) []string {
	var errs []string
	switch r {
	case Label:
		errs = validation.IsDNS1123Label(value)
	case Service:
		errs = validation.IsDNS1035Label(value)
	case LabelValue:
		errs = validation.IsValidLabelValue(value)
	default:
		errs = validation.IsDNS1123Subdomain(value)
	}
	if len(value) > r.Max() && len(errs) == 0 {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", r.Max()))
	}
	return errs
}

// RuleFor is the rule of an object kind's name.
func RuleFor(kind string) Rule {
	switch kind {
	case "Namespace":
		return Label
	case "Service":
		return Service
	case "Job":
		return Job
	case "StatefulSet":
		return StatefulSet
	case "CronJob":
		return CronJob
	case "HelmRelease", "Application":
		return HelmRelease
	}
	return Subdomain
}

// Name is one derived name.
type Name struct {
	Source string // "overlay", "milvus chart", "pulsar chart", ...
	Kind   string // object kind, or "label" for a label value
	Value  string
	Rule   Rule
	// From is the spec field it is derived from: "release", "namespace"
	// or "name".
	From string
}

// hash stands for the 8 hex digits of a content hash in a name (buckets
// and verification Jobs); the configMapGenerator appends 10.
const (
	hash8  = "xxxxxxxx"
	hash10 = "xxxxxxxxxx"
)

// MilvusFullname is the Milvus chart's "milvus.fullname" for a release:
// the release when it contains "milvus", else release-milvus, cut to 63
// without a trailing "-" (templates/_helpers.tpl). Component Deployments
// and Services are named fullname-<component label>.
func MilvusFullname(release string) string {
	full := release
	if !strings.Contains(release, "milvus") {
		full = release + "-milvus"
	}
	if len(full) > 63 {
		full = full[:63]
	}
	return strings.TrimSuffix(full, "-")
}

// Derived lists the names of env's objects that Kubernetes limits, from
// our generators and from the pinned charts' templates.
func Derived(env *model.Environment) []Name {
	var out []Name
	add := func(source, kind, value, from string) {
		r := RuleFor(kind)
		if kind == "label" {
			r = LabelValue
		}
		out = append(out, Name{Source: source, Kind: kind, Value: value, Rule: r, From: from})
	}
	r := env.Release
	add("overlay", "Namespace", env.Namespace, "namespace")
	add("overlay", "label", env.Name, "name")
	add("overlay", "label", r, "release")
	delivery := "HelmRelease"
	if env.Delivery.Kind == "argocd" {
		delivery = "Application"
	}
	add("overlay", delivery, r, "release")
	// Our own objects (generators/...).
	add("overlay", "Service", r+"-external", "release")
	add("overlay", "NetworkPolicy", r+"-proxy-clients", "release")
	add("overlay", "ConfigMap", r+"-prometheus", "release")
	add("overlay", "ConfigMap", r+"-dashboard", "release")
	if env.Backup.Enabled {
		add("overlay", "CronJob", r+"-backup", "release")
		add("overlay", "Job", r+"-restore", "release")
	}
	if env.Verification.Enabled {
		add("overlay", "Job", r+"-verify-"+hash8, "release")
		if env.Verification.Fault.Enabled {
			// Cluster-scoped (generators/verify.PolicyName).
			add("overlay", "ValidatingAdmissionPolicy", r+"-verify-pods."+env.Namespace, "release")
		}
	}
	for _, c := range env.ComponentNames() {
		add("overlay", "PodDisruptionBudget", r+"-"+model.ComponentLabel(c), "release")
	}
	if env.Monitoring.Mode == "operator" {
		for _, t := range env.MetricsTargets() {
			add("overlay", "PodMonitor", t.Job, "release")
		}
	}

	// Each Milvus component's Deployment and Service append its label to
	// the chart's fullname.
	full := MilvusFullname(r)
	add("milvus chart", "Service", full, "release")
	for _, c := range env.ComponentNames() {
		add("milvus chart", "Service", full+"-"+model.ComponentLabel(c), "release")
	}

	// Managed dependencies: released as <release>-<chart>, whose fullname
	// is the release name (it contains the chart name).
	dep := func(chart string, objs ...[2]string) {
		rel := r + "-" + chart
		add("overlay", delivery, rel, "release")
		add("overlay", "label", rel, "release")
		add("overlay", "ConfigMap", rel+"-values-"+hash10, "release")
		add("overlay", "NetworkPolicy", rel, "release")
		for _, o := range objs {
			add(chart+" chart", o[0], rel+o[1], "release")
		}
	}
	if env.Dependencies.Etcd.Managed != nil {
		// bitnami etcd: templates/statefulset.yaml, svc-headless.yaml.
		dep("etcd", [2]string{"StatefulSet", ""}, [2]string{"Service", "-headless"})
	}
	if env.Dependencies.ObjectStorage.Managed != nil {
		// minio: templates/statefulset.yaml, service.yaml (-svc headless).
		dep("minio", [2]string{"StatefulSet", ""}, [2]string{"Service", "-svc"})
		add("overlay", "Job", r+"-minio-buckets-"+hash8, "release")
	}
	if env.Dependencies.MessageQueue.Managed != nil {
		switch env.Dependencies.MessageQueue.Type {
		case "pulsar":
			// apache pulsar: one StatefulSet and Service per component,
			// and the two initialisation Jobs.
			dep("pulsar", [2]string{"StatefulSet", "-zookeeper"}, [2]string{"StatefulSet", "-recovery"},
				[2]string{"StatefulSet", "-bookie"}, [2]string{"StatefulSet", "-broker"}, [2]string{"StatefulSet", "-proxy"},
				[2]string{"Service", "-zookeeper"}, [2]string{"Service", "-recovery"},
				[2]string{"Job", "-bookie-init"}, [2]string{"Job", "-pulsar-init"},
				[2]string{"RoleBinding", "-broker-rolebinding"})
		case "kafka":
			// bitnami kafka with its zookeeper subchart.
			objs := [][2]string{{"StatefulSet", "-zookeeper"}, {"StatefulSet", ""},
				{"Service", "-zookeeper-headless"}, {"Service", "-headless"},
				{"ConfigMap", "-zookeeper-scripts"}}
			if env.Monitoring.Mode != "none" {
				// The exporters (templates/jmx-metrics-svc.yaml and
				// jmx-configmap.yaml, the zookeeper subchart's
				// metrics-svc.yaml; none is cut to 63). The exporter's
				// Deployment and Service are cut.
				objs = append(objs, [2]string{"Service", "-jmx-metrics"}, [2]string{"ConfigMap", "-jmx-configuration"},
					[2]string{"Service", "-zookeeper-metrics"})
			}
			dep("kafka", objs...)
		}
	}
	return out
}

// Violation is a derived name Kubernetes would refuse, at the spec field
// that must change.
type Violation struct {
	Field string
	Msg   string
}

// Check refuses every spec field from which a name is derived that its
// rule does not accept; one violation per field, for its most limiting
// name. userRelease says whether the spec sets release itself: if not,
// the release is "milvus-<name>" and the name is what to shorten.
func Check(env *model.Environment, userRelease bool) []Violation {
	type worst struct {
		n      Name
		errs   []string
		excess int
	}
	byField := map[string]*worst{}
	var order []string
	for _, n := range Derived(env) {
		errs := n.Rule.Errors(n.Value)
		if len(errs) == 0 {
			continue
		}
		field := n.From
		if field == "release" && !userRelease {
			field = "name"
		}
		excess := len(n.Value) - n.Rule.Max()
		w, ok := byField[field]
		if !ok {
			order = append(order, field)
			byField[field] = &worst{n, errs, excess}
			continue
		}
		if excess > 0 && excess > w.excess {
			*w = worst{n, errs, excess}
		}
	}
	var out []Violation
	for _, field := range order {
		w := byField[field]
		what := fmt.Sprintf("%s %s %q", w.n.Source, w.n.Kind, w.n.Value)
		if w.n.Kind == "label" {
			what = fmt.Sprintf("the label value %q", w.n.Value)
		}
		if w.n.Source == "overlay" && w.n.Kind != "label" {
			what = fmt.Sprintf("the %s %q", w.n.Kind, w.n.Value)
		}
		msg := fmt.Sprintf("derives %s, which must be %s: %s", what, w.n.Rule, strings.Join(w.errs, "; "))
		if w.excess > 0 {
			own := len(env.Release)
			if field == "name" {
				own = len(env.Name)
			} else if field == "namespace" {
				own = len(env.Namespace)
			}
			msg += fmt.Sprintf("; shorten %s to at most %d characters", field, own-w.excess)
			if field == "name" {
				msg = strings.Replace(msg, "shorten name", "shorten the environment name", 1) + " or set release"
			}
		}
		out = append(out, Violation{Field: field, Msg: msg})
	}
	return out
}
