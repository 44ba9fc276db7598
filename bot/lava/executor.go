package lava

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/kernel"
	lavatemplates "github.com/tcbot/tcbot/deploy/lava"
)

// Defaults of the LAVA executor.
const (
	DefaultRetries     = 2
	defaultRunTimeout  = 5 * time.Minute
	defaultBootTimeout = 3 * time.Minute
	defaultMemory      = 1024
)

// Executor measures benchmarks in LAVA jobs. A job boots the target's
// kernel with an initramfs tcbot builds (Debian's static busybox, tcbot's
// run helper and timer, and the benchmark binaries of Files) on a device of
// DeviceType, runs the benchmarks and reports each run as LAVA test cases
// (status, wall time, CPU time), which tcbot reads back over the REST API.
//
// A job costs a boot (seconds under QEMU, more on a board), so the
// executor is a Batcher: RunBatch runs a whole round of runs in one job,
// in the order given. Run is a batch of one.
//
// Lifecycle: Prepare checks the lab (token, device type, a device that
// takes jobs on an online worker), fetches the kernel and busybox, builds
// the initramfs and publishes kernel and initramfs on the artifact server;
// RunBatch submits, waits with backoff, reads results; Cleanup withdraws
// the files and removes the initramfs. A job LAVA ends Incomplete or
// Canceled (the lab failed, the kernel panicked, the guest hung) is
// submitted again, up to Retries more times, then it is an
// *executor.InfraError: never a benchmark result.
type Executor struct {
	Client *Client
	// TokenEnv names the environment variable the token came from, for
	// messages; the token itself is never shown.
	TokenEnv   string
	DeviceType string
	// Tags a device must have.
	Tags []string
	// Arch is tcbot's arch: armv7 or armv8.
	Arch string
	// CPU overrides the -cpu model (default: cortex-a57 on armv8,
	// cortex-a15 on armv7).
	CPU string
	// Kernel is the kernel to boot (Image or zImage); empty means Debian's
	// for the arch, fetched into CacheDir.
	Kernel string
	// KernelArgs are added to the kernel command line.
	KernelArgs string
	// Busybox is the guest's static busybox; empty means Debian's
	// busybox-static for the arch, fetched into CacheDir.
	Busybox string
	// Memory is the guest's RAM in MiB (default 1024).
	Memory int
	// Priority (default medium) and Visibility (default public) of jobs.
	Priority, Visibility string
	// Template is the job template; nil means deploy/lava's qemu template.
	Template *template.Template
	// CacheDir holds Debian's kernels and busybox and the built timer.
	CacheDir string
	// CC is the cross compiler that builds the guest's timer
	// (aarch64-linux-gnu-gcc, arm-linux-gnueabihf-gcc).
	CC string
	// ArtifactListen is where tcbot serves kernel and initramfs
	// (default 127.0.0.1:0); ArtifactURL is how the lab reaches it
	// (default http://<ArtifactListen>/).
	ArtifactListen, ArtifactURL string
	// Files are the benchmark binaries (host paths). The guest has the
	// files of each host directory in a directory of its own, and a run's
	// Spec.Dir must be one of those host directories.
	Files []string
	// Retries is how many times a failed job is submitted again; 0 means
	// DefaultRetries, negative none.
	Retries int
	// BootTimeout bounds booting to the shell prompt (default 3m).
	BootTimeout time.Duration
	// Poll is how job states are polled (default DefaultBackoff).
	Poll Backoff
	// JobName prefixes the job names ("tcbot armv8-lab").
	JobName string
	// Log gets a line per job; nil means none.
	Log logrus.FieldLogger

	mu      sync.Mutex
	tmp     string
	srv     *ArtifactServer
	pub     *Publication
	dirs    map[string]string // host dir -> guest dir
	lab     string            // what Prepare found, for target check
	jobs    []int
	kernelF string
}

// Name implements executor.Executor.
func (e *Executor) Name() string { return "lava" }

