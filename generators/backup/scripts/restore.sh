#!/bin/sh
# Restores one backup into new collections (named with RESTORE_SUFFIX, so a
# live collection is never overwritten), rebuilding the indexes: backups hold
# no index files.
#
# Environment: BACKUP_NAME (from the <release>-restore-request ConfigMap),
# RESTORE_SUFFIX, BACKUP_FILTER.
set -eu
BIN=${MILVUS_BACKUP_BIN:-/app/milvus-backup}
CFG=${MILVUS_BACKUP_CONFIG:-/app/configs/backup.yaml}
if [ -z "${BACKUP_NAME:-}" ]; then
  echo "restore: BACKUP_NAME is empty" >&2
  exit 1
fi
set -- restore --config "$CFG" -n "$BACKUP_NAME" --rebuild_index -s "$RESTORE_SUFFIX"
if [ -n "${BACKUP_FILTER:-}" ]; then set -- "$@" --filter "$BACKUP_FILTER"; fi
echo "restore: $BACKUP_NAME with suffix $RESTORE_SUFFIX" >&2
exec "$BIN" "$@"
