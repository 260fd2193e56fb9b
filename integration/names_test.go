package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/naming"
)

// TestDerivedNamesCoverTheRenders renders every environment through the
// real charts (with their patches) and our generators, and checks package
// naming against what comes out: every name is valid for its kind, and
// for every name derived from the release or namespace, naming lists a
// name at least as long under a rule at least as strict, so that `gen vet`
// refuses whatever Kubernetes would. An environment with a release of
// exactly the longest length naming allows renders valid names too.
func TestDerivedNamesCoverTheRenders(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	shared := testenv.Shared(t)
	depCharts := extractChart(t, filepath.Join(shared, "charts", "milvus-5.0.19.tgz"))
	all := renderAll(t)
	// prod (Pulsar, Flux) and tenant-eu (Kafka, Argo CD) at the longest
	// release their names allow.
	for _, c := range []struct{ env, file, anchor string }{
		{"prod", "prod.cue", "	delivery: kind: \"flux\"\n"},
		{"tenant-eu", "tenant-eu.cue", "	delivery: {\n"},
	} {
		longest := 99
		for _, n := range naming.Derived(all[c.env].Env) {
			if n.From == "release" {
				longest = min(longest, len(all[c.env].Env.Release)+n.Rule.Max()-len(n.Value))
			}
		}
		long := "m" + strings.Repeat("x", longest-1)
		env, files := renderEdited(t, c.file, c.anchor, "	release: \""+long+"\"\n"+c.anchor, c.env)
		if env.Release != long {
			t.Fatalf("%s: release %q not applied", c.env, env.Release)
		}
		all[c.env+"-longest-release"] = rendered{Env: env, Files: files}
	}
	for name, r := range all {
		derived := naming.Derived(r.Env)
		for source, objs := range everyObject(t, helm, shared, depCharts, r) {
			for _, o := range objs {
				if o.GetKind() == "" {
					continue // failure-domains.yaml: a report, not an object
				}
				rule := naming.RuleFor(o.GetKind())
				if errs := rule.Errors(o.GetName()); len(errs) > 0 {
					t.Errorf("%s: %s %s %q is not %s: %v", name, source, o.GetKind(), o.GetName(), rule, errs)
				}
				if !strings.Contains(o.GetName(), r.Env.Release) && o.GetName() != r.Env.Namespace {
					continue // a fixed name
				}
				covered := false
				for _, d := range derived {
					if d.Rule.Max() <= rule.Max() && d.Rule.Max()-len(d.Value) <= rule.Max()-len(o.GetName()) {
						covered = true
						break
					}
				}
				if !covered {
					t.Errorf("%s: %s %s %q (%d characters, %s) is longer than package naming derives", name, source, o.GetKind(), o.GetName(), len(o.GetName()), rule)
				}
			}
		}
	}
}