func (e *Executor) op() string { return "lava " + e.Client.URL }

func (e *Executor) infra(err error) error {
	var ie *executor.InfraError
	if errors.As(err, &ie) {
		return err
	}
	return &executor.InfraError{Op: e.op(), Err: err}
}

// Lab describes what Prepare found in the lab (version, user, devices).
func (e *Executor) Lab() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lab
}

// Jobs returns the ids of the jobs submitted so far, in order.
func (e *Executor) Jobs() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.jobs...)
}

// Prepare implements executor.Executor.
func (e *Executor) Prepare(ctx context.Context) error {
	if e.Client == nil || e.Client.URL == "" {
		return e.infra(errors.New("no LAVA url"))
	}
	a, err := kernel.LookupArch(e.Arch)
	if err != nil {
		return e.infra(err)
	}
	lab, err := e.checkLab(ctx)
	if err != nil {
		return e.infra(err)
	}
	kpath := e.Kernel
	if kpath == "" {
		img, err := kernel.Debian(ctx, e.CacheDir, e.Arch)
		if err != nil {
			return e.infra(err)
		}
		kpath = img.Path
		lab += fmt.Sprintf("\nkernel: Debian %s %s", img.Package, img.Version)
	} else if _, err := os.Stat(kpath); err != nil {
		return e.infra(fmt.Errorf("kernel: %w", err))
	}
	busybox := e.Busybox
	if busybox == "" {
		if busybox, err = kernel.Busybox(ctx, e.CacheDir, e.Arch); err != nil {
			return e.infra(err)
		}
	}
	timer, err := BuildTimer(ctx, e.CC, filepath.Join(e.CacheDir, "lava"))
	if err != nil {
		return e.infra(err)
	}
	tmp, err := os.MkdirTemp("", "tcbot-lava-")
	if err != nil {
		return e.infra(err)
	}
	e.mu.Lock()
	e.tmp, e.lab = tmp, lab
	e.mu.Unlock()
	files := kernel.StandardFiles(busybox, kernel.ShellLoop)
	files = append(files,
		kernel.File{Path: "/tcbot/run", Data: lavatemplates.GuestRun, Mode: 0o755},
		kernel.File{Path: "/tcbot/timer", Source: timer, Mode: 0o755})
	dirs := map[string]string{}
	var hostDirs []string
	seen := map[string]bool{}
	for _, f := range e.Files {
		if seen[f] {
			continue // both sides built by one toolchain share a build
		}
		seen[f] = true
		d := filepath.Dir(f)
		if _, ok := dirs[d]; !ok {
			dirs[d] = fmt.Sprintf("/tcbot/d%d", len(dirs))
			hostDirs = append(hostDirs, d)
		}
		files = append(files, kernel.File{Path: path.Join(dirs[d], filepath.Base(f)), Source: f, Mode: 0o755})
	}
	ramdisk := filepath.Join(tmp, "ramdisk.cpio.gz")
	if err := writeInitramfs(ramdisk, files); err != nil {
		return e.infra(err)
	}
	srv, err := sharedServer(e.listen(), e.ArtifactURL)
	if err != nil {
		return e.infra(err)
	}
	kname := a.Format // Image or zImage
	pub, err := srv.Publish(map[string]string{kname: kpath, "ramdisk.cpio.gz": ramdisk})
	if err != nil {
		srv.release()
		return e.infra(err)
	}
	e.mu.Lock()
	e.srv, e.pub, e.dirs, e.kernelF = srv, pub, dirs, kname
	e.mu.Unlock()
	return nil
}

func (e *Executor) listen() string {
	if e.ArtifactListen == "" {
		return "127.0.0.1:0"
	}
	return e.ArtifactListen
}

