package verifier

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	grpc_retry "github.com/grpc-ecosystem/go-grpc-middleware/retry"
	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	mlog "github.com/milvus-io/milvus/pkg/v2/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Milvus is what the verifier needs from a Milvus server. The adapter
// below implements it with the official Go client
// (github.com/milvus-io/milvus/client/v2, the maintained successor of the
// archived milvus-sdk-go); tests of the phases' logic can substitute it.
type Milvus interface {
	Version(ctx context.Context) (string, error)
	HasCollection(ctx context.Context, name string) (bool, error)
	CreateCollection(ctx context.Context, name string, dim int, metric string) error
	CreateIndex(ctx context.Context, name string, idx IndexSpec) error
	Insert(ctx context.Context, name string, ids []int64, vectors [][]float32) error
	Flush(ctx context.Context, name string) error
	Delete(ctx context.Context, name string, ids []int64) error
	Load(ctx context.Context, name string, replicas int) error
	Search(ctx context.Context, name string, vectors [][]float32, topK int, s SearchSpec) ([][]int64, error)
	Drop(ctx context.Context, name string) error
	// List names every collection; Created is when the verifier created
	// one (ok false for a collection without the verifier's mark).
	List(ctx context.Context) ([]string, error)
	Created(ctx context.Context, name string) (created time.Time, ok bool, err error)
	Close(ctx context.Context) error
}

// createdMark ends the description of every collection the verifier
// creates, with its creation time: `verifier cleanup` reads it.
const createdMark = "milvusgen verifier: safe to drop; created "

// parseCreated reads the creation time from a description.
func parseCreated(description string) (time.Time, bool) {
	i := strings.LastIndex(description, createdMark)
	if i < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, description[i+len(createdMark):])
	return t, err == nil
}

// IndexSpec is the vector index to build.
type IndexSpec struct {
	Type           string // IVF_FLAT, HNSW, FLAT
	Metric         string // L2, IP, COSINE
	NList          int
	M              int
	EfConstruction int
}

// SearchSpec are the search parameters.
type SearchSpec struct {
	NProbe      int
	Ef          int
	Consistency string // Strong, Bounded, Session, Eventually
}

const (
	pkField     = "id"
	vectorField = "vector"
)

// ConnectOptions say how to reach Milvus.
type ConnectOptions struct {
	Address, Username, Password string
	TLS                         bool
	CAFile, ServerName          string

	envErrs []error // malformed VERIFIER_* values, reported by Finish
}

// clientLogsToStderr points the Milvus client's logger (Milvus' pkg/log,
// which writes to stdout by default) at stderr: stdout carries the JSON
// report, and a warning the client logs while retrying a call would
// corrupt it.
var clientLogsToStderr = sync.OnceValue(func() error {
	// InitLogger also replaces the per-level loggers that log.Ctx (the
	// client's retries) writes through; its file output is the way to
	// name a stream other than stdout.
	lg, props, err := mlog.InitLogger(&mlog.Config{Level: "warn", File: mlog.FileLogConfig{Filename: "/dev/stderr"}})
	if err != nil {
		return err
	}
	mlog.ReplaceGlobals(lg, props)
	return nil
})

// Connect dials Milvus with the official client.
func Connect(ctx context.Context, o ConnectOptions) (Milvus, error) {
	if err := clientLogsToStderr(); err != nil {
		return nil, fmt.Errorf("client log: %w", err)
	}
	cfg := &milvusclient.ClientConfig{Address: o.Address, Username: o.Username, Password: o.Password}
	if o.TLS {
		tc := &tls.Config{ServerName: o.ServerName, MinVersion: tls.VersionTLS12}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("tls ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls ca %s: no certificate", o.CAFile)
			}
			tc.RootCAs = pool
		}
		cfg.EnableTLSAuth = true
		cfg = cfg.WithTLSConfig(tc)
	}
	// A wrong port on a live host would otherwise surface as "context
	// deadline exceeded" after the whole RPC deadline: reach the port
	// first, and name it when it does not answer.
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := d.DialContext(dctx, "tcp", o.Address)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("cannot reach Milvus' gRPC port at %s (19530 unless the service says otherwise): %w", o.Address, err)
	}
	conn.Close()
	c, err := milvusclient.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to Milvus at %s: %w", o.Address, err)
	}
	return &client{c: c, address: o.Address}, nil
}

type client struct {
	c       *milvusclient.Client
	address string
}

// oneAttemptKey marks a context whose calls are measured.
type oneAttemptKey struct{}

// oneAttempt marks ctx so that each call made with it is one request.
// The client makes up to six attempts on Unavailable and
// ResourceExhausted, backing off 60 ms × 3^n, 180 ms to 14.6 s
// (milvusclient/client.go, v2.6.5: a gRPC retry interceptor installed on
// every connection): inside a deadline of a second, an outage or
// throttling would hide in one slow success or in a single
// DeadlineExceeded after three requests. Measured, each request counts,
// and a refused one fails in milliseconds.
func oneAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, oneAttemptKey{}, true)
}

// callOptions are the gRPC options of a call made with ctx.
func callOptions(ctx context.Context) []grpc.CallOption {
	if v, _ := ctx.Value(oneAttemptKey{}).(bool); v {
		return []grpc.CallOption{grpc_retry.Disable()}
	}
	return nil
}

