package delivery

import (
	"path"

	"github.com/milvus-gitops/milvusgen/yamlenc"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"

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

// ApplicationSource is a chart or a Git repository (a path in it).
type ApplicationSource struct {
	RepoURL        string           `json:"repoURL"`
	Chart          string           `json:"chart,omitempty"`
	Path           string           `json:"path,omitempty"`
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

func argocd(env *model.Environment, deps []Release, releaseDigest string) (*Result, error) {
	a := env.Delivery.ArgoCD
	res := &Result{Files: map[string][]byte{}, ValuesPaths: map[string]string{}}
	milvus := Release{Name: env.Release, Chart: env.Milvus.Chart, ValuesFile: ValuesFile}
	for _, r := range append(append([]Release{}, deps...), milvus) {
		// A chart source with the values file from the repository ($values),
		// or, when the release needs patches, the release's own directory:
		// a kustomization that inflates the chart and patches it.
		sources := []ApplicationSource{
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
		}
		patches, err := releasePatches(env, r)
		if err != nil {
			return nil, err
		}
		if len(patches) > 0 {
			k, err := inflatingKustomization(env, r, patches)
			if err != nil {
				return nil, err
			}
			res.Files[path.Join(r.Name, kustomizationFile)] = k
			res.ValuesPaths[r.ValuesFile] = path.Join(r.Name, r.ValuesFile)
			sources = []ApplicationSource{{RepoURL: a.Source.RepoURL, TargetRevision: a.Source.TargetRevision, Path: path.Join(a.Source.Path, r.Name)}}
		}
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
				Sources:     sources,
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
		if r.Name == env.Release {
			if app.Annotations == nil {
				app.Annotations = map[string]string{}
			}
			app.Annotations[generators.ReleaseDigestAnnotation] = releaseDigest
			if u, err := upgradeAnnotation(env); err != nil {
				return nil, err
			} else if u != "" {
				app.Annotations[generators.UpgradePhaseAnnotation] = u
			}
		}
		if a.Automated.Enabled {
			app.Spec.SyncPolicy.Automated = &SyncPolicyAutomated{Prune: a.Automated.Prune, SelfHeal: a.Automated.SelfHeal}
		}
		res.Objects = append(res.Objects, app)
	}
	return res, nil
}

// kustomizationFile is the file kustomize and Argo CD look for.
const kustomizationFile = "kustomization.yaml"

// inflatingKustomization is a release's directory for Argo CD: kustomize
// inflates the chart with `helm template` (helmCharts, which Argo CD runs
// when argocd-cm sets kustomize.buildOptions: --enable-helm) and applies
// the patches that Flux applies as post-renderers. The values file sits
// beside it: kustomize loads nothing outside the kustomization's directory.
// The namespace is explicit because the chart's templates read
// .Release.Namespace, which kustomize otherwise leaves at "default".
func inflatingKustomization(env *model.Environment, r Release, patches []Patch) ([]byte, error) {
	k := types.Kustomization{
		TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		HelmCharts: []types.HelmChart{{
			Name:        r.Chart.Name,
			Repo:        r.Chart.Repository,
			Version:     r.Chart.Version,
			ReleaseName: r.Name,
			Namespace:   env.Namespace,
			ValuesFile:  r.ValuesFile,
			// helm template's default is v1.20, below what the Pulsar chart
			// accepts and old enough for charts to pick removed APIs; Argo
			// CD 2.13+ passes the cluster's own version instead.
			KubeVersion: generators.KubernetesVersion,
		}},
	}
	for _, p := range patches {
		k.Patches = append(k.Patches, types.Patch{Patch: p.Patch, Target: &types.Selector{
			ResId:         resid.ResId{Gvk: resid.Gvk{Group: p.TargetGroup(), Version: "v1", Kind: p.Kind}},
			LabelSelector: p.LabelSelector,
		}})
	}
	return yamlenc.Marshal(k)
}
