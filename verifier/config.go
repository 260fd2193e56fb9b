package verifier

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is everything a run needs. Flags set it; every flag falls back to
// an environment variable (VERIFIER_<FLAG>, dashes as underscores), so the
// Job can pass settings either way. Credentials come only from the
// environment or mounted files, never from flags.
type Config struct {
	ConnectOptions // how to reach Milvus
	HealthURL      string
	HealthTimeout  time.Duration
	// WaitHelmRelease names a Flux HelmRelease to wait for (Ready, latest
	// generation) before anything else.
	WaitHelmRelease string
	// WaitImages are Deployments (name -> image) to wait for, each
	// running its image and rolled out, before measuring.
	WaitImages map[string]string
	// BackupCronJob, when set, must have succeeded within BackupMaxAge
	// before the run measures anything (the run before an upgrade).
	BackupCronJob string
	BackupMaxAge  time.Duration

	RunID string
	// UpgradePhase says which phase of an upgrade the run verifies.
	UpgradePhase string
	Dim          int
	Rows         int
	Clusters     int
	Spread       float64
	Seed         uint64
	Metric       string
	BatchBytes   int

	IndexType      string
	NList          int
	M              int
	EfConstruction int
	NProbe         int
	Ef             int

	Replicas    int
	Concurrency int
	Queries     int
	Duration    time.Duration
	// Rate > 0 adds the open-loop phase: searches at Rate per second for
	// RateDuration, at most MaxInFlight outstanding, timed from their
	// intended start; the p99 SLO is judged on it.
	Rate          float64
	RateDuration  time.Duration
	MaxInFlight   int
	MaxErrorRatio float64
	// Sweep are the concurrency levels of the throughput sweep (none:
	// no sweep), SweepDuration each level's length.
	Sweep         []int
	SweepDuration time.Duration
	// MixedDuration > 0 adds the mixed phase: searches while rows are
	// inserted at MixedRate per second in batches of MixedBatch, deleted
	// two batches later, and flushed every MixedFlushEvery.
	MixedDuration   time.Duration
	MixedRate       float64
	MixedBatch      int
	MixedFlushEvery time.Duration
	// CleanupOlderThan > 0 drops, right after connecting, the marked
	// collections earlier runs left behind that are older than this.
	CleanupOlderThan time.Duration
	TopK             int
	Consistency      string
	RecallQueries    int

	Fault           bool
	FaultNamespace  string
	FaultSelector   string
	FaultPods       int
	FaultMode       string
	FaultWindow     time.Duration
	FaultRPCTimeout time.Duration
	SteadyPeriod    time.Duration

	MaxP99Ms        float64
	MaxErrors       int64
	MinAvailability float64
	MinRecall       float64

	Report     string
	Plot       string
	Timeout    time.Duration
	RPCTimeout time.Duration
	// CleanupTimeout bounds the final drop of the collection, which
	// retries while the server is away.
	CleanupTimeout time.Duration

	noFault *bool
	envErrs []error
}

// CollectionPrefix: the verifier only ever creates, and drops, collections
// named verifier_<run id>.
const CollectionPrefix = "verifier_"

// Collection is the run's collection name.
func (c *Config) Collection() string { return CollectionPrefix + c.RunID }

