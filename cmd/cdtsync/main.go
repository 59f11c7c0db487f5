// Command cdtsync is the cdtsync server and its admin tool.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewMain().Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cdtsync:", err)
		os.Exit(1)
	}
}
