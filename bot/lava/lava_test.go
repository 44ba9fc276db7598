package lava_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/lava"
)

// recorded reads the answers of the real lab saved by TestLabBatch
// -record: job 8 (armv8) and 7 (armv7) ran prog, fails, spins (killed at
// its 2 s timeout), crashes (abort) and prog again.
func recorded(t testing.TB, arch string) ([]lava.TestCase, []lava.LogLine) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", arch+"-tests.json"))
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
		t.Fatalf("recorded %d of %d tests", len(page.Results), page.Count)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", arch+"-logs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := lava.ParseLog(raw)
	if err != nil {
		t.Fatal(err)
	}
	return page.Results, lines
}

var recordedCases = []string{"prog", "fails", "spins", "crashes", "prog"}

func TestOutcomesFromRecordedJobs(t *testing.T) {
	for _, arch := range []string{"armv8", "armv7"} {
		t.Run(arch, func(t *testing.T) {
			tests, log := recorded(t, arch)
			out, err := lava.Outcomes(recordedCases, tests, log)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 4} {
				o := out[i]
				if !o.OK() || o.Wall <= 0 || o.CPU <= 0 || o.CPU > o.Wall {
					t.Errorf("run %d: %s wall %s cpu %s", i, o.Describe(), o.Wall, o.CPU)
				}
				if !strings.HasSuffix(string(o.Stdout), "checksum: 205be980\n") || len(o.Stderr) != 0 {
					t.Errorf("run %d: stdout %q stderr %q", i, o.Stdout, o.Stderr)
				}
			}
			if o := out[1]; o.ExitCode != 3 || o.Signal != "" || string(o.Stderr) != "asked to fail\n" {
				t.Errorf("failing run: %s, stderr %q", o.Describe(), o.Stderr)
			}
			if o := out[2]; !o.TimedOut || o.Signal != "killed" || o.Wall < 2*time.Second {
				t.Errorf("spinning run: %s after %s", o.Describe(), o.Wall)
			}
			if o := out[3]; o.Signal != "aborted" || o.ExitCode != -1 || o.TimedOut {
				t.Errorf("crashing run: %s", o.Describe())
			}
			// Measurements keep their precision: a decimal string with
			// 10 places.
			for _, tc := range tests {
				if tc.Name == "prog-time" && tc.Meta().Set == "run-0" {
					if v, _ := tc.Value(); out[0].Wall != time.Duration(v*1e9+0.5) {
						t.Errorf("wall %s from %s", out[0].Wall, *tc.Measurement)
					}
				}
			}
		})
	}
}