// Flags registers the flags on fs, with defaults from the environment.
func (c *Config) Flags(fs *pflag.FlagSet) {
	c.ConnectOptions.Flags(fs)
	fromEnv := envFallback(fs, &c.envErrs)
	str := func(p *string, name, def, usage string) { fs.StringVar(p, name, def, usage); fromEnv(name) }
	integer := func(p *int, name string, def int, usage string) { fs.IntVar(p, name, def, usage); fromEnv(name) }
	dur := func(p *time.Duration, name string, def time.Duration, usage string) {
		fs.DurationVar(p, name, def, usage)
		fromEnv(name)
	}
	float := func(p *float64, name string, def float64, usage string) {
		fs.Float64Var(p, name, def, usage)
		fromEnv(name)
	}
	boolean := func(p *bool, name string, def bool, usage string) { fs.BoolVar(p, name, def, usage); fromEnv(name) }

	str(&c.HealthURL, "health-url", "", "health endpoint (default http://<host>:9091/healthz)")
	dur(&c.HealthTimeout, "health-timeout", 2*time.Minute, "how long to wait for Milvus to become healthy (a rollout may be running)")
	str(&c.WaitHelmRelease, "wait-helmrelease", "", "Flux HelmRelease (in --fault-namespace or the pod's) to wait for, Ready at its latest generation, before measuring")
	fs.StringToStringVar(&c.WaitImages, "wait-image", nil, "DEPLOYMENT=IMAGE (repeatable; in --fault-namespace or the pod's): wait until each runs its image and has rolled out, before measuring")
	fromEnv("wait-image")
	str(&c.BackupCronJob, "backup-cronjob", "", "backup CronJob (in --fault-namespace or the pod's) that must have succeeded within --backup-max-age, or the run fails before measuring")
	dur(&c.BackupMaxAge, "backup-max-age", 26*time.Hour, "how recent the last successful backup of --backup-cronjob must be")

	str(&c.RunID, "run-id", "", "unique id of this run; the collection is verifier_<run-id> (default: random)")
	str(&c.UpgradePhase, "upgrade-phase", "", "the phase of an upgrade this run verifies, for the report (the Job passes it)")
	integer(&c.Dim, "dim", 128, "vector dimension")
	integer(&c.Rows, "rows", 100000, "rows to insert")
	integer(&c.Clusters, "clusters", 64, "Gaussian mixture components of the data")
	float(&c.Spread, "spread", 0.1, "standard deviation of each component")
	fs.Uint64Var(&c.Seed, "seed", 42, "data seed")
	fromEnv("seed")
	str(&c.Metric, "metric", "L2", "metric: L2, IP or COSINE")
	integer(&c.BatchBytes, "batch-bytes", 4<<20, "insert batch size in bytes")

	str(&c.IndexType, "index", "IVF_FLAT", "index type: IVF_FLAT, HNSW or FLAT")
	integer(&c.NList, "nlist", 1024, "IVF_FLAT nlist")
	integer(&c.M, "hnsw-m", 16, "HNSW M")
	integer(&c.EfConstruction, "hnsw-ef-construction", 200, "HNSW efConstruction")
	integer(&c.NProbe, "nprobe", 16, "IVF_FLAT search nprobe")
	integer(&c.Ef, "ef", 64, "HNSW search ef")

	integer(&c.Replicas, "replicas", 2, "in-memory replicas to load (2: one query node may die)")
	integer(&c.Concurrency, "concurrency", 10, "concurrent search workers (closed loop)")
	integer(&c.Queries, "queries", 1000, "searches in the benchmark (0: use --duration)")
	dur(&c.Duration, "duration", 0, "benchmark duration (with --queries 0)")
	float(&c.Rate, "rate", 0, "open loop: searches per second to send for --rate-duration, timed from their intended start; the p99 SLO is judged at this rate (0: closed loop only)")
	dur(&c.RateDuration, "rate-duration", time.Minute, "duration of the open-loop phase")
	integer(&c.MaxInFlight, "max-in-flight", 512, "open loop: outstanding searches at most (a due search waits for a slot, and the wait counts)")
	fs.IntSliceVar(&c.Sweep, "sweep", nil, "throughput sweep: closed loop at each of these concurrency levels (VectorDBBench uses 1,5,10,20,30,40,60,80), reporting max QPS and serial p99")
	fromEnv("sweep")
	dur(&c.SweepDuration, "sweep-duration", 10*time.Second, "length of each sweep level")
	dur(&c.MixedDuration, "mixed-duration", 0, "mixed phase: search while inserting, deleting and flushing for this long (0: none)")
	float(&c.MixedRate, "mixed-insert-rate", 1000, "mixed phase: rows inserted per second")
	integer(&c.MixedBatch, "mixed-batch", 100, "mixed phase: rows per insert (each batch is deleted two batches later)")
	dur(&c.MixedFlushEvery, "mixed-flush-every", 10*time.Second, "mixed phase: time between flushes")
	dur(&c.CleanupOlderThan, "cleanup-older-than", 0, "first drop the verifier collections earlier runs left behind, older than this (as verifier cleanup does; 0: keep them)")
	integer(&c.TopK, "top-k", 10, "top-k of every search")
	str(&c.Consistency, "consistency", "Bounded", "search consistency: Strong, Bounded, Session, Eventually")
	integer(&c.RecallQueries, "recall-queries", 500, "queries whose recall is measured against brute force")

	// The fault phase is on by default: the point is to prove HA.
	var noFault bool
	boolean(&noFault, "no-fault", false, "skip the fault phase")
	c.Fault = true
	str(&c.FaultNamespace, "fault-namespace", "", "namespace of the pods to kill (default: the pod's own)")
	str(&c.FaultSelector, "fault-selector", "component=querynode", "label selector of the pods that may be killed")
	integer(&c.FaultPods, "fault-pods", 1, "pods to kill")
	str(&c.FaultMode, "fault-mode", "delete", "delete, or evict (respects PodDisruptionBudgets)")
	dur(&c.FaultWindow, "fault-window", 90*time.Second, "how long to observe after the kill")
	dur(&c.FaultRPCTimeout, "fault-rpc-timeout", time.Second, "deadline of a search during the fault phase (each search is one attempt: an outage shows within this)")
	dur(&c.SteadyPeriod, "steady-period", 10*time.Second, "failure-free time before the window ends that means 'recovered'")

	float(&c.MaxP99Ms, "slo-p99-ms", 100, "SLO: search p99 latency in steady state, ms")
	fs.Int64Var(&c.MaxErrors, "slo-max-errors", 0, "SLO: failed searches in steady state")
	float(&c.MaxErrorRatio, "slo-error-ratio", 0, "SLO: failed over sent searches in the open-loop phase")
	fromEnv("slo-max-errors")
	float(&c.MinAvailability, "slo-availability", 0.99, "SLO: search success ratio during the fault")
	float(&c.MinRecall, "slo-recall", 0.9, "SLO: recall@k floor")

	str(&c.Report, "report", "", "also write the JSON report to this file")
	str(&c.Plot, "plot", "", "draw latency percentiles and searches per second over time, phases and fault window marked, to this .svg or .png file")
	dur(&c.Timeout, "timeout", 30*time.Minute, "deadline of the whole run")
	dur(&c.RPCTimeout, "rpc-timeout", 30*time.Second, "deadline of one RPC (index build and load wait up to --timeout)")
	dur(&c.CleanupTimeout, "cleanup-timeout", time.Minute, "how long the final drop of the collection retries while Milvus is unreachable (after --timeout, on a fresh deadline)")

	c.noFault = &noFault
}

