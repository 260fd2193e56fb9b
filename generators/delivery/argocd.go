package delivery

import (
	"path"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// The Argo CD Go module does not resolve cleanly next to k8s.io v0.37, so
// the Application is a small local struct with the fields we set; a test
// validates it against the Application CRD's OpenAPI schema.

// Application is an argoproj.io/v1alpha1 Application.
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ApplicationSpec `json:"spec"`
}

// ApplicationSpec is the part of the Application spec we set.
type ApplicationSpec struct {
	Project     string                 `json:"project"`
	Destination ApplicationDestination `json:"destination"`
	Sources     []ApplicationSource    `json:"sources"`
	SyncPolicy  *SyncPolicy            `json:"syncPolicy,omitempty"`
}

// ApplicationDestination is the target cluster and namespace.
type ApplicationDestination struct {
	Server    string `json:"server"`
	Namespace string `json:"namespace"`
}

// ApplicationSource is a chart or a Git repository.
type ApplicationSource struct {
	RepoURL        string           `json:"repoURL"`
	Chart          string           `json:"chart,omitempty"`
	TargetRevision string           `json:"targetRevision"`
	Ref            string           `json:"ref,omitempty"`
	Helm           *ApplicationHelm `json:"helm,omitempty"`
}

// ApplicationHelm are the Helm options of a chart source.
type ApplicationHelm struct {
	ReleaseName string   `json:"releaseName"`
	ValueFiles  []string `json:"valueFiles"`
}

// SyncPolicy is automated sync, options and retry.
type SyncPolicy struct {
	Automated   *SyncPolicyAutomated `json:"automated,omitempty"`
	SyncOptions []string             `json:"syncOptions,omitempty"`
	Retry       *RetryStrategy       `json:"retry,omitempty"`
}

// SyncPolicyAutomated is the automated sync policy.
type SyncPolicyAutomated struct {
	Prune    bool `json:"prune"`
	SelfHeal bool `json:"selfHeal"`
}

// RetryStrategy is how failed syncs are retried.
type RetryStrategy struct {
	Limit   int64    `json:"limit"`
	Backoff *Backoff `json:"backoff,omitempty"`
}

// Backoff is the retry backoff.
type Backoff struct {
	Duration    string `json:"duration"`
	Factor      *int64 `json:"factor,omitempty"`
	MaxDuration string `json:"maxDuration"`
}

// inClusterServer is Argo CD's name for the cluster it runs in.
const inClusterServer = "https://kubernetes.default.svc"

// valuesRef names the Git source whose files the chart source reads.
const valuesRef = "values"

func argocd(env *model.Environment, deps []Release) (*Result, error) {
	a := env.Delivery.ArgoCD
	res := &Result{}
	milvus := Release{Name: env.Release, Chart: env.Milvus.Chart, ValuesFile: ValuesFile}
	for _, r := range append(append([]Release{}, deps...), milvus) {
		app := &Application{
			TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Application"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.Name,
				Namespace: a.Namespace,
				Labels:    generators.CommonLabels(env.Name, env.Release, env.Labels),
				// Deleting the Application deletes what it deployed.
				Finalizers: []string{"resources-finalizer.argocd.argoproj.io/foreground"},
			},
			Spec: ApplicationSpec{
				Project:     a.Project,
				Destination: ApplicationDestination{Server: inClusterServer, Namespace: env.Namespace},
				Sources: []ApplicationSource{
					{
						RepoURL:        r.Chart.Repository,
						Chart:          r.Chart.Name,
						TargetRevision: r.Chart.Version,
						Helm: &ApplicationHelm{
							ReleaseName: r.Name,
							ValueFiles:  []string{"$" + valuesRef + "/" + path.Join(a.Source.Path, r.ValuesFile)},
						},
					},
					{RepoURL: a.Source.RepoURL, TargetRevision: a.Source.TargetRevision, Ref: valuesRef},
				},
				SyncPolicy: &SyncPolicy{
					SyncOptions: a.SyncOptions,
					Retry: &RetryStrategy{
						Limit: a.Retry.Limit,
						Backoff: &Backoff{
							Duration:    a.Retry.Backoff.Duration,
							Factor:      &a.Retry.Backoff.Factor,
							MaxDuration: a.Retry.Backoff.MaxDuration,
						},
					},
				},
			},
		}
		if len(deps) > 0 {
			// The dependencies sync before Milvus. Argo CD waits for a
			// wave to be healthy only with a health check for
			// argoproj.io/Application configured in argocd-cm (README).
			wave := "0"
			if r.Name != env.Release {
				wave = "-1"
			}
			app.Annotations = map[string]string{generators.ArgoCDSyncWave: wave}
		}
		if a.Automated.Enabled {
			app.Spec.SyncPolicy.Automated = &SyncPolicyAutomated{Prune: a.Automated.Prune, SelfHeal: a.Automated.SelfHeal}
		}
		res.Objects = append(res.Objects, app)
	}
	return res, nil
}
