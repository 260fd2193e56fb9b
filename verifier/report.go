package verifier

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Verdicts and the exit codes they map to.
const (
	Pass  = "pass"  // exit 0: every SLO held
	Fail  = "fail"  // exit 1: an SLO was violated
	Error = "error" // exit 2: something prevented measuring
)

// Report is the result of a run: printed as a summary, written as JSON.
type Report struct {
	// timeline is every measured search on one clock, for WritePlot.
	timeline *Timeline

	// SchemaVersion changes when a field changes meaning or goes away.
	SchemaVersion int    `json:"schemaVersion"`
	RunID         string `json:"runId"`
	// UpgradePhase is the phase of an upgrade the run verified.
	UpgradePhase string `json:"upgradePhase,omitempty"`
	Verifier     string `json:"verifier"` // Version of this verifier
	// Client is the Milvus client library and its version.
	Client        string `json:"client,omitempty"`
	Address       string `json:"address"`
	ServerVersion string `json:"serverVersion,omitempty"`
	Collection    string `json:"collection"`
	// LeftoversDropped are earlier runs' collections dropped first.
	LeftoversDropped []string      `json:"leftoversDropped,omitempty"`
	Workload         Workload      `json:"workload"`
	Phases           []Phase       `json:"phases"`
	Insert           *InsertResult `json:"insert,omitempty"`
	IndexSeconds     float64       `json:"indexBuildSeconds,omitempty"`
	LoadSeconds      float64       `json:"loadSeconds,omitempty"`
	Search           *Summary      `json:"search,omitempty"`
	Rate             *RateResult   `json:"rate,omitempty"`
	Sweep            *SweepResult  `json:"sweep,omitempty"`
	Mixed            *MixedResult  `json:"mixed,omitempty"`
	Recall           *RecallResult `json:"recall,omitempty"`
	Fault            *FaultResult  `json:"fault,omitempty"`
	SLOs             []SLOResult   `json:"slos"`
	Verdict          string        `json:"verdict"`
	Error            string        `json:"error,omitempty"`
}

// Workload is what was measured, so that a number can be read, and
// compared, later: the data, the index and its build parameters, and the
// search every latency and recall figure is for.
type Workload struct {
	Rows           int     `json:"rows"`
	Dim            int     `json:"dim"`
	Clusters       int     `json:"clusters"`
	Spread         float64 `json:"spread"`
	Seed           uint64  `json:"seed"`
	Metric         string  `json:"metric"`
	Index          string  `json:"index"`
	NList          int     `json:"nlist,omitempty"`
	M              int     `json:"hnswM,omitempty"`
	EfConstruction int     `json:"hnswEfConstruction,omitempty"`
	Replicas       int     `json:"replicas"`
	NQ             int     `json:"nq"` // vectors per search request
	TopK           int     `json:"topK"`
	NProbe         int     `json:"nprobe,omitempty"`
	Ef             int     `json:"ef,omitempty"`
	Consistency    string  `json:"consistency"`
	Concurrency    int     `json:"concurrency"`
	Queries        int     `json:"queries,omitempty"`
	Duration       string  `json:"duration,omitempty"`
	// The open-loop phase, when there is one.
	Rate         float64 `json:"rate,omitempty"`
	RateDuration string  `json:"rateDuration,omitempty"`
	MaxInFlight  int     `json:"maxInFlight,omitempty"`
	// The throughput sweep's levels and each level's length, if any.
	Sweep         string `json:"sweep,omitempty"`
	SweepDuration string `json:"sweepDuration,omitempty"`
}

// workloadOf is cfg's workload, with the parameters its index type reads.
func workloadOf(cfg *Config) Workload {
	w := Workload{Rows: cfg.Rows, Dim: cfg.Dim, Clusters: cfg.Clusters, Spread: cfg.Spread, Seed: cfg.Seed,
		Metric: cfg.Metric, Index: cfg.IndexType, Replicas: cfg.Replicas, NQ: 1, TopK: cfg.TopK,
		Consistency: cfg.Consistency, Concurrency: cfg.Concurrency, Queries: cfg.Queries}
	switch cfg.IndexType {
	case "IVF_FLAT":
		w.NList, w.NProbe = cfg.NList, cfg.NProbe
	case "HNSW":
		w.M, w.EfConstruction, w.Ef = cfg.M, cfg.EfConstruction, cfg.Ef
	}
	if cfg.Rate > 0 {
		w.Rate, w.RateDuration, w.MaxInFlight = cfg.Rate, cfg.RateDuration.String(), cfg.MaxInFlight
	}
	if len(cfg.Sweep) > 0 {
		levels := make([]string, len(cfg.Sweep))
		for i, l := range cfg.Sweep {
			levels[i] = strconv.Itoa(l)
		}
		w.Sweep, w.SweepDuration = strings.Join(levels, ","), cfg.SweepDuration.String()
	}
	if cfg.Queries == 0 {
		w.Duration = cfg.Duration.String()
	}
	return w
}

