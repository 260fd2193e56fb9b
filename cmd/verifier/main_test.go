package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputFailsFast: a malformed flag, a stray argument, a value
// Milvus would refuse and an unwritable report all exit 2 with a message
// before anything connects to Milvus (the address is unreachable here).
func TestBadInputFailsFast(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--foo"}, "unknown flag: --foo"},
		{[]string{"--concurrency", "abc"}, `invalid argument "abc" for "--concurrency"`},
		{[]string{"--concurrency"}, "flag needs an argument: --concurrency"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--nlist", "0"}, "--nlist 0"},
		{[]string{"--top-k", "20000"}, "common.topKLimit"},
		{[]string{"--rate", "10", "--rate-duration", "1s"}, "sends 10 searches: a p99 needs at least 100"},
		{[]string{"--rate", "-1"}, "--rate must be 0 or positive"},
		{[]string{"--slo-error-ratio", "1"}, "--slo-error-ratio must be within [0, 1)"},
		{[]string{"--no-fault", "--report", filepath.Join(t.TempDir(), "missing", "r.json")}, "--report:"},
		{[]string{"--no-fault", "--plot", filepath.Join(t.TempDir(), "run.pdf")}, "the picture is SVG or PNG"},
		{[]string{"--no-fault", "--plot", filepath.Join(t.TempDir(), "missing", "run.svg")}, "--plot:"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"--address", "127.0.0.1:1", "--health-timeout", "1ms"}, tc.args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: wrote a report before failing: %s", tc.args, stdout.String())
		}
	}
}
