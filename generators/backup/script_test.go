package backup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

// fakeCLI stands in for the milvus-backup v0.5.16 binary to test our
// script's naming, retry and retention logic, with the tool's semantics:
// `list` prints a banner, ">> Backups:" and the *complete* backups only;
// `create` refuses a name whose folder exists (even incomplete) and writes
// the metadata last; `delete` fails on a backup without metadata.
// Running the real tool needs a Milvus and its object storage.
const fakeCLI = `#!/bin/sh
state=$FAKE_STATE
echo "$*" >>"$state/calls"
cmd=$1; shift
name=""
while [ $# -gt 0 ]; do
  case $1 in -n) name=$2; shift ;; esac
  shift
done
mkdir -p "$state/folders"
case $cmd in
list)
  [ -f "$state/fail-list" ] && { echo "list failed" >&2; exit 4; }
  echo "milvus-backup version v0.5.16"
  echo "config: /app/configs/backup.yaml"
  echo ">> Backups:"
  for f in "$state"/folders/*; do [ -f "$f/meta" ] && basename "$f"; done
  true
  ;;
create)
  [ -d "$state/folders/$name" ] && { echo "backup $name already exist" >&2; exit 2; }
  mkdir "$state/folders/$name"
  [ -f "$state/fail-create" ] && { echo "create failed midway" >&2; exit 3; }
  touch "$state/folders/$name/meta"
  ;;
delete)
  [ -f "$state/folders/$name/meta" ] || { echo "can not read backup info" >&2; exit 5; }
  rm -r "$state/folders/$name"
  ;;
esac
`

type run struct {
	complete   []string // complete backups before the run
	partial    []string // folders left by failed creates
	jobName    string
	podName    string
	keepLast   int
	maxAgeDays int
	failCreate bool
	failList   bool
}

// shell is the POSIX shell closest to the image's (Alpine's busybox ash).
func shell(t *testing.T) []string {
	if p, ok := testenv.Lookup("busybox"); ok {
		return []string{p, "sh"}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("busybox is missing: CI installs it to run the script as the image does")
	}
	return []string{"sh"}
}

// exec runs backup.sh and returns the complete backups and folders after it.
func (r run) exec(t *testing.T) (complete, folders, calls []string, err error) {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "milvus-backup"), []byte(fakeCLI), 0o755))
	for _, n := range r.complete {
		must(t, os.MkdirAll(filepath.Join(dir, "folders", n), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "folders", n, "meta"), nil, 0o644))
	}
	for _, n := range r.partial {
		must(t, os.MkdirAll(filepath.Join(dir, "folders", n), 0o755))
	}
	if r.failCreate {
		must(t, os.WriteFile(filepath.Join(dir, "fail-create"), nil, 0o644))
	}
	if r.failList {
		must(t, os.WriteFile(filepath.Join(dir, "fail-list"), nil, 0o644))
	}
	script, err := scripts.ReadFile("scripts/backup.sh")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "backup.sh"), script, 0o644))
	pod := r.podName
	if pod == "" {
		pod = r.jobName + "-x7k2p"
	}
	sh := shell(t)
	cmd := exec.Command(sh[0], append(sh[1:], filepath.Join(dir, "backup.sh"))...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"FAKE_STATE=" + dir,
		"TMPDIR=" + dir,
		"MILVUS_BACKUP_BIN=" + filepath.Join(dir, "milvus-backup"),
		"JOB_NAME=" + r.jobName,
		"POD_NAME=" + pod,
		"BACKUP_PREFIX=milvus_prod_backup",
		"MAX_START_DELAY_MINUTES=421",
		fmt.Sprintf("KEEP_LAST=%d", r.keepLast),
		fmt.Sprintf("MAX_AGE_DAYS=%d", r.maxAgeDays),
	}
	out, err := cmd.CombinedOutput()
	t.Logf("script output:\n%s", out)
	entries, _ := os.ReadDir(filepath.Join(dir, "folders"))
	for _, e := range entries {
		folders = append(folders, e.Name())
		if _, serr := os.Stat(filepath.Join(dir, "folders", e.Name(), "meta")); serr == nil {
			complete = append(complete, e.Name())
		}
	}
	c, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return complete, folders, lines(c), err
}

