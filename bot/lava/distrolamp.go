package lava

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/tcbot/tcbot/bot/distro"
	"github.com/tcbot/tcbot/bot/kernel"
	lavarecipes "github.com/tcbot/tcbot/recipes/lava"
)

// DistroLAMP is a LAVA job of the distribution scenario (recipe
// distro-lamp): the kernel under test boots tcbot's Debian image (raw
// ext4, Apache + PHP-FPM + MariaDB + a PHP blog, bot/distro) as its root
// file system on a virtio-mmio disk of a device of type qemu; the job
// starts the LAMP stack, runs tcbot's load generator inside the guest
// against the read and the write page, and reports requests per second
// and latencies as LAVA test cases (recipes/lava/distro-lamp.yaml.tmpl
// lists them; Results reads them back).
//
// LAVA's test overlay and the load generator reach the guest as LAVA
// overlays. With RamdiskURL (DistroLAMPRamdisk, served beside the other
// files) they are appended to that ramdisk, which mounts the image, copies
// them onto it and switches root: no libguestfs anywhere, as in tcbot's own
// lab. Without it LAVA writes them into the image with libguestfs on the
// worker, and the kernel runs the image's /bin/sh as init.
type DistroLAMP struct {
	// Arch is tcbot's arch: armv8 (LAVA arch arm64, qemu-system-aarch64
	// -cpu cortex-a57) or armv7 (arm, qemu-system-arm -cpu cortex-a15).
	Arch string
	// KernelURL is the kernel under test (Image on armv8, zImage on
	// armv7), built with what the image needs (recipe distro-lamp's
	// fragment: virtio-mmio, virtio-blk and ext4 built in).
	KernelURL string
	// ImageURL is the root file system image (bot/distro's rootfs.img,
	// raw ext4), compressed with ImageCompression ("", gz, xz, zstd or
	// bz2; LAVA decompresses it).
	ImageURL, ImageCompression string
	// RamdiskURL is tcbot's distro-lamp ramdisk (gzip'd cpio, see
	// DistroLAMPRamdisk); empty means none (libguestfs, see above).
	RamdiskURL string
	// LoadgenURL is tcbot's load generator (benchmarks/loadgen, a static
	// binary for Arch).
	LoadgenURL string
	// Requests are counted per sample, after Warmup requests that are not
	// (0: none), on Connections keep-alive connections.
	Requests, Connections, Warmup int
	// Samples is how many times each page is measured (0 means 1).
	Samples int

	// JobName (default "tcbot distro-lamp <arch>"), DeviceType (default
	// qemu), Tags a device must have, Priority (default medium) and
	// Visibility (default public) of the job.
	JobName, DeviceType string
	Tags                []string
	Priority            string
	Visibility          string
	// CPU overrides the -cpu model; Memory is the guest's RAM in MiB
	// (default 1024, as the recipe's memory_mib).
	CPU    string
	Memory int
	// KernelArgs are added to the kernel command line.
	KernelArgs string
	// DeployTimeout (default 15m: the image is large), BootTimeout (to
	// the shell prompt, default 5m) and TestTimeout (default 10m to start
	// the stack plus 5m per load generator run).
	DeployTimeout, BootTimeout, TestTimeout time.Duration
	// Template is the job template; nil means
	// recipes/lava/distro-lamp.yaml.tmpl. A lab's own (another device
	// type, a board) gets the same fields.
	Template *template.Template
}

// DistroLAMPPages are the pages a distro-lamp job measures, in order:
// name (the test case prefix lamp-<name>) and URL inside the guest.
var DistroLAMPPages = []struct{ Name, URL string }{
	{"read", distro.ReadPage},
	{"write", distro.WritePage},
}

// Prompts the boot waits for: bash of the image behind tcbot's ramdisk
// (set in recipes/lava/distro-lamp-switchroot.sh), or dash as init.
const (
	distroLAMPRamdiskPrompt = "root@tcbot:~# "
	distroLAMPShellPrompt   = "# "
)

// Defaults of a distro-lamp job.
const (
	distroLAMPMemory        = 1024
	distroLAMPDeployTimeout = 15 * time.Minute
	distroLAMPBootTimeout   = 5 * time.Minute
	distroLAMPStartTimeout  = 10 * time.Minute
	distroLAMPLoadTimeout   = 5 * time.Minute
)

// distroLAMPData is what the template is rendered with.
type distroLAMPData struct {
	JobName, DeviceType        string
	Tags                       []string
	Priority, Visibility       string
	Arch, CPU, Machine         string
	Memory                     int
	CommandLine                string
	KernelURL, ImageURL        string
	ImageCompression           string
	RamdiskURL, LoadgenURL     string
	Prompt                     string
	DeployTimeout, BootTimeout int
	TestTimeout, JobTimeout    int
	Start, Stop, OK            string
	Requests, Connections      int
	Warmup                     int
	Loads                      []distroLAMPLoad
}

