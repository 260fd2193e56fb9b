package compiler

import (
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// gateDev renders dev.cue source src and gates it against committed.
func gateDev(t *testing.T, committed render.FileSet, src string, allowRestart bool) error {
	t.Helper()
	set, err := spec.Load(copyOverlays(t, []string{"base.cue"}, map[string]string{"dev.cue": src}))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Environment(set, "dev")
	if err != nil {
		t.Fatal(err)
	}
	return Gate(set, "dev", committed, files, allowRestart)
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
		name         string
		from         int
		src          string
		allowRestart bool
		want         string // "" passes
	}{
		{"the preparatory commit", -1, devAt(t, 0, false), false, ""},
		{"phase 1 from separate coordinators", -1, devAt(t, 1, false), false, `milvus.upgrade.from: the committed overlay runs separate coordinators: Milvus 2.6 is reached from 2.5.16 or later running the mixCoordinator; switch to coordinators "mix" on v2.5.16 in a commit of its own first`},
		{"phase 1", 0, devAt(t, 1, false), false, ""},
		{"phase 2 skipping phase 1", 0, devAt(t, 2, false), false, "dev.cue:8:29: environments.dev.milvus.upgrade.phase: phase 2 skips phase 1: the committed overlay is on v2.5.16 without an upgrade"},
		{"the last phase from the start", 0, devAt(t, 5, false), false, "phase 5 skips phase 1"},
		{"the same phase again", 1, devAt(t, 1, false), false, ""},
		{"a phase back", 3, devAt(t, 2, false), false, "phase 2 goes back from phase 3: that would move components back to v2.5.16, a downgrade Milvus does not support; to roll back, restore the backup taken before phase 1"},
		{"a phase with a restart of every pod", 3, infoLevel(devAt(t, 4, false)), false, "this commit moves to phase 4 and also changes log, which restarts every Milvus pod: make that a commit of its own"},
		{"the same, allowed", 3, infoLevel(devAt(t, 4, false)), true, ""},
		{"a restart within a phase, no phase change", 4, infoLevel(devAt(t, 4, false)), false, ""},
		{"a queue change in a phase", 3, kafka(devAt(t, 4, false)), false, "environments.dev.dependencies.messageQueue.type: the message queue changes (pulsar -> kafka) in the same commit as the Milvus version"},
		{"a queue change with a version change", 6, kafka(strings.Replace(devAt(t, 6, false), `"2.6.15"`, `"2.6.16"`, 1)), false, "the message queue changes (pulsar -> kafka)"},
		{"a source that is not what runs", 0, strings.Replace(devAt(t, 1, false), `from: "2.5.16"`, `from: "2.5.17"`, 1), false, "milvus.upgrade.from: the committed overlay runs v2.5.16, not v2.5.17"},
		{"dropping the upgrade before its last phase", 4, devAt(t, 6, false), false, "environments.dev.milvus.version: the committed overlay is in phase 4 of 5 of an upgrade: finish it"},
		{"the section removed after the last phase", 6, devAt(t, 6, false), false, ""},
		{"2.5 -> 2.6 without phases", 0, devAt(t, 6, false), false, "v2.5.16 -> v2.6.15 changes the line: upgrade in phases, milvus.upgrade: {from: \"2.5.16\", phase: 1}"},
		{"a downgrade", 6, devAt(t, 0, false), false, "v2.6.15 -> v2.5.16 is a downgrade"},
		{"a new environment", 99, devAt(t, 3, false), false, ""},
	} {
		err := gateDev(t, at[tc.from], tc.src, tc.allowRestart)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s:\n got %v\nwant %q", tc.name, err, tc.want)
		}
	}
}
