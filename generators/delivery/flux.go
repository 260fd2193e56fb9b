package delivery

import (
	"fmt"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/kustomize"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// RepositoryName is the HelmRepository of the official Milvus charts.
const RepositoryName = "milvus"

func flux(env *model.Environment, deps []Release) (*Result, error) {
	f := env.Delivery.Flux
	durations := map[string]string{"interval": f.Interval, "sourceInterval": f.SourceInterval, "timeout": f.Timeout}
	d := map[string]metav1.Duration{}
	for k, s := range durations {
		v, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("delivery.flux.%s: %w", k, err)
		}
		d[k] = metav1.Duration{Duration: v}
	}
	labels := generators.CommonLabels(env.Name, env.Release, env.Labels)
	res := &Result{NameReferences: []NameReference{{
		Group: helmv2.GroupVersion.Group, Version: helmv2.GroupVersion.Version,
		Kind: helmv2.HelmReleaseKind, Path: "spec/valuesFrom/name",
	}}}

	// One HelmRepository per chart repository, in a stable order.
	repos := map[string]string{}
	milvus := Release{Name: env.Release, Chart: env.Milvus.Chart, ValuesFile: ValuesFile}
	all := append(append([]Release{}, deps...), milvus)
	for _, r := range all {
		name := repositoryName(r.Chart.Repository)
		if _, ok := repos[name]; ok {
			continue
		}
		repos[name] = r.Chart.Repository
		res.Objects = append(res.Objects, &sourcev1.HelmRepository{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmRepositoryKind},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace, Labels: labels},
			Spec:       sourcev1.HelmRepositorySpec{URL: r.Chart.Repository, Interval: d["sourceInterval"]},
		})
	}

	timeout := d["timeout"]
	yes := true
	for _, r := range all {
		valuesName := r.Name + "-values"
		res.ValuesConfigMaps = append(res.ValuesConfigMaps, ValuesConfigMap{Name: valuesName, File: r.ValuesFile})
		release := &helmv2.HelmRelease{
			TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
			ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: env.Namespace, Labels: labels},
			Spec: helmv2.HelmReleaseSpec{
				ReleaseName: r.Name,
				Interval:    d["interval"],
				Timeout:     &timeout,
				Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
					Chart:   r.Chart.Name,
					Version: r.Chart.Version,
					SourceRef: helmv2.CrossNamespaceObjectReference{
						Kind: sourcev1.HelmRepositoryKind,
						Name: repositoryName(r.Chart.Repository),
					},
				}},
				Install: &helmv2.Install{
					Remediation: &helmv2.InstallRemediation{Retries: f.Retries},
				},
				Upgrade: &helmv2.Upgrade{
					CleanupOnFail: true,
					Remediation: &helmv2.UpgradeRemediation{
						Retries:              f.Retries,
						RemediateLastFailure: &yes,
						Strategy:             ptr(helmv2.RollbackRemediationStrategy),
					},
				},
				DriftDetection: &helmv2.DriftDetection{Mode: helmv2.DriftDetectionMode(f.DriftDetection)},
				ValuesFrom: []helmv2.ValuesReference{{
					Kind:      "ConfigMap",
					Name:      valuesName,
					ValuesKey: r.ValuesFile,
				}},
			},
		}
		if r.Name == env.Release {
			// Milvus installs once its dependencies are Ready.
			for _, dep := range deps {
				release.Spec.DependsOn = append(release.Spec.DependsOn, helmv2.DependencyReference{Name: dep.Name})
			}
			if a, err := upgradeAnnotation(env); err != nil {
				return nil, err
			} else if a != "" {
				// A failed phase stays failed for a person to look at:
				// Helm's rollback would return to the previous phase,
				// moving the components this one moved back to the
				// source image, a downgrade Milvus does not support
				// (mixCoord migrates the metadata). No retry either: a
				// retry of a failed upgrade is a rollback first.
				no := false
				release.Spec.Upgrade.Remediation = &helmv2.UpgradeRemediation{Retries: 0, RemediateLastFailure: &no}
				release.Annotations = map[string]string{generators.UpgradePhaseAnnotation: a}
			}
		}
		patches, err := releasePatches(env, r)
		if err != nil {
			return nil, err
		}
		if len(patches) > 0 {
			var kp []kustomize.Patch
			for _, p := range patches {
				kp = append(kp, kustomize.Patch{Patch: p.Patch, Target: &kustomize.Selector{
					Group: p.TargetGroup(), Version: "v1", Kind: p.Kind, LabelSelector: p.LabelSelector,
				}})
			}
			release.Spec.PostRenderers = []helmv2.PostRenderer{{Kustomize: &helmv2.Kustomize{Patches: kp}}}
		}
		res.Objects = append(res.Objects, release)
	}
	return res, nil
}

// repositoryName names the HelmRepository of a chart repository URL.
func repositoryName(url string) string {
	switch {
	case strings.Contains(url, "zilliztech.github.io/milvus-helm"):
		return RepositoryName
	case strings.Contains(url, "bitnami"):
		return "bitnami"
	case strings.Contains(url, "pulsar.apache.org"):
		return "apache-pulsar"
	}
	return "charts"
}

func ptr[T any](v T) *T { return &v }
