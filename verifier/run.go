// Package verifier proves a Milvus deployment works: it loads clustered
// test data, measures search QPS, latency percentiles and recall against
// exact ground truth, kills query-node pods through the Kubernetes API
// while searching, and judges the results against SLOs.
package verifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/milvus-io/milvus/pkg/v2/util/merr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Deps are the outside world: how to reach Milvus and Kubernetes. Tests
// substitute them; main uses Connect and KubeClient.
type Deps struct {
	Connect func(ctx context.Context, o ConnectOptions) (Milvus, error)
	Kube    func() (kubernetes.Interface, error)
	Dynamic func() (dynamic.Interface, error)
	HTTP    *http.Client
	Log     io.Writer
}

// Run executes every phase and returns the report; the report's verdict
// says pass, fail or error. The collection it creates is dropped on every
// exit path, with a fresh context, even when ctx was cancelled (SIGTERM).
func Run(ctx context.Context, cfg *Config, deps Deps) *Report {
	r := &Report{SchemaVersion: ReportSchemaVersion, RunID: cfg.RunID, UpgradePhase: cfg.UpgradePhase, Verifier: Version, Client: clientVersion(), Address: cfg.Address, Collection: cfg.Collection(),
		Workload: workloadOf(cfg), Verdict: Error}
	// Kept only for a picture: it holds every search's latency.
	var tl *Timeline
	if cfg.Plot != "" {
		tl = NewTimeline(time.Now())
		r.timeline = tl
	}
	ph := phaseTimer{r: r, log: deps.Log, tl: tl}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	fail := func(err error) *Report {
		r.Error = err.Error()
		r.Verdict = Error
		return r
	}

	if cfg.WaitHelmRelease != "" {
		if err := ph.run("rollout", func() error {
			dyn, err := deps.Dynamic()
			if err != nil {
				return err
			}
			return WaitHelmRelease(ctx, dyn, cfg.apiNamespace(), cfg.WaitHelmRelease, cfg.HealthTimeout)
		}); err != nil {
			return fail(err)
		}
	}
	if len(cfg.WaitImages) > 0 {
		if err := ph.run("images", func() error {
			dyn, err := deps.Dynamic()
			if err != nil {
				return err
			}
			return WaitImages(ctx, dyn, cfg.apiNamespace(), cfg.WaitImages, cfg.HealthTimeout)
		}); err != nil {
			return fail(err)
		}
	}
	if cfg.BackupCronJob != "" {
		var age time.Duration
		var checked bool
		if err := ph.run("backup", func() error {
			dyn, err := deps.Dynamic()
			if err != nil {
				return err
			}
			age, checked, err = BackupFresh(ctx, dyn, cfg.apiNamespace(), cfg.BackupCronJob, cfg.BackupMaxAge, time.Now())
			return err
		}); err != nil {
			if !checked {
				return fail(err)
			}
			// A precondition of the upgrade that does not hold: a
			// failed verification, not a broken run.
			hours := -1.0
			if age >= 0 {
				hours = age.Hours()
			}
			r.SLOs = append(r.SLOs, SLOResult{Name: "backup age before the upgrade (h; -1: never)", Want: fmt.Sprintf("<= %g", cfg.BackupMaxAge.Hours()), Actual: hours})
			r.Error = err.Error()
			r.Verdict = Fail
			return r
		}
	}
	if err := ph.run("health", func() error { return health(ctx, deps.HTTP, cfg.HealthURL, cfg.HealthTimeout) }); err != nil {
		return fail(err)
	}
	var m Milvus
	if err := ph.run("connect", func() error {
		var err error
		cctx, c := context.WithTimeout(ctx, cfg.RPCTimeout)
		defer c()
		if m, err = deps.Connect(cctx, cfg.ConnectOptions); err != nil {
			return err
		}
		r.ServerVersion, err = m.Version(cctx)
		return err
	}); err != nil {
		return fail(err)
	}
	defer m.Close(context.Background())

	// What killed runs left behind (the Job's pod deleted mid-run, a node
	// lost): dropped by the creation time each collection carries, only
	// verifier collections, never young ones that may be running now.
	if cfg.CleanupOlderThan > 0 {
		if err := ph.run("leftovers", func() error {
			dropped, err := Cleanup(ctx, m, cfg.CleanupOlderThan, false, false, time.Now(), deps.Log)
			r.LeftoversDropped = dropped
			return err
		}); err != nil {
			return fail(err)
		}
	}

	// The fault phase comes last: find out now, before loading any data,
	// whether the cluster lets it run.
	if cfg.Fault {
		if err := ph.run("preflight", func() error {
			killer, err := faultKiller(cfg, deps)
			if err != nil {
				return fmt.Errorf("fault preflight: %w", err)
			}
			return killer.Preflight(ctx)
		}); err != nil {
			return fail(err)
		}
	}

	name := cfg.Collection()
	created := false
	defer func() {
		if !created {
			return
		}
		// A fresh context: ctx may be cancelled or past its deadline.
		cctx, c := context.WithTimeout(context.Background(), cfg.CleanupTimeout)
		defer c()
		if err := ph.run("cleanup", func() error { return dropOwn(cctx, m, name) }); err != nil {
			// A collection was left behind (verifier cleanup removes it
			// later). A measured failure stays a failure; a pass cannot be
			// reported clean.
			if r.Error != "" {
				r.Error += "; "
			}
			r.Error += fmt.Sprintf("cleanup: %v", err)
			if r.Verdict == Pass {
				r.Verdict = Error
			}
		}
	}()

	if err := ph.run("create", func() error {
		var has bool
		if err := retry(ctx, cfg.RPCTimeout, func(c context.Context) (err error) { has, err = m.HasCollection(c, name); return err }); err != nil {
			return err
		}
		if has {
			// Never touch a collection this run did not create.
			return fmt.Errorf("collection %s exists already: pick another --run-id", name)
		}
		// From here on the name is this run's: a create that times out may
		// still have succeeded on the server, and must be cleaned up too.
		created = true
		return retry(ctx, cfg.RPCTimeout, func(c context.Context) error {
			err := m.CreateCollection(c, name, cfg.Dim, cfg.Metric)
			if err != nil && strings.Contains(err.Error(), "already exist") {
				return nil // an earlier attempt of this retry loop made it
			}
			return err
		})
	}); err != nil {
		return fail(err)
	}

	data := NewDataset(cfg.Dim, cfg.Clusters, cfg.Spread, cfg.Seed)
	rows := data.Vectors(0, cfg.Rows)
	queries := data.Vectors(1, max(cfg.RecallQueries, 100))
	if cfg.Metric == "COSINE" || cfg.Metric == "IP" {
		for _, v := range append(rows, queries...) {
			Normalize(v)
		}
	}

	if err := ph.run("insert", func() error {
		res, err := insert(ctx, m, cfg, name, rows, deps.Log)
		r.Insert = res
		return err
	}); err != nil {
		return fail(err)
	}
	if err := ph.run("flush", func() error {
		return retry(ctx, cfg.Timeout, func(c context.Context) error { return m.Flush(c, name) })
	}); err != nil {
		return fail(err)
	}
	idx := IndexSpec{Type: cfg.IndexType, Metric: cfg.Metric, NList: cfg.NList, M: cfg.M, EfConstruction: cfg.EfConstruction}
	// Index builds and loads take as long as they take: no per-call deadline
	// beyond the run's, but transient failures are retried.
	if err := ph.run("index", func() error {
		return retry(ctx, cfg.Timeout, func(c context.Context) error { return m.CreateIndex(c, name, idx) })
	}); err != nil {
		return fail(err)
	}
	r.IndexSeconds = r.Phases[len(r.Phases)-1].Seconds
	if err := ph.run("load", func() error {
		return retry(ctx, cfg.Timeout, func(c context.Context) error { return m.Load(c, name, cfg.Replicas) })
	}); err != nil {
		return fail(err)
	}
	r.LoadSeconds = r.Phases[len(r.Phases)-1].Seconds

	// Judge before cleanup runs; a failing cleanup turns the verdict to error.
	defer judge(cfg, r)
	params := SearchSpec{Consistency: cfg.Consistency}
	switch cfg.IndexType {
	case "IVF_FLAT":
		params.NProbe = cfg.NProbe
	case "HNSW":
		params.Ef = cfg.Ef
	}
	if err := ph.run("recall", func() error {
		rq := queries[:cfg.RecallQueries]
		truth, err := GroundTruth(ctx, cfg.Metric, rows, rq, cfg.TopK)
		if err != nil {
			return err
		}
		got, err := searchAll(ctx, m, cfg, name, rq, params)
		if err != nil {
			return err
		}
		r.Recall = &RecallResult{K: cfg.TopK, Queries: len(rq), Recall: Recall(truth, got, cfg.TopK)}
		return nil
	}); err != nil {
		return fail(err)
	}

	search := func(c context.Context, q []float32) error {
		_, err := m.Search(c, name, [][]float32{q}, cfg.TopK, params)
		return err
	}
	if err := ph.run("benchmark", func() error {
		bctx := ctx
		if cfg.Queries == 0 {
			var c context.CancelFunc
			bctx, c = context.WithTimeout(ctx, cfg.Duration)
			defer c()
		}
		lat, elapsed := closedLoop(bctx, cfg.Concurrency, cfg.Queries, cfg.RPCTimeout, queries, search, tl.Record)
		s := lat.Summarize(elapsed)
		r.Search = &s
		return ctx.Err()
	}); err != nil {
		return fail(err)
	}

	if len(cfg.Sweep) > 0 {
		if err := ph.run("sweep", func() error {
			r.Sweep = sweep(ctx, cfg.Sweep, cfg.SweepDuration, cfg.RPCTimeout, queries, search, tl.Record)
			return ctx.Err()
		}); err != nil {
			return fail(err)
		}
	}

	if cfg.Rate > 0 {
		if err := ph.run("rate", func() error {
			r.Rate = openLoop(ctx, cfg.Rate, cfg.RateDuration, cfg.MaxInFlight, cfg.RPCTimeout, queries, search, tl.Record)
			return ctx.Err()
		}); err != nil {
			return fail(err)
		}
	}

	if cfg.MixedDuration > 0 {
		if err := ph.run("mixed", func() error {
			// New ids after the loaded rows, vectors of their own stream.
			pool := data.Vectors(2, min(1000, cfg.Rows))
			if cfg.Metric == "COSINE" || cfg.Metric == "IP" {
				for _, v := range pool {
					Normalize(v)
				}
			}
			r.Mixed = mixedWrites(ctx, m, name, cfg.MixedDuration, cfg.Concurrency, cfg.MixedRate, cfg.MixedBatch, cfg.MixedFlushEvery,
				cfg.RPCTimeout, int64(cfg.Rows), pool, queries, search, tl.Record)
			return ctx.Err()
		}); err != nil {
			return fail(err)
		}
	}

	if cfg.Fault {
		if err := ph.run("fault", func() error {
			res, err := fault(ctx, cfg, deps, queries, search, tl)
			r.Fault = res
			return err
		}); err != nil {
			return fail(err)
		}
	}

	return r
}

