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

// Cache is the tools and schema cache outside the repository
// (MILVUSGEN_CACHE, else ~/.cache/milvusgen), as hack/tools.sh uses it.
func Cache() string {
	if c := os.Getenv("MILVUSGEN_CACHE"); c != "" {
		return c
	}
	if c := os.Getenv("XDG_CACHE_HOME"); c != "" {
		return filepath.Join(c, "milvusgen")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "milvusgen")
}

// Tool returns the path of a real tool: $<NAME> (e.g. HELM=/path/helm),
// else the directory named by MILVUSGEN_TOOLS, else PATH. In CI a missing
// tool fails the test; elsewhere it skips it, saying how to install it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, ok := Lookup(name); ok {
		return p
	}
	missing(t, name+" (run hack/tools.sh, then export MILVUSGEN_TOOLS=$(hack/tools.sh --dir))")
	return ""
}

// Lookup finds a tool as Tool does, without a test to fail.
func Lookup(name string) (string, bool) {
	if p := os.Getenv(envName(name)); p != "" {
		return p, true
	}
	if dir := os.Getenv("MILVUSGEN_TOOLS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}

// envName is the variable that names a tool: HELM, KUBE_APISERVER, ...
func envName(tool string) string {
	b := []byte(tool)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c == '-':
			b[i] = '_'
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
