package lava_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tcbot/tcbot/bot/lava"
	"github.com/tcbot/tcbot/bot/lava/lavatest"
)

// distroLAMPJob is a distro-lamp job with every parameter given; ramdisk
// says whether it boots through tcbot's ramdisk.
func distroLAMPJob(arch string, ramdisk bool) lava.DistroLAMP {
	j := lava.DistroLAMP{
		Arch:      arch,
		KernelURL: "http://tcbot.lab:8090/a/k3y/Image-" + arch,
		ImageURL:  "http://tcbot.lab:8090/a/k3y/rootfs-" + arch + ".img.xz", ImageCompression: "xz",
		LoadgenURL: "http://tcbot.lab:8090/a/k3y/loadgen-" + arch,
		Requests:   200, Connections: 2, Warmup: 20, Samples: 2,
		Tags: []string{"fast"}, KernelArgs: "quiet",
	}
	if ramdisk {
		j.RamdiskURL = "http://tcbot.lab:8090/a/k3y/ramdisk-" + arch + ".cpio.gz"
	}
	return j
}

// lavaJob is the part of a LAVA job definition the tests look at.
type lavaJob struct {
	DeviceType string           `yaml:"device_type"`
	JobName    string           `yaml:"job_name"`
	Priority   string           `yaml:"priority"`
	Visibility string           `yaml:"visibility"`
	Tags       []string         `yaml:"tags"`
	Timeouts   map[string]any   `yaml:"timeouts"`
	Context    map[string]any   `yaml:"context"`
	Actions    []map[string]any `yaml:"actions"`
	// From the actions:
	deploy lavaDeploy
	boot   map[string]any
	test   map[string]any
	steps  []string
}

type lavaDeploy struct {
	To      string            `yaml:"to"`
	OS      string            `yaml:"os"`
	Timeout map[string]int    `yaml:"timeout"`
	Images  map[string]lavaIm `yaml:"images"`
}

type lavaIm struct {
	URL         string `yaml:"url"`
	ImageArg    string `yaml:"image_arg"`
	Compression string `yaml:"compression"`
	Format      string `yaml:"format"`
	// Overlays: lava: true, and the others' url, format, path.
	Overlays map[string]any `yaml:"overlays"`
}

// overlay returns a file or tar overlay's url, format and path.
func (im lavaIm) overlay(name string) (url, format, path string) {
	m, _ := im.Overlays[name].(map[string]any)
	return fmt.Sprint(m["url"]), fmt.Sprint(m["format"]), fmt.Sprint(m["path"])
}

// parseJob parses a rendered job and finds its actions.
func parseJob(t *testing.T, def string) *lavaJob {
	t.Helper()
	var j lavaJob
	if err := yaml.Unmarshal([]byte(def), &j); err != nil {
		t.Fatalf("the rendered job is not YAML: %v\n%s", err, def)
	}
	var kinds []string
	for _, a := range j.Actions {
		if len(a) != 1 {
			t.Fatalf("action %v: want one key", a)
		}
		for k, v := range a {
			kinds = append(kinds, k)
			raw, _ := yaml.Marshal(v)
			switch k {
			case "deploy":
				if err := yaml.Unmarshal(raw, &j.deploy); err != nil {
					t.Fatal(err)
				}
			case "boot":
				j.boot = v.(map[string]any)
			case "test":
				j.test = v.(map[string]any)
				var td struct {
					Definitions []struct {
						Repository struct {
							Run struct {
								Steps []string `yaml:"steps"`
							} `yaml:"run"`
						} `yaml:"repository"`
					} `yaml:"definitions"`
				}
				if err := yaml.Unmarshal(raw, &td); err != nil {
					t.Fatal(err)
				}
				if len(td.Definitions) != 1 {
					t.Fatalf("test definitions: %d, want 1", len(td.Definitions))
				}
				j.steps = td.Definitions[0].Repository.Run.Steps
			}
		}
	}
	if strings.Join(kinds, " ") != "deploy boot test" {
		t.Fatalf("actions %v, want deploy, boot, test", kinds)
	}
	return &j
}

