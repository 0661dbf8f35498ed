// Command atoguard guards online shops against credential stuffing, the
// account takeovers it causes and the fraudulent orders that follow.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/atoguard/atoguard/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