func TestOutcomesRefuseAnIncompleteJob(t *testing.T) {
	tests, log := recorded(t, "armv8")
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
		name  string
		tests []lava.TestCase
		log   []lava.LogLine
		want  string
	}{
		{"a run without its status", without(func(tc lava.TestCase) bool { return tc.Name == "prog-status" && tc.Meta().Set == "run-4" }), log,
			"no prog-status result"},
		{"a run without its time", without(func(tc lava.TestCase) bool { return tc.Name == "fails-time" }), log,
			"no time measured"},
		{"a run whose output is not in the log", tests, func() []lava.LogLine {
			var out []lava.LogLine
			for _, l := range log {
				if s, ok := l.Msg.(string); ok && strings.HasPrefix(s, "tcbot-output 3 ") {
					continue
				}
				out = append(out, l)
			}
			return out
		}(), "output is not in the job log"},
		{"garbled output", tests, append(append([]lava.LogLine(nil), log...), lava.LogLine{Level: "target", Msg: "tcbot-output 0 stdout Y3dk!!"}),
			"garbled"},
		{"more runs than the job had", tests, log, "run 5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			names := recordedCases
			if strings.HasPrefix(c.name, "more runs") {
				names = append(append([]string(nil), recordedCases...), "prog")
			}
			_, err := lava.Outcomes(names, c.tests, c.log)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func FuzzOutcomes(f *testing.F) {
	f.Add("tcbot-output 0 stdout Y2hlY2tzdW06IDEK", "prog-status", "0.0000000000", "run-0")
	f.Add("tcbot-output 0 stderr", "prog-time", "", "run-0")
	f.Add("tcbot-output x", "prog-signal", "9.0", "run-x")
	f.Fuzz(func(t *testing.T, line, name, measurement, set string) {
		var m *string
		if measurement != "" {
			m = &measurement
		}
		tests := []lava.TestCase{{Name: name, Measurement: m, Metadata: "case: " + name + "\ndefinition: 0_tcbot\nset: " + set + "\n"}}
		out, err := lava.Outcomes([]string{"prog"}, tests, []lava.LogLine{{Level: "target", Msg: line}})
		if err == nil && (len(out) != 1 || out[0] == nil) {
			t.Fatalf("no error and no outcome")
		}
	})
}

func FuzzParseLog(f *testing.F) {
	raw, _ := os.ReadFile(filepath.Join("testdata", "armv7-logs.yaml"))
	f.Add(raw[:min(len(raw), 4000)])
	f.Add([]byte(`- {"dt": "2026", "lvl": "target", "msg": "tcbot-output 0 stdout "}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := lava.ParseLog(data)
		if err == nil {
			_, _ = lava.Outcomes([]string{"a"}, nil, lines)
		}
	})
}

func TestRenderedJob(t *testing.T) {
	tmpl, err := lava.ParseTemplate("", "")
	if err != nil {
		t.Fatal(err)
	}
	steps := []string{`/tcbot/run 0 prog 60 /tcbot/d0 LC_ALL=C -- ./prog 'a b' '$HOME' 'it'\''s'`}
	def, err := lava.Render(tmpl, lava.JobData{
		JobName: `tcbot "armv8": 1 run`, DeviceType: "qemu", Tags: []string{"fast"}, Priority: "medium", Visibility: "public",
		Arch: "arm64", CPU: "cortex-a57", Machine: "virt", Memory: 1024, Console: "ttyAMA0", KernelArgs: "quiet",
		KernelURL: "http://127.0.0.1:1/a/x/Image", RamdiskURL: "http://127.0.0.1:1/a/x/ramdisk.cpio.gz",
		DeployTimeout: 300, BootTimeout: 180, TestTimeout: 125, JobTimeout: 725, StepTimeout: 120, Steps: steps,
	})
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		DeviceType string         `yaml:"device_type"`
		JobName    string         `yaml:"job_name"`
		Tags       []string       `yaml:"tags"`
		Context    map[string]any `yaml:"context"`
		Actions    []struct {
			Deploy *struct {
				To     string `yaml:"to"`
				Images map[string]struct {
					URL      string          `yaml:"url"`
					ImageArg string          `yaml:"image_arg"`
					Format   string          `yaml:"format"`
					Overlays map[string]bool `yaml:"overlays"`
				} `yaml:"images"`
			} `yaml:"deploy"`
			Boot *struct {
				Method  string   `yaml:"method"`
				Prompts []string `yaml:"prompts"`
			} `yaml:"boot"`
			Test *struct {
				Definitions []struct {
					From       string `yaml:"from"`
					Repository struct {
						Run struct {
							Steps []string `yaml:"steps"`
						} `yaml:"run"`
					} `yaml:"repository"`
				} `yaml:"definitions"`
			} `yaml:"test"`
		} `yaml:"actions"`
	}
	if err := yaml.Unmarshal([]byte(def), &job); err != nil {
		t.Fatalf("%v\n%s", err, def)
	}
	if job.DeviceType != "qemu" || job.JobName != `tcbot "armv8": 1 run` || len(job.Tags) != 1 || len(job.Actions) != 3 {
		t.Fatalf("job %+v", job)
	}
	if job.Context["arch"] != "arm64" || job.Context["cpu"] != "cortex-a57" || fmt.Sprint(job.Context["extra_options"]) != "[-no-reboot]" {
		t.Errorf("context %v: want arm64, cortex-a57 and -no-reboot (a panic ends the job at once)", job.Context)
	}
	d := job.Actions[0].Deploy
	rd := d.Images["ramdisk"]
	if d.To != "tmpfs" || rd.Format != "cpio.newc" || !rd.Overlays["lava"] || rd.URL != "http://127.0.0.1:1/a/x/ramdisk.cpio.gz" {
		t.Errorf("deploy %+v: want tmpfs, a cpio.newc ramdisk with LAVA's overlay appended", d)
	}
	if k := d.Images["kernel"]; !strings.Contains(k.ImageArg, `-append "console=ttyAMA0 rdinit=/init panic=-1 quiet"`) || k.URL != "http://127.0.0.1:1/a/x/Image" {
		t.Errorf("kernel %+v", k)
	}
	if b := job.Actions[1].Boot; b.Method != "qemu" || len(b.Prompts) != 1 || b.Prompts[0] != "/ # " {
		t.Errorf("boot %+v", b)
	}
	if got := job.Actions[2].Test.Definitions[0].Repository.Run.Steps; len(got) != 1 || got[0] != steps[0] {
		t.Errorf("steps %q, want %q", got, steps)
	}
}

// TestStepQuoting runs the steps the executor writes through a real sh
// with a stand-in /tcbot/run that prints its arguments.
func TestStepQuoting(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, []byte("x"), 0o755)
	srv := lava.NewTestLab(t)
	ex := srv.Executor(t, "armv8", []string{bin})
	if err := ex.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ex.Cleanup()
	argv := []string{"./prog", "a b", "$HOME", `it's`, "", "*", "--", `"q"`, "tab\there"}
	env := []string{"LC_ALL=C", "X=a b'c"}
	def, err := ex.Definition([]executor.Spec{{Name: "armv8/prog", Dir: dir, Argv: argv, Env: env, Timeout: 90 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Actions []struct {
			Test *struct {
				Definitions []struct {
					Repository struct {
						Run struct{ Steps []string } `yaml:"run"`
					} `yaml:"repository"`
				} `yaml:"definitions"`
			} `yaml:"test"`
		} `yaml:"actions"`
	}
	if err := yaml.Unmarshal([]byte(def), &job); err != nil {
		t.Fatal(err)
	}
	step := job.Actions[2].Test.Definitions[0].Repository.Run.Steps[0]
	script := "run() { for a in \"$@\"; do printf '<%s>\\n' \"$a\"; done; }\n" + strings.Replace(step, "/tcbot/run", "run", 1)
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := []string{"0", "prog", "90", "/tcbot/d0"}
	want = append(want, env...)
	want = append(want, "--")
	want = append(want, argv...)
	var wantOut strings.Builder
	for _, w := range want {
		fmt.Fprintf(&wantOut, "<%s>\n", w)
	}
	if string(out) != wantOut.String() {
		t.Errorf("step %s\nran as\n%s\nwant\n%s", step, out, wantOut.String())
	}
}

func TestArtifactServer(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "Image")
	os.WriteFile(kernel, []byte("kernel bytes"), 0o644)
	s := &lava.ArtifactServer{Listen: "127.0.0.1:0"}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p1, err := s.Publish(map[string]string{"Image": kernel})
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := s.Publish(map[string]string{"Image": kernel})
	get := func(method, u string) (int, string) {
		req, _ := http.NewRequest(method, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	u := p1.URL("Image")
	if p2.URL("Image") == u {
		t.Fatal("two runs share a URL")
	}
	prefix := strings.Split(strings.TrimPrefix(u, "http://"+s.Addr()+"/a/"), "/")[0]
	if len(prefix) < 43 {
		t.Errorf("prefix %q: want 256 random bits", prefix)
	}
	if code, body := get("GET", u); code != 200 || body != "kernel bytes" {
		t.Errorf("GET %s: %d %q", u, code, body)
	}
	base := "http://" + s.Addr()
	for _, bad := range []string{base + "/", base + "/a/", base + "/a/" + prefix + "/", base + "/a/" + prefix + "/ramdisk",
		base + "/a/" + prefix[:40] + "/Image", base + "/Image", base + "/a/" + prefix + "/../" + prefix + "/Image/x"} {
		if code, _ := get("GET", bad); code != 404 {
			t.Errorf("GET %s: %d, want 404", bad, code)
		}
	}
	if code, _ := get("POST", u); code != 404 {
		t.Errorf("POST: %d, want 404", code)
	}
	p1.Withdraw()
	p1.Withdraw()
	if code, _ := get("GET", u); code != 404 {
		t.Errorf("GET after the run: %d, want 404", code)
	}
	if code, _ := get("GET", p2.URL("Image")); code != 200 {
		t.Errorf("the other run's file: %d", code)
	}
	if _, err := s.Publish(map[string]string{"../x": kernel}); err == nil {
		t.Error("published a name with a slash")
	}
}

// TestExecutorAgainstFakeLab runs the executor against a LAVA stand-in that
// answers with the real lab's recorded results: the first job ends
// Incomplete and is submitted again, the second completes; the lab
// downloads the kernel and ramdisk from the artifact server meanwhile,
// sees the token only in the Authorization header, and the files are gone
// after Cleanup.
func TestExecutorAgainstFakeLab(t *testing.T) {
	lab := lava.NewTestLab(t)
	tests, log := recorded(t, "armv8")
	lab.Results(tests, log)
	lab.Healths("Incomplete", "Complete")
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, []byte("a guest binary"), 0o755)
	// Both sides of a change built by one toolchain share their binaries.
	ex := lab.Executor(t, "armv8", []string{bin, bin})
	ctx := context.Background()
	if err := ex.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	var specs []executor.Spec
	for _, n := range recordedCases {
		specs = append(specs, executor.Spec{Name: "armv8/" + n, Dir: dir, Argv: []string{"./prog"}, Timeout: time.Minute})
	}
	out, err := ex.RunBatch(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 5 || !out[0].OK() || out[1].ExitCode != 3 || !out[2].TimedOut {
		t.Errorf("outcomes %+v", out)
	}
	if got := ex.Jobs(); len(got) != 2 {
		t.Errorf("jobs %v: want the Incomplete one and its retry", got)
	}
	if got := lab.Downloads(); !strings.Contains(got, "Image=kernel bytes") || !strings.Contains(got, "ramdisk.cpio.gz=") {
		t.Errorf("the lab downloaded %s", got)
	}
	urls := lab.URLs()
	ex.Cleanup()
	ex.Cleanup()
	for _, u := range urls {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("%s after Cleanup: %d, want 404", u, resp.StatusCode)
			}
		}
	}
	if bad := lab.BadAuth(); bad != "" {
		t.Errorf("requests without the token: %s", bad)
	}
}

func TestExecutorGivesUp(t *testing.T) {
	lab := lava.NewTestLab(t)
	lab.Healths("Incomplete", "Canceled", "Incomplete", "Complete")
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, []byte("x"), 0o755)
	ex := lab.Executor(t, "armv7", []string{bin})
	ex.Retries = 2
	ctx := context.Background()
	if err := ex.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	defer ex.Cleanup()
	_, err := ex.Run(ctx, executor.Spec{Name: "armv7/prog", Dir: dir, Argv: []string{"./prog"}})
	var ie *executor.InfraError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "ended Incomplete") || !strings.Contains(err.Error(), "3 jobs failed") {
		t.Errorf("error %v: want an infrastructure error after 3 jobs", err)
	}
	if strings.Contains(err.Error(), lab.Token) {
		t.Error("the error shows the token")
	}
}

func TestExecutorCancels(t *testing.T) {
	lab := lava.NewTestLab(t)
	lab.Healths("never")
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, []byte("x"), 0o755)
	ex := lab.Executor(t, "armv8", []string{bin})
	ctx, cancel := context.WithCancel(context.Background())
	if err := ex.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	defer ex.Cleanup()
	var wg sync.WaitGroup
	wg.Add(1)
	var err error
	go func() {
		defer wg.Done()
		_, err = ex.Run(ctx, executor.Spec{Name: "armv8/prog", Dir: dir, Argv: []string{"./prog"}})
	}()
	// Cancel once the executor knows the job's id.
	for deadline := time.Now().Add(30 * time.Second); len(ex.Jobs()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no job submitted in 30s")
		}
	}
	cancel()
	wg.Wait()
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want canceled", err)
	}
	if got := lab.Canceled(); len(got) != 1 {
		t.Errorf("canceled jobs %v: want the running job canceled in the lab", got)
	}
}

