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
		var got [][]string
		for _, s := range p.Steps {
			got = append(got, s.Move)
		}
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%s -> %s (%s): %v, want %v", tc.from, tc.to, tc.coords, got, tc.want)
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
	got := p.Describe(2, "v2.6.14", "v2.6.15", "5.0.19", "5.0.19")
	want := "phase 2 of 5 (2.6 patch release): mixCoordinator, streamingNode on v2.6.15; queryNode, dataNode, proxy stay on v2.6.14"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := p.Describe(5, "v2.6.14", "v2.6.15", "5.0.19", "5.0.19"); !strings.HasSuffix(got, "the upgrade is complete: remove milvus.upgrade") {
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

// TestPlan25To26: the chart first on the source image, then the streaming
// nodes with the mixCoordinator, query nodes, data nodes, and the proxies
// with the index nodes stopped; the streaming service from phase 2.
func TestPlan25To26(t *testing.T) {
	target := []string{"dataNode", "indexNode", "mixCoordinator", "proxy", "queryNode", "streamingNode"}
	p, err := For(v(t, "2.5.16"), v(t, "2.6.15"), "mix", target)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 5 || !p.Steps[0].Chart || len(p.Steps[0].Move) != 0 {
		t.Fatalf("steps: %+v", p.Steps)
	}
	for phase, want := range map[int]struct {
		moved, pinned, removed []string
		streaming              bool
	}{
		1: {nil, []string{"streamingNode", "mixCoordinator", "queryNode", "dataNode", "proxy", "indexNode"}, nil, false},
		2: {[]string{"streamingNode", "mixCoordinator"}, []string{"queryNode", "dataNode", "proxy", "indexNode"}, nil, true},
		4: {[]string{"streamingNode", "mixCoordinator", "queryNode", "dataNode"}, []string{"proxy", "indexNode"}, nil, true},
		5: {[]string{"streamingNode", "mixCoordinator", "queryNode", "dataNode", "proxy"}, nil, []string{"indexNode"}, true},
	} {
		if got := p.Moved(phase); !slices.Equal(got, want.moved) {
			t.Errorf("phase %d moved %v, want %v", phase, got, want.moved)
		}
		if got := p.Pinned(phase); !slices.Equal(got, want.pinned) {
			t.Errorf("phase %d pinned %v, want %v", phase, got, want.pinned)
		}
		if got := p.Removed(phase); !slices.Equal(got, want.removed) {
			t.Errorf("phase %d removed %v, want %v", phase, got, want.removed)
		}
		if got := p.Streaming(phase); got != want.streaming {
			t.Errorf("phase %d streaming %v", phase, got)
		}
	}
	for phase, want := range map[int]string{
		1: "phase 1 of 5 (2.5 -> 2.6): nothing on v2.6.15 yet; streamingNode, mixCoordinator, queryNode, dataNode, proxy, indexNode stay on v2.5.16; chart 4.2.58 -> 5.0.19: every pod restarts once on the image it runs",
		4: "phase 4 of 5 (2.5 -> 2.6): streamingNode, mixCoordinator, queryNode, dataNode on v2.6.15; proxy, indexNode stay on v2.5.16; flush is unavailable from this phase until the proxies' phase completes",
		5: "phase 5 of 5 (2.5 -> 2.6): streamingNode, mixCoordinator, queryNode, dataNode, proxy on v2.6.15; indexNode stopped; writes fail while proxies of both versions serve; the index nodes stop (data nodes build indexes in 2.6); the upgrade is complete: remove milvus.upgrade",
	} {
		if got := p.Describe(phase, "v2.5.16", "v2.6.15", "4.2.58", "5.0.19"); got != want {
			t.Errorf("phase %d:\n got  %s\n want %s", phase, got, want)
		}
	}
	// Patch plans run the streaming service (or not) throughout.
	p26, _ := For(v(t, "2.6.14"), v(t, "2.6.15"), "mix", []string{"proxy", "streamingNode"})
	if !p26.Streaming(1) {
		t.Error("a 2.6 patch plan must keep the streaming service on")
	}
}
