package verifier

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/kubernetes"
)

// fakeMilvus is an in-memory stand-in to drive Run's failure and cleanup
// paths (the happy path runs against a real Milvus in e2e/). Searches
// return the query's own exact neighbours from the stored rows.
type fakeMilvus struct {
	mu          sync.Mutex
	collections map[string][][]float32
	created     map[string]time.Time // collections with the verifier's mark
	// unavailableDrops: that many drops fail as Unavailable first.
	unavailableDrops int
	deleted          int
	failInsert       error
	onSearch         func()
	dropped          []string
}

func (f *fakeMilvus) Version(context.Context) (string, error) { return "fake", nil }
func (f *fakeMilvus) HasCollection(_ context.Context, n string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.collections[n]
	return ok, nil
}
func (f *fakeMilvus) CreateCollection(_ context.Context, n string, _ int, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.collections[n] = nil
	return nil
}
func (f *fakeMilvus) CreateIndex(context.Context, string, IndexSpec) error { return nil }
func (f *fakeMilvus) Insert(_ context.Context, n string, _ []int64, v [][]float32) error {
	if f.failInsert != nil {
		return f.failInsert
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.collections[n] = append(f.collections[n], v...)
	return nil
}
func (f *fakeMilvus) Flush(context.Context, string) error     { return nil }
func (f *fakeMilvus) Load(context.Context, string, int) error { return nil }
func (f *fakeMilvus) Search(ctx context.Context, n string, qs [][]float32, k int, _ SearchSpec) ([][]int64, error) {
	if f.onSearch != nil {
		f.onSearch()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	rows := f.collections[n]
	f.mu.Unlock()
	return GroundTruth(ctx, "L2", rows, qs, k)
}
func (f *fakeMilvus) Delete(_ context.Context, n string, ids []int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted += len(ids)
	return nil
}

func (f *fakeMilvus) Drop(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unavailableDrops > 0 {
		f.unavailableDrops--
		return status.Error(codes.Unavailable, "server restarting")
	}
	delete(f.collections, n)
	f.dropped = append(f.dropped, n)
	return nil
}
func (f *fakeMilvus) Close(context.Context) error { return nil }
func (f *fakeMilvus) List(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.collections {
		out = append(out, n)
	}
	return out, nil
}
func (f *fakeMilvus) Created(_ context.Context, n string) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.created[n]
	return t, ok, nil
}

func testConfig(t *testing.T, healthURL string) *Config {
	t.Helper()
	var c Config
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c.Flags(fs)
	if err := fs.Parse([]string{"--rows", "500", "--dim", "8", "--clusters", "4", "--queries", "200", "--concurrency", "2",
		"--recall-queries", "20", "--replicas", "1", "--no-fault", "--run-id", "unit", "--health-url", healthURL, "--health-timeout", "5s"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	return &c
}

func healthy(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK") }))
	t.Cleanup(srv.Close)
	return srv.URL
}

func deps(f *fakeMilvus) Deps {
	return Deps{
		Connect: func(context.Context, ConnectOptions) (Milvus, error) { return f, nil },
		Kube:    func() (kubernetes.Interface, error) { return nil, errors.New("no cluster in unit tests") },
		HTTP:    http.DefaultClient,
		Log:     io.Discard,
	}
}

func TestRunPassesAndCleansUp(t *testing.T) {
	f := &fakeMilvus{collections: map[string][][]float32{}}
	r := Run(context.Background(), testConfig(t, healthy(t)), deps(f))
	if r.Verdict != Pass || r.Recall.Recall != 1 || r.Search.Count != 200 {
		t.Fatalf("verdict %s (%s), recall %+v, search %+v", r.Verdict, r.Error, r.Recall, r.Search)
	}
	if len(f.collections) != 0 || len(f.dropped) != 1 || f.dropped[0] != "verifier_unit" {
		t.Errorf("collections left %v, dropped %v", f.collections, f.dropped)
	}
	// The report says what was measured: the data, the index with the
	// parameters it reads, and the search.
	want := Workload{Rows: 500, Dim: 8, Clusters: 4, Spread: 0.1, Seed: 42, Metric: "L2", Index: "IVF_FLAT", NList: 1024,
		Replicas: 1, NQ: 1, TopK: 10, NProbe: 16, Consistency: "Bounded", Concurrency: 2, Queries: 200}
	if r.Workload != want || r.Verifier != Version {
		t.Errorf("workload %+v, verifier %q; want %+v, %q", r.Workload, r.Verifier, want, Version)
	}
	var b bytes.Buffer
	r.WriteSummary(&b)
	if !strings.Contains(b.String(), "500 x 8-d L2 vectors, IVF_FLAT (nlist 1024, nprobe 16), 1 replicas; nq 1, top-10, Bounded consistency, 2 clients") {
		t.Errorf("summary does not state the workload:\n%s", b.String())
	}
}

func TestRunCleansUpAfterAFailure(t *testing.T) {
	f := &fakeMilvus{collections: map[string][][]float32{}, failInsert: errors.New("disk full")}
	r := Run(context.Background(), testConfig(t, healthy(t)), deps(f))
	if r.Verdict != Error || r.ExitCode() != 2 || len(f.collections) != 0 {
		t.Errorf("verdict %s, collections left %v", r.Verdict, f.collections)
	}
}

func TestRunCleansUpOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeMilvus{collections: map[string][][]float32{}}
	var once sync.Once
	f.onSearch = func() { once.Do(cancel) } // SIGTERM arrives mid-run
	r := Run(ctx, testConfig(t, healthy(t)), deps(f))
	if r.Verdict != Error || len(f.collections) != 0 || len(f.dropped) != 1 {
		t.Errorf("verdict %s, collections left %v, dropped %v", r.Verdict, f.collections, f.dropped)
	}
}

func TestRunNeverTouchesAnExistingCollection(t *testing.T) {
	f := &fakeMilvus{collections: map[string][][]float32{"verifier_unit": {{1, 2}}}}
	r := Run(context.Background(), testConfig(t, healthy(t)), deps(f))
	if r.Verdict != Error || len(f.dropped) != 0 || len(f.collections["verifier_unit"]) != 1 {
		t.Errorf("verdict %s, dropped %v", r.Verdict, f.dropped)
	}
}

func TestClosedLoopStops(t *testing.T) {
	qs := [][]float32{{1}}
	noop := func(context.Context, []float32) error { return nil }
	lat, _ := closedLoop(context.Background(), 3, 100, time.Second, qs, noop, nil)
	if s := lat.Summarize(0); s.Count != 100 {
		t.Errorf("count mode: %d searches, want 100", s.Count)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	closedLoop(ctx, 3, 0, time.Second, qs, func(c context.Context, _ []float32) error { time.Sleep(time.Millisecond); return nil }, nil)
	if time.Since(start) > 2*time.Second {
		t.Error("duration mode did not stop at the deadline")
	}
}

func TestMalformedEnvironmentIsAnError(t *testing.T) {
	for name, val := range map[string]string{"VERIFIER_TLS": "yes", "VERIFIER_SLO_P99_MS": "1oo", "VERIFIER_SEED": "-1"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, val)
			var c Config
			c.Flags(pflag.NewFlagSet("t", pflag.ContinueOnError))
			c.RunID, c.Address = "x", "m:1"
			if err := c.Finish(); err == nil || !bytes.Contains([]byte(err.Error()), []byte(name)) {
				t.Errorf("want an error naming %s, got %v", name, err)
			}
		})
	}
	t.Setenv("VERIFIER_ROWS", "1234")
	var c Config
	c.Flags(pflag.NewFlagSet("t", pflag.ContinueOnError))
	if c.Rows != 1234 {
		t.Errorf("env fallback: rows %d", c.Rows)
	}
	_ = os.Unsetenv("VERIFIER_ROWS")
}

