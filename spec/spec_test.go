package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validEnv is a small valid environment. Cases edit it and mark the line
// they expect the error on with "// HERE".
const validEnv = `package overlays

environments: t: {
	milvus: version: "2.6.15"
	topology: nodes: 3
	components: {
		proxy: replicas:          1
		queryNode: replicas:      1
		dataNode: replicas:       1
		streamingNode: replicas:  1
		mixCoordinator: replicas: 1
	}
	dependencies: {
		etcd: endpoints: ["etcd:2379"]
		objectStorage: {
			host:   "minio"
			bucket: "milvus"
			credentials: {
				accessKeyID: {name: "s3", key: "id"}
				secretAccessKey: {name: "s3", key: "secret"}
			}
		}
		messageQueue: type: "woodpecker"
	}
	delivery: kind: "flux"
	//EXTRA
}
`

// writeEnv writes src as overlays/t.cue under a temp dir, changes into that
// dir (paths in diagnostics are relative to it) and returns the file path.
func writeEnv(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "overlays"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overlays", "t.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return filepath.Join("overlays", "t.cue")
}

func markerLine(t *testing.T, src string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "// HERE") {
			return i + 1
		}
	}
	t.Fatal("case has no // HERE marker")
	return 0
}

func TestValidEnvironment(t *testing.T) {
	writeEnv(t, validEnv)
	set, err := Load("overlays")
	if err != nil {
		t.Fatal(err)
	}
	env, err := set.Environment("t")
	if err != nil {
		t.Fatalf("valid spec rejected:\n%v", err)
	}
	if env.Milvus.Chart.Version != "5.0.19" || env.Namespace != "milvus-t" || env.Release != "milvus-t" {
		t.Errorf("derived fields: chart %s namespace %s release %s", env.Milvus.Chart.Version, env.Namespace, env.Release)
	}
	if got := env.Dependencies.ObjectStorage.RootPath; got != "milvus-t" {
		t.Errorf("object storage rootPath defaults to the release, got %q", got)
	}
	for _, role := range []string{"common", "proxy", "queryNode", "dataNode"} {
		if got := fmt.Sprint(env.MilvusConfig[role].(map[string]any)["gracefulStopTimeout"]); got != "25" {
			t.Errorf("%s.gracefulStopTimeout defaults to 5 s under the 30 s grace period, got %s", role, got)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(string) string
		wantPath string
		wantMsg  string
	}{
		{
			name:     "unknown field suggests the right name",
			edit:     extra(`log: levle: "debug" // HERE`),
			wantPath: "environments.t.log.levle",
			wantMsg:  `unknown field "levle"; did you mean "level"?`,
		},
		{
			name:     "unknown field next to a type error is still reported",
			edit:     extra(`probes: liveness: {perodSeconds: 3, timeoutSeconds: 1} // HERE`),
			wantPath: "environments.t.probes.liveness.perodSeconds",
			wantMsg:  `did you mean "periodSeconds"?`,
		},
		{
			name:     "a component that one node's loss takes down is refused where tolerated",
			edit:     chain(extra(`topology: tolerate: "node"`), replace("proxy: replicas:          1", "proxy: replicas:          1 // HERE")),
			wantPath: "environments.t.components.proxy.replicas",
			wantMsg:  `proxy: losing one node can leave 0 of 1 pods, below its quorum of 1 (one pod serves); run at least 2 replicas with antiAffinity: "required"`,
		},
		{
			name: "a Kafka heap that leaves the JVM no room",
			edit: replace(`messageQueue: type: "woodpecker"`, `messageQueue: {
			type: "kafka"
			mode: "managed"
			managed: broker: {
				resources: {requests: {cpu: 1, memory: 4Gi}, limits: {cpu: 2, memory: 4Gi}}
				heap: 4Gi // HERE
			}
		}`),
			wantPath: "environments.t.dependencies.messageQueue.managed.broker.heap",
			wantMsg:  `out of bound <=3221225472`,
		},
		{
			name:     "a Kafka message limit below what Milvus sends",
			edit:     replace(`messageQueue: type: "woodpecker"`, `messageQueue: {type: "kafka", mode: "managed", managed: broker: maxMessageBytes: 1000012} // HERE`),
			wantPath: "environments.t.dependencies.messageQueue.managed.broker.maxMessageBytes",
			wantMsg:  `out of bound >=5242880`,
		},
		{
			name: "a backup with IAM and no cloud identity",
			edit: chain(replace(`			credentials: {
				accessKeyID: {name: "s3", key: "id"}
				secretAccessKey: {name: "s3", key: "secret"}
			}`, `			useIAM: true`), extra(`backup: {enabled: true, storage: bucket: "backups"} // HERE`)),
			wantPath: "environments.t.backup.serviceAccount.annotations",
			wantMsg:  `the backup uses IAM for object storage but its ServiceAccount has no cloud identity: set backup.serviceAccount.annotations`,
		},
		{
			name:     "a security context that cannot run the Milvus image",
			edit:     extra(`security: {runAsNonRoot: true, runAsGroup: 1000, supplementalGroups: []} // HERE`),
			wantPath: "environments.t.security.runAsGroup",
			wantMsg:  `Milvus 2.6.15 cannot run under this security context: Milvus 2.5/2.6 (milvusdb/milvus): UID 1000 in groups [1000] cannot execute it (owned by 0:0, not executable by others): run in group 0`,
		},
		{
			name:     "only query nodes have a local disk",
			edit:     replace("proxy: replicas:          1", `proxy: {replicas: 1, localDisk: size: 10Gi} // HERE`),
			wantPath: "environments.t.components.proxy.localDisk",
			wantMsg:  "only the query node has a local disk",
		},
		{
			name:     "a toleration with tolerationSeconds is NoExecute",
			edit:     extra(`placement: tolerations: [{key: "k", effect: "NoSchedule", tolerationSeconds: 30}] // HERE`),
			wantPath: "environments.t.placement.tolerations.0.tolerationSeconds",
			wantMsg:  `tolerationSeconds needs effect "NoExecute"`,
		},
		{
			name:     "zone tolerance needs zones",
			edit:     extra(`topology: tolerate: "zone" // HERE`),
			wantPath: "environments.t.topology.tolerate",
			wantMsg:  `"zone" needs at least two zones in topology.zones`,
		},
		{
			name:     "enum lists the allowed values once",
			edit:     replace(`messageQueue: type: "woodpecker"`, `messageQueue: type: "rabbitmq" // HERE`),
			wantPath: "environments.t.dependencies.messageQueue.type",
			wantMsg:  `must be one of "kafka", "pulsar", "woodpecker", got "rabbitmq"`,
		},
		{
			name:     "component the version does not have",
			edit:     extra(`components: indexNode: replicas: 1 // HERE`),
			wantPath: "environments.t.components.indexNode",
			wantMsg:  `unknown field "indexNode"; allowed here: proxy, queryNode, dataNode, streamingNode, mixCoordinator`,
		},
		{
			name:     "2.5 has no streaming node",
			edit:     chain(replace(`milvus: version: "2.6.15"`, `milvus: version: "2.5.16"`), replace("streamingNode: replicas:  1", "streamingNode: replicas:  1 // HERE")),
			wantPath: "environments.t.components.streamingNode",
			wantMsg:  `unknown field "streamingNode"`,
		},
		{
			name: "woodpecker needs 2.6",
			edit: chain(
				replace(`milvus: version: "2.6.15"`, `milvus: version: "2.5.16"`),
				replace("streamingNode: replicas:  1", "indexNode: replicas:      1"),
				replace("messageQueue: type: \"woodpecker\"", "messageQueue: type: \"woodpecker\" // HERE"),
			),
			wantPath: "environments.t.dependencies.messageQueue.type",
			wantMsg:  `woodpecker needs Milvus 2.6; 2.5 supports pulsar and kafka`,
		},
		{
			name:     "required anti-affinity needs enough nodes",
			edit:     replace("queryNode: replicas:      1", `queryNode: {replicas: 4, antiAffinity: "required"} // HERE`),
			wantPath: "environments.t.components.queryNode.replicas",
			wantMsg:  "invalid value 4 (out of bound <=3)",
		},
		{
			name:     "requests above limits",
			edit:     replace("proxy: replicas:          1", "proxy: {replicas: 1, resources: {requests: {cpu: 2, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}} // HERE"),
			wantPath: "environments.t.components.proxy.resources.limits.cpu",
			wantMsg:  "invalid value 1 (out of bound >=2)",
		},
		{
			name:     "production needs two replicas",
			edit:     chain(extra("production: true"), replace("proxy: replicas:          1", "proxy: replicas:          1 // HERE")),
			wantPath: "environments.t.components.proxy.replicas",
			wantMsg:  "invalid value 1 (out of bound >=2)",
		},
		{
			name:     "a LoadBalancer must say who may reach it",
			edit:     extra(`service: type: "LoadBalancer" // HERE`),
			wantPath: "environments.t.service.loadBalancerSourceRanges",
			wantMsg:  "does not satisfy list.MinItems(1)",
		},
		{
			name:     "graceful stop must end before the pod is killed",
			edit:     extra("config: gracefulStopTimeoutSeconds: 45 // HERE"),
			wantPath: "environments.t.config.gracefulStopTimeoutSeconds",
			wantMsg:  "invalid value 45 (out of bound <30)",
		},
		{
			name:     "no field can hold a secret value",
			edit:     replace(`accessKeyID: {name: "s3", key: "id"}`, `accessKeyID: {name: "s3", key: "id", value: "minioadmin"} // HERE`),
			wantPath: "environments.t.dependencies.objectStorage.credentials.accessKeyID.value",
			wantMsg:  `unknown field "value"`,
		},
		{
			name:     "a misspelt field lists the allowed ones",
			edit:     chain(replace("credentials: {", "creds: { // HERE")),
			wantPath: "environments.t.dependencies.objectStorage.creds",
			wantMsg:  `unknown field "creds"; allowed here: credentials, mode, host`,
		},
		{
			name:     "bad version",
			edit:     replace(`milvus: version: "2.6.15"`, `milvus: version: "2.4.0" // HERE`),
			wantPath: "environments.t.milvus.version",
			wantMsg:  `invalid value "2.4.0"`,
		},
		{
			name:     "an environment name must be a DNS label",
			edit:     replace("environments: t: {", "environments: Bad_Name: { // HERE"),
			wantPath: "environments.Bad_Name.name",
			wantMsg:  `invalid value "Bad_Name"`,
		},
		{
			name:     "selector labels are reserved",
			edit:     extra(`labels: component: "x" // HERE`),
			wantPath: "environments.t.labels.component",
			wantMsg:  `label "component" is reserved`,
		},
		{
			name:     "no secret value in config.extra",
			edit:     extra(`config: extra: minio: secretAccessKey: "minioadmin" // HERE`),
			wantPath: "environments.t.config.extra.minio.secretAccessKey",
			wantMsg:  "a spec holds no secret value",
		},
		{
			name:     "config.extra cannot set what a typed field owns",
			edit:     extra(`config: extra: proxy: maxTaskNum: 5 // HERE`),
			wantPath: "environments.t.config.extra.proxy.maxTaskNum",
			wantMsg:  "set config.proxyMaxTaskNum instead",
		},
		{
			name:     "config.extra keys Milvus does not read",
			edit:     extra(`config: extra: queryNode: gracefullStopTimeout: 5 // HERE`),
			wantPath: "environments.t.config.extra.queryNode.gracefullStopTimeout",
			wantMsg:  "Milvus 2.6 reads no configuration key queryNode.gracefullStopTimeout (milvus-io/milvus v2.6.15, configs/milvus.yaml and pkg/util/paramtable); did you mean queryNode.gracefulStopTimeout?",
		},
		{
			name:     "a credential in config.extra under a dotted key",
			edit:     extra(`config: extra: "minio.secretAccessKey": "x" // HERE`),
			wantPath: `environments.t.config.extra."minio.secretAccessKey"`,
			wantMsg:  "minio.secretAccessKey: a spec holds no secret value",
		},
		{
			name:     "a credential in config.extra in another case and with underscores",
			edit:     extra(`config: extra: MINIO: secret_access_key: "x" // HERE`),
			wantPath: "environments.t.config.extra.MINIO.secret_access_key",
			wantMsg:  "MINIO.secret_access_key is minio.secretAccessKey to Milvus: a spec holds no secret value",
		},
		{
			name:     "a key below an owned subtree",
			edit:     extra(`config: extra: "etcd.auth.enabled": false // HERE`),
			wantPath: `environments.t.config.extra."etcd.auth.enabled"`,
			wantMsg:  "etcd.auth.enabled is etcd.auth to Milvus: set dependencies.etcd.auth",
		},
		{
			name:     "keys of another version",
			edit:     extra(`config: extra: indexNode: workerSlotUnit: 2 // HERE`),
			wantPath: "environments.t.config.extra.indexNode.workerSlotUnit",
			wantMsg:  "Milvus 2.6 reads no configuration key indexNode.workerSlotUnit",
		},
		{
			name:     "time travel is gone",
			edit:     extra(`config: dataRetentionSeconds: 86400 // HERE`),
			wantPath: "environments.t.config.dataRetentionSeconds",
			wantMsg:  "Milvus 2.3 removed time travel",
		},
		{
			name:     "Helm release names have 53 characters at most",
			edit:     extra(`release: "milvus-a-very-long-release-name-that-helm-will-refuse-x" // HERE`),
			wantPath: "environments.t.release",
			wantMsg:  "(longer than 53 characters)",
		},
		{
			name:     "source ranges are CIDRs",
			edit:     extra(`service: {type: "LoadBalancer", loadBalancerSourceRanges: ["999.1.1.1/99"]} // HERE`),
			wantPath: "environments.t.service.loadBalancerSourceRanges.0",
			wantMsg:  "is not a network in CIDR notation",
		},
		{
			name:     "cpu in millicores",
			edit:     replace("proxy: replicas:          1", "proxy: {replicas: 1, resources: {requests: {cpu: 0.0005, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}} // HERE"),
			wantPath: "environments.t.components.proxy.resources.requests.cpu",
			wantMsg:  "math.MultipleOf(0.001)",
		},
		{
			name:     "a node in every zone",
			edit:     chain(replace("topology: nodes: 3", `topology: {nodes: 2, zones: ["a", "b", "c"]} // HERE`)),
			wantPath: "environments.t.topology.nodes",
			wantMsg:  "invalid value 2 (out of bound >=3)",
		},
		{
			name:     "zones are unique",
			edit:     chain(replace("topology: nodes: 3", `topology: {nodes: 3, zones: ["a", "a"]} // HERE`)),
			wantPath: "environments.t.topology.zones",
			wantMsg:  "list.UniqueItems",
		},
		{
			name:     "a liveness probe succeeds once",
			edit:     extra("probes: liveness: successThreshold: 3 // HERE"),
			wantPath: "environments.t.probes.liveness.successThreshold",
			wantMsg:  "conflicting values 1 and 3",
		},
		{
			name:     "2.6 has only the mixCoordinator",
			edit:     replace(`milvus: version: "2.6.15"`, `milvus: {version: "2.6.15", coordinators: "separate"} // HERE`),
			wantPath: "environments.t.milvus.coordinators",
			wantMsg:  `Milvus 2.6 has only the mixCoordinator`,
		},
		{
			name:     "the chart's annotations are its own",
			edit:     replace("proxy: replicas:          1", `proxy: {replicas: 1, annotations: "checksum/config": "x"} // HERE`),
			wantPath: "environments.t.components.proxy.annotations.\"checksum/config\"",
			wantMsg:  "is set by the chart",
		},
		{
			name:     "a backup needs a bucket",
			edit:     extra(`backup: enabled: true // HERE`),
			wantPath: "environments.t.backup.storage.bucket",
			wantMsg:  "field is required but not present",
		},
		{
			name:     "the backup image is pinned with its config format",
			edit:     extra(`backup: {enabled: true, storage: bucket: "backups", image: tag: "v0.6.0"} // HERE`),
			wantPath: "environments.t.backup.image.tag",
			wantMsg:  `invalid value "v0.6.0"`,
		},
		{
			name:     "a schedule is five cron fields",
			edit:     extra(`backup: {enabled: true, storage: bucket: "backups", schedule: "daily"} // HERE`),
			wantPath: "environments.t.backup.schedule",
			wantMsg:  `"daily" is not a cron schedule`,
		},
		{
			name:     "alerts need the metrics endpoint",
			edit:     extra(`metrics: enabled: false // HERE`),
			wantPath: "environments.t.metrics.enabled",
			wantMsg:  "conflicting values true and false",
		},
		{
			name:     "the fault phase needs a second replica",
			edit:     extra(`verification: {enabled: true, workload: replicas: 1} // HERE`),
			wantPath: "environments.t.verification.workload.replicas",
			wantMsg:  "the fault phase kills a query node while searching: load at least 2 replicas",
		},
		{
			name:     "the verification data must fit in the verifier's memory",
			edit:     extra(`verification: {enabled: true, fault: enabled: false, workload: {rows: 5000000, replicas: 1}} // HERE`),
			wantPath: "environments.t.verification.workload.rows",
			wantMsg:  "invalid value 5000000 (out of bound <=2097152)",
		},
		{
			name: "a production etcd has an odd number of members",
			edit: chain(extra("production: true"), replace(`etcd: endpoints: ["etcd:2379"]`,
				`etcd: {mode: "managed", managed: {replicas: 4, rootPassword: {name: "e", key: "p"}, jwtKeySecret: "j"}} // HERE`)),
			wantPath: "environments.t.dependencies.etcd.managed.replicas",
			wantMsg:  "must be one of 3, 5, 7, 9, got 4",
		},
		{
			name: "a production MinIO is distributed",
			edit: chain(extra("production: true"), replace("topology: nodes: 3", "topology: nodes: 6"), replace(`messageQueue: type: "woodpecker"`,
				`messageQueue: type: "woodpecker"
		objectStorage: {mode: "managed", bucket: "milvus", managed: {replicas: 1, rootCredentials: secretName: "m"}} // HERE`),
				replace(`objectStorage: {
			host:   "minio"
			bucket: "milvus"
			credentials: {
				accessKeyID: {name: "s3", key: "id"}
				secretAccessKey: {name: "s3", key: "secret"}
			}
		}`, "")),
			wantPath: "environments.t.dependencies.objectStorage.managed.replicas",
			wantMsg:  "invalid value 1 (out of bound >=4)",
		},
		{
			name: "a production Pulsar has three bookies",
			edit: chain(extra("production: true"), replace(`messageQueue: type: "woodpecker"`,
				`messageQueue: {type: "pulsar", mode: "managed", managed: bookkeeper: replicas: 1} // HERE`)),
			wantPath: "environments.t.dependencies.messageQueue.managed.bookkeeper.replicas",
			wantMsg:  "invalid value 1 (out of bound >=3)",
		},
		{
			name: "a production Kafka keeps writing through a broker loss",
			edit: chain(extra("production: true"), replace(`messageQueue: type: "woodpecker"`,
				`messageQueue: {type: "kafka", mode: "managed", managed: minInsyncReplicas: 3} // HERE`)),
			wantPath: "environments.t.dependencies.messageQueue.managed.minInsyncReplicas",
			wantMsg:  "invalid value 3 (out of bound <3)",
		},
		{
			name: "a Kafka topic cannot have more replicas than brokers",
			edit: replace(`messageQueue: type: "woodpecker"`,
				`messageQueue: {type: "kafka", mode: "managed", managed: {broker: replicas: 1, replicationFactor: 3}} // HERE`),
			wantPath: "environments.t.dependencies.messageQueue.managed.replicationFactor",
			wantMsg:  "invalid value 3 (out of bound <=1)",
		},
		{
			name: "a production Pulsar keeps two copies of each message",
			edit: chain(extra("production: true"), replace(`messageQueue: type: "woodpecker"`,
				`messageQueue: {type: "pulsar", mode: "managed", managed: ledgers: writeQuorum: 1} // HERE`)),
			wantPath: "environments.t.dependencies.messageQueue.managed.ledgers.writeQuorum",
			wantMsg:  "invalid value 1 (out of bound >=2)",
		},
		{
			name: "a managed etcd takes no client TLS",
			edit: replace(`etcd: endpoints: ["etcd:2379"]`,
				`etcd: {mode: "managed", managed: {rootPassword: {name: "e", key: "p"}, jwtKeySecret: "j"}, tls: secretName: "x"} // HERE`),
			wantPath: "environments.t.dependencies.etcd.tls",
			wantMsg:  "a managed etcd has no client TLS",
		},
		{
			name: "a misspelt field inside a managed dependency",
			edit: replace(`messageQueue: type: "woodpecker"`,
				`messageQueue: {type: "kafka", mode: "managed", managed: replicationFactr: 1} // HERE`),
			wantPath: "environments.t.dependencies.messageQueue.managed.replicationFactr",
			wantMsg:  `unknown field "replicationFactr"; did you mean "replicationFactor"?`,
		},
		{
			name:     "woodpecker has nothing to manage",
			edit:     replace(`messageQueue: type: "woodpecker"`, `messageQueue: {type: "woodpecker", mode: "managed"} // HERE`),
			wantPath: "environments.t.dependencies.messageQueue.mode",
			wantMsg:  "woodpecker runs inside Milvus' streaming nodes",
		},
		{
			name:     "ExternalSecrets refresh at a duration",
			edit:     extra(`secrets: externalSecrets: {storeRef: name: "vault", refreshInterval: "hourly"} // HERE`),
			wantPath: "environments.t.secrets.externalSecrets.refreshInterval",
			wantMsg:  "hourly",
		},
		{
			name:     "wrong type",
			edit:     replace("topology: nodes: 3", `topology: nodes: "three" // HERE`),
			wantPath: "environments.t.topology.nodes",
			wantMsg:  "mismatched types string and int",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.edit(validEnv)
			file := writeEnv(t, src)
			set, err := Load("overlays")
			if err != nil {
				t.Fatal(err)
			}
			_, err = set.Environment(set.Names()[0])
			var serr *Error
			if !errors.As(err, &serr) {
				t.Fatalf("want a spec error, got %v", err)
			}
			line := markerLine(t, src)
			seen := map[string]bool{}
			for _, d := range serr.Diags {
				// Every diagnostic is the user's: positioned, on a path they
				// can find in their file, said once.
				if d.File == "" || !strings.HasPrefix(d.Path, "environments.") || seen[d.String()] {
					t.Errorf("unusable or repeated diagnostic: %s", d)
				}
				seen[d.String()] = true
			}
			for _, d := range serr.Diags {
				if d.Path == tc.wantPath && strings.Contains(d.Msg, tc.wantMsg) {
					if d.File != file || d.Line != line || d.Col < 1 {
						t.Errorf("position %s:%d:%d, want %s:%d", d.File, d.Line, d.Col, file, line)
					}
					return
				}
			}
			t.Errorf("no diagnostic at %s containing %q; got:\n%v", tc.wantPath, tc.wantMsg, err)
		})
	}
}

