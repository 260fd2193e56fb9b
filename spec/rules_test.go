package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ruleCase edits the committed overlays (replacing old by new in file, or
// writing a new file when old is empty) and vets env. An invalid case names
// the diagnostic it expects: its path, part of its message, and the line
// (marked "// HERE" in new, or line 1 for a whole file) it is positioned
// on. A valid case has no wantMsg.
type ruleCase struct {
	name          string
	file, old     string
	new           string
	env           string
	wantPath      string
	wantMsg       string
	atFileStart   bool // positioned at the file, line 1
	raw           bool // new is the whole file, package clause included
	wantLoadError bool // refused when loading the overlays, before any environment
}

// runRuleCases runs each case in a copy of the repository's overlays.
func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	src, err := filepath.Abs("../overlays")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "overlays"), os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			file := filepath.Join("overlays", tc.file)
			var text string
			if tc.raw {
				text = tc.new
			} else if tc.old == "" {
				text = "package overlays\n\n" + tc.new + "\n"
			} else {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), tc.old) {
					t.Fatalf("%s no longer contains %q", file, tc.old)
				}
				text = strings.Replace(string(b), tc.old, tc.new, 1)
			}
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			set, err := Load("overlays")
			if err == nil && !tc.wantLoadError {
				_, err = set.Environment(tc.env)
			}
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("valid spec refused:\n%v", err)
				}
				return
			}
			var serr *Error
			if !errors.As(err, &serr) {
				t.Fatalf("want a positioned spec error, got %v", err)
			}
			line := 1
			if !tc.atFileStart {
				line = markerLine(t, text)
			}
			seen := map[string]bool{}
			for _, d := range serr.Diags {
				if d.File == "" || d.Line < 1 || seen[d.String()] || strings.Contains(d.Path, ".#") {
					t.Errorf("unusable or repeated diagnostic: %s", d)
				}
				seen[d.String()] = true
			}
			for _, d := range serr.Diags {
				if d.Path == tc.wantPath && strings.Contains(d.Msg, tc.wantMsg) {
					if d.File != file || d.Line != line {
						t.Errorf("positioned at %s:%d, want %s:%d", d.File, d.Line, file, line)
					}
					return
				}
			}
			t.Errorf("no diagnostic at %s containing %q; got:\n%v", tc.wantPath, tc.wantMsg, err)
		})
	}
}

// Class 1: secrets and owned keys in config.extra, in any spelling Milvus
// reads the same (more in TestOwnedKeysAsMilvusReadsThem).
func TestExtraKeyRules(t *testing.T) {
	extra := func(name, key, wantPath, wantMsg string) ruleCase {
		return ruleCase{name: name, file: "extra.cue", new: "environments: prod: config: extra: " + key + " // HERE",
			env: "prod", wantPath: wantPath, wantMsg: wantMsg}
	}
	runRuleCases(t, []ruleCase{
		extra("a known key is accepted", `dataCoord: gc: dropTolerance: 86400`, "", ""),
		extra("the credential section is secrets", `credential: aksk1: secret_access_key: "x"`,
			"environments.prod.config.extra.credential", "a spec holds no secret value"),
		extra("Kafka's TLS key password, dotted", `"kafka.ssl.tlsKeyPassword": "x"`,
			`environments.prod.config.extra."kafka.ssl.tlsKeyPassword"`, "a spec holds no secret value"),
		extra("a GCP key file, other case", `MINIO: GCPCREDENTIALJSON: "{}"`,
			"environments.prod.config.extra.MINIO.GCPCREDENTIALJSON", "workload identity"),
		extra("an API key below a free-form prefix", `function: textEmbedding: providers: openai: api_key: "sk-x"`,
			"environments.prod.config.extra.function.textEmbedding.providers.openai.api_key", "a spec holds no secret value"),
		extra("an API key spelt with a dot", `function: textEmbedding: providers: openai: "api.key": "sk-x"`,
			`environments.prod.config.extra.function.textEmbedding.providers.openai."api.key"`, "a spec holds no secret value"),
		extra("an inline private key below a free-form prefix", `kafka: producer: "ssl.key.pem": "-----BEGIN"`,
			`environments.prod.config.extra.kafka.producer."ssl.key.pem"`, "a spec holds no secret value"),
		extra("one key in two spellings", `{dataCoord: gc: dropTolerance: 1, "datacoord.gc.drop_tolerance": 2}`,
			`environments.prod.config.extra."datacoord.gc.drop_tolerance"`, "is dataCoord.gc.dropTolerance again"),
		extra("a key Milvus does not read", `dataCoord: gc: dropTolerence: 86400`,
			"environments.prod.config.extra.dataCoord.gc.dropTolerence", "did you mean dataCoord.gc.dropTolerance?"),
	})
}

