package lava

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"gopkg.in/yaml.v3"

	"github.com/tcbot/tcbot/bot/kernel"
)

// DistroLAMPFiles are the host files a distro-lamp job downloads from
// tcbot's artifact server.
type DistroLAMPFiles struct {
	// Kernel is the kernel under test (Image on armv8, zImage on armv7).
	Kernel string
	// Image is the root file system image (bot/distro's rootfs.img),
	// compressed with ImageCompression (gz, xz, zstd, bz2 or "").
	Image, ImageCompression string
	// Loadgen is the load generator, a static binary for the arch.
	Loadgen string
}

// DistroLAMPOutcome is how one distro-lamp job ended, when it ended in a
// way that says something about the kernel under test.
type DistroLAMPOutcome struct {
	// Job is the LAVA job's id (the last one submitted), URL its page.
	Job int
	URL string
	// Results are the measurements of a job that booted the system and
	// ran the test; nil after a BootFailure or RunFailure.
	Results *LAMPResults
	// BootFailure says why the kernel under test did not boot the system
	// to the shell prompt: its panic, or LAVA's reason and the console's
	// last lines. RunFailure says why the guest died after it booted (a
	// panic during the test). Empty when nothing of the sort happened.
	BootFailure, RunFailure string
	// BootSeconds is LAVA's boot action (host wall, from starting QEMU to
	// the shell prompt); 0 when LAVA did not say.
	BootSeconds float64
	// Took is from the (last) submission to the job's end.
	Took time.Duration
}

// PrepareDistroLAMP readies the executor for distro-lamp jobs (instead of
// Prepare, which readies it for benchmark batches): it checks the lab
// (token, device type, a usable device on an online worker), builds
// tcbot's distro-lamp ramdisk (DistroLAMPRamdisk, with the arch's busybox)
// and starts the artifact server. Cleanup undoes it; calling it again is a
// no-op.
func (e *Executor) PrepareDistroLAMP(ctx context.Context) error {
	e.mu.Lock()
	ready := e.srv != nil
	e.mu.Unlock()
	if ready {
		return nil
	}
	if e.Client == nil || e.Client.URL == "" {
		return e.infra(errors.New("no LAVA url"))
	}
	if _, err := kernel.LookupArch(e.Arch); err != nil {
		return e.infra(err)
	}
	lab, err := e.checkLab(ctx)
	if err != nil {
		return e.infra(err)
	}
	busybox := e.Busybox
	if busybox == "" {
		if busybox, err = kernel.Busybox(ctx, e.CacheDir, e.Arch); err != nil {
			return e.infra(err)
		}
	}
	tmp, err := os.MkdirTemp("", "tcbot-lava-distro-")
	if err != nil {
		return e.infra(err)
	}
	ramdisk := filepath.Join(tmp, "distro-lamp-ramdisk.cpio.gz")
	f, err := os.Create(ramdisk)
	if err == nil {
		err = DistroLAMPRamdisk(f, busybox)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return e.infra(err)
	}
	srv, err := sharedServer(e.listen(), e.ArtifactURL)
	if err != nil {
		os.RemoveAll(tmp)
		return e.infra(err)
	}
	e.mu.Lock()
	e.tmp, e.lab, e.srv = tmp, lab, srv
	e.mu.Unlock()
	return nil
}

