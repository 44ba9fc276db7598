package measure_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/distro/distrotest"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/executor/sshtest"
	"github.com/tcbot/tcbot/bot/insncount"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
	"github.com/tcbot/tcbot/recipes"
)

// The kernel commits of the distribution scenario, on top of Debian's
// linux-source-6.1: a documentation fix (the same kernel: A/A), a write
// path that spins before every write (the LAMP stack writes on every
// request: logs, sockets, MariaDB), and an init that panics.
var distroCommits = []demo.Change{
	kernelCommits[0],
	{Subject: "fs: read_write: spin before every write", Edits: []demo.Edit{{
		File: "fs/read_write.c",
		Old:  "ssize_t ksys_write(unsigned int fd, const char __user *buf, size_t count)\n{\n",
		New:  "ssize_t ksys_write(unsigned int fd, const char __user *buf, size_t count)\n{\n\t{ volatile int spin; for (spin = 0; spin < 20000; spin++) ; }\n",
	}}},
	kernelCommits[2],
}

// TestDistroLAMP measures the distribution scenario for real: a Debian
// bookworm image (Apache, PHP-FPM, MariaDB and tcbot's PHP blog) built
// from Debian's archive, booted under qemu-system with kernels built from
// Debian's linux-source-6.1 (tinyconfig and the distro-lamp recipe's
// fragment), the load generator inside the guest. The documentation
// commit changes nothing (A/A); a write path that spins is a regression
// in instructions per request; a kernel whose init panics fails the
// change. The image and the kernel trees are kept under the test cache
// (a fresh machine pays the image build, about 10 minutes, and a cold
// kernel build).
func TestDistroLAMP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian image and Linux (minutes cold)")
	}
	realsrc.Need(t, linuxTarball, "linux-source-6.1", false)
	for _, tool := range []string{"mmdebstrap", "genext2fs", "arch-test", "qemu-aarch64-static"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing (make test-deps installs it)", tool)
			}
			t.Skipf("%s missing (make test-deps installs it)", tool)
		}
	}
	arches := []string{"armv8"}
	if os.Getenv("TCBOT_TEST_REAL") != "" {
		arches = append(arches, "armv7")
	}
	busybox := map[string]string{}
	for _, a := range arches {
		busybox[a] = kerneltest.Fetch(t, a).Busybox
	}
	repo := realsrc.Make(t, "linux-6.1-distro", linuxTarball, distroCommits)
	base, docs, slow, panics := repo.SHAs["release"], repo.SHAs[distroCommits[0].Subject], repo.SHAs[distroCommits[1].Subject], repo.SHAs[distroCommits[2].Subject]
	work := filepath.Join(realsrc.CacheDir(t), "distro-ci-work")
	m := distroMeasurer(t, t.TempDir(), work, repo.Dir, busybox)
	defer m.Store.Close()
	run := runChanges(t, m, "linux")
	var targets []string
	for _, a := range arches {
		targets = append(targets, a+"-vm")
	}

	rep := run("documentation commit (A/A)", docs, base)
	if rep.Verdict == compare.Regression || rep.Verdict == compare.Failed {
		t.Errorf("the same kernel: verdict %s", rep.Verdict)
	}
	for _, tg := range targets {
		for _, page := range []string{"lamp-read", "lamp-write"} {
			ipr := find(rep, tg, page, "instructions-per-request")
			if ipr == nil || ipr.Base == nil || ipr.Head == nil || *ipr.Base < 100_000 {
				t.Errorf("%s %s: instructions-per-request %+v: want a count at both sides", tg, page, ipr)
				continue
			}
			if ipr.Verdict != compare.Unchanged {
				t.Errorf("%s %s: the same kernel changed instructions-per-request: %s %+.2f%%", tg, page, ipr.Verdict, *ipr.DeltaPct)
			}
			for _, metric := range []string{"requests-per-second", "latency-p50-ms", "latency-p99-ms"} {
				if c := find(rep, tg, page, metric); c == nil || c.Base == nil || c.Head == nil || *c.Head <= 0 {
					t.Errorf("%s %s: %s %+v: want a value at both sides", tg, page, metric, c)
				}
			}
		}
		if boot := find(rep, tg, measure.BootBenchmark, result.BootTime); boot == nil || boot.BaseN < 1 || boot.HeadN < 1 {
			t.Errorf("%s: boot-time %+v: want both sides booted to a ready web server", tg, boot)
		}
	}

	rep = run("a write path that spins", slow, docs)
	if rep.Verdict != compare.Regression {
		t.Errorf("a slower write path: verdict %s, want regression", rep.Verdict)
	}
	for _, tg := range targets {
		for _, page := range []string{"lamp-read", "lamp-write"} {
			ipr := find(rep, tg, page, "instructions-per-request")
			if ipr == nil || ipr.Verdict != compare.Regression {
				t.Errorf("%s %s: instructions-per-request %+v: want a regression", tg, page, ipr)
			}
		}
	}

	rep = run("init panics", panics, docs)
	if rep.Verdict != compare.Failed {
		t.Errorf("a kernel whose init panics: verdict %s, want failed", rep.Verdict)
	}
	for _, tg := range targets {
		if st := find(rep, tg, "lamp-read", result.Status); st == nil || st.Verdict != compare.Failed {
			t.Errorf("%s: lamp-read status %+v: want failed", tg, st)
		}
		if st := find(rep, tg, measure.BootBenchmark, result.Status); st == nil || st.Verdict != compare.Failed || !strings.Contains(st.Note+fmt.Sprint(rep.Notes), "panic") {
			t.Errorf("%s: boot status %+v: want failed, saying the kernel panicked", tg, st)
		}
	}
}

