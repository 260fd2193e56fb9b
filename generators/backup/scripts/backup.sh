#!/bin/sh
# Creates a milvus-backup backup for the scheduled run, then prunes the
# scheduled backups to the retention. Any failure fails the Job.
#
# Names: <prefix>_<scheduled minute>_<attempt>. A CronJob names its Job
# <cronjob>-<scheduled minute since the epoch>, so the minute identifies the
# run; the attempt (the pod's own suffix) keeps a retry from colliding with
# the folder a failed attempt left: milvus-backup refuses an existing name,
# lists only complete backups, and cannot delete incomplete ones.
#
# Environment: JOB_NAME, POD_NAME, BACKUP_PREFIX, KEEP_LAST, MAX_AGE_DAYS
# (0: off), MAX_START_DELAY_MINUTES, BACKUP_FILTER, BACKUP_STRATEGY, and the
# credentials milvus-backup reads itself.
set -eu

BIN=${MILVUS_BACKUP_BIN:-/app/milvus-backup}
CFG=${MILVUS_BACKUP_CONFIG:-/app/configs/backup.yaml}
TMPDIR=${TMPDIR:-/tmp}

log() { echo "backup: $*" >&2; }

# list prints the complete backups, one per line. It fails if the tool does.
list() {
  "$BIN" list --config "$CFG" >"$TMPDIR/list.out"
  sed -n '/^>> Backups:/,$p' "$TMPDIR/list.out" | sed 1d
}

# scheduled prints "<minute> <name>" for every scheduled backup, oldest first.
scheduled() {
  printf '%s\n' "$1" | sed -n "s/^\(${BACKUP_PREFIX}_\([0-9][0-9]*\)_[a-z0-9][a-z0-9]*\)\$/\2 \1/p" | sort -n
}

now=$(($(date -u +%s) / 60))
minute=${JOB_NAME##*-}
attempt=${POD_NAME##*-}
# A scheduled run started at most MAX_START_DELAY_MINUTES after its minute;
# any other Job (kubectl create job --from=cronjob/...) is a manual run,
# which is never pruned, whatever its name ends with.
case $minute in
'' | *[!0-9]*) minute="" ;;
*) if [ $((now - minute)) -lt 0 ] || [ $((now - minute)) -gt "${MAX_START_DELAY_MINUTES:-1440}" ]; then minute=""; fi ;;
esac
case $attempt in '' | *[!a-z0-9]*) attempt=$(date -u +%S) ;; esac

before=$(list)
if [ -z "$minute" ]; then
  name="${BACKUP_PREFIX}_manual_$(date -u +%Y%m%d%H%M%S)"
  log "not a scheduled run ($JOB_NAME): $name will not be pruned"
else
  done_already=$(scheduled "$before" | sed -n "s/^$minute //p" | head -n 1)
  if [ -n "$done_already" ]; then
    name=$done_already
    log "$name is complete (an earlier attempt of this run): not creating it again"
  else
    name="${BACKUP_PREFIX}_${minute}_${attempt}"
  fi
fi

if [ "$name" != "${done_already:-}" ]; then
  set -- create --config "$CFG" -n "$name"
  if [ -n "${BACKUP_FILTER:-}" ]; then set -- "$@" --filter "$BACKUP_FILTER"; fi
  if [ -n "${BACKUP_STRATEGY:-}" ]; then set -- "$@" --strategy "$BACKUP_STRATEGY"; fi
  log "creating $name"
  "$BIN" "$@"
  after=$(list)
  if ! printf '%s\n' "$after" | grep -qx "$name"; then
    log "$name is not listed after create: it is incomplete"
    exit 1
  fi
fi
[ -n "$minute" ] || exit 0

# Prune: keep at most KEEP_LAST, drop those older than MAX_AGE_DAYS, never
# the newest one.
all=$(scheduled "$(list)")
total=$(printf '%s\n' "$all" | grep -c . || true)
max_age=$((${MAX_AGE_DAYS:-0} * 1440))
i=0
printf '%s\n' "$all" | while read -r m b; do
  [ -n "$m" ] || continue
  i=$((i + 1))
  newer=$((total - i)) # backups newer than this one
  drop=""
  if [ "$newer" -ge "${KEEP_LAST:-1}" ]; then drop="beyond the last ${KEEP_LAST}"; fi
  if [ "$max_age" -gt 0 ] && [ "$newer" -gt 0 ] && [ $((now - m)) -gt "$max_age" ]; then
    drop="older than ${MAX_AGE_DAYS} days"
  fi
  if [ -n "$drop" ]; then
    log "pruning $b ($drop)"
    "$BIN" delete --config "$CFG" -n "$b"
  fi
done
log "done: $name"