// Class 2: network ranges are parsed, not compared as strings.
func TestSourceRangeRules(t *testing.T) {
	ranges := func(name, list, wantPath, wantMsg string) ruleCase {
		return ruleCase{name: name, file: "prod.cue", old: `loadBalancerSourceRanges: ["10.0.0.0/8"]`,
			new: "loadBalancerSourceRanges: " + list + " // HERE", env: "prod", wantPath: wantPath, wantMsg: wantMsg}
	}
	const at = "environments.prod.service.loadBalancerSourceRanges"
	runRuleCases(t, []ruleCase{
		ranges("private ranges are accepted", `["10.0.0.0/8", "172.16.0.0/12", "fd00::/8", "100.64.0.0/10"]`, "", ""),
		ranges("host bits set", `["10.0.0.1/8"]`, at+".0", `has host bits set: the network is 10.0.0.0/8`),
		ranges("not a network", `["10.0.0.0/33"]`, at+".0", "is not a network in CIDR notation"),
		ranges("every IPv4 address as two halves", `["0.0.0.0/1", "128.0.0.0/1"]`, at, "cover every IPv4 address"),
		ranges("every IPv6 address in another spelling", `["0::/0"]`, at, "cover every IPv6 address"),
		ranges("every IPv6 address as halves", `["::/1", "8000::/1"]`, at, "cover every IPv6 address"),
		ranges("every IPv4 address as mapped IPv6", `["::ffff:0.0.0.0/96"]`, at, "cover every IPv4 address"),
		ranges("a public range in production", `["10.0.0.0/8", "8.8.8.0/24"]`, at+".1", "8.8.8.0/24 is not a private network"),
		{name: "a public range on purpose", file: "prod.cue", old: `loadBalancerSourceRanges: ["10.0.0.0/8"]`,
			new: `loadBalancerSourceRanges: ["203.0.113.0/24"], publicSourceRanges: true`, env: "prod"},
		{name: "every address even on purpose", file: "prod.cue", old: `loadBalancerSourceRanges: ["10.0.0.0/8"]`,
			new: `loadBalancerSourceRanges: ["0.0.0.0/0"], publicSourceRanges: true // HERE`, env: "prod",
			wantPath: at, wantMsg: "cover every IPv4 address"},
	})
}

// Class 3: the names Kubernetes derives must fit, positioned at the field
// to shorten; label keys and values by Kubernetes' own validation.
func TestNameRules(t *testing.T) {
	long := "prod-" + strings.Repeat("x", 35) // 40 characters: the schema's limit
	runRuleCases(t, []ruleCase{
		{name: "a 63-character namespace is accepted", file: "extra.cue",
			new: `environments: prod: namespace: "` + strings.Repeat("n", 63) + `"`, env: "prod"},
		{name: "an environment name too long for the Pulsar StatefulSets", file: "prod.cue",
			old: "environments: prod: _ha & {", new: `environments: "` + long + `": _ha & { // HERE`, env: long,
			wantPath: `environments.` + long, wantMsg: `must be a StatefulSet name: must be no more than 52 characters; shorten the environment name to at most 28 characters or set release`},
		{name: "a release too long for a CronJob", file: "extra.cue",
			new: `environments: prod: release: "` + strings.Repeat("r", 46) + `" // HERE`, env: "prod",
			wantPath: "environments.prod.release", wantMsg: "shorten release to at most"},
		{name: "a release that is no Service name", file: "extra.cue",
			new: `environments: prod: release: "9prod" // HERE`, env: "prod",
			wantPath: "environments.prod.release", wantMsg: "must be a DNS-1035 label"},
		{name: "a label key Kubernetes refuses", file: "extra.cue",
			new: `environments: prod: labels: "team/": "search" // HERE`, env: "prod",
			wantPath: `environments.prod.labels."team/"`, wantMsg: `label key "team/"`},
		{name: "an empty label key", file: "extra.cue",
			new: `environments: prod: labels: "": "search" // HERE`, env: "prod",
			wantPath: `environments.prod.labels.`, wantMsg: `label key ""`},
		{name: "a label value Kubernetes refuses", file: "extra.cue",
			new: `environments: prod: labels: team: "a b" // HERE`, env: "prod",
			wantPath: "environments.prod.labels.team", wantMsg: `label value "a b"`},
		{name: "an annotation key Kubernetes refuses", file: "extra.cue",
			new: `environments: prod: service: annotations: "-bad": "x" // HERE`, env: "prod",
			wantPath: `environments.prod.service.annotations.-bad`, wantMsg: `annotation key "-bad"`},
		{name: "an empty zone", file: "tenant-eu.cue",
			old: `zones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"]`, new: `zones: ["eu-west-1a", "", "eu-west-1c"] // HERE`, env: "tenant-eu",
			wantPath: "environments.tenant-eu.topology.zones.1", wantMsg: "an empty zone"},
		{name: "an empty image repository", file: "extra.cue",
			new: `environments: prod: milvus: image: repository: "" // HERE`, env: "prod",
			wantPath: "environments.prod.milvus.image.repository", wantMsg: "out of bound"},
	})
}