func TestDistroLAMPDefinition(t *testing.T) {
	want := map[string]struct{ arch, cpu string }{
		"armv8": {"arm64", "cortex-a57"},
		"armv7": {"arm", "cortex-a15"},
	}
	for _, arch := range []string{"armv8", "armv7"} {
		for _, ramdisk := range []bool{true, false} {
			name := arch + "/image-overlay"
			if ramdisk {
				name = arch + "/ramdisk"
			}
			t.Run(name, func(t *testing.T) {
				p := distroLAMPJob(arch, ramdisk)
				def, err := p.Definition()
				if err != nil {
					t.Fatal(err)
				}
				j := parseJob(t, def)
				if j.DeviceType != "qemu" || j.JobName != "tcbot distro-lamp "+arch || j.Priority != "medium" || j.Visibility != "public" ||
					len(j.Tags) != 1 || j.Tags[0] != "fast" {
					t.Errorf("job header %+v", j)
				}
				w := want[arch]
				if j.Context["arch"] != w.arch || j.Context["cpu"] != w.cpu || j.Context["machine"] != "virt" || j.Context["memory"] != 1024 ||
					j.Context["no_kvm"] != true || fmt.Sprint(j.Context["extra_options"]) != "[-no-reboot]" {
					t.Errorf("context %v: want arch %s, cpu %s, virt, 1024 MiB, no KVM, -no-reboot", j.Context, w.arch, w.cpu)
				}

				// deploy: the kernel under test, the image on a virtio-mmio
				// disk (raw, a snapshot), LAVA's overlay and the load
				// generator on the ramdisk or in the image.
				d := j.deploy
				if d.To != "tmpfs" || d.OS != "debian" {
					t.Errorf("deploy to %q os %q, want tmpfs, debian", d.To, d.OS)
				}
				k := j.deploy.Images["kernel"]
				cmdline := "root=/dev/vda rw console=ttyAMA0 earlycon init=/bin/sh panic=-1 quiet"
				if ramdisk {
					cmdline = "root=/dev/vda rw console=ttyAMA0 earlycon rdinit=/init panic=-1 quiet"
				}
				if k.URL != p.KernelURL || k.ImageArg != `-kernel {kernel} -append "`+cmdline+`"` {
					t.Errorf("kernel %+v, want %s with %q", k, p.KernelURL, cmdline)
				}
				r := j.deploy.Images["rootfs"]
				if r.URL != p.ImageURL || r.Compression != "xz" ||
					r.ImageArg != "-drive if=none,id=root,format=raw,file={rootfs},snapshot=on -device virtio-blk-device,drive=root" {
					t.Errorf("rootfs %+v", r)
				}
				carrier := "rootfs"
				if ramdisk {
					carrier = "ramdisk"
					rd := j.deploy.Images["ramdisk"]
					if rd.URL != p.RamdiskURL || rd.ImageArg != "-initrd {ramdisk}" || rd.Format != "cpio.newc" || rd.Compression != "gz" {
						t.Errorf("ramdisk %+v", rd)
					}
					if r.Format != "" || len(r.Overlays) != 0 {
						t.Errorf("rootfs %+v: with the ramdisk the image stays as it is (no libguestfs)", r)
					}
					if len(j.deploy.Images) != 3 {
						t.Errorf("images %v: want kernel, ramdisk, rootfs", j.deploy.Images)
					}
				} else {
					if _, ok := j.deploy.Images["ramdisk"]; ok || len(j.deploy.Images) != 2 {
						t.Errorf("images %v: want kernel and rootfs", j.deploy.Images)
					}
					if r.Format != "ext4" {
						t.Errorf("rootfs format %q: LAVA writes the overlay into an ext4 image", r.Format)
					}
				}
				c := j.deploy.Images[carrier]
				u, f, path := c.overlay("loadgen")
				if c.Overlays["lava"] != true || u != p.LoadgenURL || f != "file" || path != "/tcbot/loadgen" {
					t.Errorf("%s overlays %v: want LAVA's and the load generator at /tcbot/loadgen", carrier, c.Overlays)
				}

				// boot: qemu, to the shell's prompt.
				prompt := "# "
				if ramdisk {
					prompt = "root@tcbot:~# "
				}
				if j.boot["method"] != "qemu" || j.boot["media"] != "tmpfs" || fmt.Sprint(j.boot["prompts"]) != "["+prompt+"]" {
					t.Errorf("boot %v, want method qemu, prompt %q", j.boot, prompt)
				}

				// test: start, the load on both pages per sample, stop.
				steps := strings.Join(j.steps, "\n")
				for _, s := range []string{
					"if /usr/local/sbin/tcbot-lamp-start; then",
					"/tcbot/loadgen -w 20 -n 200 -c 2 -t 60 -e tcbot-ok \"$3\"",
					"lava-test-case \"lamp-$2-status\"",
					"if /usr/local/sbin/tcbot-lamp-stop; then",
				} {
					if !strings.Contains(steps, s) {
						t.Errorf("the test has no %q:\n%s", s, steps)
					}
				}
				var loads []string
				for _, s := range j.steps {
					if strings.HasPrefix(s, "tcbot_load ") {
						loads = append(loads, s)
					}
				}
				wantLoads := []string{
					"tcbot_load 1 read http://127.0.0.1/tcbot/read.php", "tcbot_load 1 write http://127.0.0.1/tcbot/write.php",
					"tcbot_load 2 read http://127.0.0.1/tcbot/read.php", "tcbot_load 2 write http://127.0.0.1/tcbot/write.php",
				}
				if strings.Join(loads, "\n") != strings.Join(wantLoads, "\n") {
					t.Errorf("loads %q, want %q", loads, wantLoads)
				}
				// Timeouts: the whole job covers its actions.
				if to := j.deploy.Timeout["seconds"]; to != 900 {
					t.Errorf("deploy timeout %ds, want 900", to)
				}
				if s := fmt.Sprint(j.test["timeout"]); s != "map[seconds:1800]" {
					t.Errorf("test timeout %s, want 10 min to start and 5 a load (1800 s)", s)
				}
				if s := fmt.Sprint(j.Timeouts["job"]); s != "map[seconds:3120]" {
					t.Errorf("job timeout %s, want 900+300+1800+120 s", s)
				}
			})
		}
	}
}

