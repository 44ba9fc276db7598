// Command tcbot guards the performance of the Arm toolchain and kernel:
// it measures changes under QEMU and on boards, compares them with their
// baseline and reports regressions. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