// distroMeasurer measures the kernel repository at repoDir with the
// distro-lamp recipe on one qemu-system target per arch of busybox.
func distroMeasurer(tb testing.TB, dir, work, repoDir string, busybox map[string]string) *measure.Measurer {
	tb.Helper()
	cc := map[string]string{"armv8": "aarch64-linux-gnu-gcc", "armv7": "arm-linux-gnueabihf-gcc"}
	var host, targets strings.Builder
	for _, arch := range []string{"armv8", "armv7"} {
		if busybox[arch] == "" {
			continue
		}
		fmt.Fprintf(&host, "      %s: {cc: %s, cflags: \"-O2\"}\n", arch, cc[arch])
		fmt.Fprintf(&targets, "  - {name: %s-vm, arch: %s, executor: qemu-system, samples: 3, busybox: %s}\n", arch, arch, busybox[arch])
	}
	text := "workdir: " + work + "\ndatabase: sqlite://" + dir + "/tcbot.db\nrepos:\n  - name: linux\n    url: " + repoDir +
		"\n    recipe: distro-lamp\n    toolchain: host\n    host:\n" + host.String() + "targets:\n" + targets.String()
	path := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkDistroLAMP prints what the distribution scenario costs on this
// machine (make bench): the armv8 image built fresh (mmdebstrap and the
// first boot, in an empty directory) and found cached, the boot of the
// LAMP system to a ready web server (host wall and guest clock), and the
// spread of instructions per request of the read and write pages over 5
// boots of the same kernel (-icount, one sample per page per boot after
// the warm-up). The kernel comes from TestDistroLAMP's cache (built there
// first when missing).
func BenchmarkDistroLAMP(b *testing.B) {
	realsrc.Need(b, linuxTarball, "linux-source-6.1", false)
	busybox := kerneltest.Fetch(b, "armv8").Busybox
	repo := realsrc.Make(b, "linux-6.1-distro", linuxTarball, distroCommits)
	work := filepath.Join(realsrc.CacheDir(b), "distro-ci-work")
	m := distroMeasurer(b, b.TempDir(), work, repo.Dir, map[string]string{"armv8": busybox})
	defer m.Store.Close()
	docs := repo.SHAs[distroCommits[0].Subject]
	if _, _, err := m.Run(context.Background(), measure.Request{Repo: "linux", Rev: docs, Base: repo.SHAs["release"]}); err != nil {
		b.Fatal(err)
	}
	kernels, _ := filepath.Glob(filepath.Join(work, "kernel-build", "linux", docs+"-armv8-*", "Image"))
	if len(kernels) == 0 {
		b.Fatal("no kernel built for the documentation commit")
	}
	loadgens, _ := filepath.Glob(filepath.Join(work, "distro", "loadgen", "armv8-*", "loadgen"))
	if len(loadgens) == 0 {
		b.Fatal("no load generator built")
	}
	// TCBOT_BENCH_FRESH_IMAGE=0 leaves out the fresh build (12 minutes
	// on 2 cores) when only the boots are wanted.
	fresh := b.TempDir()
	if os.Getenv("TCBOT_BENCH_FRESH_IMAGE") == "0" {
		fresh = ""
	}
	for i := 0; i < b.N; i++ {
		r, err := distrotest.Measure(context.Background(), distrotest.Options{
			Recipe: m.Recipes["linux"], Kernel: kernels[0], Busybox: busybox, Plugin: m.Plugin, Loadgen: loadgens[0],
			FreshDir: fresh, CachedDir: filepath.Join(work, "distro"), Boots: 5, Log: b.Logf,
		})
		if err != nil {
			b.Fatal(err)
		}
		if fresh != "" {
			b.ReportMetric(r.FreshBuild.Seconds(), "image-fresh-s")
		}
		b.ReportMetric(r.CachedBuild.Seconds(), "image-cached-s")
		b.ReportMetric(r.BootWall.Seconds(), "boot-wall-s")
		b.ReportMetric(r.BootGuest.Seconds(), "boot-guest-s")
		for _, p := range r.Pages {
			b.ReportMetric(p.Median, p.Page+"-insn/req")
			b.ReportMetric(p.SpreadPct, p.Page+"-spread-%")
			b.Logf("%s: instructions per request over %d boots: %v (median %.0f, spread %.3f%%)", p.Page, len(p.Samples), p.Samples, p.Median, p.SpreadPct)
		}
	}
}

// TestDistroLAMPOnABoard runs the distribution scenario's load over SSH on
// a board that already runs Debian: the image TestDistroLAMP built, booted
// under qemu-system with the documentation commit's kernel, its own sshd
// on a forwarded port and the test's key laid over the image (the overlay
// a glibc under test would use), stands in for the board. tcbot uploads
// the load generator, starts the stack with the image's script and loads
// both pages, base and head interleaved: requests per second and
// latencies, no instruction counts (no plugin on a board); and tcbot
// target check says what the board runs.
func TestDistroLAMPOnABoard(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the Debian image (after TestDistroLAMP)")
	}
	realsrc.Need(t, linuxTarball, "linux-source-6.1", false)
	work := filepath.Join(realsrc.CacheDir(t), "distro-ci-work")
	repo := realsrc.Make(t, "linux-6.1-distro", linuxTarball, distroCommits)
	docs := repo.SHAs[distroCommits[0].Subject]
	kernels, _ := filepath.Glob(filepath.Join(work, "kernel-build", "linux", docs+"-armv8-*", "Image"))
	images, _ := filepath.Glob(filepath.Join(work, "distro", "armv8-*", "rootfs.img"))
	if len(kernels) == 0 || len(images) == 0 {
		t.Fatalf("no kernel or image in %s: TestDistroLAMP builds them first", work)
	}
	busybox := kerneltest.Fetch(t, "armv8").Busybox
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	overlay := filepath.Join(dir, "overlay")
	if err := os.MkdirAll(filepath.Join(overlay, "root", ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(overlay, "root", ".ssh", "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	port := sshtest.FreePort(t)
	q := &executor.QEMUSystem{Arch: "armv8", Kernel: kernels[0], Busybox: busybox, Disk: images[0], Overlay: overlay,
		HostForward: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:22", port)}, BootTimeout: 15 * time.Minute,
		Stage2: "chmod 700 /root /root/.ssh && mkdir -p /run/sshd && ssh-keygen -A && /usr/sbin/sshd"}
	if err := q.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer q.Cleanup()
	hosts, err := exec.Command("ssh-keyscan", "-p", fmt.Sprint(port), "127.0.0.1").Output()
	if err != nil || len(hosts) == 0 {
		t.Fatalf("ssh-keyscan: %v", err)
	}
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, hosts, 0o644); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`workdir: %s
database: sqlite://%s/tcbot.db
repos:
  - name: linux
    url: %s
    recipe: distro-lamp
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2"}}
targets:
  - {name: armv8-board, arch: armv8, executor: ssh, ssh: {host: 127.0.0.1, port: %d, user: root, key_file: %s, known_hosts: %s, max_load: 100}}
`, work, dir, repo.Dir, port, key, known)
	cfgPath := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	msg, err := m.CheckTarget(context.Background(), "armv8-board", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tcbot target check:\n%s", msg)
	for _, want := range []string{"serves the LAMP application", "apache2 2.4.", "mariadb-server 1:10.11", "tcbot-ok rows=20", "0 errors"} {
		if !strings.Contains(msg, want) {
			t.Errorf("target check does not say %q", want)
		}
	}
	rep, _, err := m.Run(context.Background(), measure.Request{Repo: "linux", Rev: docs, Base: repo.SHAs["release"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("on the board:\n%s", reportText(t, rep))
	if len(rep.Errors) > 0 || rep.Verdict == compare.Failed || rep.Verdict == compare.Error {
		t.Errorf("verdict %s, errors %v", rep.Verdict, rep.Errors)
	}
	for _, page := range []string{"lamp-read", "lamp-write"} {
		if c := find(rep, "armv8-board", page, "requests-per-second"); c == nil || c.BaseN != 5 || c.HeadN != 5 || *c.Head <= 0 {
			t.Errorf("%s: requests-per-second %+v: want 5 samples a side", page, c)
		}
		if c := find(rep, "armv8-board", page, "instructions-per-request"); c != nil {
			t.Errorf("%s: instructions-per-request on a board: %+v", page, c)
		}
	}
}

// TestDistroImageConfiguredInTheGuest builds the image the way an
// ordinary user's tcbot must (make test-real): mmdebstrap only unpacks,
// and the packages are configured inside the guest at its first boot
// under qemu-system; the system then serves both pages under the load.
func TestDistroImageConfiguredInTheGuest(t *testing.T) {
	if os.Getenv("TCBOT_TEST_REAL") == "" {
		t.Skip("set TCBOT_TEST_REAL=1 (make test-real): configures Debian under qemu-system (tens of minutes)")
	}
	work := filepath.Join(realsrc.CacheDir(t), "distro-ci-work")
	kernels, _ := filepath.Glob(filepath.Join(work, "kernel-build", "linux", "*-armv8-*", "Image"))
	loadgens, _ := filepath.Glob(filepath.Join(work, "distro", "loadgen", "armv8-*", "loadgen"))
	if len(kernels) == 0 || len(loadgens) == 0 {
		t.Fatalf("no kernel or load generator in %s: TestDistroLAMP builds them first", work)
	}
	rec, err := recipe.Load(recipes.FS, "recipes", "distro-lamp")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(benchmarks.FS, "plugin")
	plugin, err := insncount.Build(context.Background(), sub, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A kernel that boots (the panicking commit's does not).
	var r *distrotest.Result
	for _, k := range kernels {
		r, err = distrotest.Measure(context.Background(), distrotest.Options{
			Recipe: rec, Kernel: k, Busybox: kerneltest.Fetch(t, "armv8").Busybox, Plugin: plugin, Loadgen: loadgens[0],
			CachedDir: filepath.Join(t.TempDir(), "distro"), Boots: 1, FirstBoot: true, Log: t.Logf,
		})
		if err == nil || !strings.Contains(err.Error(), "panic") {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("configured in the guest: built in %s; boot %.1fs wall; %v", r.CachedBuild.Round(time.Second), r.BootWall.Seconds(), r.Pages)
	for _, p := range r.Pages {
		if len(p.Samples) != 1 || p.Median < 100_000 {
			t.Errorf("%s: %+v", p.Page, p)
		}
	}
}