// Finish applies what flags cannot: credentials from the environment or
// files, derived defaults, validation.
func (c *Config) Finish() error {
	host, err := c.ConnectOptions.Finish()
	if err != nil {
		return err
	}
	if len(c.envErrs) > 0 {
		return c.envErrs[0]
	}
	if c.noFault != nil && *c.noFault {
		c.Fault = false
	}
	if c.HealthURL == "" {
		c.HealthURL = fmt.Sprintf("http://%s/healthz", net.JoinHostPort(host, "9091"))
	}
	if c.RunID == "" {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		c.RunID = hex.EncodeToString(b)
	}
	switch {
	case !validName(c.RunID):
		return fmt.Errorf("--run-id %q: letters, digits and _ only", c.RunID)
	case c.Dim < 2 || c.Rows < c.TopK || c.TopK < 1 || c.Concurrency < 1 || c.Replicas < 1:
		return fmt.Errorf("--dim, --rows, --top-k, --concurrency and --replicas must be positive (rows >= top-k)")
	case c.Queries < 0 || c.Queries == 0 && c.Duration <= 0:
		return fmt.Errorf("--queries must be positive, or 0 with a --duration")
	case c.Queries > 0 && c.Duration > 0:
		return fmt.Errorf("--duration needs --queries 0")
	case c.MixedDuration < 0 || c.MixedDuration > 0 && (c.MixedRate <= 0 || c.MixedBatch < 1 || c.MixedFlushEvery <= 0):
		return fmt.Errorf("--mixed-duration must not be negative; with it, --mixed-insert-rate, --mixed-batch and --mixed-flush-every must be positive")
	case c.CleanupOlderThan < 0:
		return fmt.Errorf("--cleanup-older-than must not be negative")
	case len(c.Sweep) > 0 && (c.SweepDuration <= 0 || slices.Min(c.Sweep) < 1):
		return fmt.Errorf("--sweep levels must be positive, with a positive --sweep-duration")
	case c.MaxErrorRatio < 0 || c.MaxErrorRatio >= 1:
		return fmt.Errorf("--slo-error-ratio must be within [0, 1)")
	case c.Rate < 0 || c.Rate > 0 && (c.RateDuration <= 0 || c.MaxInFlight < 1):
		return fmt.Errorf("--rate must be 0 or positive, with a positive --rate-duration and --max-in-flight")
	case c.Rate > 0 && c.Rate*c.RateDuration.Seconds() < 100:
		return fmt.Errorf("--rate %g for --rate-duration %s sends %.0f searches: a p99 needs at least 100", c.Rate, c.RateDuration, c.Rate*c.RateDuration.Seconds())
	case c.RecallQueries < 1 || c.Clusters < 1 || c.Spread <= 0:
		return fmt.Errorf("--recall-queries, --clusters and --spread must be positive")
	case c.Consistency != "Strong" && c.Consistency != "Bounded" && c.Consistency != "Session" && c.Consistency != "Eventually":
		return fmt.Errorf("--consistency %q: Strong, Bounded, Session or Eventually", c.Consistency)
	case c.Fault && (c.FaultWindow < time.Second || c.SteadyPeriod <= 0 || c.SteadyPeriod >= c.FaultWindow || c.FaultRPCTimeout <= 0):
		return fmt.Errorf("--fault-window must be at least 1s and longer than --steady-period (> 0); --fault-rpc-timeout > 0")
	case c.IndexType == "HNSW" && c.Ef < c.TopK:
		return fmt.Errorf("--ef %d must be at least --top-k %d", c.Ef, c.TopK)
	case c.Metric != "L2" && c.Metric != "IP" && c.Metric != "COSINE":
		return fmt.Errorf("--metric %q: L2, IP or COSINE", c.Metric)
	case c.IndexType != "IVF_FLAT" && c.IndexType != "HNSW" && c.IndexType != "FLAT":
		return fmt.Errorf("--index %q: IVF_FLAT, HNSW or FLAT", c.IndexType)
	case c.FaultMode != "delete" && c.FaultMode != "evict":
		return fmt.Errorf("--fault-mode %q: delete or evict", c.FaultMode)
	case c.Fault && c.FaultPods < 1:
		return fmt.Errorf("--fault-pods must be at least 1")
	}
	if c.Fault && c.Replicas < 2 {
		return fmt.Errorf("the fault phase needs --replicas >= 2 (one query node may die); or pass --no-fault")
	}
	return c.milvusLimits()
}