// scheduled returns the minute, backup name (of attempt "aaaaa") and Job
// name of a run `ago` before now.
func scheduled(ago time.Duration) (minute int64, backup, job string) {
	m := time.Now().Add(-ago).Unix() / 60
	return m, fmt.Sprintf("milvus_prod_backup_%d_aaaaa", m), fmt.Sprintf("milvus-prod-backup-%d", m)
}

const day = 24 * time.Hour

func TestBackupScriptKeepsTheLastN(t *testing.T) {
	var existing []string
	for d := 9; d >= 1; d-- {
		_, n, _ := scheduled(time.Duration(d) * day)
		existing = append(existing, n)
	}
	existing = append(existing, "milvus_prod_backup_manual_20260101000000", "someone_elses_backup")
	m, _, job := scheduled(time.Minute)
	got, _, _, err := run{complete: existing, jobName: job, keepLast: 7}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{}, existing[3:]...) // the six newest scheduled, and the others
	want = append(want, fmt.Sprintf("milvus_prod_backup_%d_x7k2p", m))
	if !sameSet(got, want) {
		t.Errorf("backups after the run:\n got %v\nwant %v", got, want)
	}
}

func TestBackupScriptDropsOldOnesButNeverTheNewest(t *testing.T) {
	_, old1, _ := scheduled(40 * day)
	_, old2, _ := scheduled(31 * day)
	_, young, _ := scheduled(2 * day)
	m, _, job := scheduled(time.Minute)
	got, _, _, err := run{complete: []string{old1, old2, young}, jobName: job, keepLast: 100, maxAgeDays: 30}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("milvus_prod_backup_%d_x7k2p", m)
	if !sameSet(got, []string{young, name}) {
		t.Errorf("got %v", got)
	}
	got, _, _, err = run{jobName: job, keepLast: 1, maxAgeDays: 1}.exec(t)
	if err != nil || !sameSet(got, []string{name}) {
		t.Errorf("the newest backup must survive: %v %v", got, err)
	}
}

// A retry after a create that failed midway: the incomplete folder is not
// listed and cannot be deleted; the retry writes its own attempt's name.
func TestBackupScriptRetriesBesideAnIncompleteAttempt(t *testing.T) {
	m, partial, job := scheduled(10 * time.Minute)
	got, folders, _, err := run{partial: []string{partial}, jobName: job, podName: job + "-bbbbb", keepLast: 7}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("milvus_prod_backup_%d_bbbbb", m)
	if !sameSet(got, []string{name}) || !slices.Contains(folders, partial) {
		t.Errorf("complete %v, folders %v", got, folders)
	}
}

// A retry after a complete create (the first attempt failed later, e.g.
// while pruning) keeps that backup and does not create another.
func TestBackupScriptRetryKeepsACompleteBackup(t *testing.T) {
	_, done, job := scheduled(10 * time.Minute)
	got, _, calls, err := run{complete: []string{done}, jobName: job, podName: job + "-bbbbb", keepLast: 7}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, []string{done}) || slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "create") || strings.HasPrefix(c, "delete") }) {
		t.Errorf("complete %v, calls %v", got, calls)
	}
}

func TestBackupScriptFailsLoudly(t *testing.T) {
	_, old, _ := scheduled(30 * day)
	_, _, job := scheduled(time.Minute)
	got, _, calls, err := run{complete: []string{old}, jobName: job, keepLast: 1, failCreate: true}.exec(t)
	if err == nil {
		t.Fatal("a failed create must fail the Job")
	}
	if !sameSet(got, []string{old}) || slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "delete") }) {
		t.Errorf("nothing may be pruned after a failed create: %v, calls %v", got, calls)
	}
	if _, _, _, err := (run{jobName: job, keepLast: 1, failList: true}).exec(t); err == nil {
		t.Error("a failing list must fail the Job")
	}
}

func TestBackupScriptManualRunsAreNotPruned(t *testing.T) {
	_, old, _ := scheduled(3 * day)
	for _, job := range []string{"manual-before-upgrade", "milvus-prod-backup-20260301"} {
		got, _, _, err := run{complete: []string{old}, jobName: job, keepLast: 1}.exec(t)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if len(got) != 2 || got[0] != old || !strings.HasPrefix(got[1], "milvus_prod_backup_manual_") {
			t.Errorf("%s: a manual run adds a manual backup and prunes nothing: %v", job, got)
		}
	}
}

func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
