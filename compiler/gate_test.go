package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// gateDev renders dev.cue source src and gates it against committed.
func gateDev(t *testing.T, committed render.FileSet, src string) error {
	t.Helper()
	set, err := spec.Load(copyOverlays(t, []string{"base.cue"}, map[string]string{"dev.cue": src}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(set, "dev")
	if err != nil {
		t.Fatal(err)
	}
	return Gate(set, r.Env, committed, r.Files)
}

// TestGateRefusesUnsafeSteps walks dev's 2.5 -> 2.6 upgrade from the
// committed overlay of each step and tries the shortcuts: each safe step
// passes, each unsafe one is refused at the field, with what comes first.
func TestGateRefusesUnsafeSteps(t *testing.T) {
	at := map[int]render.FileSet{}
	for _, phase := range []int{-1, 0, 1, 3, 4, 6} {
		fs, err := renderDev(t, phase, false)
		if err != nil {
			t.Fatalf("phase %d: %v", phase, err)
		}
		at[phase] = fs
	}
	allow := func(src string) string { return strings.Replace(src, "phase: ", "allowRestart: true, phase: ", 1) }
	resources := func(component string) func(string) string {
		return func(src string) string {
			return strings.Replace(src, "\t\t"+component+": replicas:", "\t\t"+component+": resources: {requests: {cpu: 1, memory: 4Gi}, limits: {cpu: 2, memory: 8Gi}}\n\t\t"+component+": replicas:", 1)
		}
	}
	proxyMemory, dataNodeMemory := resources("proxy"), resources("dataNode")
	infoLevel := func(src string) string { return strings.Replace(src, `log: level: "debug"`, `log: level: "info"`, 1) }
	kafka := func(src string) string {
		return strings.Replace(src, `messageQueue: {
			type: "pulsar"
			pulsar: host: "pulsar-proxy.milvus-dev.svc.cluster.local"
		}`, `messageQueue: {
			type: "kafka"
			kafka: {brokers: ["kafka.milvus-dev.svc.cluster.local:9092"], securityProtocol: "PLAINTEXT"}
		}`, 1)
	}
	for _, tc := range []struct {
		name string
		from int
		src  string
		want string // "" passes
	}{
		{"the preparatory commit", -1, devAt(t, 0, false), ""},
		{"phase 1 from separate coordinators", -1, devAt(t, 1, false), `milvus.upgrade.from: the committed overlay runs separate coordinators: Milvus 2.6 is reached from 2.5.16 or later running the mixCoordinator; switch to coordinators "mix" on v2.5.16 in a commit of its own first`},
		{"phase 1", 0, devAt(t, 1, false), ""},
		{"phase 2 skipping phase 1", 0, devAt(t, 2, false), "dev.cue:8:29: environments.dev.milvus.upgrade.phase: phase 2 skips phase 1: the committed overlay is on v2.5.16 without an upgrade"},
		{"the last phase from the start", 0, devAt(t, 5, false), "phase 5 skips phase 1"},
		{"the same phase again", 1, devAt(t, 1, false), ""},
		{"a phase back", 3, devAt(t, 2, false), "phase 2 goes back from phase 3: that would move components back to v2.5.16, a downgrade Milvus does not support; to roll back, restore the backup taken before phase 1"},
		{"a phase with a restart of every pod", 3, infoLevel(devAt(t, 4, false)), "this commit moves to phase 4 and also changes log, which rolls Milvus pods the phase does not move: make that a commit of its own"},
		{"the same, allowed", 3, allow(infoLevel(devAt(t, 4, false))), ""},
		{"an allowance nothing needs", 3, allow(devAt(t, 4, false)), "environments.dev.milvus.upgrade.allowRestart: nothing in this commit needs it: remove it"},
		{"an allowance left in the same phase", 4, allow(infoLevel(devAt(t, 4, false))), "milvus.upgrade.allowRestart: nothing in this commit needs it"},
		{"a held-back component's resources in a phase", 3, proxyMemory(devAt(t, 4, false)), "this commit moves to phase 4 and also changes proxy.resources, which rolls Milvus pods the phase does not move"},
		{"a moved component's resources in its phase", 3, dataNodeMemory(devAt(t, 4, false)), ""},
		{"the target changed mid-upgrade", 3, strings.Replace(devAt(t, 4, false), `"2.6.15"`, `"2.6.16"`, 1), "environments.dev.milvus.version: the committed overlay is in phase 3 of an upgrade to v2.6.15: finish it before changing its target (v2.6.16 now)"},
		{"another variant mid-upgrade", 3, strings.Replace(devAt(t, 4, false), "upgrade: {", "image: tag: \"v2.6.15-gpu\"\n\t\tupgrade: {", 1), "environments.dev.milvus.image.tag: the committed overlay is in phase 3 of an upgrade to v2.6.15"},
		{"the source changed mid-upgrade", 3, strings.Replace(devAt(t, 4, false), `from: "2.5.16"`, `from: "2.5.17"`, 1), "milvus.upgrade.from: the committed overlay holds components on v2.5.16 in phase 3"},
		{"a restart within a phase, no phase change", 4, infoLevel(devAt(t, 4, false)), ""},
		{"a queue change in a phase", 3, kafka(devAt(t, 4, false)), "environments.dev.dependencies.messageQueue.type: the message queue changes (pulsar -> kafka) during an upgrade or with a version change"},
		{"a queue change with a version change", 6, kafka(strings.Replace(devAt(t, 6, false), `"2.6.15"`, `"2.6.16"`, 1)), "the message queue changes (pulsar -> kafka)"},
		{"a source that is not what runs", 0, strings.Replace(devAt(t, 1, false), `from: "2.5.16"`, `from: "2.5.17"`, 1), "milvus.upgrade.from: the committed overlay runs v2.5.16, not v2.5.17: from names the release"},
		{"dropping the upgrade before its last phase", 4, devAt(t, 6, false), "environments.dev.milvus.version: the committed overlay is in phase 4 of 5 of an upgrade: finish it"},
		{"the section removed after the last phase", 6, devAt(t, 6, false), ""},
		{"2.5 -> 2.6 without phases", 0, devAt(t, 6, false), "v2.5.16 -> v2.6.15 changes the line: upgrade in phases, milvus.upgrade: {from: \"2.5.16\", phase: 1}"},
		{"a downgrade", 6, devAt(t, 0, false), "v2.6.15 -> v2.5.16 is a downgrade"},
		{"a new environment", 99, devAt(t, 3, false), ""},
	} {
		err := gateDev(t, at[tc.from], tc.src)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s:\n got %v\nwant %q", tc.name, err, tc.want)
		}
	}
}

// TestGatePassesEveryPhase: dev's upgrade, each commit from the one
// before, as the README walks it, passes the gate.
func TestGatePassesEveryPhase(t *testing.T) {
	var committed render.FileSet
	for _, phase := range []int{-1, 0, 1, 2, 3, 4, 5, 6} {
		if committed != nil {
			if err := gateDev(t, committed, devAt(t, phase, false)); err != nil {
				t.Errorf("phase %d: %v", phase, err)
			}
		}
		fs, err := renderDev(t, phase, false)
		if err != nil {
			t.Fatal(err)
		}
		committed = fs
	}
}

// TestGateOnArgoCD: staging (Argo CD, whose Milvus values move into the
// release directory in a phase) in a patch upgrade: the next phase
// passes, a skipped one is refused.
func TestGateOnArgoCD(t *testing.T) {
	stagingAt := func(phase int) (*spec.Set, Rendered) {
		t.Helper()
		set, err := spec.Load(copyOverlays(t, []string{"base.cue", "staging.cue"}, map[string]string{
			"upgrade.cue": fmt.Sprintf("package overlays\n\nenvironments: staging: milvus: upgrade: {from: \"2.6.14\", phase: %d}\n", phase)}))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Render(set, "staging")
		if err != nil {
			t.Fatal(err)
		}
		return set, r
	}
	_, committed := stagingAt(2)
	set, next := stagingAt(3)
	if err := Gate(set, next.Env, committed.Files, next.Files); err != nil {
		t.Errorf("phase 3 from phase 2: %v", err)
	}
	set, skip := stagingAt(4)
	if err := Gate(set, skip.Env, committed.Files, skip.Files); err == nil || !strings.Contains(err.Error(), "phase 4 skips phase 3: the committed overlay is in phase 2") {
		t.Errorf("phase 4 from phase 2: %v", err)
	}
}
