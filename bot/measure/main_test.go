package measure_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tcbot/tcbot/bot/distro"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/recipes"
)

// TestMain starts, when the whole package runs, the bootstrap of the
// distribution scenario's arm64 image (mmdebstrap, about 12 minutes on a
// fresh machine) in the background, so that it overlaps the package's
// other tests instead of adding to them; TestDistroLAMP's build then
// starts from it (Builder.Bootstrap, under the image's lock). It is a
// cache warm-up: a test that needs the image builds it anyway.
func TestMain(m *testing.M) {
	flag.Parse()
	stop := bootstrapImage()
	code := m.Run()
	stop()
	os.Exit(code)
}

func bootstrapImage() (stop func()) {
	nothing := func() {}
	if testing.Short() || flag.Lookup("test.run").Value.String() != "" || flag.Lookup("test.bench").Value.String() != "" {
		return nothing
	}
	for _, tool := range []string{"mmdebstrap", "genext2fs", "arch-test", "qemu-aarch64-static"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nothing
		}
	}
	if _, err := os.Stat(linuxTarball); err != nil {
		return nothing
	}
	cache := os.Getenv("TCBOT_TEST_CACHE")
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return nothing
		}
		cache = filepath.Join(d, "tcbot-test")
	}
	rec, err := recipe.Load(recipes.FS, "recipes", "distro-lamp")
	if err != nil || rec.Distro == nil {
		return nothing
	}
	d := rec.Distro
	b := &distro.Builder{Dir: filepath.Join(cache, "distro-ci-work", "distro"),
		Log: func(format string, a ...any) { fmt.Fprintf(os.Stderr, "bootstrap: "+format+"\n", a...) }}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		spec := distro.Spec{Suite: d.Suite, Sources: d.Sources, Packages: d.Packages, SizeMiB: d.SizeMiB}
		if err := b.Bootstrap(ctx, spec, "armv8"); err != nil {
			fmt.Fprintf(os.Stderr, "bootstrap of the armv8 image beside the tests: %v (TestDistroLAMP builds it)\n", err)
		}
	}()
	// Not cancelled: it is waited for (a package run that does not wait
	// for it in TestDistroLAMP ends within its 12 minutes).
	return wg.Wait
}