func writeInitramfs(p string, files []kernel.File) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := kernel.WriteInitramfs(f, files); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkLab checks what a job needs of the lab: a token LAVA accepts, the
// device type, and a device of it (with the tags) that takes jobs on an
// online worker. It says what it found.
func (e *Executor) checkLab(ctx context.Context) (string, error) {
	c := e.Client
	if c.Token == "" {
		return "", fmt.Errorf("no REST token: the environment variable %s is empty; export a token of a LAVA user who may submit jobs there (the lab's API > Tokens page, or lava-server manage tokens add)", e.tokenEnv())
	}
	user, err := c.Whoami(ctx)
	var ae *APIError
	switch {
	case errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403):
		return "", fmt.Errorf("the lab refused the token in %s (%s): make a new token for a user who may submit jobs", e.tokenEnv(), ae.Detail)
	case err != nil:
		return "", fmt.Errorf("reach the lab: %w", err)
	case user == "":
		return "", fmt.Errorf("the lab did not recognise the token in %s as any user", e.tokenEnv())
	}
	version, _ := c.Version(ctx)
	if _, err := c.DeviceType(ctx, e.DeviceType); err != nil {
		if NotFound(err) {
			return "", fmt.Errorf("the lab has no device type %q (device_type in the target's lava section)", e.DeviceType)
		}
		return "", err
	}
	devs, err := c.Devices(ctx, e.DeviceType)
	if err != nil {
		return "", err
	}
	workers := map[string]string{}
	var good, seen []string
	for _, d := range devs {
		if !hasTags(d.Tags, e.Tags) {
			continue
		}
		ws := "no worker"
		if d.Worker != "" {
			if _, ok := workers[d.Worker]; !ok {
				w, err := c.Worker(ctx, d.Worker)
				workers[d.Worker] = "unknown"
				if err == nil {
					workers[d.Worker] = w.State
					if w.Health != "Active" {
						workers[d.Worker] = w.Health
					}
				}
			}
			ws = "worker " + d.Worker + " " + workers[d.Worker]
		}
		desc := fmt.Sprintf("%s (%s, %s, %s)", d.Hostname, d.Health, d.State, ws)
		seen = append(seen, desc)
		if d.Usable() && workers[d.Worker] == "Online" {
			good = append(good, desc)
		}
	}
	tags := ""
	if len(e.Tags) > 0 {
		tags = " with tags " + strings.Join(e.Tags, ", ")
	}
	if len(good) == 0 {
		if len(seen) == 0 {
			return "", fmt.Errorf("device type %s has no devices%s", e.DeviceType, tags)
		}
		return "", fmt.Errorf("no device of type %s%s is online and healthy: %s", e.DeviceType, tags, strings.Join(seen, "; "))
	}
	return fmt.Sprintf("lab: LAVA %s at %s as %s; device type %s%s: %d of %d devices ready: %s",
		version, c.URL, user, e.DeviceType, tags, len(good), len(seen), strings.Join(good, "; ")), nil
}

func (e *Executor) tokenEnv() string {
	if e.TokenEnv == "" {
		return "(token_env)"
	}
	return e.TokenEnv
}