// TestRunJudgesP99AtTheRate: with --rate the p99 SLO is judged on the
// open-loop phase. A server that answers in 2 ms passes a 250 ms SLO at
// 200 QPS; one that stalls 600 ms in the middle fails it there, although
// its closed-loop p99 before the stall was fine. (The SLO leaves room for
// a loaded CI machine's own pauses: a 100 ms one failed a 50 ms SLO.)
func TestRunJudgesP99AtTheRate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stall bool
		want  string
	}{{"steady", false, Pass}, {"stalls", true, Fail}} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			var stallOnce sync.Once
			f := &fakeMilvus{collections: map[string][][]float32{}, onSearch: func() {
				// The closed loop (200) and recall (20) searches come
				// first; the stall hits the open-loop phase.
				if n := calls.Add(1); tc.stall && n > 400 {
					stallOnce.Do(func() { time.Sleep(600 * time.Millisecond) })
				}
				time.Sleep(2 * time.Millisecond)
			}}
			cfg := testConfig(t, healthy(t))
			cfg.Rate, cfg.RateDuration, cfg.MaxInFlight, cfg.MaxP99Ms = 200, 2*time.Second, 1, 250
			r := Run(context.Background(), cfg, deps(f))
			if r.Rate == nil || r.Verdict != tc.want {
				t.Fatalf("verdict %s (%s), rate %+v, SLOs %+v", r.Verdict, r.Error, r.Rate, r.SLOs)
			}
			if r.Search.P99Ms > 500 {
				t.Errorf("closed-loop p99 %.1f ms: the stall must come after it", r.Search.P99Ms)
			}
			if r.SLOs[0].Name != "search p99 ms at 200 QPS" {
				t.Errorf("the p99 SLO is judged on %q", r.SLOs[0].Name)
			}
			if r.Workload.Rate != 200 || r.Workload.RateDuration != "2s" {
				t.Errorf("workload %+v", r.Workload)
			}
			var b bytes.Buffer
			r.WriteSummary(&b)
			if !strings.Contains(b.String(), "200 QPS target") || !strings.Contains(b.String(), "latency from intended start") {
				t.Errorf("summary:\n%s", b.String())
			}
		})
	}
}

