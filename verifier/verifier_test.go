package verifier

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRecallKnownAnswers(t *testing.T) {
	truth := [][]int64{{1, 2, 3, 4}, {5, 6, 7, 8}}
	cases := []struct {
		got  [][]int64
		want float64
	}{
		{[][]int64{{1, 2, 3, 4}, {5, 6, 7, 8}}, 1},
		{[][]int64{{4, 3, 2, 1}, {8, 7, 6, 5}}, 1}, // order does not matter
		{[][]int64{{1, 2, 9, 9}, {5, 0, 0, 0}}, (0.5 + 0.25) / 2},
		{[][]int64{{9, 9, 9, 9}, {0, 0, 0, 0}}, 0},
		{[][]int64{{1, 2}}, (0.5 + 0) / 2}, // short and missing results
	}
	for _, c := range cases {
		if got := Recall(truth, c.got, 4); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Recall(%v) = %v, want %v", c.got, got, c.want)
		}
	}
}

func TestGroundTruthIsExact(t *testing.T) {
	rows := [][]float32{{0, 0}, {1, 0}, {0, 2}, {3, 3}, {-1, -1}}
	q := [][]float32{{0.9, 0.1}, {0, 0}}
	ctx := context.Background()
	got, _ := GroundTruth(ctx, "L2", rows, q, 3)
	// Distances from (0.9,0.1): row1 0.02, row0 0.82, row2 4.18; from (0,0): row0 0, row4 2, row1 1.
	want := [][]int64{{1, 0, 2}, {0, 1, 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("L2: got %v, want %v", got, want)
	}
	if got, _ := GroundTruth(ctx, "IP", [][]float32{{1, 0}, {0, 1}, {2, 2}}, [][]float32{{1, 0}}, 2); !reflect.DeepEqual(got, [][]int64{{2, 0}}) {
		t.Errorf("IP: got %v", got)
	}
	if got, _ := GroundTruth(ctx, "COSINE", [][]float32{{1, 0}, {0, 1}, {5, 0.1}}, [][]float32{{2, 0}}, 2); !reflect.DeepEqual(got, [][]int64{{0, 2}}) {
		t.Errorf("COSINE: got %v", got)
	}
}

func TestDatasetIsSeededAndClustered(t *testing.T) {
	a := NewDataset(16, 4, 0.05, 7).Vectors(0, 200)
	b := NewDataset(16, 4, 0.05, 7).Vectors(0, 200)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different data")
	}
	if c := NewDataset(16, 4, 0.05, 8).Vectors(0, 200); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same data")
	}
	if q := NewDataset(16, 4, 0.05, 7).Vectors(1, 200); reflect.DeepEqual(a, q) {
		t.Fatal("queries repeat the rows")
	}
	// Clustered: each point's nearest neighbour is far closer than a
	// random pair.
	var nn, random float64
	for i := 0; i < 50; i++ {
		best := math.Inf(1)
		for j := range a {
			if j != i {
				best = math.Min(best, Distance("L2", a[i], a[j]))
			}
		}
		nn += best
		random += Distance("L2", a[i], a[(i*37+11)%len(a)])
	}
	if nn*10 > random {
		t.Errorf("not clustered: mean nn distance %v vs random %v", nn/50, random/50)
	}
}

func TestLatenciesKnownAnswers(t *testing.T) {
	l := NewLatencies()
	for ms := 1; ms <= 100; ms++ {
		l.Record(time.Duration(ms)*time.Millisecond, nil)
	}
	l.Record(time.Hour, status.Error(codes.Unavailable, "node down")) // failures are not latencies
	l.Record(0, status.Error(codes.Unavailable, "node down"))
	l.Record(0, errors.New("boom"))
	s := l.Summarize(2 * time.Second)
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.002 }
	if s.Count != 100 || s.Errors != 3 || s.ByCode["Unavailable"] != 2 || s.ByCode["Unknown"] != 1 {
		t.Errorf("counts: %+v", s)
	}
	if !near(s.P50Ms, 50) || !near(s.P95Ms, 95) || !near(s.P99Ms, 99) || !near(s.MaxMs, 100) || !near(s.MeanMs, 50.5) {
		t.Errorf("percentiles: %+v", s)
	}
	if s.QPS != 50 {
		t.Errorf("qps %v, want 50 (successes over 2 s)", s.QPS)
	}
}

