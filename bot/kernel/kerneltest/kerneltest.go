// Package kerneltest gives tests one shared cache of Debian kernels and
// busybox, so the packages that boot guests download them once per
// machine, not once per test.
package kerneltest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/kernel"
)

// CacheDir is the kernel cache tests share: $TCBOT_TEST_KERNEL_CACHE, or
// tcbot-test-kernels in the user's cache directory. (bot/kernel locks it,
// so test processes running at once share it safely.)
func CacheDir(t testing.TB) string {
	if d := os.Getenv("TCBOT_TEST_KERNEL_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "tcbot-test-kernels")
}

// Guest is what booting one arch needs.
type Guest struct {
	Kernel  *kernel.Image
	Busybox string
}

// Fetch returns Debian's kernel and busybox for arch from the shared
// cache, downloading them the first time; it fails the test if it cannot.
func Fetch(t testing.TB, arch string) Guest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := CacheDir(t)
	k, err := kernel.Debian(ctx, dir, arch)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := kernel.Busybox(ctx, dir, arch)
	if err != nil {
		t.Fatal(err)
	}
	return Guest{Kernel: k, Busybox: bb}
}