type distroLAMPLoad struct {
	Sample    int
	Page, URL string
}

// DistroLAMPTemplate parses the built-in distro-lamp job template.
func DistroLAMPTemplate() (*template.Template, error) {
	return ParseTemplate("recipes/lava/distro-lamp.yaml.tmpl", lavarecipes.DistroLAMPJob)
}

func (j DistroLAMP) samples() int {
	if j.Samples <= 0 {
		return 1
	}
	return j.Samples
}

// check says what is wrong with the parameters, naming the field.
func (j DistroLAMP) check() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("lava distro-lamp job: %s %s", field, fmt.Sprintf(format, args...))
	}
	if _, ok := kernel.Arches[j.Arch]; !ok {
		return bad("Arch", "%q: want armv7 or armv8", j.Arch)
	}
	urls := []struct {
		field, value, what string
		optional           bool
	}{
		{"KernelURL", j.KernelURL, "the kernel under test", false},
		{"ImageURL", j.ImageURL, "the root file system image", false},
		{"LoadgenURL", j.LoadgenURL, "the load generator", false},
		{"RamdiskURL", j.RamdiskURL, "tcbot's distro-lamp ramdisk", true},
	}
	for _, u := range urls {
		if u.value == "" && u.optional {
			continue
		}
		if err := checkURL(u.value); err != nil {
			return bad(u.field, "%q: %v: want the http://, https:// or file:// URL of %s, where the lab's workers can download it", u.value, err, u.what)
		}
	}
	switch j.ImageCompression {
	case "", "gz", "xz", "zstd", "bz2":
	default:
		return bad("ImageCompression", "%q: want gz, xz, zstd, bz2 or nothing (an uncompressed image)", j.ImageCompression)
	}
	switch {
	case j.Requests <= 0:
		return bad("Requests", "%d: want the number of requests counted per sample (> 0)", j.Requests)
	case j.Connections <= 0 || j.Connections > 4096:
		return bad("Connections", "%d: want 1 to 4096 (the load generator's limit)", j.Connections)
	case j.Warmup < 0:
		return bad("Warmup", "%d: want >= 0", j.Warmup)
	case j.Samples < 0:
		return bad("Samples", "%d: want >= 0 (0 means 1)", j.Samples)
	case j.Memory < 0:
		return bad("Memory", "%d: want MiB > 0 (0 means %d)", j.Memory, distroLAMPMemory)
	case j.DeployTimeout < 0:
		return bad("DeployTimeout", "%s: want > 0 (0 means %s)", j.DeployTimeout, distroLAMPDeployTimeout)
	case j.BootTimeout < 0:
		return bad("BootTimeout", "%s: want > 0 (0 means %s)", j.BootTimeout, distroLAMPBootTimeout)
	case j.TestTimeout < 0:
		return bad("TestTimeout", "%s: want > 0 (0 means the default)", j.TestTimeout)
	}
	if j.Priority != "" {
		if n, err := strconv.Atoi(j.Priority); err == nil {
			if n < 0 || n > 100 {
				return bad("Priority", "%q: want high, medium, low or 0 to 100", j.Priority)
			}
		} else if j.Priority != "high" && j.Priority != "medium" && j.Priority != "low" {
			return bad("Priority", "%q: want high, medium, low or 0 to 100", j.Priority)
		}
	}
	if j.Visibility != "" && j.Visibility != "public" && j.Visibility != "personal" {
		return bad("Visibility", "%q: want public or personal", j.Visibility)
	}
	// The command line goes into a double-quoted -append "..." of QEMU's
	// command, which LAVA runs through a shell.
	if strings.ContainsAny(j.KernelArgs, "\"'`$\\\n") {
		return bad("KernelArgs", "%q: want kernel parameters without quotes, backslashes, $ or newlines", j.KernelArgs)
	}
	if strings.ContainsAny(j.CPU, " \"'`$\\\n") {
		return bad("CPU", "%q: want a QEMU -cpu model name", j.CPU)
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if strings.ContainsAny(s, " \t\n\"'") {
		return fmt.Errorf("has blanks or quotes")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("no host")
		}
	case "file":
		if u.Path == "" {
			return fmt.Errorf("no path")
		}
	default:
		return fmt.Errorf("scheme %q", u.Scheme)
	}
	return nil
}

