// Package distrotest measures what the distribution scenario costs (the
// image built fresh and cached, the boot, the spread of instructions per
// request over boots of one kernel) for benchmarks and tests.
package distrotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/distro"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/insncount"
	"github.com/tcbot/tcbot/bot/recipe"
)

// Options say what to measure with.
type Options struct {
	Recipe          *recipe.Recipe // distro-lamp
	Arch            string         // default armv8
	Kernel, Busybox string
	Plugin, Loadgen string
	// FreshDir is an empty directory for the fresh build ("" skips it);
	// CachedDir holds the cached image.
	FreshDir, CachedDir string
	Boots               int
	// FirstBoot builds the images the unprivileged way (packages
	// configured in the guest).
	FirstBoot bool
	Log       func(format string, a ...any)
}

// Page is one page's instructions per request over the boots.
type Page struct {
	Page      string
	Samples   []float64
	Median    float64
	SpreadPct float64 // (max - min) / median
}

// Result is what was measured.
type Result struct {
	FreshBuild, CachedBuild time.Duration
	// Method is how the fresh image's packages were configured.
	Method              string
	BootWall, BootGuest time.Duration // medians
	Pages               []Page
}

// Measure builds (or finds) the image, then boots it Boots times.
func Measure(ctx context.Context, o Options) (*Result, error) {
	d := o.Recipe.Distro
	spec := distro.Spec{Suite: d.Suite, Sources: d.Sources, Packages: d.Packages, SizeMiB: d.SizeMiB}
	arch := o.Arch
	if arch == "" {
		arch = "armv8"
	}
	var r Result
	if o.FreshDir != "" {
		b := &distro.Builder{Dir: o.FreshDir, Kernel: o.Kernel, Busybox: o.Busybox, Log: o.Log, FirstBoot: o.FirstBoot}
		start := time.Now()
		img, err := b.Ensure(ctx, spec, arch)
		if err != nil {
			return nil, err
		}
		r.FreshBuild, r.Method = time.Since(start), img.Method
		o.logf("fresh image: %s (%s; bootstrap %.0fs)", r.FreshBuild.Round(time.Second), img.Method, img.Bootstrap)
		os.RemoveAll(o.FreshDir)
	}
	b := &distro.Builder{Dir: o.CachedDir, Kernel: o.Kernel, Busybox: o.Busybox, Log: o.Log, FirstBoot: o.FirstBoot}
	start := time.Now()
	img, err := b.Ensure(ctx, spec, arch)
	if err != nil {
		return nil, err
	}
	r.CachedBuild = time.Since(start)
	if !img.Cached {
		o.logf("the image was not cached: built in %s", r.CachedBuild.Round(time.Second))
	}
	var walls, guests []time.Duration
	samples := map[string][]float64{}
	for i := 0; i < o.Boots; i++ {
		w, g, ipr, err := boot(ctx, o, img.Path, arch)
		if err != nil {
			return nil, fmt.Errorf("boot %d: %w", i+1, err)
		}
		walls, guests = append(walls, w), append(guests, g)
		for p, v := range ipr {
			samples[p] = append(samples[p], v)
		}
		o.logf("boot %d: %.1fs wall, %.2fs guest, %v", i+1, w.Seconds(), g.Seconds(), ipr)
	}
	slices.Sort(walls)
	slices.Sort(guests)
	r.BootWall, r.BootGuest = walls[len(walls)/2], guests[len(guests)/2]
	for _, p := range d.Load.Pages {
		s := samples[p]
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		med := sorted[len(sorted)/2]
		r.Pages = append(r.Pages, Page{Page: p, Samples: s, Median: med, SpreadPct: (sorted[len(sorted)-1] - sorted[0]) / med * 100})
	}
	return &r, nil
}

func (o Options) logf(format string, a ...any) {
	if o.Log != nil {
		o.Log(format, a...)
	}
}

// boot boots the image once and loads each page once after the warm-up.
func boot(ctx context.Context, o Options, img, arch string) (wall, guest time.Duration, ipr map[string]float64, err error) {
	marks, err := os.CreateTemp("", "tcbot-marks-")
	if err != nil {
		return 0, 0, nil, err
	}
	marks.Close()
	defer os.Remove(marks.Name())
	d := o.Recipe.Distro
	q := &executor.QEMUSystem{Arch: arch, Kernel: o.Kernel, Busybox: o.Busybox, Disk: img, Stage2: distro.StartCommand,
		MemoryMiB: d.MemoryMiB, BootTimeout: 15 * time.Minute, Files: []string{o.Loadgen},
		Plugin: o.Plugin, PluginArgs: []string{"marks=" + marks.Name()}}
	if err := q.Prepare(ctx); err != nil {
		return 0, 0, nil, err
	}
	defer q.Cleanup()
	info, _ := q.Boot()
	ipr = map[string]float64{}
	for _, p := range d.Load.Pages {
		url := distro.ReadPage
		if p == "write" {
			url = distro.WritePage
		}
		out, err := q.Run(ctx, executor.Spec{Name: p, Argv: []string{"./" + filepath.Base(o.Loadgen), "-M", "-w", strconv.Itoa(d.Load.Warmup), "-n", strconv.Itoa(d.Load.Requests),
			"-c", strconv.Itoa(d.Load.Connections), "-e", distro.PageOK, url}, Timeout: 10 * time.Minute})
		if err != nil {
			return 0, 0, nil, err
		}
		if out.ExitCode != 0 || !strings.Contains(string(out.Stdout), "errors: 0\n") {
			return 0, 0, nil, fmt.Errorf("%s: exit %d: %s%s", p, out.ExitCode, out.Stdout, out.Stderr)
		}
		m, err := insncount.ReadMarks(marks.Name())
		if err != nil || len(m) < 2 {
			return 0, 0, nil, fmt.Errorf("%s: marks %v: %v", p, m, err)
		}
		ipr[p] = float64(m[len(m)-1]-m[len(m)-2]) / float64(d.Load.Requests)
	}
	return info.Time, info.GuestUptime, ipr, nil
}
