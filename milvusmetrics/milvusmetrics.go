// Package milvusmetrics knows which metric families each Milvus version
// line exports, so that an alert rule or a dashboard panel cannot use a
// name (or a label) the running Milvus does not have: a renamed metric
// makes an alert silently never fire and a panel silently empty.
//
// The lists are generated from Milvus' own source, pkg/metrics at the
// release we pin (see each file's header), by hack/metricnames.
package milvusmetrics

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"
)

//go:embed milvus-*.metrics
var files embed.FS

// Family is one metric family: its name, its type (counter, gauge,
// histogram, summary) and its label names (LabelsKnown false when the
// source builds them in a way the generator cannot read).
type Family struct {
	Name        string
	Type        string
	Labels      []string
	LabelsKnown bool
}

// Line renders the family as one line of a list file.
func (f Family) Line() string {
	l := "?"
	if f.LabelsKnown {
		l = strings.Join(f.Labels, ",")
		if l == "" {
			l = "-"
		}
	}
	return fmt.Sprintf("%s %s %s", f.Name, f.Type, l)
}

// Set is the families of one version line.
type Set struct {
	// Source names the release and commit the list was generated from.
	Source   string
	families map[string]Family
}

var (
	mu    sync.Mutex
	cache = map[string]*Set{}
)

// Lines are the version lines a list exists for.
func Lines() []string {
	ents, _ := files.ReadDir(".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(e.Name(), "milvus-"), ".metrics"))
	}
	sort.Strings(out)
	return out
}

// For returns the families of a Milvus version line ("2.5", "2.6").
func For(line string) (*Set, error) {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := cache[line]; ok {
		return s, nil
	}
	b, err := files.ReadFile("milvus-" + line + ".metrics")
	if err != nil {
		return nil, fmt.Errorf("no metric list for Milvus %s", line)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("milvus-%s.metrics: %w", line, err)
	}
	cache[line] = s
	return s, nil
}

// Parse reads a list file.
func Parse(b []byte) (*Set, error) {
	s := &Set{families: map[string]Family{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
		case strings.HasPrefix(l, "# source: "):
			s.Source = strings.TrimPrefix(l, "# source: ")
		case strings.HasPrefix(l, "#"):
		default:
			f := strings.Fields(l)
			if len(f) != 3 {
				return nil, fmt.Errorf("line %d: want NAME TYPE LABELS, got %q", n, l)
			}
			fam := Family{Name: f[0], Type: f[1], LabelsKnown: f[2] != "?"}
			if fam.LabelsKnown && f[2] != "-" {
				fam.Labels = strings.Split(f[2], ",")
			}
			s.families[fam.Name] = fam
		}
	}
	return s, sc.Err()
}

// Lookup finds the family a series name belongs to: the name itself, or
// for histograms and summaries the family of a _bucket, _sum or _count
// series.
func (s *Set) Lookup(series string) (Family, bool) {
	if f, ok := s.families[series]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(series, suffix)
		if !ok {
			continue
		}
		f, ok := s.families[base]
		if ok && (f.Type == "histogram" || (f.Type == "summary" && suffix != "_bucket")) {
			return f, true
		}
	}
	return Family{}, false
}

// HasLabel reports whether the family carries a label (true when its
// labels are unknown: no false alarm).
func (f Family) HasLabel(name string) bool {
	if !f.LabelsKnown {
		return true
	}
	if name == "le" && f.Type == "histogram" || name == "quantile" && f.Type == "summary" {
		return true
	}
	for _, l := range f.Labels {
		if l == name {
			return true
		}
	}
	return false
}

// Len is the number of families.
func (s *Set) Len() int { return len(s.families) }
