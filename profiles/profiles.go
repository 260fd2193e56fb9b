// Package profiles records, for every image we render, the identity it
// can run under: who owns what it executes, what it writes at run time,
// and whether that works with a read-only root filesystem. Generators take
// their security contexts from here, `gen vet` refuses an override that
// cannot run the image, and the tests hold every rendered pod (the charts'
// included) to its image's profile.
//
// No registry is reachable where this was written: the facts come from the
// images' Dockerfiles and the programs' source at the tags we pin, cited
// on each profile.
package profiles

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Access says how a path the process writes can be writable.
type Access int

const (
	// Volume: the image does not provide it writable for a non-root
	// process: it must be a volume.
	Volume Access = iota
	// Owner: the image provides it, writable by the owner or group of
	// the profile.
	Owner
	// World: the image provides it writable by anyone (/tmp).
	World
)

// Write is a path the process writes at run time.
type Write struct {
	Path   string
	Access Access
	Why    string
}

// Profile is one image line.
type Profile struct {
	Name string
	// Repository is the upstream repository (without a mirror).
	Repository string
	// User and Group are the image's USER (0: the image names none and
	// runs as root).
	User, Group int64
	// OwnerUID and OwnerGID own the executables, libraries and
	// configuration; OthersExecute is whether their mode lets any other
	// user run them.
	OwnerUID, OwnerGID int64
	OthersExecute      bool
	Writes             []Write
	// ReadOnlyRoot: the image runs with a read-only root filesystem when
	// every write is a volume. False where the entrypoint rewrites files
	// inside the image (its configuration) at start.
	ReadOnlyRoot bool
	// NonRoot is the identity we render for it: a non-zero UID that can
	// execute and write what it needs.
	NonRoot Identity
	Source  string
}

// Identity is what a container runs as and what it has mounted.
type Identity struct {
	UID    int64
	GID    int64
	Groups []int64 // supplementary: supplementalGroups and fsGroup
	// Mounts are the container's volume mount paths; ReadOnlyRoot its
	// readOnlyRootFilesystem.
	Mounts       []string
	ReadOnlyRoot bool
}

