package compiler

import (
	"github.com/milvus-gitops/milvusgen/diff"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Gate refuses an environment's new overlay (rendered) when the step from
// its committed overlay is unsafe (package upgrade, Gate): a skipped
// phase, a message-queue change with a version change, a phase that also
// restarts every pod unless allowRestart, and the rest. A nil or empty
// committed overlay (a new environment) passes. The error is a
// *spec.Error positioned at the fields to change.
func Gate(set *spec.Set, name string, committed, rendered render.FileSet, allowRestart bool) error {
	if len(committed) == 0 {
		return nil
	}
	prev, err := diff.StateOf(diff.Files(committed))
	if err != nil {
		return err
	}
	next, err := diff.StateOf(diff.Files(rendered))
	if err != nil {
		return err
	}
	restarts, err := diff.Restarts(diff.Files(committed), diff.Files(rendered))
	if err != nil {
		return err
	}
	env, err := set.Environment(name)
	if err != nil {
		return err
	}
	return set.Refuse(name, upgrade.Gate(prev, upgrade.Commit{Env: env, Queue: next.Queue, Restarts: restarts, AllowRestart: allowRestart}))
}
