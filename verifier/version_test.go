package verifier

import (
	"os"
	"regexp"
	"testing"
)

// TestSchemaDefaultsToThisVersion: the verification Job's default image
// tag is the version `make image` pushes.
func TestSchemaDefaultsToThisVersion(t *testing.T) {
	b, err := os.ReadFile("../schema/operations.cue")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`repository: \*"ghcr.io/milvus-gitops/milvusgen-verifier".*\n\s*tag:\s*\*"([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("schema/operations.cue: no default tag for the verifier image")
	}
	if string(m[1]) != Version {
		t.Errorf("the schema defaults to verifier %s, the code is %s: bump both", m[1], Version)
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`ko build --bare --tags \$\(VERIFIER_VERSION\)`).Match(mk) ||
		!regexp.MustCompile(`VERIFIER_VERSION := .*verifier/version.go`).Match(mk) {
		t.Error("make image does not push the tag of verifier/version.go")
	}
}