// TestSecurityFromTheImageProfile: a non-root Milvus gets the image
// profile's identity where the spec says nothing, and any identity in the
// image's group passes.
func TestSecurityFromTheImageProfile(t *testing.T) {
	for _, tc := range []struct {
		spec          string
		uid, gid, fs  int64
		supplementary []int64
	}{
		{`security: runAsNonRoot: true`, 1000, 1000, 1000, []int64{0}},
		{`security: {runAsNonRoot: true, runAsUser: 5000, runAsGroup: 5000, fsGroup: 0, supplementalGroups: []}`, 5000, 5000, 0, []int64{}},
		{`security: {runAsNonRoot: true, runAsGroup: 0}`, 1000, 0, 1000, []int64{0}},
	} {
		writeEnv(t, strings.Replace(validEnv, "//EXTRA", tc.spec, 1))
		set, err := Load("overlays")
		if err != nil {
			t.Fatal(err)
		}
		env, err := set.Environment("t")
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		s := env.Security
		if *s.RunAsUser != tc.uid || *s.RunAsGroup != tc.gid || *s.FSGroup != tc.fs || fmt.Sprint(s.SupplementalGroups) != fmt.Sprint(tc.supplementary) {
			t.Errorf("%s: got %d:%d fsGroup %d groups %v", tc.spec, *s.RunAsUser, *s.RunAsGroup, *s.FSGroup, s.SupplementalGroups)
		}
	}
}

