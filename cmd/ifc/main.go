// Command ifc is ImageFlowCanvas in one binary:
//
//	ifc all-in-one          cloud API + part services + embedded NATS/SQLite/files (the quick start)
//	ifc cloud api           the API and conductor, with part services elsewhere
//	ifc cloud worker        part services (--parts resize,filter,detect)
//	ifc edge                the edge agent: camera, pre-filter, bbolt queue, inspector API, WHEP
//	ifc model eval DIR      evaluate a model bundle on a freshly generated test set
//
// main only parses flags and configuration and hands over to the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: ifc <command> [flags]

commands:
  all-in-one           run the cloud tier and one edge agent (synthetic camera) in one process
  cloud api            run the API and conductor (part services via --part-endpoints)
  cloud worker         run part services (--parts resize,filter,detect)
  edge                 run the edge agent beside a production line
  model eval DIR       evaluate a model bundle; prints metrics as JSON
  version              print the version

Run 'ifc <command> -h' for the flags of a command.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ifc:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "all-in-one":
		return runCloud(ctx, "all-in-one", rest, stdout, stderr)
	case "edge":
		return runEdge(ctx, rest, stdout, stderr)
	case "cloud":
		if len(rest) > 0 && (rest[0] == "api" || rest[0] == "worker") {
			return runCloud(ctx, rest[0], rest[1:], stdout, stderr)
		}
		return fmt.Errorf("cloud: want 'api' or 'worker'\n\n%s", usage)
	case "model":
		if len(rest) > 0 && rest[0] == "eval" {
			return runModelEval(ctx, rest[1:], stdout)
		}
		return fmt.Errorf("model: want 'eval'\n\n%s", usage)
	case "version":
		fmt.Fprintln(stdout, "ifc", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
}