func TestDistroLAMPDefaultsAndNoWarmup(t *testing.T) {
	p := distroLAMPJob("armv8", true)
	p.Warmup, p.Samples, p.ImageCompression = 0, 0, ""
	p.JobName, p.DeviceType, p.Priority, p.Visibility, p.CPU, p.Memory = "lamp \"x\": 1", "qemu-big", "high", "personal", "max", 2048
	p.TestTimeout = 7 * time.Minute
	def, err := p.Definition()
	if err != nil {
		t.Fatal(err)
	}
	j := parseJob(t, def)
	steps := strings.Join(j.steps, "\n")
	if !strings.Contains(steps, "/tcbot/loadgen -n 200 -c 2 ") || strings.Contains(steps, " -w ") {
		t.Errorf("warm-up 0: want no -w (loadgen wants -w >= 1):\n%s", steps)
	}
	if n := strings.Count(steps, "\ntcbot_load "); n != 2 {
		t.Errorf("%d loads, want 1 sample of 2 pages", n)
	}
	if j.JobName != p.JobName || j.DeviceType != "qemu-big" || j.Priority != "high" || j.Visibility != "personal" ||
		j.Context["cpu"] != "max" || j.Context["memory"] != 2048 {
		t.Errorf("job %+v context %v", j, j.Context)
	}
	if r := j.deploy.Images["rootfs"]; r.Compression != "" {
		t.Errorf("rootfs compression %q, want none", r.Compression)
	}
	if s := fmt.Sprint(j.test["timeout"]); s != "map[seconds:420]" {
		t.Errorf("test timeout %s, want 420 s", s)
	}
}

func TestDistroLAMPBadParameters(t *testing.T) {
	cases := []struct {
		name string
		edit func(*lava.DistroLAMP)
		want string
	}{
		{"no arch", func(j *lava.DistroLAMP) { j.Arch = "" }, `Arch "": want armv7 or armv8`},
		{"other arch", func(j *lava.DistroLAMP) { j.Arch = "x86_64" }, `Arch "x86_64"`},
		{"no kernel", func(j *lava.DistroLAMP) { j.KernelURL = "" }, "KernelURL \"\": empty: want the http://, https:// or file:// URL of the kernel under test"},
		{"kernel by ftp", func(j *lava.DistroLAMP) { j.KernelURL = "ftp://x/Image" }, `KernelURL "ftp://x/Image": scheme "ftp"`},
		{"kernel a path", func(j *lava.DistroLAMP) { j.KernelURL = "/srv/Image" }, `KernelURL "/srv/Image": scheme ""`},
		{"no image", func(j *lava.DistroLAMP) { j.ImageURL = "" }, "ImageURL \"\": empty: want the http://, https:// or file:// URL of the root file system image"},
		{"image url with blank", func(j *lava.DistroLAMP) { j.ImageURL = "http://x/a b.img" }, "ImageURL"},
		{"no host", func(j *lava.DistroLAMP) { j.LoadgenURL = "http:///loadgen" }, `LoadgenURL "http:///loadgen": no host`},
		{"no loadgen", func(j *lava.DistroLAMP) { j.LoadgenURL = "" }, "LoadgenURL"},
		{"bad ramdisk", func(j *lava.DistroLAMP) { j.RamdiskURL = "tftp://x/r" }, "RamdiskURL"},
		{"compression", func(j *lava.DistroLAMP) { j.ImageCompression = "lz4" }, `ImageCompression "lz4"`},
		{"no requests", func(j *lava.DistroLAMP) { j.Requests = 0 }, "Requests 0: want the number of requests counted per sample (> 0)"},
		{"no connections", func(j *lava.DistroLAMP) { j.Connections = 0 }, "Connections 0: want 1 to 4096"},
		{"too many connections", func(j *lava.DistroLAMP) { j.Connections = 5000 }, "Connections 5000"},
		{"negative warm-up", func(j *lava.DistroLAMP) { j.Warmup = -1 }, "Warmup -1: want >= 0"},
		{"negative samples", func(j *lava.DistroLAMP) { j.Samples = -2 }, "Samples -2"},
		{"priority", func(j *lava.DistroLAMP) { j.Priority = "urgent" }, `Priority "urgent"`},
		{"priority number", func(j *lava.DistroLAMP) { j.Priority = "101" }, `Priority "101"`},
		{"visibility", func(j *lava.DistroLAMP) { j.Visibility = "group" }, `Visibility "group"`},
		{"quote in kernel args", func(j *lava.DistroLAMP) { j.KernelArgs = `x="y"` }, "KernelArgs"},
		{"cpu", func(j *lava.DistroLAMP) { j.CPU = "a57; rm" }, "CPU"},
		{"timeout", func(j *lava.DistroLAMP) { j.BootTimeout = -time.Second }, "BootTimeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := distroLAMPJob("armv8", true)
			c.edit(&j)
			def, err := j.Definition()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one with %q", err, c.want)
			}
			if def != "" {
				t.Errorf("a definition despite the error:\n%s", def)
			}
		})
	}
}