func TestUnknownEnvironment(t *testing.T) {
	writeEnv(t, validEnv)
	set, err := Load("overlays")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Environment("nope"); err == nil || !strings.Contains(err.Error(), `no environment "nope" (have: t)`) {
		t.Errorf("got %v", err)
	}
}

func TestSyntaxErrorIsPositioned(t *testing.T) {
	file := writeEnv(t, strings.Replace(validEnv, "topology: nodes: 3", "topology: nodes: 3 }} // HERE", 1))
	_, err := Load("overlays")
	if err == nil || !strings.HasPrefix(err.Error(), file+":") {
		t.Errorf("want an error positioned in %s, got %v", file, err)
	}
}

func extra(s string) func(string) string {
	return func(src string) string { return strings.Replace(src, "//EXTRA", s, 1) }
}

func replace(old, new string) func(string) string {
	return func(src string) string {
		if !strings.Contains(src, old) {
			panic("test case edits a line that does not exist: " + old)
		}
		return strings.Replace(src, old, new, 1)
	}
}

func chain(edits ...func(string) string) func(string) string {
	return func(src string) string {
		for _, e := range edits {
			src = e(src)
		}
		return src
	}
}

// TestOwnedKeysAsMilvusReadsThem: config.extra keys are matched against the
// schema's refused keys the way Milvus normalises keys, on dotted-segment
// boundaries only.
func TestOwnedKeysAsMilvusReadsThem(t *testing.T) {
	set, err := Load(filepath.Join("..", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	blocked := set.ownedExtraKeys()
	for key, want := range map[string]bool{
		"minio.secretAccessKey":                true,
		"Minio.Secret_Access_Key":              true,
		"minio/secretAccessKey":                true, // Milvus drops "/" too
		"etcd.ssl.tlsCert":                     true,
		"etcd.sslMode":                         false,
		"etcd.authority":                       false,
		"proxy.max_task_num":                   true,
		"common.security.authorizationEnabled": false,
	} {
		if _, _, got := owned(blocked, key); got != want {
			t.Errorf("owned(%s) = %v, want %v", key, got, want)
		}
	}
}
