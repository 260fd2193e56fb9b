// Package promqlnames lists the metric selectors of PromQL expressions,
// for the tests that hold the alert rules and dashboard queries to the
// metric names a Milvus version (or an exporter) really has. It parses
// with Prometheus' own PromQL parser.
package promqlnames

import (
	"github.com/prometheus/prometheus/promql/parser"
)

// Selector is one vector selector: its metric name ("" when the
// expression selects by a __name__ matcher) and its label matchers.
type Selector struct {
	Name   string
	Labels []string // the label names it matches on, __name__ left out
	Text   string
}

// Of parses an expression and returns its selectors in order.
func Of(expr string) ([]Selector, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []Selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := Selector{Name: vs.Name, Text: vs.String()}
		for _, m := range vs.LabelMatchers {
			if m.Name != "__name__" {
				s.Labels = append(s.Labels, m.Name)
			}
		}
		out = append(out, s)
		return nil
	})
	return out, nil
}