// TestRunDropsLeftoversFirst: with --cleanup-older-than the run first
// drops marked collections older than that, and keeps young ones and
// others' collections.
func TestRunDropsLeftoversFirst(t *testing.T) {
	now := time.Now()
	f := &fakeMilvus{
		collections: map[string][][]float32{"verifier_killed": {{1}}, "verifier_running": {{1}}, "verifier_unmarked": {{1}}, "products": {{1}}},
		created:     map[string]time.Time{"verifier_killed": now.Add(-3 * time.Hour), "verifier_running": now.Add(-10 * time.Minute)},
	}
	cfg := testConfig(t, healthy(t))
	cfg.CleanupOlderThan = 2 * time.Hour
	r := Run(context.Background(), cfg, deps(f))
	if r.Verdict != Pass || len(r.LeftoversDropped) != 1 || r.LeftoversDropped[0] != "verifier_killed" {
		t.Fatalf("verdict %s (%s), dropped first %v", r.Verdict, r.Error, r.LeftoversDropped)
	}
	for _, keep := range []string{"verifier_running", "verifier_unmarked", "products"} {
		if _, ok := f.collections[keep]; !ok {
			t.Errorf("%s was dropped", keep)
		}
	}
	if _, ok := f.collections["verifier_killed"]; ok {
		t.Error("verifier_killed is still there")
	}
}

// TestCleanupOutlastsAnOutage: after an outage the drop fails as
// Unavailable for longer than one round of retries; the cleanup keeps
// trying until the server is back.
func TestCleanupOutlastsAnOutage(t *testing.T) {
	f := &fakeMilvus{collections: map[string][][]float32{"verifier_x": {{1}}}, unavailableDrops: 6}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dropOwn(ctx, f, "verifier_x"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.collections["verifier_x"]; ok || f.unavailableDrops != 0 {
		t.Errorf("left %v, %d failures unused", f.collections, f.unavailableDrops)
	}
}
