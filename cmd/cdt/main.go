// Command cdt is the field client of cdtsync, built on clientsdk: a volunteer's phone in a
// terminal, for testers and scripts. It records activity logs offline, syncs them, and
// shows what is pending or was rejected.
//
//	cdt enroll 7KQ2M-XH4PA --server https://cdt.dongthap.gov.vn
//	cdt record --hamlet "Khóm Vĩnh Phước" --kind vneid_level2 --cccd - --consent --note "Bà Sáu"
//	cdt sync
//	cdt status
//
// Output is Vietnamese first, English second; --json prints JSON for scripts.
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
		fmt.Fprintln(os.Stderr, "cdt:", err)
		os.Exit(1)
	}
}