// secondsOr is d, or def when d is 0, in whole seconds (rounded up).
func secondsOr(d, def time.Duration) int {
	if d <= 0 {
		d = def
	}
	return int((d + time.Second - 1) / time.Second)
}

// data fills in the defaults and derives what the template needs.
func (j DistroLAMP) data() (distroLAMPData, error) {
	if err := j.check(); err != nil {
		return distroLAMPData{}, err
	}
	a := kernel.Arches[j.Arch]
	d := distroLAMPData{
		JobName: j.JobName, DeviceType: j.DeviceType, Tags: j.Tags,
		Priority: j.Priority, Visibility: j.Visibility,
		Arch: map[string]string{"arm64": "arm64", "armhf": "arm"}[a.DebArch],
		CPU:  a.CPU, Machine: a.Machine, Memory: j.Memory,
		KernelURL: j.KernelURL, ImageURL: j.ImageURL, ImageCompression: j.ImageCompression,
		RamdiskURL: j.RamdiskURL, LoadgenURL: j.LoadgenURL,
		Start: distro.StartCommand, Stop: distro.StopCommand, OK: distro.PageOK,
		Requests: j.Requests, Connections: j.Connections, Warmup: j.Warmup,
	}
	if d.JobName == "" {
		d.JobName = "tcbot distro-lamp " + j.Arch
	}
	if d.DeviceType == "" {
		d.DeviceType = "qemu"
	}
	if d.Priority == "" {
		d.Priority = "medium"
	}
	if d.Visibility == "" {
		d.Visibility = "public"
	}
	if j.CPU != "" {
		d.CPU = j.CPU
	}
	if d.Memory == 0 {
		d.Memory = distroLAMPMemory
	}
	// earlycon: the boot console from the first instruction on, so a
	// kernel under test that dies before its console driver registers
	// still says why (as under qemu-system).
	cmdline := []string{"root=/dev/vda", "rw", "console=" + a.Console, "earlycon"}
	if j.RamdiskURL != "" {
		cmdline = append(cmdline, "rdinit=/init")
		d.Prompt = distroLAMPRamdiskPrompt
	} else {
		cmdline = append(cmdline, "init=/bin/sh")
		d.Prompt = distroLAMPShellPrompt
	}
	// A panic ends the guest (-no-reboot): the job ends at once.
	cmdline = append(cmdline, "panic=-1")
	if f := strings.Fields(j.KernelArgs); len(f) > 0 {
		cmdline = append(cmdline, f...)
	}
	d.CommandLine = strings.Join(cmdline, " ")
	for s := 1; s <= j.samples(); s++ {
		for _, p := range DistroLAMPPages {
			d.Loads = append(d.Loads, distroLAMPLoad{Sample: s, Page: p.Name, URL: p.URL})
		}
	}
	d.DeployTimeout = secondsOr(j.DeployTimeout, distroLAMPDeployTimeout)
	d.BootTimeout = secondsOr(j.BootTimeout, distroLAMPBootTimeout)
	d.TestTimeout = secondsOr(j.TestTimeout, distroLAMPStartTimeout+time.Duration(len(d.Loads))*distroLAMPLoadTimeout)
	d.JobTimeout = d.DeployTimeout + d.BootTimeout + d.TestTimeout + 120
	return d, nil
}

