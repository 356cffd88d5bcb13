// Command gridlogin runs the stand-in grid login service as its own
// process, so that tests can hand it to an agent as a supervised `run:`
// service and kill it like a real one.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/understudy/understudy/test/gridlogin"
)

func main() {
	var cfg gridlogin.Config
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "listen address")
	flag.StringVar(&cfg.DataDir, "data-dir", ".", "directory holding accounts.json")
	flag.StringVar(&cfg.Grid, "grid", "grid", "grid name reported by get_grid_info")
	flag.StringVar(&cfg.Instance, "instance", "", "instance name reported in login answers")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gridlogin: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	srv, err := gridlogin.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gridlogin: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "gridlogin listening on %s\n", srv.Addr())
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "gridlogin: %v\n", err)
		os.Exit(1)
	}
}