// Limits a Milvus server applies (configs/milvus.yaml defaults at v2.5.16
// and v2.6.15, and knowhere's index parameter ranges): checked before the
// data load, so that a bad value fails in a second, not after the load.
const (
	maxTopK      = 16384 // common.topKLimit
	maxDimension = 32768 // proxy.maxDimension
	maxNList     = 65536 // IVF nlist and nprobe: [1, 65536]
	maxHNSWM     = 2048  // HNSW M: [2, 2048]
)

func (c *Config) milvusLimits() error {
	switch {
	case c.TopK > maxTopK:
		return fmt.Errorf("--top-k %d: Milvus allows at most %d (common.topKLimit)", c.TopK, maxTopK)
	case c.Dim > maxDimension:
		return fmt.Errorf("--dim %d: Milvus allows at most %d (proxy.maxDimension)", c.Dim, maxDimension)
	case c.IndexType == "IVF_FLAT" && (c.NList < 1 || c.NList > maxNList):
		return fmt.Errorf("--nlist %d: IVF_FLAT takes 1 to %d", c.NList, maxNList)
	case c.IndexType == "IVF_FLAT" && (c.NProbe < 1 || c.NProbe > c.NList):
		return fmt.Errorf("--nprobe %d: IVF_FLAT takes 1 to --nlist (%d)", c.NProbe, c.NList)
	case c.IndexType == "HNSW" && (c.M < 2 || c.M > maxHNSWM || c.EfConstruction < 1):
		return fmt.Errorf("--hnsw-m %d, --hnsw-ef-construction %d: HNSW takes M from 2 to %d and efConstruction from 1", c.M, c.EfConstruction, maxHNSWM)
	case c.BatchBytes < c.Dim*4:
		return fmt.Errorf("--batch-bytes %d holds no row of %d float32s", c.BatchBytes, c.Dim)
	case c.RPCTimeout <= 0 || c.Timeout <= 0 || c.CleanupTimeout <= 0:
		return fmt.Errorf("--rpc-timeout, --timeout and --cleanup-timeout must be positive")
	}
	if c.Plot != "" {
		if _, err := PlotFormat(c.Plot); err != nil {
			return fmt.Errorf("--plot %w", err)
		}
	}
	return nil
}