// RunDistroLAMP runs one distro-lamp job: it publishes f's files and
// tcbot's ramdisk under a fresh URL, renders j (the executor's device
// type, tags, priority, visibility, CPU, memory, kernel arguments and
// boot timeout fill in what j leaves empty), submits it, waits, and reads
// the results back.
//
// A job that ends Complete gives Results. A kernel under test that does
// not boot the system (it panicked, or the console shows it ran but the
// shell prompt never came) gives BootFailure, and one that panics later
// RunFailure: both are the kernel's, not the lab's, and are not
// submitted again. Any other end (the lab, the download, a job LAVA
// refused, results missing) is submitted again up to Retries times, then
// it is an *executor.InfraError.
func (e *Executor) RunDistroLAMP(ctx context.Context, j DistroLAMP, f DistroLAMPFiles) (*DistroLAMPOutcome, error) {
	e.mu.Lock()
	srv, ramdisk := e.srv, filepath.Join(e.tmp, "distro-lamp-ramdisk.cpio.gz")
	e.mu.Unlock()
	if srv == nil {
		return nil, e.infra(errors.New("RunDistroLAMP before PrepareDistroLAMP"))
	}
	a, err := kernel.LookupArch(j.Arch)
	if err != nil {
		return nil, err
	}
	imageName := "rootfs.img"
	if f.ImageCompression != "" {
		imageName += "." + f.ImageCompression
	}
	pub, err := srv.Publish(map[string]string{
		a.Format: f.Kernel, imageName: f.Image, "ramdisk.cpio.gz": ramdisk, "loadgen": f.Loadgen,
	})
	if err != nil {
		return nil, e.infra(err)
	}
	defer pub.Withdraw()
	j.KernelURL, j.ImageURL, j.ImageCompression = pub.URL(a.Format), pub.URL(imageName), f.ImageCompression
	j.RamdiskURL, j.LoadgenURL = pub.URL("ramdisk.cpio.gz"), pub.URL("loadgen")
	if j.DeviceType == "" {
		j.DeviceType = e.DeviceType
	}
	if j.Tags == nil {
		j.Tags = e.Tags
	}
	if j.Priority == "" {
		j.Priority = e.Priority
	}
	if j.Visibility == "" {
		j.Visibility = e.Visibility
	}
	if j.CPU == "" {
		j.CPU = e.CPU
	}
	if j.Memory == 0 {
		j.Memory = e.Memory
	}
	if j.KernelArgs == "" {
		j.KernelArgs = e.KernelArgs
	}
	if j.BootTimeout == 0 {
		j.BootTimeout = e.BootTimeout
	}
	if j.JobName == "" {
		j.JobName = strings.TrimSpace(e.JobName + " distro-lamp")
	}
	def, err := j.Definition()
	if err != nil {
		return nil, err
	}
	return withRetries(ctx, e, func() (*DistroLAMPOutcome, bool, error) { return e.distroJob(ctx, j, def) })
}

// distroJob runs one distro-lamp job to its end; retry tells whether
// submitting it again may help.
func (e *Executor) distroJob(ctx context.Context, dj DistroLAMP, def string) (out *DistroLAMPOutcome, retry bool, err error) {
	c := e.Client
	id, err := c.Submit(ctx, def)
	if err != nil {
		var ae *APIError
		return nil, !errors.As(err, &ae) || ae.Status >= 500, fmt.Errorf("submit job: %w", err)
	}
	e.mu.Lock()
	e.jobs = append(e.jobs, id)
	e.mu.Unlock()
	log := e.Log
	if log != nil {
		log = log.WithFields(logrus.Fields{"lava_job": id, "url": c.JobURL(id)})
		log.Info("lava distro-lamp job submitted")
	}
	start := time.Now()
	job, err := c.Wait(ctx, id, e.Poll)
	if err != nil {
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.Cancel(cctx, id)
			cancel()
			return nil, false, fmt.Errorf("job %d (%s) canceled: %w", id, c.JobURL(id), ctx.Err())
		}
		return nil, true, fmt.Errorf("wait for job %d (%s): %w", id, c.JobURL(id), err)
	}
	out = &DistroLAMPOutcome{Job: id, URL: c.JobURL(id), Took: time.Since(start)}
	if log != nil {
		log.WithFields(logrus.Fields{"health": job.Health, "took": out.Took.Round(time.Millisecond)}).Info("lava distro-lamp job finished")
	}
	tests, err := c.Tests(ctx, id)
	if err != nil {
		return nil, true, fmt.Errorf("results of job %d: %w", id, err)
	}
	out.BootSeconds = bootSeconds(tests)
	if job.Health != HealthComplete {
		why := c.Failure(ctx, job)
		lines, lerr := c.Logs(ctx, id)
		if lerr != nil {
			return nil, true, fmt.Errorf("job %d ended %s: %s; its log: %w (%s)", id, job.Health, why, lerr, c.JobURL(id))
		}
		if job.Health == HealthIncomplete {
			if boot, run := KernelFailure(tests, lines, why); boot != "" || run != "" {
				out.BootFailure, out.RunFailure = boot, run
				return out, false, nil
			}
		}
		if p := KernelPanic(lines); p != "" {
			why = strings.TrimPrefix(why+"; "+p, "; ")
		}
		if why != "" {
			why = ": " + why
		}
		return nil, true, fmt.Errorf("job %d ended %s%s (%s)", id, job.Health, why, c.JobURL(id))
	}
	res, err := dj.Results(tests)
	if err != nil {
		return nil, true, fmt.Errorf("job %d (%s) ended Complete, but: %w", id, c.JobURL(id), err)
	}
	out.Results = res
	return out, false, nil
}

