// Package testenv finds what integration tests need: the repository root,
// the shared reference material beside it, and the real tools (helm,
// kustomize) that .ci/run installs.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the module root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Shared is ../shared beside the repository (MILVUSGEN_SHARED overrides).
func Shared(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MILVUSGEN_SHARED")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "charts")); err != nil {
		missing(t, "shared reference material at "+dir+" (set MILVUSGEN_SHARED)")
	}
	return dir
}

// Tool returns the path of a real tool: $<NAME> (e.g. HELM=/path/helm),
// else the directory named by MILVUSGEN_TOOLS, else PATH. In CI a missing
// tool fails the test; elsewhere it skips it, saying how to install it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p := os.Getenv(envName(name)); p != "" {
		return p
	}
	if dir := os.Getenv("MILVUSGEN_TOOLS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, name+" (run hack/tools.sh, then export MILVUSGEN_TOOLS=$(hack/tools.sh --dir))")
	return ""
}

func envName(tool string) string {
	b := []byte(tool)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("missing %s: in CI every integration tool must be installed", what)
	}
	t.Skipf("missing %s", what)
}
