package lava_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/lava"
)

// labJob reads what the lab answered for a distro-lamp job that
// TestDistroLAMPInTheLab (bot/measure) ran in the real lab: its test cases
// (testdata/distro-lamp-<name>-tests.json) and, when recorded, its log.
func labJob(t *testing.T, name string) ([]lava.TestCase, []lava.LogLine) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "distro-lamp-"+name+"-tests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Count   int             `json:"count"`
		Results []lava.TestCase `json:"results"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	if page.Count != len(page.Results) {
		t.Fatalf("%d of %d tests", len(page.Results), page.Count)
	}
	var log []lava.LogLine
	if raw, err := os.ReadFile(filepath.Join("testdata", "distro-lamp-"+name+"-logs.yaml")); err == nil {
		if log, err = lava.ParseLog(raw); err != nil {
			t.Fatal(err)
		}
	}
	return page.Results, log
}

// distroLab is a stand-in lab and an executor ready for distro-lamp jobs,
// with stand-in files.
func distroLab(t *testing.T) (*lava.TestLab, *lava.Executor, lava.DistroLAMPFiles) {
	t.Helper()
	lab := lava.NewTestLab(t)
	e := lab.Executor(t, "armv8", nil)
	e.Retries = 1
	t.Cleanup(func() { e.Cleanup() })
	if err := e.PrepareDistroLAMP(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := lava.DistroLAMPFiles{Kernel: filepath.Join(dir, "Image"), Image: filepath.Join(dir, "rootfs.img.zst"), ImageCompression: "zstd", Loadgen: filepath.Join(dir, "loadgen")}
	for _, p := range []string{f.Kernel, f.Image, f.Loadgen} {
		if err := os.WriteFile(p, []byte(filepath.Base(p)+" bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return lab, e, f
}

var labDistroJob = lava.DistroLAMP{Arch: "armv8", Requests: 20, Connections: 2, Warmup: 5, Samples: 3}

// TestRunDistroLAMP: a job that completes gives the pages' samples, the
// time to a ready web server, and the lab downloaded the kernel, the
// compressed image and the ramdisk from tcbot's artifact server.
func TestRunDistroLAMP(t *testing.T) {
	lab, e, f := distroLab(t)
	tests, _ := labJob(t, "lab")
	lab.Results(tests, nil)
	out, err := e.RunDistroLAMP(context.Background(), labDistroJob, f)
	if err != nil {
		t.Fatal(err)
	}
	if out.BootFailure != "" || out.RunFailure != "" || out.Results == nil || out.Job != 1 {
		t.Fatalf("%+v: want job 1's results", out)
	}
	r := out.Results
	if !r.Started || r.StartSeconds != 23.118 || r.ReadyUptime != 36.06 || out.BootSeconds <= 0 {
		t.Errorf("start %+v, boot %gs: want started in 23.118 s, ready at 36.06 s of uptime, LAVA's boot time", r, out.BootSeconds)
	}
	for _, page := range []string{"read", "write"} {
		p := r.Page(page)
		if p == nil || p.Failed != "" || len(p.RequestsPerSecond) != 3 || len(p.LatencyP50ms) != 3 || len(p.LatencyP99ms) != 3 {
			t.Errorf("%s: %+v: want 3 samples", page, p)
		}
	}
	if got := fmt.Sprint(r.Page("read").RequestsPerSecond); got != "[5.97 3.721 5.579]" {
		t.Errorf("read requests per second %s", got)
	}
	d := lab.Downloads()
	for _, w := range []string{"Image=Image bytes", "rootfs.img.zstd=", "ramdisk.cpio.gz="} {
		if !strings.Contains(d, w) {
			t.Errorf("downloads %q: no %q", d, w)
		}
	}
	if len(e.Jobs()) != 1 {
		t.Errorf("jobs %v, want one", e.Jobs())
	}
}

// TestRunDistroLAMPKernelPanics: the kernel under test panicked before
// the shell prompt (LAVA says Incomplete, "Connection closed", an
// infrastructure error): the kernel's failure, with its panic, and not
// submitted again.
func TestRunDistroLAMPKernelPanics(t *testing.T) {
	lab, e, f := distroLab(t)
	tests, log := labJob(t, "panic")
	lab.Results(tests, log)
	lab.Healths("Incomplete", "Incomplete")
	out, err := e.RunDistroLAMP(context.Background(), labDistroJob, f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.BootFailure, "Kernel panic - not syncing: tcbot: broken on purpose") || !strings.Contains(out.BootFailure, "Connection closed") || out.Results != nil {
		t.Errorf("%+v: want the boot failure with the panic and LAVA's reason", out)
	}
	if len(e.Jobs()) != 1 {
		t.Errorf("jobs %v: a kernel that panics was submitted again", e.Jobs())
	}
}

// TestRunDistroLAMPLabFails: a job that ends Incomplete with no sign of
// the kernel (a download failed) is the lab's: submitted again, then an
// infrastructure error naming the jobs.
func TestRunDistroLAMPLabFails(t *testing.T) {
	lab, e, f := distroLab(t)
	lab.Results([]lava.TestCase{
		{Name: "http-download", Result: "fail", Metadata: "case: http-download\ndefinition: lava\nlevel: 1.6.1\nresult: fail\n"},
		{Name: "job", Result: "fail", Metadata: "case: job\ndefinition: lava\nerror_msg: 'Unable to fetch http://tcbot:1/a/x/rootfs.img.zst'\nerror_type: Infrastructure\nresult: fail\n"},
	}, []lava.LogLine{{Level: "info", Msg: "start: 1 deployimages"}})
	lab.Healths("Incomplete", "Incomplete")
	out, err := e.RunDistroLAMP(context.Background(), labDistroJob, f)
	var ie *executor.InfraError
	if !errors.As(err, &ie) || out != nil {
		t.Fatalf("%+v, %v: want an infrastructure error", out, err)
	}
	for _, w := range []string{"job 2 ended Incomplete", "Unable to fetch", "2 jobs failed"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q: no %q", err, w)
		}
	}
}

// TestKernelFailure: which Incomplete jobs are the kernel's.
func TestKernelFailure(t *testing.T) {
	login := lava.TestCase{Name: "auto-login-action", Result: "fail", Metadata: "case: auto-login-action\ndefinition: lava\nlevel: '2.2'\nresult: fail\n"}
	started := lava.TestCase{Name: "lamp-start", Result: "pass", Metadata: "case: lamp-start\ndefinition: 0_distro-lamp\nresult: pass\n"}
	banner := lava.LogLine{Level: "target", Msg: "Booting Linux on physical CPU 0x0000000000 [0x411fd070]"}
	panicked := lava.LogLine{Level: "target", Msg: "[   40.1] Kernel panic - not syncing: Fatal exception in interrupt"}
	mount := lava.LogLine{Level: "target", Msg: "tcbot: cannot mount the root image /dev/vda (does the kernel have CONFIG_VIRTIO_MMIO, CONFIG_VIRTIO_BLK and CONFIG_EXT4_FS?):"}
	for _, c := range []struct {
		name      string
		tests     []lava.TestCase
		log       []lava.LogLine
		boot, run string
	}{
		{"no prompt after the banner", []lava.TestCase{login}, []lava.LogLine{banner, mount}, "the system did not reach the shell prompt (LAVA ended the job Incomplete: Connection closed); console ends: Booting Linux", ""},
		{"panic under the load", []lava.TestCase{started}, []lava.LogLine{banner, panicked}, "", "the kernel panicked during the test: Kernel panic - not syncing: Fatal exception"},
		{"no kernel output", []lava.TestCase{login}, nil, "", ""},
		{"a timeout after the start", []lava.TestCase{started}, []lava.LogLine{banner}, "", ""},
	} {
		boot, run := lava.KernelFailure(c.tests, c.log, "Connection closed")
		if (c.boot == "") != (boot == "") || !strings.HasPrefix(boot, c.boot) || (c.run == "") != (run == "") || !strings.HasPrefix(run, c.run) {
			t.Errorf("%s: boot %q, run %q; want %q, %q", c.name, boot, run, c.boot, c.run)
		}
		if c.name == "no prompt after the banner" && !strings.Contains(boot, "tcbot: cannot mount the root image") {
			t.Errorf("%s: %q does not end with the console", c.name, boot)
		}
	}
}