func TestAnalyzeFault(t *testing.T) {
	kill := time.Unix(1000, 0)
	end := kill.Add(20 * time.Second)
	at := func(ms int) time.Time { return kill.Add(time.Duration(ms) * time.Millisecond) }
	down := status.Error(codes.Unavailable, "querynode gone")
	var ev []event
	ev = append(ev, event{at: at(-500), latency: time.Millisecond}) // the baseline
	// Successes every 100 ms, except a 3 s outage from 2 s to 5 s where
	// searches hang until their 2 s deadline and fail (stamped at start).
	for ms := 0; ms < 20000; ms += 100 {
		switch {
		case ms >= 2000 && ms < 5000:
			if ms%2000 == 0 || ms == 2100 || ms == 4100 {
				ev = append(ev, event{at: at(ms), latency: 2 * time.Second, err: context.DeadlineExceeded})
			}
		default:
			ev = append(ev, event{at: at(ms), latency: 7 * time.Millisecond})
		}
	}
	r := analyzeFault(ev, kill, end, 5*time.Second)
	// 3 of the 20 one-second intervals (2, 3 and 4) are not available: in
	// 2 and 4 searches failed, in 3 none was even started.
	if r.Availability != 17.0/20 || r.LongestOutageSeconds != 3 {
		t.Errorf("time-based availability %v, longest outage %d s; want 0.85 and 3", r.Availability, r.LongestOutageSeconds)
	}
	if r.Failures != 4 || r.SuccessRate < 0.97 {
		t.Errorf("per-call success rate %v with %d failures: it hides the outage, availability must not", r.SuccessRate, r.Failures)
	}
	if !r.Recovered || *r.FirstFailureMs != 2000 || *r.RecoveryMs != 3000 {
		t.Errorf("recovery: first %v, recovered after %v", *r.FirstFailureMs, *r.RecoveryMs)
	}
	if r.AfterRecovery.Count != 150 || r.Baseline.Count != 1 || r.ErrorsByCode["DeadlineExceeded"] != 4 {
		t.Errorf("after recovery %+v, baseline %+v, errors %v", r.AfterRecovery, r.Baseline, r.ErrorsByCode)
	}
	// A failure near the end: not recovered for the steady period.
	late := append([]event{}, ev...)
	late = append(late, event{at: at(18000), err: down})
	if r := analyzeFault(late, kill, end, 5*time.Second); r.Recovered {
		t.Errorf("a failure 2 s before the end must not count as recovered: %+v", r)
	}
	// Nothing failed.
	r = analyzeFault([]event{{at: at(1)}, {at: at(1500)}}, kill, kill.Add(2*time.Second), time.Second)
	if !r.Recovered || *r.RecoveryMs != 0 || r.Availability != 1 || r.LongestOutageSeconds != 0 {
		t.Errorf("no failure: %+v", r)
	}
}

func TestJudge(t *testing.T) {
	cfg := &Config{MaxP99Ms: 100, MaxErrors: 0, MinRecall: 0.9, MinAvailability: 0.99}
	r := &Report{Search: &Summary{P99Ms: 80}, Recall: &RecallResult{K: 10, Recall: 0.95}, Fault: &FaultResult{Availability: 0.995, SuccessRate: 0.999, Recovered: true}}
	judge(cfg, r)
	if r.Verdict != Pass || r.ExitCode() != 0 {
		t.Fatalf("want pass: %+v", r.SLOs)
	}
	r = &Report{Search: &Summary{P99Ms: 80}, Recall: &RecallResult{K: 10, Recall: 0.5}}
	judge(cfg, r)
	if r.Verdict != Fail || r.ExitCode() != 1 {
		t.Fatalf("low recall must fail: %+v", r.SLOs)
	}
	if (&Report{Verdict: Error}).ExitCode() != 2 {
		t.Fatal("error exits 2")
	}
}

func TestConfigRejectsUnsafeInput(t *testing.T) {
	base := func() Config {
		return Config{ConnectOptions: ConnectOptions{Address: "milvus:19530"}, RunID: "abc", Dim: 8, Rows: 100, TopK: 10, Concurrency: 1, Replicas: 2, Queries: 10,
			RecallQueries: 10, Clusters: 2, Spread: 0.1, Consistency: "Bounded", NList: 16, NProbe: 8, M: 16, EfConstruction: 64,
			BatchBytes: 1 << 20, RPCTimeout: time.Second, Timeout: time.Minute, CleanupTimeout: time.Minute,
			Metric: "L2", IndexType: "IVF_FLAT", FaultMode: "delete", Fault: true, FaultPods: 1,
			FaultWindow: time.Minute, SteadyPeriod: 10 * time.Second, FaultRPCTimeout: time.Second}
	}
	for name, edit := range map[string]func(*Config){
		"run id with a dot":             func(c *Config) { c.RunID = "a.b" },
		"fault with one replica":        func(c *Config) { c.Replicas = 1 },
		"bad metric":                    func(c *Config) { c.Metric = "HAMMING" },
		"no address port":               func(c *Config) { c.Address = "milvus" },
		"negative queries":              func(c *Config) { c.Queries = -1 },
		"no clusters":                   func(c *Config) { c.Clusters = 0 },
		"misspelt consistency":          func(c *Config) { c.Consistency = "strong" },
		"HNSW ef below top-k":           func(c *Config) { c.IndexType, c.Ef = "HNSW", 5 },
		"top-k above Milvus' limit":     func(c *Config) { c.TopK = 16385 },
		"nlist 0":                       func(c *Config) { c.NList = 0 },
		"nprobe above nlist":            func(c *Config) { c.NProbe = 17 },
		"HNSW M 1":                      func(c *Config) { c.IndexType, c.Ef, c.M = "HNSW", 64, 1 },
		"dimension above Milvus' limit": func(c *Config) { c.Dim = 32769 },
		"a batch smaller than a row":    func(c *Config) { c.BatchBytes = 16 },
		"no time to clean up":           func(c *Config) { c.CleanupTimeout = 0 },
	} {
		c := base()
		edit(&c)
		if err := c.Finish(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := base()
	if err := c.Finish(); err != nil || c.HealthURL != "http://milvus:9091/healthz" || c.Collection() != "verifier_abc" {
		t.Errorf("defaults: %v %s %s", err, c.HealthURL, c.Collection())
	}
}
