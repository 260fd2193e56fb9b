package spec

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"cuelang.org/go/cue"
	prommodel "github.com/prometheus/common/model"

	"github.com/milvus-gitops/milvusgen/model"
)

// disruptionBudgets refuses, in production, an availability.maxUnavailable
// that would let a voluntary disruption (a node drain) take every pod of
// a component: the budget must leave one running.
func (s *Set) disruptionBudgets(name string, env *model.Environment) []Diagnostic {
	a := env.Availability
	if !env.Production || !a.PodDisruptionBudgets {
		return nil
	}
	smallest, least := "", int32(0)
	for _, c := range env.ComponentNames() {
		if r := env.Components[c].Replicas; smallest == "" || r < least {
			smallest, least = c, r
		}
	}
	if smallest == "" || a.MaxUnavailable < least {
		return nil
	}
	return s.positioned(name, "availability.maxUnavailable", fmt.Sprintf(
		"%d lets a node drain take all %d pods of %s: a disruption budget must leave one running; use at most %d",
		a.MaxUnavailable, least, smallest, least-1))
}

// verificationLoad: the verification loads one in-memory replica per
// query node at most, and its fault phase, which kills fault.pods query
// nodes, must leave one replica serving.
func (s *Set) verificationLoad(name string, env *model.Environment) []Diagnostic {
	v := env.Verification
	if !v.Enabled {
		return nil
	}
	var diags []Diagnostic
	r := v.Workload.Replicas
	if q := env.Components["queryNode"].Replicas; int32(r) > q {
		diags = append(diags, s.positioned(name, "verification.workload.replicas", fmt.Sprintf(
			"%d in-memory replicas need as many query nodes, and components.queryNode.replicas is %d", r, q))...)
	}
	if qps := env.SLO.SearchQPS; qps > 0 {
		// A p99 rests on at least 100 searches (the verifier refuses
		// fewer); the duration passed the schema's syntax check.
		if d, err := time.ParseDuration(v.Workload.RateDuration); err == nil && qps*d.Seconds() < 100 {
			diags = append(diags, s.positioned(name, "verification.workload.rateDuration", fmt.Sprintf(
				"%s at slo.searchQPS %g sends %.0f searches: a p99 needs at least 100; make it at least %s",
				v.Workload.RateDuration, qps, qps*d.Seconds(), time.Duration(math.Ceil(100/qps*float64(time.Second))).Round(time.Millisecond)))...)
		}
	}
	if !v.Fault.Enabled {
		return diags
	}
	if r < 2 {
		diags = append(diags, s.positioned(name, "verification.workload.replicas", fmt.Sprintf(
			"the fault phase kills a query node while searching: load at least 2 replicas (is %d), or switch verification.fault off", r))...)
	} else if v.Fault.Pods >= r {
		diags = append(diags, s.positioned(name, "verification.fault.pods", fmt.Sprintf(
			"killing %d query nodes can take all %d replicas: kill at most %d", v.Fault.Pods, r, r-1))...)
	}
	return diags
}

// numbers refuses every number of the environment that does not fit the
// 64-bit integer or float it is decoded into (CUE's numbers are arbitrary
// precision), positioned, before decoding would fail without a position
// or a float would reach YAML as 1e+23.
func (s *Set) numbers(name string, v cue.Value) []Diagnostic {
	var diags []Diagnostic
	eachLeaf(v, nil, func(at []string, x cue.Value) {
		switch k := x.IncompleteKind(); {
		case (k == cue.IntKind || k == cue.FloatKind || k == cue.NumberKind) && !x.IsConcrete():
			// a bound the schema's default makes concrete
		case k == cue.IntKind:
			if _, err := x.Int64(); err != nil {
				diags = append(diags, s.positionedAt(name, at, fmt.Sprintf("%v does not fit a 64-bit integer", x))...)
			}
		case k == cue.FloatKind || k == cue.NumberKind:
			if f, err := x.Float64(); err != nil || math.IsInf(f, 0) {
				diags = append(diags, s.positionedAt(name, at, fmt.Sprintf("%v does not fit a 64-bit float", x))...)
			} else if g := strconv.FormatFloat(f, 'g', -1, 64); f != math.Trunc(f) && strings.Contains(g, "e") || f == math.Trunc(f) && math.Abs(f) >= 1<<63 {
				// Within float64, but YAML would carry it in exponent
				// notation (go-yaml writes decimals below 10^-4 and from
				// 10^6 so), which Kubernetes quantities and Milvus'
				// configuration parser read differently or not at all.
				diags = append(diags, s.positionedAt(name, at, fmt.Sprintf("%v would be written as %s: a decimal number here must lie between 0.0001 and 1000000, or be a whole number that fits 64 bits", x, g))...)
			}
		}
	})
	return diags
}

