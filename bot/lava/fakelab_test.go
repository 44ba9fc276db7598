package lava

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestLab is a stand-in for a LAVA lab's REST API (the parts tcbot uses,
// answering as LAVA 2023.01 does). Like a worker, it downloads a job's
// kernel and ramdisk when the job is submitted.
type TestLab struct {
	Token string
	srv   *httptest.Server

	mu           sync.Mutex
	healths      []string // the end of each submitted job, in order
	jobs         []string // health of job i+1
	tests        []TestCase
	log          []LogLine
	workerState  string
	deviceHealth string
	downloads    []string
	urls         []string
	badAuth      []string
	canceled     []int
}

// NewTestLab starts a stand-in lab with one device qemu01 (Good, on
// worker w1, Online) of device type qemu.
func NewTestLab(t *testing.T) *TestLab {
	l := &TestLab{Token: "s3cret-t0ken", workerState: "Online", deviceHealth: "Good"}
	l.srv = httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(l.srv.Close)
	return l
}

// Results sets the test cases and log every completed job answers with.
func (l *TestLab) Results(tests []TestCase, log []LogLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tests, l.log = tests, log
}

// Healths sets how the submitted jobs end, in order ("never": it runs
// until canceled); jobs past the list complete.
func (l *TestLab) Healths(h ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.healths = h
}

func (l *TestLab) WorkerState(s string)  { l.mu.Lock(); l.workerState = s; l.mu.Unlock() }
func (l *TestLab) DeviceHealth(s string) { l.mu.Lock(); l.deviceHealth = s; l.mu.Unlock() }

// Downloads lists what the lab downloaded: name=content (or name=N bytes).
func (l *TestLab) Downloads() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.downloads, ", ")
}

// URLs are the artifact URLs of the submitted jobs.
func (l *TestLab) URLs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// BadAuth lists requests that came without the token.
func (l *TestLab) BadAuth() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.badAuth, ", ")
}

// Canceled lists the jobs canceled.
func (l *TestLab) Canceled() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.canceled...)
}

// Executor is an executor for the lab with a stand-in kernel and busybox
// (so no Debian package is fetched).
func (l *TestLab) Executor(t *testing.T, arch string, files []string) *Executor {
	dir := t.TempDir()
	k := filepath.Join(dir, "kernel")
	os.WriteFile(k, []byte("kernel bytes"), 0o644)
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("busybox bytes"), 0o755)
	cc := map[string]string{"armv8": "aarch64-linux-gnu-gcc", "armv7": "arm-linux-gnueabihf-gcc"}[arch]
	return &Executor{
		Client: &Client{URL: l.srv.URL + "/", Token: l.Token}, TokenEnv: "TCBOT_LAVA_TOKEN",
		DeviceType: "qemu", Arch: arch, CC: cc, CacheDir: filepath.Join(dir, "cache"),
		Kernel: k, Busybox: bb, Files: files,
		Poll: Backoff{First: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 2},
	}
}

func (l *TestLab) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/api/v0.2/")
	auth := r.Header.Get("Authorization")
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	if auth != "Token "+l.Token {
		if auth != "" {
			reply(403, map[string]string{"detail": "Invalid token."})
			return
		}
		if p == "system/whoami/" {
			reply(200, map[string]string{"user": ""})
			return
		}
		l.mu.Lock()
		l.badAuth = append(l.badAuth, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		reply(403, map[string]string{"detail": "Authentication credentials were not provided."})
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var id int
	switch {
	case p == "system/whoami/":
		reply(200, map[string]string{"user": "tester"})
	case p == "system/version/":
		reply(200, map[string]string{"version": "2023.01"})
	case p == "devicetypes/qemu/":
		reply(200, map[string]any{"name": "qemu", "display": true})
	case strings.HasPrefix(p, "devicetypes/"):
		reply(404, map[string]string{"detail": "Not found."})
	case p == "devices/" && r.URL.Query().Get("device_type") == "qemu":
		reply(200, map[string]any{"count": 1, "next": nil, "results": []map[string]any{{
			"hostname": "qemu01", "device_type": "qemu", "state": "Idle", "health": l.deviceHealth, "worker_host": "w1", "tags": []string{}}}})
	case p == "workers/w1/":
		reply(200, map[string]string{"hostname": "w1", "state": l.workerState, "health": "Active"})
	case p == "jobs/" && r.Method == http.MethodPost:
		var body struct{ Definition string }
		json.NewDecoder(r.Body).Decode(&body)
		if err := l.download(body.Definition); err != nil {
			reply(400, map[string]string{"message": "Problem with submitted job data: " + err.Error()})
			return
		}
		h := "Complete"
		if len(l.jobs) < len(l.healths) {
			h = l.healths[len(l.jobs)]
		}
		l.jobs = append(l.jobs, h)
		reply(201, map[string]any{"message": "job(s) successfully submitted", "job_ids": []int{len(l.jobs)}})
	case scan(p, "jobs/%d/cancel/", &id):
		l.canceled = append(l.canceled, id)
		if id <= len(l.jobs) {
			l.jobs[id-1] = "Canceled"
		}
		reply(200, map[string]string{"message": "Job cancel signal sent."})
	case scan(p, "jobs/%d/tests/", &id):
		reply(200, map[string]any{"count": len(l.tests), "next": nil, "previous": nil, "results": l.tests})
	case scan(p, "jobs/%d/logs/", &id):
		out, _ := yaml.Marshal(l.log)
		w.Write(out)
	case scan(p, "jobs/%d/", &id) && id >= 1 && id <= len(l.jobs):
		state, health := "Finished", l.jobs[id-1]
		if health == "never" {
			state, health = "Running", "Unknown"
		}
		reply(200, map[string]any{"id": id, "state": state, "health": health, "failure_comment": nil})
	default:
		reply(404, map[string]string{"detail": "Not found."})
	}
}

func scan(p, format string, id *int) bool {
	n, err := fmt.Sscanf(p, format, id)
	return err == nil && n == 1 && fmt.Sprintf(format, *id) == p
}

// download fetches a job's kernel and ramdisk as a worker would.
func (l *TestLab) download(def string) error {
	var job struct {
		Actions []struct {
			Deploy *struct {
				Images map[string]struct{ URL string } `yaml:"images"`
			} `yaml:"deploy"`
		} `yaml:"actions"`
	}
	if err := yaml.Unmarshal([]byte(def), &job); err != nil {
		return err
	}
	if len(job.Actions) == 0 || job.Actions[0].Deploy == nil {
		return fmt.Errorf("no deploy action")
	}
	for name, img := range job.Actions[0].Deploy.Images {
		resp, err := http.Get(img.URL)
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: download %s: %s", name, img.URL, resp.Status)
		}
		base := img.URL[strings.LastIndex(img.URL, "/")+1:]
		if name == "kernel" {
			l.downloads = append(l.downloads, base+"="+string(data))
		} else {
			l.downloads = append(l.downloads, fmt.Sprintf("%s=%d bytes", base, len(data)))
		}
		l.urls = append(l.urls, img.URL)
	}
	return nil
}