// Version is the server's version; the first call of every run, so it
// also tells a Milvus proxy from another gRPC server on that port (an
// internal component's port, say), which would answer every call with
// "unknown service".
func (m *client) Version(ctx context.Context) (string, error) {
	v, err := m.c.GetServerVersion(ctx, milvusclient.NewGetServerVersionOption())
	if status.Code(err) == codes.Unimplemented {
		return "", fmt.Errorf("%s answers gRPC but is not a Milvus proxy (%v): clients use the proxy's port, 19530 unless the service says otherwise", m.address, err)
	}
	return v, err
}

func (m *client) HasCollection(ctx context.Context, name string) (bool, error) {
	return m.c.HasCollection(ctx, milvusclient.NewHasCollectionOption(name))
}

func (m *client) CreateCollection(ctx context.Context, name string, dim int, metric string) error {
	schema := entity.NewSchema().WithName(name).WithDescription(createdMark + time.Now().UTC().Format(time.RFC3339)).
		WithField(entity.NewField().WithName(pkField).WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName(vectorField).WithDataType(entity.FieldTypeFloatVector).WithDim(int64(dim)))
	return m.c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(name, schema).WithShardNum(1))
}

func (m *client) CreateIndex(ctx context.Context, name string, s IndexSpec) error {
	metric := entity.MetricType(s.Metric)
	var idx index.Index
	switch s.Type {
	case "HNSW":
		idx = index.NewHNSWIndex(metric, s.M, s.EfConstruction)
	case "FLAT":
		idx = index.NewFlatIndex(metric)
	default:
		idx = index.NewIvfFlatIndex(metric, s.NList)
	}
	task, err := m.c.CreateIndex(ctx, milvusclient.NewCreateIndexOption(name, vectorField, idx))
	if err != nil {
		return err
	}
	return task.Await(ctx)
}

func (m *client) Insert(ctx context.Context, name string, ids []int64, vectors [][]float32) error {
	dim := len(vectors[0])
	_, err := m.c.Insert(ctx, milvusclient.NewColumnBasedInsertOption(name,
		column.NewColumnInt64(pkField, ids), column.NewColumnFloatVector(vectorField, dim, vectors)), callOptions(ctx)...)
	return err
}

func (m *client) Delete(ctx context.Context, name string, ids []int64) error {
	_, err := m.c.Delete(ctx, milvusclient.NewDeleteOption(name).WithInt64IDs(pkField, ids), callOptions(ctx)...)
	return err
}

func (m *client) Flush(ctx context.Context, name string) error {
	task, err := m.c.Flush(ctx, milvusclient.NewFlushOption(name), callOptions(ctx)...)
	if err != nil {
		return err
	}
	return task.Await(ctx)
}

func (m *client) Load(ctx context.Context, name string, replicas int) error {
	task, err := m.c.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(name).WithReplica(replicas))
	if err != nil {
		return err
	}
	return task.Await(ctx)
}

func (m *client) Search(ctx context.Context, name string, vectors [][]float32, topK int, s SearchSpec) ([][]int64, error) {
	vs := make([]entity.Vector, len(vectors))
	for i, v := range vectors {
		vs[i] = entity.FloatVector(v)
	}
	opt := milvusclient.NewSearchOption(name, topK, vs).WithANNSField(vectorField).
		WithConsistencyLevel(consistency(s.Consistency))
	if s.NProbe > 0 {
		opt = opt.WithAnnParam(index.NewIvfAnnParam(s.NProbe))
	}
	if s.Ef > 0 {
		opt = opt.WithAnnParam(index.NewHNSWAnnParam(s.Ef))
	}
	rs, err := m.c.Search(ctx, opt, callOptions(ctx)...)
	if err != nil {
		return nil, err
	}
	out := make([][]int64, len(rs))
	for i, r := range rs {
		if r.Err != nil {
			return nil, r.Err
		}
		ids := make([]int64, r.ResultCount)
		for j := 0; j < r.ResultCount; j++ {
			id, err := r.IDs.GetAsInt64(j)
			if err != nil {
				return nil, err
			}
			ids[j] = id
		}
		out[i] = ids
	}
	return out, nil
}

func (m *client) Drop(ctx context.Context, name string) error {
	return m.c.DropCollection(ctx, milvusclient.NewDropCollectionOption(name))
}
func (m *client) List(ctx context.Context) ([]string, error) {
	return m.c.ListCollections(ctx, milvusclient.NewListCollectionOption())
}
func (m *client) Created(ctx context.Context, name string) (time.Time, bool, error) {
	c, err := m.c.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(name))
	if err != nil || c.Schema == nil {
		return time.Time{}, false, err
	}
	t, ok := parseCreated(c.Schema.Description)
	return t, ok, nil
}

func (m *client) Close(ctx context.Context) error { return m.c.Close(ctx) }

func consistency(s string) entity.ConsistencyLevel {
	switch s {
	case "Strong":
		return entity.ClStrong
	case "Session":
		return entity.ClSession
	case "Eventually":
		return entity.ClEventually
	}
	return entity.ClBounded
}
