// Command verifier proves a Milvus deployment meets its SLOs: see
// `verifier --help` and the README. Exit 0 when every SLO holds, 1 when
// one fails, 2 when something prevented measuring.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/milvus-gitops/milvusgen/verifier"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var cfg verifier.Config
	fs := pflag.NewFlagSet("verifier", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: verifier [flags]\n\nEvery flag also reads VERIFIER_<FLAG> (e.g. VERIFIER_SLO_P99_MS).\n"+
			"Credentials: MILVUS_USERNAME, MILVUS_PASSWORD (or *_FILE).\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "verifier: %v\nRun verifier --help for the flags.\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "verifier: unexpected argument %q (every setting is a flag)\nRun verifier --help for the flags.\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Finish(); err != nil {
		fmt.Fprintln(stderr, "verifier:", err)
		return 2
	}
	// The report file must be writable before the run, not after it.
	if cfg.Report != "" {
		f, err := os.OpenFile(cfg.Report, os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			fmt.Fprintln(stderr, "verifier: --report:", err)
			return 2
		}
	}
	// SIGTERM (the Job's deadline, a deleted pod) cancels the run; the
	// collection is still dropped, with a fresh context.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report := verifier.Run(ctx, &cfg, verifier.Deps{
		Connect: verifier.Connect,
		Kube:    verifier.KubeClient,
		Dynamic: verifier.DynamicClient,
		HTTP:    &http.Client{Timeout: 5 * time.Second},
		Log:     stderr,
	})
	report.WriteSummary(stderr)
	if err := report.WriteJSON(stdout); err != nil {
		fmt.Fprintln(stderr, "verifier:", err)
	}
	if cfg.Report != "" {
		f, err := os.Create(cfg.Report)
		if err == nil {
			err = report.WriteJSON(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "verifier: report:", err)
			return 2
		}
	}
	return report.ExitCode()
}