// envFallback returns a function that sets flag name from VERIFIER_<FLAG>
// with the flag's own parser: a value that does not parse is an error
// (appended to errs, reported by Finish), never ignored.
func envFallback(fs *pflag.FlagSet, errs *[]error) func(name string) {
	return func(name string) {
		if v, ok := os.LookupEnv(envName(name)); ok {
			if err := fs.Set(name, v); err != nil {
				*errs = append(*errs, fmt.Errorf("%s=%q: %w", envName(name), v, err))
			}
		}
	}
}

// Flags registers the flags that say how to reach Milvus, each falling
// back to VERIFIER_<FLAG>: every command that connects has them.
func (o *ConnectOptions) Flags(fs *pflag.FlagSet) {
	fromEnv := envFallback(fs, &o.envErrs)
	fs.StringVar(&o.Address, "address", "127.0.0.1:19530", "Milvus gRPC address host:port")
	fromEnv("address")
	fs.BoolVar(&o.TLS, "tls", false, "connect with TLS")
	fromEnv("tls")
	fs.StringVar(&o.CAFile, "tls-ca", "", "PEM file of the CA that signed the server certificate")
	fromEnv("tls-ca")
	fs.StringVar(&o.ServerName, "tls-server-name", "", "server name to verify (default: the host of --address)")
	fromEnv("tls-server-name")
}

// Finish completes the options after the flags: the credentials, only
// from MILVUS_USERNAME and MILVUS_PASSWORD (or their *_FILE), and the TLS
// server name. It returns the host of the address.
func (o *ConnectOptions) Finish() (host string, err error) {
	if len(o.envErrs) > 0 {
		return "", o.envErrs[0]
	}
	if o.Username, err = secret("MILVUS_USERNAME"); err != nil {
		return "", err
	}
	if o.Password, err = secret("MILVUS_PASSWORD"); err != nil {
		return "", err
	}
	if host, _, err = net.SplitHostPort(o.Address); err != nil {
		return "", fmt.Errorf("--address %q: %w", o.Address, err)
	}
	if o.ServerName == "" {
		o.ServerName = host
	}
	return host, nil
}

// secret reads NAME from the environment, or the file named by NAME_FILE.
func secret(name string) (string, error) {
	if f := os.Getenv(name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv(name), nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

func envName(flag string) string {
	return "VERIFIER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// apiNamespace is where the verifier reads and changes Kubernetes objects:
// --fault-namespace, or the pod's own.
func (c *Config) apiNamespace() string {
	if c.FaultNamespace != "" {
		return c.FaultNamespace
	}
	return OwnNamespace()
}
