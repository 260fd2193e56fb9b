package verifier

import (
	"container/heap"
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Dataset is a seeded Gaussian mixture: Clusters centres drawn uniformly in
// [-1, 1]^Dim, each point a centre plus N(0, Spread²) noise per dimension.
// Clustered data gives an ANN index something to find; on uniform random
// vectors (the reference scenario's) recall says nothing.
type Dataset struct {
	Dim      int
	Clusters int
	Spread   float64
	Seed     uint64
	centres  [][]float32
}

// NewDataset draws the cluster centres.
func NewDataset(dim, clusters int, spread float64, seed uint64) *Dataset {
	d := &Dataset{Dim: dim, Clusters: clusters, Spread: spread, Seed: seed}
	r := rand.New(rand.NewPCG(seed, 0x6d696c767573))
	for c := 0; c < clusters; c++ {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(r.Float64()*2 - 1)
		}
		d.centres = append(d.centres, v)
	}
	return d
}

// Vectors returns n points of stream (0 for the rows, 1 for queries, ...):
// the same arguments give the same vectors on every machine.
func (d *Dataset) Vectors(stream uint64, n int) [][]float32 {
	r := rand.New(rand.NewPCG(d.Seed, stream+1))
	out := make([][]float32, n)
	for i := range out {
		c := d.centres[r.IntN(d.Clusters)]
		v := make([]float32, d.Dim)
		for j := range v {
			v[j] = c[j] + float32(r.NormFloat64()*d.Spread)
		}
		out[i] = v
	}
	return out
}

// Normalize scales v to unit length (for COSINE and IP on normalized data).
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	n := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= n
	}
}

// Distance returns a value where smaller is closer, for the metric.
func Distance(metric string, a, b []float32) float64 {
	switch metric {
	case "IP":
		return -dot(a, b)
	case "COSINE":
		na, nb := math.Sqrt(dot(a, a)), math.Sqrt(dot(b, b))
		if na == 0 || nb == 0 {
			return 1
		}
		return 1 - dot(a, b)/(na*nb)
	default: // L2
		var s float64
		for i := range a {
			d := float64(a[i]) - float64(b[i])
			s += d * d
		}
		return s
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// GroundTruth returns, for every query, the ids (row indexes) of its k
// nearest rows by exact brute force: the reference recall is measured
// against.
// It stops early, returning ctx's error, when ctx ends (a SIGTERM must
// reach the cleanup quickly).
func GroundTruth(ctx context.Context, metric string, rows, queries [][]float32, k int) ([][]int64, error) {
	out := make([][]int64, len(queries))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range next {
				out[q] = nearest(metric, rows, queries[q], k)
			}
		}()
	}
	for q := range queries {
		if ctx.Err() != nil {
			break
		}
		next <- q
	}
	close(next)
	wg.Wait()
	return out, ctx.Err()
}

func nearest(metric string, rows [][]float32, q []float32, k int) []int64 {
	h := &maxHeap{}
	for i, r := range rows {
		d := Distance(metric, q, r)
		if h.Len() < k {
			heap.Push(h, item{int64(i), d})
		} else if d < (*h)[0].dist || d == (*h)[0].dist && int64(i) < (*h)[0].id {
			(*h)[0] = item{int64(i), d}
			heap.Fix(h, 0)
		}
	}
	ids := make([]int64, h.Len())
	for i := len(ids) - 1; i >= 0; i-- {
		ids[i] = heap.Pop(h).(item).id
	}
	return ids
}

type item struct {
	id   int64
	dist float64
}

// maxHeap keeps the k best so far, the worst on top.
type maxHeap []item

func (h maxHeap) Len() int { return len(h) }
func (h maxHeap) Less(i, j int) bool {
	if h[i].dist != h[j].dist {
		return h[i].dist > h[j].dist
	}
	return h[i].id > h[j].id
}
func (h maxHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *maxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Recall is recall@k as VectorDBBench defines it: the mean, over queries,
// of |returned ∩ true top-k| / k.
func Recall(truth, got [][]int64, k int) float64 {
	if len(truth) == 0 || k == 0 {
		return 0
	}
	var sum float64
	for q := range truth {
		want := map[int64]bool{}
		for _, id := range truth[q][:min(k, len(truth[q]))] {
			want[id] = true
		}
		hit := 0
		if q < len(got) {
			for _, id := range got[q][:min(k, len(got[q]))] {
				if want[id] {
					hit++
				}
			}
		}
		sum += float64(hit) / float64(k)
	}
	return sum / float64(len(truth))
}
