package model

import "sort"

// ComponentInfo is how the chart names a Milvus component.
type ComponentInfo struct {
	// Key is the spec and chart values key, e.g. "queryNode".
	Key string
	// Label is the value of the chart's `component` pod label, e.g. "querynode".
	Label string
}

// chartComponents lists every component the chart knows, in the chart's
// values order.
var chartComponents = []ComponentInfo{
	{"proxy", "proxy"},
	{"rootCoordinator", "rootcoord"},
	{"queryCoordinator", "querycoord"},
	{"queryNode", "querynode"},
	{"indexCoordinator", "indexcoord"},
	{"indexNode", "indexnode"},
	{"dataCoordinator", "datacoord"},
	{"dataNode", "datanode"},
	{"mixCoordinator", "mixcoord"},
	{"streamingNode", "streamingnode"},
}

// ChartComponents returns every component key of the chart, including those
// an environment does not run (they are switched off explicitly).
func ChartComponents() []ComponentInfo {
	return append([]ComponentInfo(nil), chartComponents...)
}

// ComponentLabel is the `component` pod label of a component key.
func ComponentLabel(key string) string {
	for _, c := range chartComponents {
		if c.Key == key {
			return c.Label
		}
	}
	return ""
}

// ComponentNames returns the environment's component keys, sorted, so that
// generators never depend on map iteration order.
func (e *Environment) ComponentNames() []string {
	names := make([]string, 0, len(e.Components))
	for n := range e.Components {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PodLabels are the labels the chart puts on a component's pods: what a
// selector (PDB, anti-affinity, spread) must match.
func (e *Environment) PodLabels(key string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     "milvus",
		"app.kubernetes.io/instance": e.Release,
		"component":                  ComponentLabel(key),
	}
}