// distroLAMPDefinitions are the rendered jobs the validation tests check:
// both arches, both ways in.
func distroLAMPDefinitions(t *testing.T) map[string]string {
	defs := map[string]string{}
	for _, arch := range []string{"armv8", "armv7"} {
		for _, ramdisk := range []bool{true, false} {
			def, err := distroLAMPJob(arch, ramdisk).Definition()
			if err != nil {
				t.Fatal(err)
			}
			defs[fmt.Sprintf("%s ramdisk=%v", arch, ramdisk)] = def
		}
	}
	return defs
}

// TestDistroLAMPJobSchema validates the rendered jobs with LAVA's own job
// schema (lava_common.schemas.validate, what the lab runs on
// POST /api/v0.2/jobs/validate/ and on submission), strictly: no key
// LAVA does not know. It needs Debian's lava-common (LAVA's Python
// modules); with TCBOT_TEST_LAVA set (a lab on this machine) it fails
// without them rather than skipping.
func TestDistroLAMPJobSchema(t *testing.T) {
	py := "/usr/bin/python3" // LAVA's modules are the system Python's
	probe := exec.Command(py, "-c", "import lava_common.schemas, yaml")
	if out, err := probe.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("LAVA's job schema (Debian's lava-common) is not importable by %s: %v %s", py, err, out)
		if os.Getenv(lavatest.EnvURL) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	const check = `import sys, json, yaml, voluptuous
from lava_common.schemas import validate
defs = json.load(sys.stdin)
bad = 0
for name, d in sorted(defs.items()):
    try:
        validate(yaml.safe_load(d), strict=True)
        print("valid:", name)
    except voluptuous.Invalid as e:
        bad += 1
        print("INVALID:", name, ":", e.msg, "at", "/".join(str(p) for p in e.path))
sys.exit(1 if bad else 0)
`
	defs := distroLAMPDefinitions(t)
	in, _ := json.Marshal(defs)
	cmd := exec.Command(py, "-c", check)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Errorf("LAVA's schema refuses a rendered job: %v", err)
	}
	if n := strings.Count(string(out), "valid: "); n != len(defs) {
		t.Errorf("%d jobs valid, want %d", n, len(defs))
	}
}

