package verifier

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// syntheticRun is a report whose timeline holds a benchmark (10 s at
// 100 searches a second, ~5 ms) and a fault phase: a query node killed at
// 13 s, nothing answered from 14 s to 17 s, slower answers until 20 s,
// the window ending at 40 s.
func syntheticRun() *Report {
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	tl := NewTimeline(start)
	tl.Span("load", at(-5), at(0.5))
	tl.Span("benchmark", at(0), at(10))
	tl.Span("fault", at(10), at(40))
	tl.Mark("delete 1 pod(s)", at(13))
	tl.Mark("window end", at(40))
	down := status.Error(codes.Unavailable, "querynode gone")
	for ms := 0; ms < 40000; ms += 10 {
		s := float64(ms) / 1000
		switch {
		case s >= 14 && s < 17:
			tl.Record(at(s), time.Second, down)
		case s >= 17 && s < 20:
			tl.Record(at(s), time.Duration(40+ms%60)*time.Millisecond, nil)
		default:
			tl.Record(at(s), time.Duration(3000+ms%4000)*time.Microsecond, nil)
		}
	}
	return &Report{timeline: tl, RunID: "plot_test", ServerVersion: "v2.6.15", Verdict: Fail,
		Workload: Workload{Rows: 100000, Dim: 128, Metric: "L2", Index: "IVF_FLAT", NList: 1024, NProbe: 16, Replicas: 2, NQ: 1, TopK: 10, Consistency: "Bounded", Concurrency: 10}}
}

// TestTimelineSeconds: the synthetic run's seconds, as the plot gets them.
func TestTimelineSeconds(t *testing.T) {
	secs, spans, marks := syntheticRun().timeline.Seconds()
	if len(secs) != 40 || len(spans) != 3 || len(marks) != 2 {
		t.Fatalf("%d seconds, %d spans, %d marks", len(secs), len(spans), len(marks))
	}
	if s := secs[15]; s.OK != 0 || s.Failed != 100 || s.P99Ms == s.P99Ms { // NaN: no success
		t.Errorf("second 15 (outage): %+v", s)
	}
	if s := secs[18]; s.OK != 100 || s.P50Ms < 40 || s.P99Ms < 90 || s.P99Ms > 100 {
		t.Errorf("second 18 (slow): %+v", s)
	}
	if s := secs[5]; s.OK != 100 || s.P99Ms > 7 {
		t.Errorf("second 5 (steady): %+v", s)
	}
}

// TestWritePlot draws the synthetic run as SVG and PNG: the SVG parses as
// XML with the panels' texts, phases and marks named; the PNG decodes at
// 10 x 7 inches at 96 dpi with the failure red in it. No temporary file
// stays behind.
func TestWritePlot(t *testing.T) {
	dir := t.TempDir()
	r := syntheticRun()

	svgPath := filepath.Join(dir, "run.svg")
	if err := r.WritePlot(svgPath, 100); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	texts, elems := svgContent(t, b)
	if elems["svg"] != 1 || elems["path"] < 20 {
		t.Errorf("elements %v", elems)
	}
	for _, want := range []string{"Milvus verification plot_test (Milvus v2.6.15): FAIL", "100000 x 128-d L2 vectors", "latency ms (log)",
		"searches per second", "p50", "p99", "p99 SLO 100 ms", "ok", "failed", "benchmark", "fault", "delete 1 pod(s)", "window end"} {
		if !strings.Contains(texts, want) {
			t.Errorf("the SVG does not say %q; its texts: %s", want, texts)
		}
	}
	if strings.Contains(texts, "load") {
		t.Errorf("a phase without searches is marked: %s", texts)
	}

	pngPath := filepath.Join(dir, "run.png")
	if err := r.WritePlot(pngPath, 100); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 960 || b.Dy() != 672 {
		t.Errorf("PNG %v, want 960 x 672", b)
	}
	if n := countReddish(img); n < 100 {
		t.Errorf("%d pixels of the failure red: the outage is not drawn", n)
	}

	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files left in the directory: %v", entries)
	}
}

// TestWritePlotOfNothing: a run that failed before measuring still gets
// a picture that says so; an unknown extension writes nothing.
func TestWritePlotOfNothing(t *testing.T) {
	dir := t.TempDir()
	r := &Report{timeline: NewTimeline(time.Now()), RunID: "early", Verdict: Error}
	p := filepath.Join(dir, "early.svg")
	if err := r.WritePlot(p, 100); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if texts, _ := svgContent(t, b); !strings.Contains(texts, "no search was measured") {
		t.Errorf("texts %s", texts)
	}
	if err := r.WritePlot(filepath.Join(dir, "x.gif"), 100); err == nil {
		t.Error("a .gif was accepted")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files: %v", entries)
	}
}

// svgContent parses an SVG document and returns its text and how many
// elements of each name it has.
func svgContent(t *testing.T, b []byte) (string, map[string]int) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	elems := map[string]int{}
	var texts []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			elems[v.Name.Local]++
			if v.Name.Local == "svg" && elems["svg"] == 1 {
				var w, h string
				for _, a := range v.Attr {
					switch a.Name.Local {
					case "width":
						w = a.Value
					case "height":
						h = a.Value
					}
				}
				if w == "" || h == "" {
					t.Errorf("the svg element has no size: %v", v.Attr)
				}
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(v)); s != "" {
				texts = append(texts, s)
			}
		}
	}
	return strings.Join(texts, " | "), elems
}

// countReddish counts the pixels in the failure red's hue, antialiased
// or under the window's shade.
func countReddish(img image.Image) int {
	n := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r>>8 > 180 && g>>8 < 120 && b>>8 < 120 {
				n++
			}
		}
	}
	return n
}
