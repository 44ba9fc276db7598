package measure_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/lava/lavatest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
	"github.com/tcbot/tcbot/recipes"
)

// labLoad is the lab test's load, smaller than the recipe's (5 samples of
// 200 requests after 50): a LAVA job per side, each sample of the read
// page about 2 s under TCG here.
var labLoad = map[string]string{"warmup": "5", "requests": "20", "samples": "3", "timeout": "2m"}

// TestDistroLAMPInTheLab measures the distribution scenario in the real
// LAVA lab (deploy/lava/lava-setup.sh; TCBOT_TEST_LAVA): the kernels and
// the Debian image are TestDistroLAMP's (the same cache work dir and
// kernel repository, so they are built once per machine), and each side
// boots in a LAVA job on a qemu device: the kernel under test, the image
// (compressed once beside it, decompressed by LAVA), tcbot's ramdisk and
// the load generator downloaded from tcbot's artifact server; the job
// starts the LAMP stack and loads both pages inside the guest. The
// documentation commit is unchanged with requests per second and
// latencies at both sides (no instruction counts in a lab); the kernel
// whose init panics fails the change, with the panic LAVA's log shows.
// The recipe is distro-lamp's with a smaller load (labLoad), from the
// config's recipes_dir.
func TestDistroLAMPInTheLab(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the Debian image in the LAVA lab (after building it and the kernels, minutes cold)")
	}
	lab := lavatest.Lab(t)
	realsrc.Need(t, linuxTarball, "linux-source-6.1", os.Getenv(lavatest.EnvURL) != "")
	for _, tool := range []string{"mmdebstrap", "genext2fs", "arch-test", "qemu-aarch64-static"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s missing (make test-deps installs it): the image for the lab is built here", tool)
		}
	}
	t.Setenv("TCBOT_TEST_LAVA_TOKEN", lab.Token)
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()

	repo := realsrc.Make(t, "linux-6.1-distro", linuxTarball, distroCommits)
	base, docs, panics := repo.SHAs["release"], repo.SHAs[distroCommits[0].Subject], repo.SHAs[distroCommits[2].Subject]
	work := filepath.Join(realsrc.CacheDir(t), "distro-ci-work")
	dir := t.TempDir()
	recipesDir := filepath.Join(dir, "recipes")
	labRecipe(t, recipesDir)
	// Timings under TCG on a shared host inform (the recipe says so for
	// every booted target); status decides.
	text := fmt.Sprintf(`workdir: %s
database: sqlite://%s/tcbot.db
recipes_dir: %s
repos:
  - name: linux
    url: %s
    recipe: distro-lamp
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2"}}
targets:
  - name: armv8-lab
    arch: armv8
    executor: lava
    lava: {url: %q, token_env: TCBOT_TEST_LAVA_TOKEN, device_type: qemu, retries: 1}
`, work, dir, recipesDir, repo.Dir, lab.URL)
	cfgPath := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	run := func(what, head, base string) *report.Report {
		t.Helper()
		start := time.Now()
		rep, st, err := m.Run(ctx, measure.Request{Repo: "linux", Rev: head, Base: base})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: measured in %s (%d load runs, %d measurements stored):\n%s", what, time.Since(start).Round(time.Second), st.Runs, st.Measured, reportText(t, rep))
		if len(rep.Errors) > 0 {
			t.Errorf("%s: infrastructure errors: %v", what, rep.Errors)
		}
		return rep
	}
	const tg = "armv8-lab"

	rep := run("documentation commit (A/A) in the lab", docs, base)
	if rep.Verdict != compare.Unchanged {
		t.Errorf("the same kernel: verdict %s, want unchanged", rep.Verdict)
	}
	for _, page := range []string{"lamp-read", "lamp-write"} {
		for _, metric := range []string{"requests-per-second", "latency-p50-ms", "latency-p99-ms"} {
			c := find(rep, tg, page, metric)
			if c == nil || c.Base == nil || c.Head == nil || *c.Base <= 0 || *c.Head <= 0 || c.BaseN != 3 || c.HeadN != 3 {
				t.Errorf("%s %s: %+v: want 3 samples a side", page, metric, c)
				continue
			}
			t.Logf("%s %s: base %.4g, head %.4g %s (%s, p %s)", page, metric, *c.Base, *c.Head, c.Unit, c.Verdict, num(c.P))
		}
		if st := find(rep, tg, page, result.Status); st != nil {
			t.Errorf("%s status %+v: want passed at both sides (no comparison)", page, st)
		}
		if c := find(rep, tg, page, "instructions-per-request"); c != nil {
			t.Errorf("%s: instructions-per-request in a lab (no plugin there): %+v", page, c)
		}
	}
	// The LAMP stack started at both sides: a side has a boot time (to a
	// ready web server) only when tcbot-lamp-start passed, and a status
	// that passed at both sides is no comparison.
	if st := find(rep, tg, measure.BootBenchmark, result.Status); st != nil {
		t.Errorf("boot status %+v: want the system up at both sides", st)
	}
	if boot := find(rep, tg, measure.BootBenchmark, result.BootTime); boot == nil || boot.BaseN != 1 || boot.HeadN != 1 || *boot.Base <= 0 || *boot.Head <= 0 {
		t.Errorf("boot-time %+v: want both sides booted to a ready web server", boot)
	} else {
		t.Logf("to a ready web server (guest clock): base %.1fs, head %.1fs", *boot.Base, *boot.Head)
	}

	rep = run("init panics, in the lab", panics, docs)
	if rep.Verdict != compare.Failed {
		t.Errorf("a kernel whose init panics: verdict %s, want failed", rep.Verdict)
	}
	if st := find(rep, tg, "lamp-read", result.Status); st == nil || st.Verdict != compare.Failed {
		t.Errorf("lamp-read status %+v: want failed", st)
	}
	st := find(rep, tg, measure.BootBenchmark, result.Status)
	if st == nil || st.Verdict != compare.Failed || !strings.Contains(st.Note+fmt.Sprint(rep.Notes), "tcbot: broken on purpose") {
		t.Errorf("boot status %+v (notes %q): want failed, with the kernel's panic", st, rep.Notes)
	}
	for _, c := range append(rep.Comparisons, rep.Info...) {
		if c.Verdict == compare.Regression {
			t.Errorf("a kernel that does not boot made a regression: %+v", c)
		}
	}
}

// labRecipe writes the distro-lamp recipe, with the load labLoad, into
// dir.
func labRecipe(t *testing.T, dir string) {
	t.Helper()
	data, err := fs.ReadFile(recipes.FS, "distro-lamp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for key, v := range labLoad {
		re := regexp.MustCompile(`(?m)^(    ` + key + `:) .*$`)
		if len(re.FindAllString(text, -1)) != 1 {
			t.Fatalf("recipes/distro-lamp.yaml: no single load key %q at the indentation of load's keys", key)
		}
		text = re.ReplaceAllString(text, "${1} "+v)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "distro-lamp.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
