package compiler

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/generators/helmvalues"
	"github.com/milvus-gitops/milvusgen/generators/secrets"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// The committed out/ tree is the golden output. Regenerate it with
//
//	go test ./compiler -run TestCommittedOutput -update
//
// (or `go run ./cmd/gen render --all -o out`); never edit it by hand.
var update = flag.Bool("update", false, "rewrite out/ from the specs")

const (
	overlaysDir = "../overlays"
	outDir      = "../out"
)

func loadAll(t testing.TB) (*spec.Set, map[string]render.FileSet) {
	t.Helper()
	set, err := spec.Load(overlaysDir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := All(set)
	if err != nil {
		t.Fatal(err)
	}
	return set, all
}

func TestCommittedOutput(t *testing.T) {
	set, all := loadAll(t)
	if len(set.Names()) < 3 {
		t.Fatalf("want at least dev, staging and prod, got %v", set.Names())
	}
	for _, name := range set.Names() {
		dir := filepath.Join(outDir, name)
		if *update {
			if err := render.Write(dir, all[name]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		d, err := render.Compare(dir, all[name])
		if err != nil {
			t.Fatal(err)
		}
		if !d.Empty() {
			t.Errorf("out/%s is stale (changed %v, missing %v, stale %v); regenerate with: go test ./compiler -run TestCommittedOutput -update", name, d.Changed, d.Missing, d.Stale)
		}
	}
}

func TestDeterministic(t *testing.T) {
	_, first := loadAll(t)
	for i := 0; i < 5; i++ {
		_, again := loadAll(t)
		if len(again) != len(first) {
			t.Fatalf("%d environments, then %d", len(first), len(again))
		}
		for env, files := range first {
			if len(again[env]) != len(files) {
				t.Fatalf("%s: %d files, then %d", env, len(files), len(again[env]))
			}
			for p, b := range files {
				if !bytes.Equal(b, again[env][p]) {
					t.Fatalf("%s/%s differs between two renders", env, p)
				}
			}
			s1, err := render.Build(files)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := render.Build(again[env])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s1, s2) {
				t.Fatalf("%s: built stream differs between two renders", env)
			}
		}
	}
}

// credentialEnv are the variables through which Milvus reads secrets (a
// user name is not one: the managed etcd's is "root").
var credentialEnv = regexp.MustCompile(`(ACCESS_KEY|SECRET|PASSWORD|AUTHPARAMS)`)

func TestNoSecretValueIsRendered(t *testing.T) {
	_, all := loadAll(t)
	for env, files := range all {
		checkRendered(t, env, files)
	}
}

// exponent is a YAML number in exponent notation, which Kubernetes
// quantities and Milvus' configuration parser read differently or not at
// all.
var exponent = regexp.MustCompile(`(?m):\s+-?[0-9.]+[eE][+-]?[0-9]+\s*$`)

// checkRendered checks what every accepted environment's overlay must be:
// one object per file, no Secret and no secret value, credentials in the
// values only through secretKeyRefs, no number in exponent notation.
func checkRendered(t *testing.T, env string, files render.FileSet) {
	t.Helper()
	for p, b := range files {
		if strings.Count(string(b), "\n---") > 0 {
			t.Errorf("%s/%s holds more than one document", env, p)
		}
		if m := exponent.Find(b); m != nil {
			t.Errorf("%s/%s has a number in exponent notation: %s", env, p, m)
		}
		if bytes.Contains(b, []byte("kind: Secret\n")) {
			t.Errorf("%s/%s renders a Secret", env, p)
		}
		// An ExternalSecret's "secretKey" names a key of the Secret it
		// makes; strict decoding into our type proves it carries no
		// template (the one place it could hold a value).
		external := bytes.Contains(b, []byte("\nkind: ExternalSecret\n"))
		if external {
			var x secrets.ExternalSecret
			if err := yaml.UnmarshalStrict(b, &x); err != nil {
				t.Errorf("%s/%s: %v", env, p, err)
			}
		}
		for _, known := range []string{"minioadmin", "accessKey:", "secretKey:", "password:"} {
			if external && known == "secretKey:" {
				continue
			}
			if bytes.Contains(b, []byte(known)) {
				t.Errorf("%s/%s contains %q", env, p, known)
			}
		}
	}
	var v helmvalues.Values
	if err := yaml.UnmarshalStrict(files["values.yaml"], &v); err != nil {
		t.Fatalf("%s: values.yaml does not round-trip into the typed values: %v", env, err)
	}
	for _, c := range []*helmvalues.Component{v.Proxy, v.QueryNode, v.DataNode, v.IndexNode, v.MixCoordinator, v.StreamingNode, v.RootCoordinator, v.QueryCoordinator, v.DataCoordinator} {
		if c == nil {
			continue
		}
		for _, e := range c.ExtraEnv {
			if credentialEnv.MatchString(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
				t.Errorf("%s: %s must come from a secretKeyRef", env, e.Name)
			}
		}
	}
}

func BenchmarkRenderProd(b *testing.B) {
	// End to end, as gen render prod: load and validate the spec, generate,
	// print the stream (render.Stream: kustomize build's output without
	// kustomize).
	b.ReportAllocs()
	for b.Loop() {
		set, err := spec.Load(overlaysDir)
		if err != nil {
			b.Fatal(err)
		}
		fs, err := Environment(set, "prod")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := render.Stream(fs); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(m.Run())
}