func hasTags(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// Run implements executor.Executor: a job for one run.
func (e *Executor) Run(ctx context.Context, spec executor.Spec) (*executor.Outcome, error) {
	out, err := e.RunBatch(ctx, []executor.Spec{spec})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

var caseRE = regexp.MustCompile(`[^-_a-zA-Z0-9.]+`)

// caseName is the LAVA test case prefix of a run: the benchmark's name
// (the last part of Spec.Name, "armv8/sha256"), in the characters LAVA
// allows.
func caseName(spec executor.Spec) string {
	n := spec.Name
	if i := strings.LastIndex(n, "/"); i >= 0 {
		n = n[i+1:]
	}
	n = caseRE.ReplaceAllString(n, "_")
	if n == "" {
		n = "run"
	}
	return n
}

// Definition renders the job definition of a batch.
func (e *Executor) Definition(specs []executor.Spec) (string, error) {
	e.mu.Lock()
	pub, dirs, kname := e.pub, e.dirs, e.kernelF
	e.mu.Unlock()
	if pub == nil {
		return "", errors.New("lava executor: RunBatch before Prepare")
	}
	a, err := kernel.LookupArch(e.Arch)
	if err != nil {
		return "", err
	}
	d := JobData{
		JobName:    strings.TrimSpace(e.JobName + " " + batchName(specs)),
		DeviceType: e.DeviceType, Tags: e.Tags,
		Priority: e.Priority, Visibility: e.Visibility,
		Arch: map[string]string{"arm64": "arm64", "armhf": "arm"}[a.DebArch],
		CPU:  a.CPU, Machine: a.Machine, Memory: e.Memory, Console: a.Console,
		KernelArgs: e.KernelArgs,
		KernelURL:  pub.URL(kname), RamdiskURL: pub.URL("ramdisk.cpio.gz"),
		DeployTimeout: 300,
		BootTimeout:   int(e.BootTimeout.Seconds()),
	}
	if e.CPU != "" {
		d.CPU = e.CPU
	}
	if d.Priority == "" {
		d.Priority = "medium"
	}
	if d.Visibility == "" {
		d.Visibility = "public"
	}
	if d.Memory <= 0 {
		d.Memory = defaultMemory
	}
	if d.BootTimeout <= 0 {
		d.BootTimeout = int(defaultBootTimeout.Seconds())
	}
	longest := 0
	for i, s := range specs {
		dir, ok := dirs[s.Dir]
		if !ok {
			return "", fmt.Errorf("run %s: directory %s holds none of the executor's files", s.Name, s.Dir)
		}
		t := s.Timeout
		if t <= 0 {
			t = defaultRunTimeout
		}
		secs := int((t + time.Second - 1) / time.Second)
		longest = max(longest, secs)
		// Reporting a run (the guest prints the test-case signals
		// itself) and starting it cost well under a second under
		// emulation: 5 s a run is ample.
		d.TestTimeout += secs + 5
		d.Steps = append(d.Steps, step(i, caseName(s), secs, dir, s.Env, s.Argv))
	}
	d.TestTimeout += 60
	d.StepTimeout = longest + 60
	d.JobTimeout = d.DeployTimeout + d.BootTimeout + d.TestTimeout + 120
	t := e.Template
	if t == nil {
		if t, err = ParseTemplate("", ""); err != nil {
			return "", err
		}
	}
	return Render(t, d)
}

// batchName says in a few words what a batch runs, for the job's name.
func batchName(specs []executor.Spec) string {
	seen := map[string]bool{}
	var names []string
	for _, s := range specs {
		if n := caseName(s); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) > 4 {
		names = append(names[:3], fmt.Sprintf("and %d more", len(names)-3))
	}
	return fmt.Sprintf("%d runs: %s", len(specs), strings.Join(names, ", "))
}

// RunBatch implements executor.Batcher: one LAVA job runs every spec, in
// order.
func (e *Executor) RunBatch(ctx context.Context, specs []executor.Spec) ([]*executor.Outcome, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	def, err := e.Definition(specs)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = caseName(s)
	}
	return withRetries(ctx, e, func() ([]*executor.Outcome, bool, error) { return e.job(ctx, def, names) })
}

// withRetries runs one job with run, submitting it again (up to
// e.Retries more times) while it fails in a way worth retrying; the last
// failure is an infrastructure error.
func withRetries[T any](ctx context.Context, e *Executor, run func() (T, bool, error)) (T, error) {
	retries := e.Retries
	if retries == 0 {
		retries = DefaultRetries
	}
	var last error
	attempts := 0
	for attempts <= max(retries, 0) {
		attempts++
		out, retry, err := run()
		if err == nil {
			return out, nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
		if e.Log != nil && attempts <= max(retries, 0) {
			e.Log.WithField("attempt", attempts).Warnf("lava: %v; submitting again", err)
		}
	}
	if attempts > 1 {
		last = fmt.Errorf("%w; %d jobs failed, no more retries", last, attempts)
	}
	var zero T
	return zero, e.infra(last)
}

// job runs one job to its end and reads its outcomes; retry tells whether
// submitting the job again may help.
func (e *Executor) job(ctx context.Context, def string, names []string) (out []*executor.Outcome, retry bool, err error) {
	c := e.Client
	id, err := c.Submit(ctx, def)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status < 500 {
			return nil, false, fmt.Errorf("submit job: %w", err)
		}
		return nil, true, fmt.Errorf("submit job: %w", err)
	}
	e.mu.Lock()
	e.jobs = append(e.jobs, id)
	e.mu.Unlock()
	log := e.Log
	if log != nil {
		log = log.WithFields(logrus.Fields{"lava_job": id, "url": c.JobURL(id)})
		log.Info("lava job submitted")
	}
	start := time.Now()
	j, err := c.Wait(ctx, id, e.Poll)
	if err != nil {
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.Cancel(cctx, id)
			cancel()
			return nil, false, fmt.Errorf("job %d (%s) canceled: %w", id, c.JobURL(id), ctx.Err())
		}
		return nil, true, fmt.Errorf("wait for job %d (%s): %w", id, c.JobURL(id), err)
	}
	if log != nil {
		log.WithFields(logrus.Fields{"health": j.Health, "took": time.Since(start).Round(time.Millisecond)}).Info("lava job finished")
	}
	if j.Health != HealthComplete {
		why := c.Failure(ctx, j)
		if lines, err := c.Logs(ctx, id); err == nil {
			if p := KernelPanic(lines); p != "" {
				why = strings.TrimPrefix(why+"; "+p, "; ")
			}
		}
		if why != "" {
			why = ": " + why
		}
		return nil, true, fmt.Errorf("job %d ended %s%s (%s)", id, j.Health, why, c.JobURL(id))
	}
	tests, err := c.Tests(ctx, id)
	if err != nil {
		return nil, true, fmt.Errorf("results of job %d: %w", id, err)
	}
	lines, err := c.Logs(ctx, id)
	if err != nil {
		return nil, true, fmt.Errorf("log of job %d: %w", id, err)
	}
	out, err = Outcomes(names, tests, lines)
	if err != nil {
		return nil, true, fmt.Errorf("job %d (%s): %w", id, c.JobURL(id), err)
	}
	return out, false, nil
}