// Definition renders the job definition (YAML), after checking the
// parameters: an error names the parameter that is wrong.
func (j DistroLAMP) Definition() (string, error) {
	d, err := j.data()
	if err != nil {
		return "", err
	}
	t := j.Template
	if t == nil {
		if t, err = DistroLAMPTemplate(); err != nil {
			return "", err
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("job template %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

// DistroLAMPRamdisk writes tcbot's distro-lamp ramdisk for LAVA (a gzip'd
// cpio "newc" archive) to w: tcbot's standard initramfs with busybox (a
// static busybox for the job's arch, such as kernel.Busybox fetches) and
// an /init that mounts the image (root=, default /dev/vda), copies LAVA's
// overlay and /tcbot (where LAVA puts the load generator) onto it and
// switches root to bash of the image on the console
// (recipes/lava/distro-lamp-switchroot.sh).
func DistroLAMPRamdisk(w io.Writer, busybox string) error {
	if _, err := os.Stat(busybox); err != nil {
		return fmt.Errorf("distro-lamp ramdisk: busybox: %w", err)
	}
	files := kernel.StandardFiles(busybox, lavarecipes.DistroLAMPSwitchRoot)
	files = append(files, kernel.File{Path: "/tcbot", Mode: fs.ModeDir | 0o755})
	return kernel.WriteInitramfs(w, files)
}

// LAMPPage is one page's measurements from a distro-lamp job, one value
// per sample, in sample order.
type LAMPPage struct {
	// Page is the page's name (read, write).
	Page string
	// RequestsPerSecond, LatencyP50ms and LatencyP99ms are the load
	// generator's requests-per-second, latency-p50-ms and latency-p99-ms.
	RequestsPerSecond, LatencyP50ms, LatencyP99ms []float64
	// Failed says why the page has no measurements (the stack did not
	// start, the load generator failed, requests failed); empty when it
	// has them.
	Failed string
}

// LAMPResults are the results of a distro-lamp job.
type LAMPResults struct {
	// Started says tcbot-lamp-start passed; StartSeconds is how long it
	// took in the guest (0 when it failed), ReadyUptime the guest's uptime
	// when it was done (to a ready web server, on the guest's clock; 0
	// when the job did not say).
	Started                   bool
	StartSeconds, ReadyUptime float64
	// Pages, in DistroLAMPPages order.
	Pages []LAMPPage
}

// Page returns the results of the named page, or nil.
func (r *LAMPResults) Page(name string) *LAMPPage {
	for i := range r.Pages {
		if r.Pages[i].Page == name {
			return &r.Pages[i]
		}
	}
	return nil
}

// Results reads a finished distro-lamp job's test cases (as
// GET /api/v0.2/jobs/N/tests/ lists them, Client.Tests) into requests per
// second and latencies per page. A stack that did not start or a load
// that failed is a result (LAMPPage.Failed); a result the job did not get
// to (it ended early) or a measurement missing from a passed sample is an
// error.
func (j DistroLAMP) Results(tests []TestCase) (*LAMPResults, error) {
	type key struct{ set, name string }
	byKey := map[key]TestCase{}
	for _, tc := range tests {
		m := tc.Meta()
		if m.Definition == "lava" {
			continue // LAVA's own suite: job, http-download, ...
		}
		byKey[key{m.Set, tc.Name}] = tc
	}
	res := &LAMPResults{}
	start, ok := byKey[key{"", "lamp-start"}]
	if !ok {
		return nil, fmt.Errorf("no lamp-start result: the job ended before the test started the LAMP stack")
	}
	started := start.Result == "pass"
	if started {
		res.Started = true
		if v, ok := start.Value(); ok {
			res.StartSeconds = v
		}
		if v, ok := byKey[key{"", "lamp-ready-uptime"}].Value(); ok {
			res.ReadyUptime = v
		}
	}
	for _, p := range DistroLAMPPages {
		pr := LAMPPage{Page: p.Name}
		prefix := "lamp-" + p.Name + "-"
		for s := 1; s <= j.samples() && pr.Failed == ""; s++ {
			set := "sample-" + strconv.Itoa(s)
			status, ok := byKey[key{set, prefix + "status"}]
			if !ok {
				return nil, fmt.Errorf("%s page, %s: no %sstatus result: the job ended before this load did", p.Name, set, prefix)
			}
			if !started {
				pr.Failed = "the LAMP stack did not start (" + distro.StartCommand + " failed; its output is in the job log)"
				break
			}
			if status.Result != "pass" {
				pr.Failed = fmt.Sprintf("%s: %s", set, lampFailure(status, byKey[key{set, prefix + "errors"}], byKey[key{set, prefix + "requests"}]))
				break
			}
			for _, m := range []struct {
				name string
				to   *[]float64
			}{
				{"requests-per-second", &pr.RequestsPerSecond},
				{"latency-p50-ms", &pr.LatencyP50ms},
				{"latency-p99-ms", &pr.LatencyP99ms},
			} {
				tc, ok := byKey[key{set, prefix + m.name}]
				if !ok {
					return nil, fmt.Errorf("%s page, %s: passed, but no %s%s result", p.Name, set, prefix, m.name)
				}
				v, ok := tc.Value()
				if !ok {
					return nil, fmt.Errorf("%s page, %s: test case %s has no measurement", p.Name, set, tc.Name)
				}
				*m.to = append(*m.to, v)
			}
		}
		if pr.Failed != "" {
			pr.RequestsPerSecond, pr.LatencyP50ms, pr.LatencyP99ms = nil, nil, nil
		}
		res.Pages = append(res.Pages, pr)
	}
	return res, nil
}

// lampFailure says why a load failed, from its status, errors and requests
// test cases.
func lampFailure(status, errs, reqs TestCase) string {
	rc, _ := status.Value()
	if rc != 0 {
		return fmt.Sprintf("the load generator failed (exit status %g; its output is in the job log)", rc)
	}
	e, eok := errs.Value()
	r, rok := reqs.Value()
	if eok && rok {
		return fmt.Sprintf("%g of %g requests failed", e, r)
	}
	return "the load failed (see the job log)"
}
