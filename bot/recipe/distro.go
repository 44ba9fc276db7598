package recipe

import (
	"fmt"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/result"
)

// DistroStage describes the distribution scenario (kind: distro-lamp): the
// Debian image, the guest and the load measured in it.
type DistroStage struct {
	// Suite is Debian's release (bookworm); Sources the apt lines
	// ("deb URI SUITE COMPONENT...") the image is built from.
	Suite   string   `yaml:"suite"`
	Sources []string `yaml:"sources"`
	// Packages are installed with their dependencies (beside the
	// Essential set and apt).
	Packages []string `yaml:"packages"`
	// SizeMiB is the image's size; MemoryMiB the guest's memory.
	SizeMiB   int `yaml:"size_mib"`
	MemoryMiB int `yaml:"memory_mib"`
	// BootTimeout bounds a boot to a ready web server.
	BootTimeout string     `yaml:"boot_timeout"`
	Load        DistroLoad `yaml:"load"`
	// Metrics reported; Informational ones never decide.
	Metrics       []string `yaml:"metrics"`
	Informational []string `yaml:"informational"`
}

// DistroLoad is the load generator's run inside the guest.
type DistroLoad struct {
	// Pages are the application's pages loaded, each a benchmark: read,
	// write.
	Pages []string `yaml:"pages"`
	// Connections, Warmup (requests first, not counted) and Requests
	// (counted, between the instruction-count marks) per sample.
	Connections int `yaml:"connections"`
	Warmup      int `yaml:"warmup"`
	Requests    int `yaml:"requests"`
	// Samples per page and side, base and head interleaved.
	Samples int    `yaml:"samples"`
	Timeout string `yaml:"timeout"`
}

// DistroPages are the pages a distro-lamp recipe can load.
var DistroPages = []string{"read", "write"}

// checkDistro checks a distro-lamp recipe: its distro: key and the
// kernel it builds.
func checkDistro(path string, r *Recipe) error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", path, key, fmt.Sprintf(format, a...))
	}
	d := r.Distro
	switch {
	case d == nil:
		return bad("distro", "missing: a distro-lamp recipe needs distro.suite, distro.sources, distro.packages and distro.load")
	case d.Suite == "":
		return bad("distro.suite", "missing: name Debian's release (bookworm)")
	case len(d.Sources) == 0:
		return bad("distro.sources", "missing: give the apt source lines, e.g. \"deb http://deb.debian.org/debian bookworm main\"")
	case len(d.Packages) == 0:
		return bad("distro.packages", "missing: the packages of the LAMP stack (apache2, php8.2-fpm, php8.2-mysql, mariadb-server, curl)")
	}
	for i, s := range d.Sources {
		if f := strings.Fields(s); len(f) < 4 || f[0] != "deb" {
			return bad(fmt.Sprintf("distro.sources[%d]", i), "%q: want \"deb URI SUITE COMPONENT...\"", s)
		}
	}
	if d.SizeMiB != 0 && d.SizeMiB < 1024 {
		return bad("distro.size_mib", "%d: want at least 1024 (the LAMP system takes about 700 MiB)", d.SizeMiB)
	}
	if d.MemoryMiB != 0 && d.MemoryMiB < 512 {
		return bad("distro.memory_mib", "%d: want at least 512 (MariaDB, PHP-FPM and Apache)", d.MemoryMiB)
	}
	for _, t := range []struct{ key, v string }{{"distro.boot_timeout", d.BootTimeout}, {"distro.load.timeout", d.Load.Timeout}} {
		if t.v != "" {
			if v, err := time.ParseDuration(t.v); err != nil || v <= 0 {
				return bad(t.key, "%q is not a positive duration (e.g. 15m)", t.v)
			}
		}
	}
	l := d.Load
	if len(l.Pages) == 0 {
		return bad("distro.load.pages", "missing: want some of %s", strings.Join(DistroPages, ", "))
	}
	for _, p := range l.Pages {
		ok := false
		for _, k := range DistroPages {
			ok = ok || p == k
		}
		if !ok {
			return bad("distro.load.pages", "%q: want some of %s", p, strings.Join(DistroPages, ", "))
		}
	}
	switch {
	case l.Requests <= 0:
		return bad("distro.load.requests", "%d: want the number of requests counted per sample (> 0)", l.Requests)
	case l.Connections <= 0:
		return bad("distro.load.connections", "%d: want > 0", l.Connections)
	case l.Warmup < 0:
		return bad("distro.load.warmup", "%d: want >= 0", l.Warmup)
	case l.Samples <= 0:
		return bad("distro.load.samples", "%d: want > 0", l.Samples)
	}
	known := map[string]bool{}
	for _, m := range d.Metrics {
		if _, ok := result.LookupMetric(m); !ok {
			return bad("distro.metrics", "unknown metric %q", m)
		}
		known[m] = true
	}
	for _, m := range d.Informational {
		if !known[m] {
			return bad("distro.informational", "%q is not one of distro.metrics", m)
		}
	}
	return checkKernel(path, r)
}