// Actions of LAVA's boot that wait for the shell prompt: when one fails,
// the guest never gave the prompt.
var loginActions = map[string]bool{"auto-login-action": true, "login-action": true}

// KernelFailure says whether a distro-lamp job that LAVA ended Incomplete
// failed because of the kernel under test, from the job's test cases
// (LAVA's own suite records each action), its log and LAVA's reason why:
// boot is set when the system did not reach the shell prompt although the
// kernel ran (it panicked, or it printed its banner and the prompt never
// came: the image did not mount, init died, it hung), run when the guest
// panicked after the test had started. Both empty: the lab's failure (a
// download, QEMU that did not start, a timeout after the test started
// without a panic).
func KernelFailure(tests []TestCase, log []LogLine, why string) (boot, run string) {
	started, loginFailed := false, false
	for _, tc := range tests {
		m := tc.Meta()
		if m.Definition != "lava" && tc.Name == "lamp-start" {
			started = true
		}
		if m.Definition == "lava" && loginActions[tc.Name] && tc.Result == "fail" {
			loginFailed = true
		}
	}
	panicked := KernelPanic(log)
	lava := ""
	if why != "" {
		lava = " (LAVA ended the job Incomplete: " + why + ")"
	}
	switch {
	case panicked != "" && started:
		return "", "the kernel panicked during the test: " + strings.TrimPrefix(panicked, "guest ") + lava
	case panicked != "":
		return "the kernel panicked: " + strings.TrimPrefix(panicked, "guest ") + lava, ""
	case loginFailed && !started && kernelRan(log):
		return "the system did not reach the shell prompt" + lava + "; console ends: " + consoleTail(log, 6), ""
	}
	return "", ""
}

// kernelRan reports whether the guest's kernel printed its banner on the
// console.
func kernelRan(log []LogLine) bool {
	for _, l := range log {
		if msg, ok := l.Msg.(string); ok && l.Level == "target" && (strings.Contains(msg, "Linux version") || strings.Contains(msg, "Booting Linux")) {
			return true
		}
	}
	return false
}

// consoleTail is the console's last n non-blank lines, joined with " | ".
func consoleTail(log []LogLine, n int) string {
	var lines []string
	for i := len(log) - 1; i >= 0 && len(lines) < n; i-- {
		msg, ok := log[i].Msg.(string)
		if msg = strings.TrimSpace(msg); ok && log[i].Level == "target" && msg != "" {
			lines = append([]string{msg}, lines...)
		}
	}
	if len(lines) == 0 {
		return "(nothing)"
	}
	return strings.Join(lines, " | ")
}

// bootSeconds is the duration LAVA recorded for the job's boot action
// (from starting QEMU to the shell prompt), 0 when it recorded none.
func bootSeconds(tests []TestCase) float64 {
	for _, tc := range tests {
		var m struct {
			Definition string `yaml:"definition"`
			Duration   string `yaml:"duration"`
		}
		if yaml.Unmarshal([]byte(tc.Metadata), &m) != nil || m.Definition != "lava" || !loginActions[tc.Name] || tc.Result != "pass" {
			continue
		}
		if v, err := strconv.ParseFloat(m.Duration, 64); err == nil && v > 0 {
			return v
		}
	}
	return 0
}
