package monitoring_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/generators/monitoring"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/spec"
)

// TestDashboardImportable checks each environment's dashboard JSON the
// way Grafana's import reads it: the top-level fields of the dashboard
// model, a UID Grafana accepts (at most 40 of [A-Za-z0-9_-], distinct per
// environment), unique panel IDs, rows before their panels, panels inside
// the 24-column grid without overlaps, every query with its data source
// and a unique refId, and a row for each managed dependency.
func TestDashboardImportable(t *testing.T) {
	set, err := spec.Load(filepath.Join(testenv.RepoRoot(t), "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{}
	uidPattern := regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
	for _, name := range set.Names() {
		env, err := set.Environment(name)
		if err != nil {
			t.Fatal(err)
		}
		env.Monitoring.Mode = "configmap" // the dependency rows
		b, err := json.Marshal(monitoring.BuildDashboard(env))
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"id", "uid", "title", "tags", "timezone", "editable", "schemaVersion", "version", "time", "templating", "annotations", "panels", "refresh"} {
			if _, ok := d[k]; !ok {
				t.Errorf("%s: the dashboard has no %q", name, k)
			}
		}
		if d["id"] != nil {
			t.Errorf("%s: id must be null for an import, got %v", name, d["id"])
		}
		uid, _ := d["uid"].(string)
		if !uidPattern.MatchString(uid) {
			t.Errorf("%s: uid %q is not a Grafana UID", name, uid)
		}
		if other, ok := uids[uid]; ok {
			t.Errorf("%s and %s share the uid %q", name, other, uid)
		}
		uids[uid] = name

		var rows []string
		ids := map[float64]bool{}
		occupied := map[[2]int]int{}
		sawRow := false
		for _, pv := range d["panels"].([]any) {
			p := pv.(map[string]any)
			id := p["id"].(float64)
			if ids[id] {
				t.Errorf("%s: panel id %v twice", name, id)
			}
			ids[id] = true
			g := p["gridPos"].(map[string]any)
			x, y, w, h := int(g["x"].(float64)), int(g["y"].(float64)), int(g["w"].(float64)), int(g["h"].(float64))
			if x < 0 || w < 1 || x+w > 24 || h < 1 {
				t.Errorf("%s: panel %q outside the grid: %v", name, p["title"], g)
			}
			for i := x; i < x+w; i++ {
				for j := y; j < y+h; j++ {
					if prev, ok := occupied[[2]int{i, j}]; ok {
						t.Errorf("%s: panels %d and %v overlap at %d,%d", name, prev, id, i, j)
					}
					occupied[[2]int{i, j}] = int(id)
				}
			}
			if p["type"] == "row" {
				sawRow = true
				rows = append(rows, p["title"].(string))
				if _, ok := p["panels"].([]any); !ok {
					t.Errorf("%s: row %q has no panels list", name, p["title"])
				}
				continue
			}
			if !sawRow {
				t.Errorf("%s: panel %q comes before any row", name, p["title"])
			}
			if ds, ok := p["datasource"].(map[string]any); !ok || ds["uid"] != "${datasource}" {
				t.Errorf("%s: panel %q has no data source", name, p["title"])
			}
			refs := map[string]bool{}
			targets, _ := p["targets"].([]any)
			if len(targets) == 0 {
				t.Errorf("%s: panel %q has no query", name, p["title"])
			}
			for _, tv := range targets {
				tg := tv.(map[string]any)
				ref := tg["refId"].(string)
				if refs[ref] || ref == "" {
					t.Errorf("%s: panel %q: refId %q", name, p["title"], ref)
				}
				refs[ref] = true
				if _, ok := tg["datasource"]; !ok {
					t.Errorf("%s: panel %q query %s has no data source", name, p["title"], ref)
				}
			}
		}
		want := []string{"Milvus"}
		seen := map[string]bool{}
		for _, tg := range env.MetricsTargets() {
			if !seen[tg.Dependency] {
				want = append(want, tg.Dependency)
				seen[tg.Dependency] = true
			}
		}
		if strings.Join(rows, ",") != strings.Join(want, ",") {
			t.Errorf("%s: rows %v, want %v", name, rows, want)
		}
	}
}

// TestDashboardUIDStaysStableAndShort: a name too long for a Grafana UID
// is cut and hashed; the same name gives the same UID, two long names
// with the same beginning do not collide.
func TestDashboardUIDStaysStableAndShort(t *testing.T) {
	long := func(n string) *model.Environment { return &model.Environment{Name: n} }
	a := monitoring.DashboardUID(long("tenant-eu-west-1-production-customer-alpha"))
	b := monitoring.DashboardUID(long("tenant-eu-west-1-production-customer-beta"))
	if len(a) > 40 || len(b) > 40 || a == b {
		t.Errorf("UIDs %q and %q", a, b)
	}
	if a != monitoring.DashboardUID(long("tenant-eu-west-1-production-customer-alpha")) {
		t.Error("the UID changes between calls")
	}
	if got := monitoring.DashboardUID(long("prod")); got != "milvus-prod" {
		t.Errorf("short names keep their UID: %q", got)
	}
}