func TestLabChecks(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*lava.TestLab, *lava.Executor)
		want  string
	}{
		{"no token", func(l *lava.TestLab, e *lava.Executor) { e.Client.Token = "" }, "the environment variable TCBOT_LAVA_TOKEN is empty"},
		{"wrong token", func(l *lava.TestLab, e *lava.Executor) { e.Client.Token = "wrong" }, "refused the token in TCBOT_LAVA_TOKEN (Invalid token.)"},
		{"no such device type", func(l *lava.TestLab, e *lava.Executor) { e.DeviceType = "juno" }, `no device type "juno"`},
		{"every device offline", func(l *lava.TestLab, e *lava.Executor) { l.WorkerState("Offline") }, "no device of type qemu is online and healthy: qemu01 (Good, Idle, worker w1 Offline)"},
		{"device in maintenance", func(l *lava.TestLab, e *lava.Executor) { l.DeviceHealth("Maintenance") }, "qemu01 (Maintenance"},
		{"tags no device has", func(l *lava.TestLab, e *lava.Executor) { e.Tags = []string{"big"} }, "device type qemu has no devices with tags big"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lab := lava.NewTestLab(t)
			ex := lab.Executor(t, "armv8", nil)
			c.setup(lab, ex)
			err := ex.Prepare(context.Background())
			defer ex.Cleanup()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Prepare: %v, want %q", err, c.want)
			}
		})
	}
}