// TestLabValidatesDistroLAMPJob asks the real lab (TCBOT_TEST_LAVA) to
// validate the rendered jobs.
func TestLabValidatesDistroLAMPJob(t *testing.T) {
	c := lavatest.Lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for name, def := range distroLAMPDefinitions(t) {
		if err := c.Validate(ctx, def); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// guestCase is a test case as the stand-in lava-test-case recorded it.
type guestCase struct{ set, name, result, measurement, units string }

// runGuestSteps runs the rendered test steps from the first one that
// defines a function (the mounts before it are the guest's business, not
// this host's) through shell sh -e, as LAVA's test shell does, with the
// image's and the load generator's paths pointed at stand-ins:
// lava-test-case and lava-test-set record what they are given, loadgen
// prints loadgen (a shell script's body), tcbot-lamp-start exits with
// startStatus.
func runGuestSteps(t *testing.T, sh string, steps []string, loadgen string, startStatus int) []guestCase {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rec := filepath.Join(dir, "cases")
	write("lava-test-set", `if [ "$1" = start ]; then echo "$2" >`+dir+`/set; else : >`+dir+`/set; fi`+"\n")
	write("lava-test-case", `name=$1; shift; r= m= u=
while [ $# -gt 0 ]; do case $1 in --result) r=$2;; --measurement) m=$2;; --units) u=$2;; *) echo "bad argument $1" >&2; exit 1;; esac; shift 2; done
printf '%s|%s|%s|%s|%s\n' "$(cat `+dir+`/set 2>/dev/null)" "$name" "$r" "$m" "$u" >>`+rec+"\n")
	lg := write("loadgen", loadgen)
	start := write("start", fmt.Sprintf("exit %d\n", startStatus))
	stop := write("stop", "exit 0\n")
	first := -1
	for i, s := range steps {
		if strings.HasPrefix(s, "tcbot_secs()") {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatalf("no tcbot_secs step in %q", steps)
	}
	script := "export PATH=" + dir + ":/usr/bin:/bin\n" + strings.Join(steps[first:], "\n") + "\n"
	r := strings.NewReplacer("/tcbot/loadgen", lg, "/usr/local/sbin/tcbot-lamp-start", start, "/usr/local/sbin/tcbot-lamp-stop", stop, "/run/", dir+"/")
	script = r.Replace(script)
	cmd := exec.Command(sh, "-e", "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", sh, err, out)
	}
	data, _ := os.ReadFile(rec)
	var cases []guestCase
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		cases = append(cases, guestCase{f[0], f[1], f[2], f[3], f[4]})
	}
	return cases
}

// asLAVA turns recorded test cases into what LAVA's REST API answers:
// the measurement a decimal with 10 places, the metadata YAML.
func asLAVA(cases []guestCase) []lava.TestCase {
	var out []lava.TestCase
	for i, c := range cases {
		tc := lava.TestCase{ID: 500 + i, Name: c.name, Result: c.result, Unit: c.units, Suite: 20}
		meta := "case: " + c.name + "\ndefinition: 0_distro-lamp\n"
		if c.measurement != "" {
			v, _ := strconv.ParseFloat(c.measurement, 64)
			m := strconv.FormatFloat(v, 'f', 10, 64)
			tc.Measurement = &m
			meta += "measurement: " + c.measurement + "\n"
		}
		meta += "result: " + c.result + "\n"
		if c.set != "" {
			meta += "set: " + c.set + "\n"
		}
		if c.units != "" {
			meta += "units: " + c.units + "\n"
		}
		tc.Metadata = meta
		out = append(out, tc)
	}
	return out
}

// TestDistroLAMPGuestSteps runs the job's test steps through the shells a
// guest has (dash as /bin/sh, bash for LAVA's test shell on Debian) with
// stand-ins, and reads what they report back with Results: the guest side
// and the parser agree on names, sets and values.
func TestDistroLAMPGuestSteps(t *testing.T) {
	p := distroLAMPJob("armv8", true)
	def, err := p.Definition()
	if err != nil {
		t.Fatal(err)
	}
	steps := parseJob(t, def).steps
	good := `case "$*" in
*read.php*) printf 'requests: 200\nerrors: 0\nseconds: 4.21\nrequests-per-second: 47.506\nlatency-p50-ms: 40.125\nlatency-p99-ms: 97.5\n' ;;
*write.php*) printf 'requests: 200\nerrors: 3\nseconds: 9.5\nrequests-per-second: 20.7\nlatency-p50-ms: 90.1\nlatency-p99-ms: 250.75\n' ;;
esac
echo "args: $*" >&2
`
	for _, sh := range []string{"dash", "bash"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s: not here", sh)
			continue
		}
		t.Run(sh, func(t *testing.T) {
			cases := runGuestSteps(t, path, steps, good, 0)
			var names []string
			for _, c := range cases {
				names = append(names, c.set+"/"+c.name+"="+c.result+":"+c.measurement+c.units)
			}
			got := strings.Join(names, "\n")
			for _, w := range []string{
				"sample-1/lamp-read-status=pass:0status",
				"sample-1/lamp-read-requests-per-second=pass:47.506req/s",
				"sample-1/lamp-read-latency-p50-ms=pass:40.125ms",
				"sample-1/lamp-read-latency-p99-ms=pass:97.5ms",
				"sample-1/lamp-read-errors=pass:0requests",
				"sample-2/lamp-read-requests=pass:200requests",
				"sample-2/lamp-write-status=fail:0status",
				"sample-2/lamp-write-errors=fail:3requests",
				"/lamp-stop=pass:",
			} {
				if !strings.Contains(got, w) {
					t.Errorf("no %s in\n%s", w, got)
				}
			}
			if !strings.HasPrefix(got, "/lamp-start=pass:") || !strings.HasSuffix(cases[0].units, "seconds") {
				t.Errorf("first case %+v, want lamp-start pass in seconds", cases[0])
			}
			res, err := p.Results(asLAVA(cases))
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Page("read"); r.Failed != "" || fmt.Sprint(r.RequestsPerSecond, r.LatencyP50ms, r.LatencyP99ms) != "[47.506 47.506] [40.125 40.125] [97.5 97.5]" {
				t.Errorf("read %+v", r)
			}
			if w := res.Page("write"); w.Failed != "sample-1: 3 of 200 requests failed" || w.RequestsPerSecond != nil {
				t.Errorf("write %+v: want failed, 3 of 200 requests", w)
			}
		})
		t.Run(sh+"/stack does not start", func(t *testing.T) {
			cases := runGuestSteps(t, path, steps, good, 1)
			res, err := p.Results(asLAVA(cases))
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range res.Pages {
				if !strings.Contains(pr.Failed, "the LAMP stack did not start") {
					t.Errorf("%s: %+v", pr.Page, pr)
				}
			}
			for _, c := range cases {
				if c.name == "lamp-stop" {
					t.Errorf("stopped a stack that did not start: %+v", c)
				}
			}
		})
		t.Run(sh+"/loadgen fails", func(t *testing.T) {
			cases := runGuestSteps(t, path, steps, "echo 'loadgen: connect 127.0.0.1:80: Connection refused' >&2; exit 1\n", 0)
			res, err := p.Results(asLAVA(cases))
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Page("read"); r.Failed != "sample-1: the load generator failed (exit status 1; its output is in the job log)" {
				t.Errorf("read %+v", r)
			}
		})
	}
}