// Class 4: unknown top-level fields in any overlay file.
func TestTopLevelRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "misspelt environments in a new file", file: "extra.cue",
			new: `enviroments: prod: components: proxy: replicas: 4 // HERE`, wantLoadError: true,
			wantPath: "enviroments", wantMsg: `unknown field "enviroments"; did you mean "environments"?`},
		{name: "misspelt environments in a file that defines one", file: "staging.cue",
			old: "environments: staging: _ha & {", new: "environment: staging: _ha & { // HERE", wantLoadError: true,
			wantPath: "environment", wantMsg: `did you mean "environments"?`},
		{name: "environments as a hidden field", file: "extra.cue",
			new: `_environments: prod: components: proxy: replicas: 4 // HERE`, wantLoadError: true,
			wantPath: "_environments", wantMsg: "a helper CUE leaves out of the output"},
		{name: "a helper of the overlays is fine", file: "extra.cue", new: `_common: replicas: 4`, env: "prod"},
		{name: "a template named like one environment is fine", file: "extra.cue", new: `#Environment: replicas: 4`, env: "prod"},
		{name: "a file without a package clause is loaded", file: "extra.cue", raw: true, new: "// notes\n", env: "prod"},
		{name: "a test file the loader leaves out", file: "extra_test.cue",
			new: `enviroments: prod: {}`, wantLoadError: true, atFileStart: true, wantMsg: "the CUE loader leaves this file out"},
		{name: "a file of another package, at its package clause", file: "extra.cue", raw: true,
			new: "package overlay // HERE\n\nenvironments: prod: components: proxy: replicas: 4\n", wantLoadError: true,
			wantMsg: `package "overlay": every overlay file is one package, and overlays/base.cue is package "overlays"`},
	})
}