func TestClientPaginates(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "" {
			fmt.Fprintf(w, `{"count":3,"next":%q,"previous":null,"results":[{"name":"a-status","measurement":"1.5000000000","unit":"s"},{"name":"b","measurement":null,"unit":""}]}`,
				srv.URL+r.URL.Path+"?limit=2&offset=2")
			return
		}
		fmt.Fprint(w, `{"count":3,"next":null,"previous":"x","results":[{"name":"c","measurement":"2","unit":"ms"}]}`)
	}))
	defer srv.Close()
	c := &lava.Client{URL: srv.URL}
	tests, err := c.Tests(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 3 || tests[2].Name != "c" || tests[2].Unit != "ms" {
		t.Fatalf("tests %+v", tests)
	}
	if v, ok := tests[0].Value(); !ok || v != 1.5 {
		t.Errorf("measurement %v %v", v, ok)
	}
	if _, ok := tests[1].Value(); ok {
		t.Error("a null measurement has a value")
	}
}

func TestKernelPanicFromRecordedLog(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "panic-logs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := lava.ParseLog(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lava.KernelPanic(lines), "guest Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, log := recorded(t, "armv8")
	if got := lava.KernelPanic(log); got != "" {
		t.Errorf("a good job's log gives %q", got)
	}
	// LAVA's own account of the failure is on its "job" test case.
	data, _ := os.ReadFile(filepath.Join("testdata", "panic-tests.json"))
	var page struct{ Results []lava.TestCase }
	json.Unmarshal(data, &page)
	found := false
	for _, tc := range page.Results {
		if m := tc.Meta(); tc.Name == "job" && m.Definition == "lava" {
			found = m.ErrorType == "Infrastructure" && m.ErrorMsg == "Connection closed"
		}
	}
	if !found {
		t.Error("no job test case with the error in the recorded panic job")
	}
}