// Phase is one timed step.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	OK      bool    `json:"ok"`
	Error   string  `json:"error,omitempty"`
}

// InsertResult is the load of the test data.
type InsertResult struct {
	Rows       int     `json:"rows"`
	Batches    int     `json:"batches"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rowsPerSecond"`
}

// RecallResult is recall@k against brute force.
type RecallResult struct {
	K       int     `json:"k"`
	Queries int     `json:"queries"`
	Recall  float64 `json:"recall"`
}

// SLOResult is one objective and whether it held.
type SLOResult struct {
	Name   string  `json:"name"`
	Want   string  `json:"want"`
	Actual float64 `json:"actual"`
	Pass   bool    `json:"pass"`
}

// ExitCode maps the verdict to the process exit code.
func (r *Report) ExitCode() int {
	switch r.Verdict {
	case Pass:
		return 0
	case Fail:
		return 1
	}
	return 2
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// String is the workload in one line: what every number was measured with.
func (wl Workload) String() string {
	params := fmt.Sprintf("nlist %d, nprobe %d", wl.NList, wl.NProbe)
	if wl.Index == "HNSW" {
		params = fmt.Sprintf("M %d, efConstruction %d, ef %d", wl.M, wl.EfConstruction, wl.Ef)
	} else if wl.Index == "FLAT" {
		params = "no parameters"
	}
	return fmt.Sprintf("%d x %d-d %s vectors, %s (%s), %d replicas; nq %d, top-%d, %s consistency, %d clients",
		wl.Rows, wl.Dim, wl.Metric, wl.Index, params, wl.Replicas, wl.NQ, wl.TopK, wl.Consistency, wl.Concurrency)
}

// WriteSummary writes what a person reads in the Job's log.
func (r *Report) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "\nmilvus verification %s against %s (Milvus %s)\n", r.RunID, r.Address, r.ServerVersion)
	fmt.Fprintf(w, "workload   %s\n", r.Workload)
	if r.UpgradePhase != "" {
		fmt.Fprintf(w, "upgrade    %s\n", r.UpgradePhase)
	}
	for _, p := range r.Phases {
		status := "ok"
		if !p.OK {
			status = "FAILED: " + p.Error
		}
		fmt.Fprintf(w, "  %-10s %8.2fs  %s\n", p.Name, p.Seconds, status)
	}
	if r.Insert != nil {
		fmt.Fprintf(w, "insert     %d rows in %d batches, %.0f rows/s\n", r.Insert.Rows, r.Insert.Batches, r.Insert.RowsPerSec)
	}
	if r.IndexSeconds > 0 || r.LoadSeconds > 0 {
		fmt.Fprintf(w, "index      built in %.2fs, loaded in %.2fs\n", r.IndexSeconds, r.LoadSeconds)
	}
	if s := r.Search; s != nil {
		fmt.Fprintf(w, "search     %d ok, %d failed, %.1f QPS; latency ms mean %.2f p50 %.2f p95 %.2f p99 %.2f max %.2f\n",
			s.Count, s.Errors, s.QPS, s.MeanMs, s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs)
		writeCodes(w, "           ", *s)
	}
	if sw := r.Sweep; sw != nil {
		fmt.Fprintf(w, "sweep      max %.1f QPS at %d clients; serial p99 %.2f ms (%.0fs per level)\n", sw.MaxQPS, sw.AtLevel, sw.SerialP99Ms, sw.Seconds)
		for _, p := range sw.Points {
			fmt.Fprintf(w, "           %3d clients: %8.1f QPS, p50 %.2f p99 %.2f ms, %d failed\n", p.Concurrency, p.QPS, p.P50Ms, p.P99Ms, p.Errors)
		}
	}
	if rt := r.Rate; rt != nil {
		l := rt.Latency
		fmt.Fprintf(w, "rate       %.0f QPS target, %.1f achieved over %.0fs (max %d in flight): %d ok, %d failed, %d late, %d unsent\n",
			rt.TargetQPS, rt.AchievedQPS, rt.Seconds, rt.MaxInFlight, l.Count, l.Errors, rt.Late, rt.Unsent)
		fmt.Fprintf(w, "           latency from intended start ms p50 %.2f p95 %.2f p99 %.2f max %.2f; service time p99 %.2f\n",
			l.P50Ms, l.P95Ms, l.P99Ms, l.MaxMs, rt.Service.P99Ms)
		fmt.Fprintf(w, "           availability %.3f of its seconds, longest outage %ds\n", rt.Availability, rt.LongestOutageSeconds)
		writeCodes(w, "           ", l)
	}
	if mx := r.Mixed; mx != nil {
		fmt.Fprintf(w, "mixed      %.0fs: %d rows inserted, %d deleted; searches %d ok, %d failed, p99 %.2f ms\n",
			mx.Seconds, mx.RowsInserted, mx.RowsDeleted, mx.Search.Count, mx.Search.Errors, mx.Search.P99Ms)
		writeCodes(w, "           ", mx.Search)
		for _, op := range []struct {
			name string
			s    Summary
		}{{"insert", mx.Insert}, {"delete", mx.Delete}, {"flush", mx.Flush}} {
			fmt.Fprintf(w, "           %-6s %d ok, %d failed, p50 %.2f p99 %.2f max %.2f ms\n", op.name, op.s.Count, op.s.Errors, op.s.P50Ms, op.s.P99Ms, op.s.MaxMs)
			writeCodes(w, "             ", op.s)
		}
	}
	if rc := r.Recall; rc != nil {
		fmt.Fprintf(w, "recall@%d  %.4f over %d queries (exact ground truth)\n", rc.K, rc.Recall, rc.Queries)
	}
	if f := r.Fault; f != nil {
		fmt.Fprintf(w, "fault      %s %s: %d searches, %d failed, availability %.4f (1 s windows), longest outage %d s",
			f.Mode, strings.Join(f.Killed, ","), f.Requests, f.Failures, f.Availability, f.LongestOutageSeconds)
		if f.RecoveryMs != nil {
			fmt.Fprintf(w, ", recovered after %.0f ms", *f.RecoveryMs)
		} else {
			fmt.Fprint(w, ", NOT recovered")
		}
		fmt.Fprintf(w, "; p99 after recovery %.2f ms\n", f.AfterRecovery.P99Ms)
	}
	for _, s := range r.SLOs {
		mark := "PASS"
		if !s.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "SLO %-4s  %-22s want %-10s got %g\n", mark, s.Name, s.Want, s.Actual)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "error      %s\n", r.Error)
	}
	fmt.Fprintf(w, "verdict    %s\n", strings.ToUpper(r.Verdict))
}