// Class 5: schedules as the CronJob API parses them, IANA time zones, and
// staleness longer than the schedule's longest gap.
func TestScheduleRules(t *testing.T) {
	sched := func(name, fields, wantPath, wantMsg string) ruleCase {
		return ruleCase{name: name, file: "base.cue", old: "schedule: \"0 2 * * *\"\n\t\ttimeZone: \"Etc/UTC\"",
			new: fields + " // HERE", env: "prod", wantPath: wantPath, wantMsg: wantMsg}
	}
	const at = "environments.prod.backup."
	runRuleCases(t, []ruleCase{
		sched("a macro is accepted", `schedule: "@daily", timeZone: "Etc/UTC"`, "", ""),
		sched("names and steps are accepted", `schedule: "*/30 1-5 * JAN-DEC MON-FRI", timeZone: "Europe/Berlin", staleAfterHours: 74`, "", ""),
		sched("a minute out of range", `schedule: "61 * * * *", timeZone: "Etc/UTC"`, at+"schedule", "above maximum (59)"),
		sched("six fields", `schedule: "0 0 2 * * *", timeZone: "Etc/UTC"`, at+"schedule", "expected exactly 5 fields"),
		sched("a zero step", `schedule: "*/0 * * * *", timeZone: "Etc/UTC"`, at+"schedule", "step of range should be a positive number"),
		sched("a bad day name", `schedule: "0 2 * * MON-XYZ", timeZone: "Etc/UTC"`, at+"schedule", `"XYZ" is neither a number nor a name`),
		sched("a time zone in the schedule", `schedule: "TZ=UTC 0 2 * * *", timeZone: "Etc/UTC"`, at+"schedule", "not in the schedule"),
		sched("a date that never comes", `schedule: "0 0 30 2 *", timeZone: "Etc/UTC"`, at+"schedule", "never runs"),
		sched("a misspelt time zone", `schedule: "0 2 * * *", timeZone: "Europe/Berln"`, at+"timeZone", "not in the IANA time zone database"),
		sched("the machine's local zone", `schedule: "0 2 * * *", timeZone: "Local"`, at+"timeZone", "not an IANA time zone name"),
		sched("a weekly schedule with a daily staleness", `schedule: "0 2 * * 0", timeZone: "Etc/UTC", staleAfterHours: 26`, at+"staleAfterHours",
			"26 hours is not longer than the longest gap between two scheduled backups (168h0m0s"),
		sched("a weekly schedule with a weekly staleness", `schedule: "0 2 * * 0", timeZone: "Etc/UTC", staleAfterHours: 170`, "", ""),
		sched("a leap year makes a yearly gap longer", `schedule: "0 0 1 1 *", timeZone: "Etc/UTC", staleAfterHours: 8761`, at+"staleAfterHours", "(8784h0m0s"),
		sched("a month without runs in a frequent schedule", `schedule: "* * * 1-6,8-12 *", timeZone: "Etc/UTC", staleAfterHours: 1`, at+"staleAfterHours", "(744h1m0s"),
		sched("a plain February makes the 29th's gap longer", `schedule: "0 0 29 * *", timeZone: "Etc/UTC", staleAfterHours: 1000`, at+"staleAfterHours", "(1416h0m0s"),
		sched("every minute, stale after an hour", `schedule: "* * * * *", timeZone: "Etc/UTC", staleAfterHours: 1`, "", ""),
		sched("daylight saving skips a run", `schedule: "0 2 * * *", timeZone: "Europe/Berlin", staleAfterHours: 26`, at+"staleAfterHours", "(47h0m0s"),
	})
}

// Class 6: values out of what Kubernetes, Prometheus or Milvus accept.
func TestValueRules(t *testing.T) {
	prod := func(name, field, wantPath, wantMsg string) ruleCase {
		return ruleCase{name: name, file: "extra.cue", new: "environments: prod: " + field + " // HERE", env: "prod",
			wantPath: wantPath, wantMsg: wantMsg}
	}
	runRuleCases(t, []ruleCase{
		prod("an image tag of another version", `milvus: image: tag: "v2.5.16"`, "environments.prod.milvus.image.tag", `"v2.5.16" is not Milvus 2.6.15`),
		prod("an image variant of the version is fine", `milvus: image: tag: "v2.6.15-gpu"`, "", ""),
		prod("a UID beyond Kubernetes' range", `security: runAsUser: 2147483648`, "environments.prod.security.runAsUser", "out of bound <=2147483647"),
		prod("a number beyond 64 bits", `backup: startingDeadlineSeconds: 99999999999999999999`, "environments.prod.backup.startingDeadlineSeconds", "does not fit a 64-bit integer"),
		prod("a decimal YAML would write as 1e+23", `slo: insertP99Ms: 1e23`, "environments.prod.slo.insertP99Ms", "would be written as 1e+23"),
		prod("a decimal YAML would write as 5e-05", `config: extra: dataCoord: segment: sealProportion: 0.00005`, "environments.prod.config.extra.dataCoord.segment.sealProportion", "would be written as 5e-05"),
		prod("a bound the default satisfies is no number to check", `backup: staleAfterHours: >=20`, "", ""),
		prod("a short scrape interval (Prometheus lowers its timeout to it)", `monitoring: scrapeInterval: "5s"`, "", ""),
		prod("a fraction Prometheus cannot read", `monitoring: alerts: for: "1.5m"`, "environments.prod.monitoring.alerts.for", "is not a Prometheus duration"),
		prod("a zero Flux interval", `delivery: flux: interval: "0s"`, "environments.prod.delivery.flux.interval", "must be positive"),
		prod("a Go duration that overflows", `verification: fault: window: "9999999999h"`, "environments.prod.verification.fault.window", "is not a duration"),
		prod("a registry port out of range", `images: registry: "mirror.example.internal:70000/hub"`, "environments.prod.images.registry", "port 70000 is not in 1-65535"),
		prod("a probe period beyond int32", `probes: liveness: periodSeconds: 3000000000`, "environments.prod.probes.liveness.periodSeconds", "out of bound <=2147483647"),
		{name: "an etcd port out of range", file: "dev.cue", old: `etcd: endpoints: ["etcd.milvus-dev.svc.cluster.local:2379"]`,
			new: `etcd: endpoints: ["etcd.milvus-dev.svc.cluster.local:70000"] // HERE`, env: "dev",
			wantPath: "environments.dev.dependencies.etcd.endpoints.0", wantMsg: "port 70000 is not in 1-65535"},
	})
}

