package verifier

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// unavailableMilvus is a gRPC server speaking Milvus' protocol whose
// searches and inserts are refused as Unavailable (a proxy restarting
// behind its Service), counting every request that arrives.
type unavailableMilvus struct {
	milvuspb.UnimplementedMilvusServiceServer
	searches, inserts atomic.Int64
}

func (s *unavailableMilvus) DescribeCollection(context.Context, *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	return &milvuspb.DescribeCollectionResponse{
		Status:         &commonpb.Status{},
		CollectionName: "verifier_r",
		Schema: &schemapb.CollectionSchema{Name: "verifier_r", Fields: []*schemapb.FieldSchema{
			{FieldID: 100, Name: pkField, DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
			{FieldID: 101, Name: vectorField, DataType: schemapb.DataType_FloatVector, TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: "2"}}},
		}},
	}, nil
}

func (s *unavailableMilvus) Search(context.Context, *milvuspb.SearchRequest) (*milvuspb.SearchResults, error) {
	s.searches.Add(1)
	return nil, status.Error(codes.Unavailable, "proxy restarting")
}

func (s *unavailableMilvus) Insert(context.Context, *milvuspb.InsertRequest) (*milvuspb.MutationResult, error) {
	s.inserts.Add(1)
	return nil, status.Error(codes.Unavailable, "proxy restarting")
}

// TestMeasuredCallsAreOneRequest: through the official client, a search
// or insert in a measured loop reaches the server once and fails at once;
// outside (loading data, cleanup) the client's retries stay, and the same
// refusal becomes a timeout.
func TestMeasuredCallsAreOneRequest(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fake := &unavailableMilvus{}
	milvuspb.RegisterMilvusServiceServer(srv, fake)
	go srv.Serve(lis)
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := Connect(ctx, ConnectOptions{Address: lis.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	q := [][]float32{{0.5, 0.5}}

	t0 := time.Now()
	_, err = m.Search(oneAttempt(ctx), "verifier_r", q, 1, SearchSpec{})
	if Code(err) != "Unavailable" || fake.searches.Load() != 1 || time.Since(t0) > 500*time.Millisecond {
		t.Errorf("measured search: %v (%s) after %d requests in %v, want Unavailable after one", err, Code(err), fake.searches.Load(), time.Since(t0))
	}
	if err := m.Insert(oneAttempt(ctx), "verifier_r", []int64{1}, q); Code(err) != "Unavailable" || fake.inserts.Load() != 1 {
		t.Errorf("measured insert: %v after %d requests, want one", err, fake.inserts.Load())
	}

	// Unmeasured, with the fault phase's deadline of a second: the client
	// backs off 180 ms and 540 ms between attempts, and the outage shows as
	// one DeadlineExceeded at the deadline, after three requests.
	fake.searches.Store(0)
	t0 = time.Now()
	sctx, scancel := context.WithTimeout(ctx, time.Second)
	_, err = m.Search(sctx, "verifier_r", q, 1, SearchSpec{})
	scancel()
	if Code(err) != "DeadlineExceeded" || fake.searches.Load() != 3 || time.Since(t0) < 900*time.Millisecond {
		t.Errorf("unmeasured search: %v (%s) after %d requests in %v, want the client's retries until the deadline", err, Code(err), fake.searches.Load(), time.Since(t0))
	}

	// The loops mark their calls themselves.
	fake.searches.Store(0)
	search := func(c context.Context, v []float32) error {
		_, err := m.Search(c, "verifier_r", [][]float32{v}, 1, SearchSpec{})
		return err
	}
	lat, _ := closedLoop(ctx, 1, 5, time.Second, q, search, nil)
	if s := lat.Summarize(0); s.ByCode["Unavailable"] != 5 || fake.searches.Load() != 5 {
		t.Errorf("closed loop: %v over %d requests, want 5 failures in 5", s.ByCode, fake.searches.Load())
	}
}

// TestNotAMilvusPort: a gRPC server without Milvus' service on the
// address (an internal component's port) is named as such at the first
// call, not reported as an unknown service.
func TestNotAMilvusPort(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	go srv.Serve(lis)
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := Connect(ctx, ConnectOptions{Address: lis.Addr().String()})
	if err == nil {
		defer m.Close(ctx)
		_, err = m.Version(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), lis.Addr().String()+" answers gRPC but is not a Milvus proxy") {
		t.Errorf("got %v", err)
	}
}
