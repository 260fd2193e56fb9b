package upgrade

import (
	"slices"
	"strings"
	"testing"
)

func v(t *testing.T, s string) Version {
	t.Helper()
	x, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestPlansFollowTheOperatorsOrder: each transition's phases, for the
// components a release runs.
func TestPlansFollowTheOperatorsOrder(t *testing.T) {
	for _, tc := range []struct {
		from, to, coords string
		components       []string
		want             [][]string
	}{
		{"2.6.14", "2.6.15", "mix", []string{"dataNode", "mixCoordinator", "proxy", "queryNode", "streamingNode"},
			[][]string{{"mixCoordinator"}, {"streamingNode"}, {"queryNode"}, {"dataNode"}, {"proxy"}}},
		{"v2.5.10", "v2.5.16", "mix", []string{"dataNode", "indexNode", "mixCoordinator", "proxy", "queryNode"},
			[][]string{{"indexNode"}, {"mixCoordinator"}, {"queryNode"}, {"dataNode"}, {"proxy"}}},
		{"2.5.4", "2.5.16", "separate", []string{"dataCoordinator", "dataNode", "indexCoordinator", "indexNode", "proxy", "queryCoordinator", "queryNode", "rootCoordinator"},
			[][]string{{"indexNode"}, {"rootCoordinator"}, {"dataCoordinator"}, {"indexCoordinator"}, {"queryCoordinator"}, {"queryNode"}, {"dataNode"}, {"proxy"}}},
		// A 2.5 release without index nodes skips that phase.
		{"2.5.10", "2.5.16", "mix", []string{"dataNode", "mixCoordinator", "proxy", "queryNode"},
			[][]string{{"mixCoordinator"}, {"queryNode"}, {"dataNode"}, {"proxy"}}},
	} {
		p, err := For(v(t, tc.from), v(t, tc.to), tc.coords, tc.components)
		if err != nil {
			t.Errorf("%s -> %s: %v", tc.from, tc.to, err)
			continue
		}
		if !slices.EqualFunc(p.Steps, tc.want, slices.Equal) {
			t.Errorf("%s -> %s (%s): %v, want %v", tc.from, tc.to, tc.coords, p.Steps, tc.want)
		}
		last := len(p.Steps)
		if len(p.Pinned(last)) != 0 || len(p.Moved(last)) != len(tc.components) || len(p.Pinned(0)) != len(tc.components) {
			t.Errorf("%s -> %s: the last phase must move everything, the first hold all but its own", tc.from, tc.to)
		}
	}
}

// TestUnsafeTransitionsAreRefused, each with the reason.
func TestUnsafeTransitionsAreRefused(t *testing.T) {
	for _, tc := range []struct{ from, to, coords, want string }{
		{"2.6.0-rc1", "2.6.15", "mix", "pre-release (a release candidate)"},
		{"2.6.15", "2.6.14", "mix", "downgrade"},
		{"2.6.15", "2.6.15", "mix", "nothing to upgrade"},
		{"2.5.10", "2.6.15", "mix", "only from 2.5.16 or later running the mixCoordinator; upgrade to 2.5.16 first"},
		{"2.5.16", "2.6.15", "mix", "not available in this version"},
		{"2.6.15", "2.5.16", "mix", "downgrade"},
	} {
		_, err := For(v(t, tc.from), v(t, tc.to), tc.coords, []string{"proxy"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s (%s): %v, want %q", tc.from, tc.to, tc.coords, err, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	p, err := For(v(t, "2.6.14"), v(t, "2.6.15"), "mix", []string{"dataNode", "mixCoordinator", "proxy", "queryNode", "streamingNode"})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Describe(2, "v2.6.14", "v2.6.15")
	want := "phase 2 of 5 (2.6 patch release): mixCoordinator, streamingNode on v2.6.15; queryNode, dataNode, proxy stay on v2.6.14"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := p.Describe(5, "v2.6.14", "v2.6.15"); !strings.HasSuffix(got, "the upgrade is complete: remove milvus.upgrade") {
		t.Errorf("last phase: %s", got)
	}
}

func TestSourceTagKeepsTheVariant(t *testing.T) {
	from := Version{2, 6, 14, ""}
	for tag, want := range map[string]string{"v2.6.15": "v2.6.14", "v2.6.15-gpu": "v2.6.14-gpu", "2.6.15": "2.6.14", "nightly-20261201": "v2.6.14"} {
		if got := SourceTag(tag, "2.6.15", from); got != want {
			t.Errorf("SourceTag(%q) = %q, want %q", tag, got, want)
		}
	}
}
