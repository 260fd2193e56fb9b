package render

import (
	"fmt"
	"path"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Build runs `kustomize build` on the overlay in memory (krusty, the
// library behind the kustomize CLI) and returns the manifest stream.
func Build(fs FileSet) ([]byte, error) {
	mem := filesys.MakeFsInMemory()
	const root = "/overlay"
	for _, p := range fs.Paths() {
		if err := mem.WriteFile(path.Join(root, p), fs[p]); err != nil {
			return nil, err
		}
	}
	opts := krusty.MakeDefaultOptions()
	// The kustomize CLI's default order: Namespaces and other cluster
	// scoped objects first, so that a plain apply of the stream works.
	opts.Reorder = krusty.ReorderOptionLegacy
	k := krusty.MakeKustomizer(opts)
	res, err := k.Run(mem, root)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	return res.AsYaml()
}