// Cleanup implements executor.Executor.
func (e *Executor) Cleanup() error {
	e.mu.Lock()
	pub, srv, tmp := e.pub, e.srv, e.tmp
	e.pub, e.srv, e.tmp = nil, nil, ""
	e.mu.Unlock()
	if pub != nil {
		pub.Withdraw()
	}
	if srv != nil {
		srv.release()
	}
	if tmp != "" {
		return os.RemoveAll(tmp)
	}
	return nil
}

// BuildTimer cross-compiles the guest's timer (deploy/lava/guest/timer.c)
// with cc, static, into dir, once per source and compiler.
func BuildTimer(ctx context.Context, cc, dir string) (string, error) {
	if cc == "" {
		return "", errors.New("no cross compiler for the guest's timer")
	}
	h := sha256.New()
	h.Write(lavatemplates.GuestTimer)
	io.WriteString(h, "\x00"+cc)
	out := filepath.Join(dir, "timer-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "timer.c")
	if err := os.WriteFile(src, lavatemplates.GuestTimer, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "timer")
	cmd := exec.CommandContext(ctx, cc, "-static", "-O2", "-o", bin, src)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
	if msg, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("build the guest's timer: %s not found (make deps installs the cross compilers)", cc)
		}
		return "", fmt.Errorf("build the guest's timer with %s: %v: %s", cc, err, strings.TrimSpace(string(msg)))
	}
	if err := os.Rename(bin, out); err != nil {
		return "", err
	}
	return out, nil
}
