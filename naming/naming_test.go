package naming

import (
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/model"
)

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		rule  Rule
		value string
		ok    bool
	}{
		{StatefulSet, strings.Repeat("a", 52), true},
		{StatefulSet, strings.Repeat("a", 53), false},
		{CronJob, strings.Repeat("a", 52), true},
		{CronJob, strings.Repeat("a", 53), false},
		{Job, strings.Repeat("a", 63), true},
		{Job, strings.Repeat("a", 64), false},
		{HelmRelease, strings.Repeat("a", 53), true},
		{HelmRelease, strings.Repeat("a", 54), false},
		{Service, "a-1", true},
		{Service, "1-a", false},
		{Label, "1-a", true},
		{Label, "a.b", false},
		{Subdomain, "a.b", true},
		{LabelValue, "", true},
		{LabelValue, "a b", false},
	} {
		if got := len(tc.rule.Errors(tc.value)) == 0; got != tc.ok {
			t.Errorf("%s %q: valid %v, want %v", tc.rule, tc.value, got, tc.ok)
		}
	}
}

func env(name, release string) *model.Environment {
	e := &model.Environment{Name: name, Namespace: "milvus-" + name, Release: release}
	e.Delivery.Kind = "flux"
	e.Backup.Enabled = true
	e.Components = map[string]model.Component{"proxy": {Replicas: 2}}
	return e
}

func TestCheck(t *testing.T) {
	// The backup CronJob <release>-backup allows a 45-character release.
	if v := Check(env("p", strings.Repeat("r", 45)), true); len(v) != 0 {
		t.Errorf("45-character release refused: %v", v)
	}
	v := Check(env("p", strings.Repeat("r", 46)), true)
	if len(v) != 1 || v[0].Field != "release" || !strings.Contains(v[0].Msg, "shorten release to at most 45 characters") {
		t.Errorf("46-character release: %v", v)
	}
	// Without a release of its own, the environment name is what to shorten.
	name := strings.Repeat("n", 39)
	v = Check(env(name, "milvus-"+name), false)
	if len(v) != 1 || v[0].Field != "name" || !strings.Contains(v[0].Msg, "shorten the environment name to at most 38 characters or set release") {
		t.Errorf("39-character name: %v", v)
	}
}
