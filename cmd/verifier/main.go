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
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/milvus-gitops/milvusgen/verifier"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "cleanup" {
		return runCleanup(args[1:], stdout, stderr)
	}
	var cfg verifier.Config
	fs := pflag.NewFlagSet("verifier", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: verifier [flags]\n\nEvery flag also reads VERIFIER_<FLAG> (e.g. VERIFIER_SLO_P99_MS).\n"+
			"Credentials: MILVUS_USERNAME, MILVUS_PASSWORD (or *_FILE).\n\nFlags:\n%s", fs.FlagUsages())
	}
	if code, ok := parse(fs, args, stderr); !ok {
		return code
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
	// So must the picture's directory (it is written through a temporary
	// file beside it).
	if cfg.Plot != "" {
		f, err := os.CreateTemp(filepath.Dir(cfg.Plot), ".verifier-plot-check-*")
		if err == nil {
			f.Close()
			err = os.Remove(f.Name())
		}
		if err != nil {
			fmt.Fprintln(stderr, "verifier: --plot:", err)
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
	// The picture last: its failure is reported, not a reason to lose
	// the report or change the verdict's exit code.
	if cfg.Plot != "" {
		if err := report.WritePlot(cfg.Plot, cfg.MaxP99Ms); err != nil {
			fmt.Fprintln(stderr, "verifier: plot:", err)
		} else {
			fmt.Fprintln(stderr, "verifier: picture of the run in", cfg.Plot)
		}
	}
	return report.ExitCode()
}

// runCleanup is `verifier cleanup`: drop the collections that runs killed
// before their own cleanup left behind (see verifier.Cleanup).
func runCleanup(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("verifier cleanup", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn verifier.ConnectOptions
	conn.Flags(fs)
	olderThan := fs.Duration("older-than", 2*time.Hour, "drop verifier collections created longer ago than this (longer than any run)")
	unmarked := fs.Bool("include-unmarked", false, "also drop verifier_ collections without a creation time")
	dryRun := fs.Bool("dry-run", false, "say what would be dropped, drop nothing")
	timeout := fs.Duration("timeout", 2*time.Minute, "deadline of the whole cleanup")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: verifier cleanup [flags]\n\nDrops the verifier_ collections killed runs left behind.\n"+
			"Credentials: MILVUS_USERNAME, MILVUS_PASSWORD (or *_FILE).\n\nFlags:\n%s", fs.FlagUsages())
	}
	if code, ok := parse(fs, args, stderr); !ok {
		return code
	}
	if *olderThan < 0 {
		fmt.Fprintln(stderr, "verifier cleanup: --older-than must not be negative")
		return 2
	}
	if _, err := conn.Finish(); err != nil {
		fmt.Fprintln(stderr, "verifier cleanup:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	m, err := verifier.Connect(ctx, conn)
	if err != nil {
		fmt.Fprintln(stderr, "verifier cleanup: connect:", err)
		return 2
	}
	defer m.Close(context.Background())
	dropped, err := verifier.Cleanup(ctx, m, *olderThan, *unmarked, *dryRun, time.Now(), stdout)
	if err != nil {
		fmt.Fprintln(stderr, "verifier cleanup:", err)
		return 2
	}
	fmt.Fprintf(stderr, "verifier cleanup: %d collections\n", len(dropped))
	return 0
}

// parse parses args into fs: on a malformed flag or a stray argument it
// prints why and a pointer to --help, and returns the exit code (0 for
// --help itself) with ok false.
func parse(fs *pflag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == pflag.ErrHelp:
		return 0, false
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q (every setting is a flag)", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\nRun %s --help for the flags.\n", fs.Name(), err, fs.Name())
		return 2, false
	}
	return 0, true
}