// judge compares the measurements with the SLOs. A run that ended in an
// error keeps its error verdict.
func judge(cfg *Config, r *Report) {
	if r.Error != "" {
		r.Verdict = Error
		return
	}
	add := func(name, want string, actual float64, pass bool) {
		r.SLOs = append(r.SLOs, SLOResult{Name: name, Want: want, Actual: actual, Pass: pass})
	}
	// With an open-loop phase the p99 SLO is judged there, at the rate
	// users state it for, timed from each search's intended start; the
	// closed loop's p99 hides stalls (coordinated omission).
	if rt := r.Rate; rt != nil {
		l := rt.Latency
		add(fmt.Sprintf("search p99 ms at %g QPS", rt.TargetQPS), fmt.Sprintf("<= %g", cfg.MaxP99Ms), l.P99Ms, l.P99Ms <= cfg.MaxP99Ms)
		add("achieved QPS", fmt.Sprintf(">= %g", 0.95*rt.TargetQPS), rt.AchievedQPS, rt.AchievedQPS >= 0.95*rt.TargetQPS)
		sent := float64(l.Count + l.Errors)
		ratio := 0.0
		if sent > 0 {
			ratio = float64(l.Errors) / sent
		}
		add("error ratio at rate", fmt.Sprintf("<= %g", cfg.MaxErrorRatio), ratio, ratio <= cfg.MaxErrorRatio)
	}
	if s := r.Search; s != nil {
		if r.Rate == nil {
			add("search p99 ms", fmt.Sprintf("<= %g", cfg.MaxP99Ms), s.P99Ms, s.P99Ms <= cfg.MaxP99Ms)
		}
		add("steady-state errors", fmt.Sprintf("<= %d", cfg.MaxErrors), float64(s.Errors), s.Errors <= cfg.MaxErrors)
	}
	if rc := r.Recall; rc != nil {
		add(fmt.Sprintf("recall@%d", rc.K), fmt.Sprintf(">= %g", cfg.MinRecall), rc.Recall, rc.Recall >= cfg.MinRecall)
	}
	if f := r.Fault; f != nil {
		add("availability in fault", fmt.Sprintf(">= %g", cfg.MinAvailability), f.Availability, f.Availability >= cfg.MinAvailability)
		add("fault success rate", fmt.Sprintf(">= %g", cfg.MinAvailability), f.SuccessRate, f.SuccessRate >= cfg.MinAvailability)
		add("recovered after fault", "true", boolf(f.Recovered), f.Recovered)
	}
	r.Verdict = Pass
	for _, s := range r.SLOs {
		if !s.Pass {
			r.Verdict = Fail
		}
	}
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// health polls the management endpoint until it answers 200.
func health(ctx context.Context, hc *http.Client, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		last = err
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
	return fmt.Errorf("not healthy after %s: %w", timeout, last)
}

// insert loads rows in batches sized by bytes, logging progress.
func insert(ctx context.Context, m Milvus, cfg *Config, name string, rows [][]float32, log io.Writer) (*InsertResult, error) {
	rowBytes := cfg.Dim*4 + 8
	batch := max(1, cfg.BatchBytes/rowBytes)
	res := &InsertResult{Rows: len(rows)}
	start := time.Now()
	nextReport := len(rows) / 10
	for i := 0; i < len(rows); i += batch {
		end := min(i+batch, len(rows))
		ids := make([]int64, end-i)
		for j := range ids {
			ids[j] = int64(i + j)
		}
		if err := retry(ctx, cfg.RPCTimeout, func(c context.Context) error { return m.Insert(c, name, ids, rows[i:end]) }); err != nil {
			return res, fmt.Errorf("rows %d-%d: %w", i, end, err)
		}
		res.Batches++
		if end >= nextReport || end == len(rows) {
			fmt.Fprintf(log, "insert: %d/%d rows (%.0f%%)\n", end, len(rows), 100*float64(end)/float64(len(rows)))
			nextReport = end + len(rows)/10
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.RowsPerSec = float64(len(rows)) / res.Seconds
	return res, nil
}

// searchAll searches every query (in small batches) and returns the ids.
func searchAll(ctx context.Context, m Milvus, cfg *Config, name string, qs [][]float32, p SearchSpec) ([][]int64, error) {
	// Recall must see every row, and does at any consistency level: Flush
	// returned once every row was persisted, and Load loaded those sealed
	// segments after it. Strong would only make each call wait for a fresh
	// time tick (about 10 s over a default recall step, for nothing).
	p.Consistency = "Eventually"
	var out [][]int64
	for i := 0; i < len(qs); i += 10 {
		end := min(i+10, len(qs))
		var got [][]int64
		err := retry(ctx, cfg.RPCTimeout, func(c context.Context) error {
			var err error
			got, err = m.Search(c, name, qs[i:end], cfg.TopK, p)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// fault kills query-node pods while searches run, and measures what the
// clients saw.
// faultKiller is the pod killer the fault phase uses.
func faultKiller(cfg *Config, deps Deps) (*PodKiller, error) {
	kube, err := deps.Kube()
	if err != nil {
		return nil, err
	}
	ns := cfg.FaultNamespace
	if ns == "" {
		ns = OwnNamespace()
	}
	if ns == "" {
		return nil, errors.New("--fault-namespace is needed outside a cluster")
	}
	return &PodKiller{Client: kube, Namespace: ns, Selector: cfg.FaultSelector, Count: cfg.FaultPods, Mode: cfg.FaultMode}, nil
}

func fault(ctx context.Context, cfg *Config, deps Deps, queries [][]float32, search searchFunc, tl *Timeline) (*FaultResult, error) {
	killer, err := faultKiller(cfg, deps)
	if err != nil {
		return nil, err
	}
	// Fail before any search if the fault cannot be the one asked for.
	if t, err := killer.Targets(ctx); err != nil {
		return nil, err
	} else if len(t) < cfg.FaultPods {
		return nil, fmt.Errorf("%d running pods match %q in %s, %d to kill", len(t), cfg.FaultSelector, killer.Namespace, cfg.FaultPods)
	}

	var mu sync.Mutex
	var events []event
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A short deadline: a search that hangs on a dead query node is an
		// outage, and the next probe should start soon.
		closedLoop(lctx, max(1, cfg.Concurrency/2), 0, cfg.FaultRPCTimeout, queries, search, func(at time.Time, d time.Duration, err error) {
			mu.Lock()
			events = append(events, event{at: at, latency: d, err: err})
			mu.Unlock()
			tl.Record(at, d, err)
		})
	}()
	if err := sleep(ctx, 3*time.Second); err != nil { // a baseline before the kill
		stop()
		<-done
		return nil, err
	}
	killAt := time.Now()
	tl.Mark(cfg.FaultMode+" "+strconv.Itoa(cfg.FaultPods)+" pod(s)", killAt)
	killed, err := killer.Kill(ctx)
	fmt.Fprintf(deps.Log, "fault: %s %v\n", cfg.FaultMode, killed)
	if err != nil {
		stop()
		<-done
		return &FaultResult{Mode: cfg.FaultMode, Killed: killed}, err
	}
	werr := sleep(ctx, cfg.FaultWindow)
	end := time.Now()
	tl.Mark("window end", end)
	stop()
	<-done
	mu.Lock()
	res := analyzeFault(events, killAt, end, cfg.SteadyPeriod)
	mu.Unlock()
	res.Mode, res.Killed = cfg.FaultMode, killed
	return &res, werr
}

// dropOwn drops the run's collection, and only a verifier collection.
func dropOwn(ctx context.Context, m Milvus, name string) error {
	if !strings.HasPrefix(name, CollectionPrefix) {
		return fmt.Errorf("refusing to drop %s: not a verifier collection", name)
	}
	// After an outage the server may take a while to come back: keep
	// trying transient failures until the cleanup's own deadline.
	for {
		err := retry(ctx, 30*time.Second, func(c context.Context) error { return m.Drop(c, name) })
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		if sleep(ctx, 2*time.Second) != nil {
			return err
		}
	}
}

// retry runs fn with a per-call deadline, retrying transient failures with
// backoff (at most 5 attempts).
func retry(ctx context.Context, rpcTimeout time.Duration, fn func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		c, cancel := context.WithTimeout(ctx, rpcTimeout)
		err = fn(c)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		if serr := sleep(ctx, backoff(attempt)); serr != nil {
			return err
		}
	}
	return err
}

func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || merr.IsRetryableErr(err)
}

func backoff(attempt int) time.Duration {
	d := 200 * time.Millisecond << min(attempt, 5)
	return min(d, 5*time.Second)
}

// sleep waits d, or until ctx ends (then its error).
func sleep(ctx context.Context, d time.Duration) error {
	// Not past the context's deadline, whose timer may fire late.
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		d = time.Until(dl)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		if ended(ctx) {
			return context.DeadlineExceeded
		}
		return nil
	}
}
