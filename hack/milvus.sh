#!/usr/bin/env bash
# Starts and stops a real Milvus standalone server on this machine for the
# verifier's end-to-end test: the PyPI package "milvus" (embedded Milvus),
# installed into a virtualenv in the cache, with a fresh data directory.
#
#   hack/milvus.sh start DIR   start, wait for :9091/healthz, write DIR/milvus.pid
#   hack/milvus.sh stop DIR    stop it (SIGTERM to its process group) and wait
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${MILVUSGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvusgen}
venv=$cache/milvus-server-$MILVUS_SERVER_VERSION

cmd=${1:?start or stop}
dir=${2:?state directory}

case $cmd in
start)
	if [[ ! -x $venv/bin/milvus-server ]]; then
		echo "milvus: installing milvus==$MILVUS_SERVER_VERSION from PyPI into $venv" >&2
		python3 -m venv "$venv.tmp"
		"$venv.tmp/bin/pip" install -q "milvus==$MILVUS_SERVER_VERSION"
		rm -rf "$venv" && mv "$venv.tmp" "$venv"
		# The venv's scripts name their interpreter by path: fix them.
		sed -i "1s|$venv.tmp|$venv|" "$venv"/bin/*
	fi
	# Milvus standalone listens on fixed ports: fail at once, not after the
	# health timeout, when another server holds them.
	for port in 19530 9091 2379; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "milvus: port $port is in use (another Milvus or etcd?)" >&2
			exit 1
		fi
	done
	mkdir -p "$dir/data"
	args=(--data "$dir/data" --proxy-port 19530)
	# Components announce loopback addresses (the ports still listen on all
	# interfaces; nothing but this machine talks to them).
	for c in rootCoord proxy queryCoord queryNode indexNode dataCoord dataNode; do
		args+=(--extra-config "$c.ip=127.0.0.1")
	done
	setsid "$venv/bin/milvus-server" "${args[@]}" >"$dir/server.log" 2>&1 &
	echo $! >"$dir/milvus.pid"
	# A start that fails leaves nothing running.
	trap 'status=$?; if ((status != 0)); then kill -KILL -- "-$(cat "$dir/milvus.pid")" 2>/dev/null || true; rm -f "$dir/milvus.pid"; fi' EXIT
	start=$SECONDS
	until curl -fsS http://127.0.0.1:9091/healthz >/dev/null 2>&1; do
		if ! kill -0 "$(cat "$dir/milvus.pid")" 2>/dev/null; then
			echo "milvus: server exited; see $dir/server.log and $dir/data/logs" >&2
			exit 1
		fi
		if ((SECONDS - start > 180)); then
			echo "milvus: not healthy after 180 s; see $dir/data/logs" >&2
			exit 1
		fi
		sleep 1
	done
	echo "milvus: healthy in $((SECONDS - start)) s (pid $(cat "$dir/milvus.pid"))" >&2
	;;
stop)
	[[ -f $dir/milvus.pid ]] || exit 0
	pid=$(cat "$dir/milvus.pid")
	# The launcher only forwards SIGINT: signal the whole process group.
	kill -TERM -- "-$pid" 2>/dev/null || true
	for _ in $(seq 60); do
		kill -0 -- "-$pid" 2>/dev/null || break
		sleep 1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	rm -f "$dir/milvus.pid"
	# Milvus 2.3 exits 134 after a clean shutdown (a panic in its etcd
	# client's close): that is not reported as a failure here.
	echo "milvus: stopped" >&2
	;;
esac
