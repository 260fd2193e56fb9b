package model

import "strings"

// Images is where images are pulled from (the spec's images section).
type Images struct {
	// Registry is a mirror that serves every image under its upstream
	// path; empty pulls from the upstream registries.
	Registry    string   `json:"registry"`
	PullSecrets []string `json:"pullSecrets"`
}

// Split returns the registry and path of an image repository as it will
// be pulled: the mirror and the upstream path when a mirror is set,
// otherwise the repository's own registry (empty for Docker Hub when the
// repository names none) and path.
//
// A repository's first path element is a registry when it holds a "." or
// a ":" or is "localhost", the rule of the container image reference
// grammar (github.com/distribution/reference, normalize.go splitDockerDomain).
// Docker Hub's single-element names live under "library/", which a mirror
// needs spelled out.
func (i Images) Split(repository string) (registry, path string) {
	registry, path = splitRegistry(repository)
	if i.Registry == "" {
		return registry, path
	}
	if registry == "" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return i.Registry, path
}

// Repository is the repository to render: the mirror's when one is set,
// the spec's as written otherwise (so output without a mirror keeps its
// spelling).
func (i Images) Repository(repository string) string {
	if i.Registry == "" {
		return repository
	}
	registry, path := i.Split(repository)
	return registry + "/" + path
}

func splitRegistry(repository string) (registry, path string) {
	first, rest, ok := strings.Cut(repository, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "", repository
}

// PullSecretsWith is the environment's pull secrets followed by extra ones,
// without repeats.
func (i Images) PullSecretsWith(extra []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range append(append([]string{}, i.PullSecrets...), extra...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