// distroLAMPTests reads testdata/distro-lamp-tests.json: what
// GET /api/v0.2/jobs/N/tests/ answers for a distro-lamp job of 2 samples
// that passed. It is not recorded from a lab (that needs the kernel and the
// image built, see the README) but composed in the format of the recorded
// jobs beside it (LAVA 2023.01: LAVA's own suite "lava" with its cases and
// the test definition, measurements as decimals with 10 places, metadata
// as LAVA writes it, test sets), with the names, sets and units the
// rendered test steps report (TestDistroLAMPGuestSteps runs them).
func distroLAMPTests(t *testing.T) []lava.TestCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "distro-lamp-tests.json"))
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
	return page.Results
}

func TestDistroLAMPResults(t *testing.T) {
	tests := distroLAMPTests(t)
	p := lava.DistroLAMP{Samples: 2}
	res, err := p.Results(tests)
	if err != nil {
		t.Fatal(err)
	}
	if res.StartSeconds <= 0 {
		t.Errorf("start %v s", res.StartSeconds)
	}
	if len(res.Pages) != 2 || res.Pages[0].Page != "read" || res.Pages[1].Page != "write" {
		t.Fatalf("pages %+v", res.Pages)
	}
	for _, pr := range res.Pages {
		if pr.Failed != "" || len(pr.RequestsPerSecond) != 2 || len(pr.LatencyP50ms) != 2 || len(pr.LatencyP99ms) != 2 {
			t.Errorf("%s: %+v, want 2 samples of each", pr.Page, pr)
			continue
		}
		for i := range pr.RequestsPerSecond {
			if pr.RequestsPerSecond[i] <= 0 || pr.LatencyP50ms[i] <= 0 || pr.LatencyP99ms[i] < pr.LatencyP50ms[i] {
				t.Errorf("%s sample %d: %v req/s, p50 %v ms, p99 %v ms", pr.Page, i+1, pr.RequestsPerSecond[i], pr.LatencyP50ms[i], pr.LatencyP99ms[i])
			}
		}
	}
	if r := res.Page("read"); fmt.Sprint(r.RequestsPerSecond, r.LatencyP50ms, r.LatencyP99ms) != "[36.284 37.397] [48.907 47.551] [131.544 118.06]" {
		t.Errorf("read %+v", r)
	}
	// The values are the measurements as LAVA keeps them (10 places).
	for _, tc := range tests {
		if tc.Name == "lamp-write-latency-p99-ms" && tc.Meta().Set == "sample-2" {
			v, _ := tc.Value()
			if got := res.Page("write").LatencyP99ms[1]; got != v {
				t.Errorf("write p99 sample 2: %v, LAVA has %s", got, *tc.Measurement)
			}
		}
	}
}

