#!/bin/sh
# Creates a milvus-backup backup named after the scheduled run, then prunes
# the scheduled backups to the retention. Any failure fails the Job.
#
# Environment: JOB_NAME (the Job's name, <cronjob>-<scheduled minute>),
# BACKUP_PREFIX, KEEP_LAST, MAX_AGE_DAYS (0: off), BACKUP_FILTER,
# BACKUP_STRATEGY, and the credentials milvus-backup reads itself.
set -eu

BIN=${MILVUS_BACKUP_BIN:-/app/milvus-backup}
CFG=${MILVUS_BACKUP_CONFIG:-/app/configs/backup.yaml}

log() { echo "backup: $*" >&2; }

# minutes prints the scheduled minute of every scheduled backup, oldest first.
minutes() {
  "$BIN" list --config "$CFG" >"$TMPDIR/list.out"
  sed -n '/^>> Backups:/,$p' "$TMPDIR/list.out" |
    sed -n "s/^${BACKUP_PREFIX}_\([0-9][0-9]*\)\$/\1/p" | sort -n
}

TMPDIR=${TMPDIR:-/tmp}

# A CronJob names its Job <cronjob>-<scheduled minute since the epoch>: the
# same name on every retry of that run, so the backup name is deterministic.
minute=${JOB_NAME##*-}
case $minute in
'' | *[!0-9]*)
  name="${BACKUP_PREFIX}_manual_$(date -u +%Y%m%d%H%M%S)"
  log "not a scheduled run ($JOB_NAME): $name will not be pruned"
  ;;
*) name="${BACKUP_PREFIX}_${minute}" ;;
esac

if minutes | grep -qx "$minute"; then
  log "deleting $name, left incomplete by a failed attempt of this run"
  "$BIN" delete --config "$CFG" -n "$name"
fi

set -- create --config "$CFG" -n "$name"
if [ -n "${BACKUP_FILTER:-}" ]; then set -- "$@" --filter "$BACKUP_FILTER"; fi
if [ -n "${BACKUP_STRATEGY:-}" ]; then set -- "$@" --strategy "$BACKUP_STRATEGY"; fi
log "creating $name"
"$BIN" "$@"

case $name in *_manual_*) exit 0 ;; esac
if ! minutes | grep -qx "$minute"; then
  log "$name is not listed after create"
  exit 1
fi

# Prune: keep at most KEEP_LAST, drop those older than MAX_AGE_DAYS, never
# the newest one.
all=$(minutes)
total=$(printf '%s\n' "$all" | grep -c .)
now=$(($(date -u +%s) / 60))
max_age=$((${MAX_AGE_DAYS:-0} * 1440))
i=0
for m in $all; do
  i=$((i + 1))
  newer=$((total - i)) # backups newer than this one
  drop=""
  if [ "$newer" -ge "${KEEP_LAST:-1}" ]; then drop="beyond the last ${KEEP_LAST}"; fi
  if [ "$max_age" -gt 0 ] && [ "$newer" -gt 0 ] && [ $((now - m)) -gt "$max_age" ]; then
    drop="older than ${MAX_AGE_DAYS} days"
  fi
  if [ -n "$drop" ]; then
    log "pruning ${BACKUP_PREFIX}_$m ($drop)"
    "$BIN" delete --config "$CFG" -n "${BACKUP_PREFIX}_$m"
  fi
done
log "done: $name"