// TestLabChecksOnRecordedAnswers checks the lab as Prepare does against
// the real lab's recorded answers (devices, device type, worker, whoami).
func TestLabChecksOnRecordedAnswers(t *testing.T) {
	files := map[string]string{
		"/api/v0.2/system/whoami/":           "whoami.json",
		"/api/v0.2/system/version/":          "version.json",
		"/api/v0.2/devicetypes/qemu/":        "devicetype-qemu.json",
		"/api/v0.2/devices/":                 "devices-qemu.json",
		"/api/v0.2/workers/tcbot-worker/":    "worker.json",
		"/api/v0.2/devicetypes/no-such-one/": "devicetype-missing.json",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if r.Header.Get("Authorization") != "Token good" {
			f, ok = "whoami-bad-token.json", true
			w.WriteHeader(403)
		} else if !ok || strings.HasSuffix(f, "missing.json") {
			w.WriteHeader(404)
		}
		if ok {
			data, _ := os.ReadFile(filepath.Join("testdata", f))
			w.Write(data)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("x"), 0o755)
	for _, c := range []struct{ name, token, deviceType, want string }{
		{"ready", "good", "qemu", "lab: LAVA 2023.01 at " + srv.URL + "/ as admin; device type qemu: 2 of 2 devices ready: qemu01 (Unknown, Idle, worker tcbot-worker Online); qemu02"},
		{"bad token", "bad", "qemu", "the lab refused the token in TCBOT_LAVA_TOKEN (Invalid token.)"},
		{"missing device type", "good", "no-such-one", `the lab has no device type "no-such-one"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := &lava.Executor{Client: &lava.Client{URL: srv.URL + "/", Token: c.token}, TokenEnv: "TCBOT_LAVA_TOKEN",
				DeviceType: c.deviceType, Arch: "armv8", Kernel: bb, Busybox: bb, CC: "aarch64-linux-gnu-gcc", CacheDir: filepath.Join(dir, "cache")}
			defer ex.Cleanup()
			err := ex.Prepare(context.Background())
			got := ex.Lab()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