// A sample with failed requests fails its page: no measurements, the
// reason.
func TestDistroLAMPResultsOfAFailedLoad(t *testing.T) {
	tests := distroLAMPTests(t)
	for i, tc := range tests {
		if tc.Meta().Set == "sample-2" && strings.HasPrefix(tc.Name, "lamp-write-") {
			tests[i].Result = "fail"
			if tc.Name == "lamp-write-errors" {
				m := "3.0000000000"
				tests[i].Measurement = &m
			}
		}
	}
	res, err := lava.DistroLAMP{Samples: 2}.Results(tests)
	if err != nil {
		t.Fatal(err)
	}
	if w := res.Page("write"); w.Failed != "sample-2: 3 of 200 requests failed" || w.RequestsPerSecond != nil {
		t.Errorf("write %+v", w)
	}
	if r := res.Page("read"); r.Failed != "" || len(r.RequestsPerSecond) != 2 {
		t.Errorf("read %+v", r)
	}
}

func TestDistroLAMPResultsRefuseAnIncompleteJob(t *testing.T) {
	tests := distroLAMPTests(t)
	without := func(drop func(lava.TestCase) bool) []lava.TestCase {
		var out []lava.TestCase
		for _, tc := range tests {
			if !drop(tc) {
				out = append(out, tc)
			}
		}
		return out
	}
	cases := []struct {
		name    string
		tests   []lava.TestCase
		samples int
		want    string
	}{
		{"no start", without(func(tc lava.TestCase) bool { return tc.Name == "lamp-start" }), 2, "no lamp-start result"},
		{"the job ended before a load", without(func(tc lava.TestCase) bool {
			return tc.Meta().Set == "sample-2" && strings.HasPrefix(tc.Name, "lamp-write-")
		}), 2,
			"write page, sample-2: no lamp-write-status result: the job ended before this load did"},
		{"more samples than the job had", tests, 3, "read page, sample-3: no lamp-read-status result"},
		{"a passed load without its latency", without(func(tc lava.TestCase) bool { return tc.Name == "lamp-read-latency-p99-ms" }), 2,
			"read page, sample-1: passed, but no lamp-read-latency-p99-ms result"},
		{"a measurement LAVA lost", func() []lava.TestCase {
			out := append([]lava.TestCase(nil), tests...)
			for i := range out {
				if out[i].Name == "lamp-read-requests-per-second" {
					out[i].Measurement = nil
				}
			}
			return out
		}(), 2, "test case lamp-read-requests-per-second has no measurement"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := lava.DistroLAMP{Samples: c.samples}.Results(c.tests)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// readCPIO reads a gzip'd cpio "newc" archive: path -> (mode, data).
func readCPIO(t *testing.T, r io.Reader) map[string]struct {
	mode uint32
	data []byte
} {
	t.Helper()
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]struct {
		mode uint32
		data []byte
	}{}
	for off := 0; ; {
		if off+110 > len(raw) || string(raw[off:off+6]) != "070701" {
			t.Fatalf("bad cpio header at %d", off)
		}
		field := func(i int) int {
			v, err := strconv.ParseUint(string(raw[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(v)
		}
		mode, size, namesize := field(1), field(6), field(11)
		name := string(raw[off+110 : off+110+namesize-1])
		off += (110 + namesize + 3) &^ 3
		data := raw[off : off+size]
		off += (size + 3) &^ 3
		if name == "TRAILER!!!" {
			return out
		}
		out[name] = struct {
			mode uint32
			data []byte
		}{uint32(mode), data}
	}
}

func TestDistroLAMPRamdisk(t *testing.T) {
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("busybox bytes"), 0o755)
	var buf bytes.Buffer
	if err := lava.DistroLAMPRamdisk(&buf, bb); err != nil {
		t.Fatal(err)
	}
	files := readCPIO(t, &buf)
	if string(files["bin/busybox"].data) != "busybox bytes" || files["tcbot"].mode&0o170000 != 0o040000 {
		t.Errorf("ramdisk: busybox %q, /tcbot mode %o (LAVA puts the load generator there)", files["bin/busybox"].data, files["tcbot"].mode)
	}
	init := string(files["init"].data)
	for _, s := range []string{"mount -t devtmpfs", "mount -t ext4 -o rw \"$root\" /newroot", "cp -a \"$d\" /newroot/", "exec switch_root /newroot"} {
		if !strings.Contains(init, s) {
			t.Errorf("/init has no %q:\n%s", s, init)
		}
	}
	// The shell it ends in has the prompt the job waits for.
	def, err := distroLAMPJob("armv7", true).Definition()
	if err != nil {
		t.Fatal(err)
	}
	prompt := fmt.Sprint(parseJob(t, def).boot["prompts"].([]any)[0])
	if !strings.Contains(init, `PS1="`+prompt+`"`) {
		t.Errorf("/init does not set the job's prompt %q", prompt)
	}
	if out, err := exec.Command("sh", "-n", "-c", init).CombinedOutput(); err != nil {
		t.Errorf("/init: %v: %s", err, out)
	}
	if err := lava.DistroLAMPRamdisk(io.Discard, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "busybox") {
		t.Errorf("missing busybox: %v", err)
	}
}

// deviceDict renders the dictionary of a qemu device as
// deploy/lava/lava-setup.sh defines it (qemu.jinja2 with a MAC address
// and 1024 MiB), with a job's context, as the lab does before it hands a
// job to the dispatcher.
const deviceDict = `import sys, jinja2, yaml
env = jinja2.Environment(loader=jinja2.FileSystemLoader(["/etc/lava-server/dispatcher-config/device-types", "/usr/share/lava-server/device-types"]), autoescape=False, trim_blocks=True)
t = env.from_string("{% extends 'qemu.jinja2' %}\n{% set mac_addr = '52:54:00:12:34:58' %}\n{% set memory = 1024 %}\n")
job = yaml.safe_load(open(sys.argv[1]))
sys.stdout.write(t.render(**job.get("context", {})))
`

// TestDistroLAMPDispatcherValidates has LAVA's dispatcher (lava-run
// --validate) build the rendered jobs' pipelines for a qemu device of the
// local lab's kind: the device takes the deploy and boot methods, the
// images and overlays are well formed, and every URL answers (tcbot's
// artifact server serves stand-ins). lava-run runs as root only; without
// Debian's lava-dispatcher and lava-server the test skips (fails with
// TCBOT_TEST_LAVA set).
func TestDistroLAMPDispatcherValidates(t *testing.T) {
	const lavaRun = "/usr/bin/lava-run"
	for _, f := range []string{lavaRun, "/usr/share/lava-server/device-types/qemu.jinja2"} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv(lavatest.EnvURL) != "" {
				t.Fatalf("%s=%s but %v", lavatest.EnvURL, os.Getenv(lavatest.EnvURL), err)
			}
			t.Skipf("LAVA's dispatcher is not installed here: %v", err)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("lava-run runs as root only")
	}
	dir := t.TempDir()
	s := &lava.ArtifactServer{Listen: "127.0.0.1:0"}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files := map[string]string{}
	for _, n := range []string{"Image", "ramdisk.cpio.gz", "rootfs.img.xz", "loadgen"} {
		files[n] = filepath.Join(dir, n)
		os.WriteFile(files[n], []byte("stand-in "+n), 0o644)
	}
	pub, err := s.Publish(files)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Withdraw()
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "HOME=/root"}
	for _, arch := range []string{"armv8", "armv7"} {
		for _, ramdisk := range []bool{true, false} {
			name := fmt.Sprintf("%s-ramdisk-%v", arch, ramdisk)
			t.Run(name, func(t *testing.T) {
				j := distroLAMPJob(arch, ramdisk)
				j.KernelURL, j.ImageURL, j.LoadgenURL = pub.URL("Image"), pub.URL("rootfs.img.xz"), pub.URL("loadgen")
				if ramdisk {
					j.RamdiskURL = pub.URL("ramdisk.cpio.gz")
				}
				def, err := j.Definition()
				if err != nil {
					t.Fatal(err)
				}
				jobFile, devFile := filepath.Join(dir, name+".yaml"), filepath.Join(dir, name+"-device.yaml")
				os.WriteFile(jobFile, []byte(def), 0o644)
				render := exec.Command("/usr/bin/python3", "-c", deviceDict, jobFile)
				render.Env = env
				dev, err := render.Output()
				if err != nil {
					t.Fatalf("render the device dictionary: %v", err)
				}
				os.WriteFile(devFile, dev, 0o644)
				// The dispatcher's work directory is named by the job id:
				// one no lab job has, removed afterwards.
				id := fmt.Sprintf("tcbot-test-%d-%s", os.Getpid(), name)
				defer os.RemoveAll(filepath.Join("/var/lib/lava/dispatcher/tmp", id))
				cmd := exec.Command(lavaRun, "--validate", "--job-id", id, "--output-dir", filepath.Join(dir, "out-"+name), "--device", devFile, jobFile)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), `"msg": {"case": "validate", "definition": "lava", "result": "pass"}`) {
					t.Errorf("lava-run --validate: %v\n%s", err, out)
				}
			})
		}
	}
}
