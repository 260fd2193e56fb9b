// Package secrets emits an ExternalSecret (external-secrets.io/v1) for every
// Secret the environment references, when the spec asks the External
// Secrets Operator to create them. Only names and remote keys are rendered,
// never a value.
package secrets

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/model"
)

// ExternalSecret is the subset of external-secrets.io/v1 we emit (the
// project's Go module is too heavy a dependency for four fields).
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              Spec `json:"spec"`
}

// Spec is an ExternalSecret's spec.
type Spec struct {
	SecretStoreRef  StoreRef `json:"secretStoreRef"`
	RefreshInterval string   `json:"refreshInterval"`
	Target          Target   `json:"target"`
	Data            []Data   `json:"data"`
}

// StoreRef names the (Cluster)SecretStore.
type StoreRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Target is the Secret the operator writes.
type Target struct {
	Name           string `json:"name"`
	CreationPolicy string `json:"creationPolicy"`
	DeletionPolicy string `json:"deletionPolicy"`
}

// Data maps one key of the Secret to a property of a remote key.
type Data struct {
	SecretKey string    `json:"secretKey"`
	RemoteRef RemoteRef `json:"remoteRef"`
}

// RemoteRef is a remote key and property in the store.
type RemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property"`
}

// Objects returns one ExternalSecret per referenced Secret, sorted by name,
// or nothing when the Secrets exist already.
func Objects(env *model.Environment) ([]generators.Object, error) {
	es := env.Secrets.ExternalSecrets
	if es == nil {
		return nil, nil
	}
	refs := env.SecretKeys()
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	for n := range es.RemoteKeys {
		if _, ok := refs[n]; !ok {
			return nil, fmt.Errorf("secrets.externalSecrets.remoteKeys.%s: the spec references no Secret named %q (it references %v)", n, n, names)
		}
	}

	var out []generators.Object
	for _, name := range names {
		remote := es.KeyPrefix + name
		if k, ok := es.RemoteKeys[name]; ok {
			remote = k
		}
		x := &ExternalSecret{
			TypeMeta: metav1.TypeMeta{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      name,
				Namespace: env.Namespace,
				Labels:    generators.CommonLabels(env.Name, env.Release, env.Labels),
			},
			Spec: Spec{
				SecretStoreRef:  StoreRef{Kind: es.StoreRef.Kind, Name: es.StoreRef.Name},
				RefreshInterval: es.RefreshInterval,
				// Orphan: pruning or renaming the ExternalSecret must not
				// delete credentials that a running etcd or MinIO still
				// uses; Retain keeps the data if the remote key vanishes.
				Target: Target{Name: name, CreationPolicy: "Orphan", DeletionPolicy: "Retain"},
			},
		}
		for _, k := range refs[name] {
			x.Spec.Data = append(x.Spec.Data, Data{SecretKey: k, RemoteRef: RemoteRef{Key: remote, Property: k}})
		}
		if env.Delivery.Kind == "argocd" {
			x.Annotations = map[string]string{generators.ArgoCDSyncWave: "-2"}
		}
		out = append(out, x)
	}
	return out, nil
}
