package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

// TestVerifierImageBuildsWithKo builds the verifier image from .ko.yaml
// with the real ko, into a registry served on loopback, and checks it
// (hack/image-test.sh): non-root user, entrypoint, a static binary that
// runs.
func TestVerifierImageBuildsWithKo(t *testing.T) {
	testenv.Tool(t, "ko")
	testenv.Tool(t, "crane")
	root := testenv.RepoRoot(t)
	out, err := exec.Command(filepath.Join(root, "hack", "image-test.sh"), t.TempDir()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "image test: ok") {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(string(out)))
}
