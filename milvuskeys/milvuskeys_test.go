package milvuskeys

import "testing"

func TestKnownAsMilvusNormalises(t *testing.T) {
	s, err := For("2.6")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{
		"queryNode.gracefulStopTimeout":          true,
		"querynode.graceful_stop_timeout":        true, // Milvus' formatKey drops "_" and case
		"query_node.gracefulstoptimeout":         true,
		"common.retentionDuration":               false, // removed in 2.3
		"streamingNode.gracefulStopTimeout":      false, // never read
		"indexNode.gracefulStopTimeout":          false, // 2.6 has no index node
		"knowhere.anything.below.the.prefix":     true,
		"proxy.accessLog.formatters.base.format": true,
		"kafka.producer.linger.ms":               true,
	} {
		if got := s.Known(key); got != want {
			t.Errorf("Known(%s) = %v, want %v", key, got, want)
		}
	}
	s25, _ := For("2.5")
	if !s25.Known("indexNode.gracefulStopTimeout") {
		t.Error("2.5 reads indexNode.gracefulStopTimeout")
	}
	if _, err := For("2.4"); err == nil {
		t.Error("no list for 2.4, but no error")
	}
}

func TestSuggest(t *testing.T) {
	s, _ := For("2.6")
	if got := s.Suggest("queryNode.gracefullStopTimeout"); got != "queryNode.gracefulStopTimeout" {
		t.Errorf("Suggest = %q", got)
	}
	if got := s.Suggest("something.entirely.different"); got != "" {
		t.Errorf("Suggest of nonsense = %q", got)
	}
}