// phaseTimer records phases into a report.
type phaseTimer struct {
	r   *Report
	log io.Writer
	tl  *Timeline
}

func (p phaseTimer) run(name string, fn func() error) error {
	fmt.Fprintf(p.log, "phase %s...\n", name)
	start := time.Now()
	err := fn()
	end := time.Now()
	p.tl.Span(name, start, end)
	ph := Phase{Name: name, Seconds: end.Sub(start).Seconds(), OK: err == nil}
	if err != nil {
		ph.Error = err.Error()
		fmt.Fprintf(p.log, "phase %s failed after %.2fs: %v\n", name, ph.Seconds, err)
	} else {
		fmt.Fprintf(p.log, "phase %s done in %.2fs\n", name, ph.Seconds)
	}
	p.r.Phases = append(p.r.Phases, ph)
	return err
}

// ReportSchemaVersion is the report format's version.
const ReportSchemaVersion = 2

// clientModule is the Milvus client library.
const clientModule = "github.com/milvus-io/milvus/client/v2"

// clientVersion is the Milvus client library this binary was built with,
// from its build information.
func clientVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == clientModule {
			return clientModule + " " + d.Version
		}
	}
	return ""
}

// writeCodes lists a summary's failures by code, most frequent first, each
// with the first message seen.
func writeCodes(w io.Writer, indent string, s Summary) {
	for _, c := range sortedCodes(s.ByCode) {
		if m := s.Samples[c]; m != "" {
			fmt.Fprintf(w, "%s%s: %d (first: %s)\n", indent, c, s.ByCode[c], m)
		} else {
			fmt.Fprintf(w, "%s%s: %d\n", indent, c, s.ByCode[c])
		}
	}
}