// Duration fields, by the parser of what reads them: Go's (Flux, Argo CD,
// the verifier) or Prometheus' (no fractions; d, w and y units).
var (
	goDurations = []string{
		"delivery.flux.interval", "delivery.flux.sourceInterval", "delivery.flux.timeout",
		"delivery.argocd.retry.backoff.duration", "delivery.argocd.retry.backoff.maxDuration",
		"verification.fault.window",
	}
	promDurations = []string{"monitoring.scrapeInterval", "monitoring.evaluationInterval", "monitoring.alerts.for"}
	// hostPorts are "host:port" fields.
	hostPorts = []string{"dependencies.etcd.endpoints.*", "dependencies.messageQueue.kafka.brokers.*", "monitoring.kubeStateMetrics"}
)

// values checks what the schema types as strings but a program parses:
// durations (positive, within what the reader accepts), ports (1-65535),
// and the Milvus image tag against milvus.version.
func (s *Set) values(name string, v cue.Value, env *model.Environment) []Diagnostic {
	var diags []Diagnostic
	add := func(at []string, msg string) { diags = append(diags, s.positionedAt(name, at, msg)...) }
	for _, p := range goDurations {
		eachAt(v, p, func(at []string, x cue.Value) {
			str, _ := x.String()
			if d, err := time.ParseDuration(str); err != nil {
				add(at, fmt.Sprintf("%q is not a duration: %v", str, err))
			} else if d <= 0 {
				add(at, fmt.Sprintf("%q: a duration here must be positive", str))
			}
		})
	}
	for _, p := range promDurations {
		eachAt(v, p, func(at []string, x cue.Value) {
			str, _ := x.String()
			d, err := prommodel.ParseDuration(str)
			switch {
			case err != nil:
				add(at, fmt.Sprintf("%q is not a Prometheus duration (whole numbers of ms, s, m, h, d, w, y, e.g. 30s or 1h30m): %v", str, err))
			case d <= 0 && p != "monitoring.alerts.for":
				// (An alert's for: 0s fires at once: Prometheus allows it.)
				add(at, fmt.Sprintf("%q: a duration here must be positive", str))
			}
		})
	}
	for _, p := range hostPorts {
		eachAt(v, p, func(at []string, x cue.Value) {
			str, _ := x.String()
			_, port, err := net.SplitHostPort(str)
			if err != nil {
				add(at, fmt.Sprintf("%q is not host:port: %v", str, err))
				return
			}
			if !validPort(port) {
				add(at, fmt.Sprintf("%q: port %s is not in 1-65535", str, port))
			}
		})
	}
	if r := env.Images.Registry; r != "" {
		host, _, _ := strings.Cut(r, "/")
		if _, port, err := net.SplitHostPort(host); err == nil && !validPort(port) {
			add([]string{"images", "registry"}, fmt.Sprintf("%q: port %s is not in 1-65535", r, port))
		}
	}
	// The tag is the image Milvus runs; the version is what the chart,
	// the configuration keys and the image profile are chosen for.
	if tag := env.Milvus.Image.Tag; tag != "v"+env.Milvus.Version && !strings.HasPrefix(tag, "v"+env.Milvus.Version+"-") {
		add([]string{"milvus", "image", "tag"}, fmt.Sprintf("%q is not Milvus %s: the tag must be v%s (or v%s-<variant>); to run another version, set milvus.version", tag, env.Milvus.Version, env.Milvus.Version, env.Milvus.Version))
	}
	return diags
}

func validPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}
