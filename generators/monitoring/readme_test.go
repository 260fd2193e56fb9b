package monitoring_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/generators/monitoring"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/spec"
)

var update = flag.Bool("update", false, "rewrite the README's alert table")

const (
	tableBegin = "<!-- alert table: go test ./generators/monitoring -run TestREADMEAlertTable -update -->\n"
	tableEnd   = "<!-- end of alert table -->\n"
)

// TestREADMEAlertTable: the README lists every alert the committed
// environments render, with its threshold and where the threshold comes
// from, as the rules say (prod's numbers; an alert prod does not have is
// shown for the first environment that has it).
func TestREADMEAlertTable(t *testing.T) {
	root := testenv.RepoRoot(t)
	set, err := spec.Load(filepath.Join(root, "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	names := append([]string{"prod"}, set.Names()...)
	var b strings.Builder
	b.WriteString("| Alert | Severity | Fires when (numbers of the environment named) | Threshold from |\n|---|---|---|---|\n")
	seen := map[string]bool{}
	for _, n := range names {
		env, err := set.Environment(n)
		if err != nil {
			t.Fatal(err)
		}
		env.Monitoring.Mode = "configmap"
		for _, g := range monitoring.Rules(env).Groups {
			for _, r := range g.Rules {
				if seen[r.Alert] {
					continue
				}
				seen[r.Alert] = true
				if r.Threshold == "" || r.Source == "" {
					t.Errorf("%s: no threshold or source for the README", r.Alert)
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s (%s) | %s |\n", r.Alert, r.Labels["severity"], r.Threshold, n, r.Source)
			}
		}
	}
	path := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), tableBegin)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no alert table markers %q ... %q", tableBegin, tableEnd)
	}
	want := before + tableBegin + b.String() + tableEnd + after
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != string(readme) {
		t.Error("README.md's alert table is stale: go test ./generators/monitoring -run TestREADMEAlertTable -update")
	}
}