// Class 7: messages a user can act on: both places of a conflict, the
// field that must change, the fields left unset.
func TestMessageRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "a conflict names both places", file: "extra.cue",
			new: `environments: prod: components: proxy: replicas: 4 // HERE`, env: "prod",
			wantPath: "environments.prod.components.proxy.replicas", wantMsg: "conflicting values 3 and 4 (also set at overlays/prod.cue:"},
		{name: "a disruption budget that takes every pod, at maxUnavailable", file: "extra.cue",
			new: `environments: prod: availability: maxUnavailable: 2 // HERE`, env: "prod",
			wantPath: "environments.prod.availability.maxUnavailable", wantMsg: "lets a node drain take all 2 pods of mixCoordinator"},
		{name: "more verification replicas than query nodes, at the verification", file: "base.cue",
			old: "concurrency: 10, replicas: 2}", new: "concurrency: 10, replicas: 6} // HERE", env: "prod",
			wantPath: "environments.prod.verification.workload.replicas", wantMsg: "components.queryNode.replicas is 5"},
		{name: "an open-loop phase too short for a p99, at its duration", file: "extra.cue",
			new: `environments: prod: verification: workload: rateDuration: "10ms" // HERE`, env: "prod",
			wantPath: "environments.prod.verification.workload.rateDuration", wantMsg: "sends 50 searches: a p99 needs at least 100; make it at least 20ms"},
		{name: "an interpolation of an unset helper stays positioned", file: "extra.cue",
			new: "_h: s: string\nenvironments: prod: labels: team: \"x-\\(_h.s)\" // HERE", env: "prod",
			wantPath: "environments.prod.labels.team", wantMsg: "reads a value that is not set"},
		{name: "an invalid field of an environment named like another is no typo", file: "staging.cue",
			old: "environments: staging: _ha & {", new: "environments: staging: _ha & {\n\tavailability: maxUnavailable: 5 // HERE", env: "staging",
			wantPath: "environments.staging.availability.maxUnavailable", wantMsg: "lets a node drain take all"},
		{name: "a misspelt environment name says what it lacks", file: "extra.cue",
			new: `environments: prdo: components: proxy: replicas: 4 // HERE`, env: "prdo",
			wantPath: "environments.prdo.milvus.version", wantMsg: "not set: it must be"},
		{name: "and which environment was meant", file: "extra.cue",
			new: `environments: prdo: components: proxy: replicas: 4 // HERE`, env: "prdo",
			wantPath: "environments.prdo", wantMsg: `a new environment, not "prod"`},
	})
}

// Class 8: size and nesting limits, checked before evaluation.
func TestShapeRules(t *testing.T) {
	var keys strings.Builder
	for i := range maxStructFields + 1 {
		fmt.Fprintf(&keys, "k%d: 1, ", i)
	}
	runRuleCases(t, []ruleCase{
		{name: "a struct of more fields than any spec needs", file: "extra.cue",
			new: "environments: prod: config: extra: {" + keys.String() + "} // HERE", wantLoadError: true,
			wantPath: "environments.prod.config.extra", wantMsg: "a struct of 5001 fields"},
		{name: "nesting deeper than any Milvus key", file: "extra.cue",
			new: "environments: prod: config: extra: " + strings.Repeat("{a: ", 40) + "1" + strings.Repeat("}", 40) + " // HERE", wantLoadError: true,
			wantPath: "environments.prod.config.extra" + strings.Repeat(".a", 30), wantMsg: "nested more than 32 levels"},
	})
}

// TestForkSeesTheSetsSnapshot: a Fork (another worker's Set) renders the
// files as its Set loaded them, even when they change on disk meanwhile.
func TestForkSeesTheSetsSnapshot(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../overlays")); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "dev.cue")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), "environments: dev:", "environments: changed:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	fork, err := set.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(fork.Names(), ","), strings.Join(set.Names(), ","); got != want {
		t.Errorf("fork has %s, its set %s", got, want)
	}
	if _, err := fork.Environment("dev"); err != nil {
		t.Errorf("fork: %v", err)
	}
}
