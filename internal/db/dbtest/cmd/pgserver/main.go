// Command pgserver starts the test harness's throwaway PostgreSQL server for
// a whole test run, so that every test package shares one server instead of
// starting its own: scripts/test.sh runs it and exports its URL as
// TRUSTWARD_TEST_PG.
//
// It prints the server's URL on a line of its own, then keeps the server
// until its standard input reaches end of file or it receives SIGINT or
// SIGTERM; if it dies, the harness's watchdog stops the server anyway. It is
// a test tool: never point a deployment at its server.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trustward/trustward/internal/db/dbtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "pgserver: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	s, err := dbtest.StartServer(sctx)
	cancel()
	if err != nil {
		return err
	}
	fmt.Println(s.URL())
	stdinClosed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return s.Stop()
}
