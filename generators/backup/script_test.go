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

// fakeCLI stands in for the milvus-backup binary to test our script's
// naming, retry and retention logic. It prints `list` the way v0.5.16 does
// (a banner, then ">> Backups:" and one name per line) and logs every call.
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
case $cmd in
list)
  echo "milvus-backup version v0.5.16"
  echo "config: /app/configs/backup.yaml"
  echo ">> Backups:"
  cat "$state/backups" 2>/dev/null || true
  ;;
create)
  [ -f "$state/fail-create" ] && { echo "create failed" >&2; exit 3; }
  echo "$name" >>"$state/backups"
  ;;
delete)
  grep -vx "$name" "$state/backups" >"$state/backups.new" || true
  mv "$state/backups.new" "$state/backups"
  ;;
esac
`

type run struct {
	existing   []string
	jobName    string
	keepLast   int
	maxAgeDays int
	failCreate bool
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

func (r run) exec(t *testing.T) (backups, calls []string, err error) {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "milvus-backup"), []byte(fakeCLI), 0o755))
	if len(r.existing) > 0 {
		must(t, os.WriteFile(filepath.Join(dir, "backups"), []byte(strings.Join(r.existing, "\n")+"\n"), 0o644))
	}
	if r.failCreate {
		must(t, os.WriteFile(filepath.Join(dir, "fail-create"), nil, 0o644))
	}
	script, err := scripts.ReadFile("scripts/backup.sh")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "backup.sh"), script, 0o644))
	sh := shell(t)
	cmd := exec.Command(sh[0], append(sh[1:], filepath.Join(dir, "backup.sh"))...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"FAKE_STATE=" + dir,
		"TMPDIR=" + dir,
		"MILVUS_BACKUP_BIN=" + filepath.Join(dir, "milvus-backup"),
		"JOB_NAME=" + r.jobName,
		"BACKUP_PREFIX=milvus_prod_backup",
		fmt.Sprintf("KEEP_LAST=%d", r.keepLast),
		fmt.Sprintf("MAX_AGE_DAYS=%d", r.maxAgeDays),
	}
	out, err := cmd.CombinedOutput()
	t.Logf("script output:\n%s", out)
	b, _ := os.ReadFile(filepath.Join(dir, "backups"))
	c, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return lines(b), lines(c), err
}

// scheduled returns the backup name of a run `daysAgo` days before now.
func scheduled(daysAgo int) (string, string) {
	minute := time.Now().Add(-time.Duration(daysAgo)*24*time.Hour).Unix() / 60
	return fmt.Sprintf("milvus_prod_backup_%d", minute), fmt.Sprintf("milvus-prod-backup-%d", minute)
}

func TestBackupScriptKeepsTheLastN(t *testing.T) {
	var existing []string
	for d := 9; d >= 1; d-- {
		n, _ := scheduled(d)
		existing = append(existing, n)
	}
	existing = append(existing, "milvus_prod_backup_manual_20260101000000", "someone_elses_backup")
	name, job := scheduled(0)
	got, _, err := run{existing: existing, jobName: job, keepLast: 7}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{}, existing[3:9]...) // the six newest old ones
	want = append(want, "milvus_prod_backup_manual_20260101000000", "someone_elses_backup", name)
	if !sameSet(got, want) {
		t.Errorf("backups after the run:\n got %v\nwant %v", got, want)
	}
}

func TestBackupScriptDropsOldOnesButNeverTheNewest(t *testing.T) {
	old1, _ := scheduled(40)
	old2, _ := scheduled(31)
	young, _ := scheduled(2)
	name, job := scheduled(0)
	got, _, err := run{existing: []string{old1, old2, young}, jobName: job, keepLast: 100, maxAgeDays: 30}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, []string{young, name}) {
		t.Errorf("got %v", got)
	}
	// With nothing newer, even an old backup stays.
	got, _, err = run{existing: nil, jobName: job, keepLast: 1, maxAgeDays: 1}.exec(t)
	if err != nil || !sameSet(got, []string{name}) {
		t.Errorf("the newest backup must survive: %v %v", got, err)
	}
}

func TestBackupScriptRetryReplacesAPartialBackup(t *testing.T) {
	name, job := scheduled(0)
	got, calls, err := run{existing: []string{name}, jobName: job, keepLast: 7}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, []string{name}) {
		t.Errorf("got %v", got)
	}
	del := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "delete") })
	create := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "create") })
	if del < 0 || create < del {
		t.Errorf("want the partial backup deleted before create, calls: %v", calls)
	}
	if !strings.Contains(calls[create], "-n "+name) || !strings.Contains(calls[create], "--config /app/configs/backup.yaml") {
		t.Errorf("create call: %s", calls[create])
	}
}

func TestBackupScriptFailsLoudly(t *testing.T) {
	old, _ := scheduled(30)
	_, job := scheduled(0)
	got, calls, err := run{existing: []string{old}, jobName: job, keepLast: 1, failCreate: true}.exec(t)
	if err == nil {
		t.Fatal("a failed create must fail the Job")
	}
	if !sameSet(got, []string{old}) || slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "delete") }) {
		t.Errorf("nothing may be pruned after a failed create: %v, calls %v", got, calls)
	}
}

func TestBackupScriptManualRunsAreNotPruned(t *testing.T) {
	old, _ := scheduled(3)
	got, _, err := run{existing: []string{old}, jobName: "manual-before-upgrade", keepLast: 1}.exec(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != old || !strings.HasPrefix(got[1], "milvus_prod_backup_manual_") {
		t.Errorf("a manual run adds a manual backup and prunes nothing: %v", got)
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