// Check says why id cannot run the image, or nil.
func (p Profile) Check(id Identity) error {
	var why []string
	groups := append([]int64{id.GID}, id.Groups...)
	inGroup := slices.Contains(groups, p.OwnerGID)
	if id.UID != 0 && id.UID != p.OwnerUID && !inGroup && !p.OthersExecute {
		fix := fmt.Sprintf("run as UID %d or in group %d", p.OwnerUID, p.OwnerGID)
		if p.OwnerUID == 0 {
			fix = fmt.Sprintf("run in group %d (runAsGroup or supplementalGroups)", p.OwnerGID)
		}
		why = append(why, fmt.Sprintf("UID %d in groups %v cannot execute it (owned by %d:%d, not executable by others): %s",
			id.UID, uniq(groups), p.OwnerUID, p.OwnerGID, fix))
	}
	if id.ReadOnlyRoot && !p.ReadOnlyRoot {
		why = append(why, "it rewrites files inside the image at start and cannot run with a read-only root filesystem")
	}
	for _, w := range p.Writes {
		if mounted(w.Path, id.Mounts) {
			continue
		}
		switch {
		case id.ReadOnlyRoot:
			why = append(why, fmt.Sprintf("it writes %s (%s), which is no volume on a read-only root filesystem", w.Path, w.Why))
		case id.UID == 0, w.Access == World:
		case w.Access == Owner && (id.UID == p.OwnerUID || inGroup):
		case w.Access == Owner:
			why = append(why, fmt.Sprintf("it writes %s (%s), writable by %d:%d only, and is no volume", w.Path, w.Why, p.OwnerUID, p.OwnerGID))
		default:
			why = append(why, fmt.Sprintf("it writes %s (%s), which the image does not provide to a non-root user: it must be a volume", w.Path, w.Why))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%s (%s): %s", p.Name, p.Repository, strings.Join(why, "; "))
}

// mounted: p is a mount path or below one.
func mounted(p string, mounts []string) bool {
	for _, m := range mounts {
		m = path.Clean(m)
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

func uniq(s []int64) []int64 {
	out := append([]int64(nil), s...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return slices.Compact(out)
}

// Milvus is the profile of the Milvus image of a version line.
func Milvus(line string) (Profile, error) {
	switch line {
	case "2.5", "2.6":
		return milvus2, nil
	case "3.0":
		return milvus3, nil
	}
	return Profile{}, fmt.Errorf("no image profile for Milvus %s", line)
}

// milvusWrites are what Milvus writes whatever its version.
var milvusWrites = []Write{
	// localStorage.path: Milvus creates /var/lib/milvus/data at start and
	// exits when it cannot (pkg/util/paramtable/component_param.go, v2.6.15
	// l.4355-4357: os.MkdirAll then log.Fatal); mmap files and pprof dumps
	// live below it. The chart mounts it on query and index nodes only.
	{Path: "/var/lib/milvus", Access: Volume, Why: "localStorage.path, created at start"},
	// The pid file: /run/milvus/<role>.pid, falling back to /tmp/milvus
	// when /run/milvus cannot be created (cmd/milvus/util.go l.57-70).
	{Path: "/tmp", Access: World, Why: "the pid file when /run/milvus is not writable"},
}

// milvus2: every 2.5.x and 2.6.x image (checked at v2.5.16, v2.5.24,
// v2.6.0, v2.6.1, v2.6.15 and v2.6.18). build/docker/milvus/ubuntu22.04/
// Dockerfile (the published one: .env OS_NAME=ubuntu22.04) copies bin/
// milvus, lib/ and configs/ with `COPY --chown=root:root --chmod=774`
// (milvus-io/milvus PR #31576, after PR #30775 made /milvus group-root for
// OpenShift's arbitrary UIDs in group 0), names no USER and creates no
// /var/lib/milvus. Others may read but not execute the binary or load its
// libraries: a UID outside group 0 fails with "exec milvus failed:
// Permission denied", exit 126 (v2.6.1 under UID/GID 1000:
// caipe-io/ai-platform-engineering PR #2746 and #2749). Any non-zero UID
// in group 0 runs it; "restricted" Pod Security forbids runAsUser 0 only
// (k8s.io/pod-security-admission policy/check_runAsUser.go), so group 0 is
// allowed.
var milvus2 = Profile{
	Name: "Milvus 2.5/2.6", Repository: "milvusdb/milvus",
	User: 0, Group: 0, OwnerUID: 0, OwnerGID: 0, OthersExecute: false,
	Writes: milvusWrites, ReadOnlyRoot: true,
	// 1000 as the primary group keeps what Milvus creates out of group 0;
	// group 0 comes as a supplementary group.
	NonRoot: Identity{UID: 1000, GID: 1000, Groups: []int64{0}},
	Source:  "milvus-io/milvus build/docker/milvus/ubuntu22.04/Dockerfile at v2.5.16 and v2.6.15",
}

// milvus3: images built after milvus-io/milvus PR #44524 (merged
// 2025-10-29 on master, first released in v3.0-beta; no 2.6.x tag up to
// v2.6.18 carries it): `groupadd -r milvus && useradd -r -g milvus
// milvus`, /milvus and /var/lib/milvus chown'ed to milvus:milvus, `USER
// milvus:milvus`, which is UID/GID 999 on Ubuntu 22.04 (issue #51221,
// zilliztech/milvus-operator PR #434). The files keep mode 0774, so group
// 0 no longer helps (issue #46897, open).
var milvus3 = Profile{
	Name: "Milvus 3.0", Repository: "milvusdb/milvus",
	User: 999, Group: 999, OwnerUID: 999, OwnerGID: 999, OthersExecute: false,
	Writes: []Write{
		{Path: "/var/lib/milvus", Access: Owner, Why: "localStorage.path"},
		milvusWrites[1],
	},
	ReadOnlyRoot: true,
	NonRoot:      Identity{UID: 999, GID: 999},
	Source:       "milvus-io/milvus build/docker/milvus/ubuntu22.04/Dockerfile after PR #44524 (v3.0-beta)",
}

// Backup is milvusdb/milvus-backup v0.5.x: alpine:3.17, WORKDIR /app, no
// USER, the binary 0755 from `go build` (zilliztech/milvus-backup
// Dockerfile at v0.5.16). It writes its log file below /app/logs unless
// log.file.filename is empty (internal/cfg/cfg.go l.94, internal/log/
// log.go l.82), which our backup.yaml sets.
var Backup = Profile{
	Name: "milvus-backup v0.5", Repository: "milvusdb/milvus-backup",
	OthersExecute: true,
	Writes:        []Write{{Path: "/tmp", Access: World, Why: "the Job scripts' scratch files"}},
	ReadOnlyRoot:  true,
	NonRoot:       Identity{UID: 65532, GID: 65532},
	Source:        "zilliztech/milvus-backup Dockerfile at v0.5.16",
}

// Verifier is our own image (Dockerfile here): a static binary on
// distroless/static:nonroot, USER 65532:65532; it writes nothing but /tmp.
var Verifier = Profile{
	Name: "milvusgen verifier", Repository: "ghcr.io/milvus-gitops/milvusgen-verifier",
	User: 65532, Group: 65532, OwnerUID: 0, OwnerGID: 0, OthersExecute: true,
	Writes:       []Write{{Path: "/tmp", Access: World, Why: "scratch space"}},
	ReadOnlyRoot: true,
	NonRoot:      Identity{UID: 65532, GID: 65532},
	Source:       "Dockerfile of this repository",
}

// Etcd is milvusdb/etcd 3.5.x (the bitnami etcd image rebuilt by Milvus):
// `chmod g+rwX /opt/bitnami`, `USER 1001` with no passwd entry, so the
// primary group is 0 unless runAsGroup says otherwise; data on the claim at
// /bitnami/etcd (milvus-io/bitnami-docker-etcd 3.5/debian-12/Dockerfile
// and rootfs/opt/bitnami/scripts/etcd/postunpack.sh at 3.5.16-r1, same
// scheme at 3.5.30-r1).
var Etcd = Profile{
	Name: "etcd 3.5 (bitnami)", Repository: "milvusdb/etcd",
	User: 1001, Group: 0, OwnerUID: 0, OwnerGID: 0, OthersExecute: true,
	Writes: []Write{
		{Path: "/bitnami/etcd", Access: Volume, Why: "the data directory"},
		{Path: "/opt/bitnami/etcd", Access: Owner, Why: "the generated configuration"},
	},
	ReadOnlyRoot: false,
	NonRoot:      Identity{UID: 1001, GID: 0, Groups: []int64{1001}},
	Source:       "milvus-io/bitnami-docker-etcd 3.5/debian-12/Dockerfile",
}

// MinIO is minio/minio RELEASE.2024-12-18T13-15-44Z: ubi9-micro, no USER,
// `chmod -R 777 /usr/bin` (Dockerfile.release), data at the chart's
// /export claim; creating its certs directory tolerates EACCES and EROFS
// (cmd/config-dir.go).
var MinIO = Profile{
	Name: "MinIO", Repository: "minio/minio",
	OthersExecute: true,
	Writes:        []Write{{Path: "/export", Access: Volume, Why: "the data directory"}},
	ReadOnlyRoot:  true,
	NonRoot:       Identity{UID: 1000, GID: 1000, Groups: []int64{1000}},
	Source:        "minio/minio Dockerfile.release at RELEASE.2024-12-18T13-15-44Z",
}

// Pulsar is apachepulsar/pulsar 3.0.x: USER 10000 in group root, /pulsar/
// {conf,data,download,logs} group-root writable (docker/pulsar/Dockerfile;
// "unnamed, non-root user that is also part of the root group" since
// 2.10.0). Every component rewrites /pulsar/conf at start
// (bin/apply-config-from-env.py in the chart's commands).
var Pulsar = Profile{
	Name: "Pulsar 3.0", Repository: "apachepulsar/pulsar",
	User: 10000, Group: 0, OwnerUID: 10000, OwnerGID: 0, OthersExecute: true,
	Writes: []Write{
		{Path: "/pulsar/conf", Access: Owner, Why: "apply-config-from-env.py rewrites it"},
		{Path: "/pulsar/logs", Access: Owner, Why: "logs"},
	},
	ReadOnlyRoot: false,
	NonRoot:      Identity{UID: 10000, GID: 0},
	Source:       "apache/pulsar docker/pulsar/Dockerfile (3.x)",
}

// Kafka and ZooKeeper are the bitnami images of the Milvus chart
// (bitnamilegacy/kafka 3.1.0, bitnamilegacy/zookeeper 3.7.0): `chmod
// g+rwX /opt/bitnami`, USER 1001, primary group 0; at start they write
// their configuration and logs under /opt/bitnami (bitnami/containers
// bitnami/kafka/3.1/debian-10 and bitnami-docker-zookeeper 3.7/debian-10,
// postunpack.sh).
var Kafka = Profile{
	Name: "Kafka 3.1 (bitnami)", Repository: "bitnamilegacy/kafka",
	User: 1001, Group: 0, OwnerUID: 0, OwnerGID: 0, OthersExecute: true,
	Writes: []Write{
		{Path: "/bitnami/kafka", Access: Volume, Why: "the log directories"},
		{Path: "/opt/bitnami/kafka/config", Access: Owner, Why: "server.properties, generated at start"},
	},
	ReadOnlyRoot: false,
	NonRoot:      Identity{UID: 1001, GID: 0, Groups: []int64{1001}},
	Source:       "bitnami/containers bitnami/kafka/3.1/debian-10/Dockerfile",
}

// ZooKeeper: see Kafka.
var ZooKeeper = Profile{
	Name: "ZooKeeper 3.7 (bitnami)", Repository: "bitnamilegacy/zookeeper",
	User: 1001, Group: 0, OwnerUID: 0, OwnerGID: 0, OthersExecute: true,
	Writes: []Write{
		{Path: "/bitnami/zookeeper", Access: Volume, Why: "the data directory"},
		{Path: "/opt/bitnami/zookeeper/conf", Access: Owner, Why: "zoo.cfg, generated at start"},
	},
	ReadOnlyRoot: false,
	NonRoot:      Identity{UID: 1001, GID: 0, Groups: []int64{1001}},
	Source:       "bitnami/bitnami-docker-zookeeper 3.7/debian-10/Dockerfile",
}

// JMXExporter is the bitnami exporter image the Kafka chart's metrics run
// (bitnamilegacy/jmx-exporter 0.16.1-debian-10): stacksmith tarballs
// unpacked into /opt/bitnami as root, USER 1001, the entrypoint the
// program itself (java -jar jmx_prometheus_httpserver.jar), with the
// configuration mounted by the chart (bitnami/containers
// bitnami/jmx-exporter/0/debian-10/Dockerfile). It writes no files; the
// JVM keeps its perf data in /tmp (hsperfdata), which it skips when it
// cannot write, but left writable here.
var JMXExporter = Profile{
	Name: "JMX exporter 0.16 (bitnami)", Repository: "bitnamilegacy/jmx-exporter",
	User: 1001, Group: 0, OwnerUID: 0, OwnerGID: 0, OthersExecute: true,
	Writes:       []Write{{Path: "/tmp", Access: World, Why: "the JVM's hsperfdata"}},
	ReadOnlyRoot: false,
	NonRoot:      Identity{UID: 1001, GID: 0, Groups: []int64{1001}},
	Source:       "bitnami/containers bitnami/jmx-exporter/0/debian-10/Dockerfile",
}

// Others are the profiles besides Milvus', for matching rendered images.
var Others = []Profile{Backup, Verifier, Etcd, MinIO, MC, Pulsar, Kafka, ZooKeeper, JMXExporter}

// MC is minio/mc, which our bucket Job runs (generators/dependencies
// BucketsJob): world-executable like the server's binary (Dockerfile.release
// of minio/minio installs both with chmod +x); mc writes its configuration
// to MC_CONFIG_DIR, which the Job points at its /tmp emptyDir.
var MC = Profile{
	Name: "MinIO client", Repository: "minio/mc",
	OthersExecute: true,
	Writes:        []Write{{Path: "/tmp", Access: World, Why: "mc's configuration (MC_CONFIG_DIR)"}},
	ReadOnlyRoot:  true,
	NonRoot:       Identity{UID: 65532, GID: 65532},
	Source:        "minio/mc; generators/dependencies BucketsJob",
}
