package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/store/pgtest"
	"github.com/tcbot/tcbot/bot/webhook"
)

// BenchmarkWebhookIngestion drives serve's HTTP handler on loopback with
// signed pull_request deliveries (the real 28 KB synchronize payload, each
// for its own pull request) from 16 concurrent senders, 10% of them
// redelivered, and reports deliveries per second and p50/p99 latency. It
// checks that every unique delivery was recorded and queued once and every
// duplicate was dropped. Workers are not started: this measures ingestion.
// It runs on SQLite and on PostgreSQL.
func BenchmarkWebhookIngestion(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchIngestion(b, "") })
	b.Run("postgres", func(b *testing.B) { benchIngestion(b, pgtest.URL(b)) })
}

func benchIngestion(b *testing.B, database string) {
	const total, senders = 4000, 16
	dir := b.TempDir()
	if err := measuretest.WriteSuite(filepath.Join(dir, "suite")); err != nil {
		b.Fatal(err)
	}
	gh := githubtest.New(b, token)
	b.Setenv("TCBOT_TEST_TOKEN", token)
	cfgText := fmt.Sprintf("workdir: work\nbenchmarks_dir: suite\ngithub: {api_url: %s, token_env: TCBOT_TEST_TOKEN}\nrepos: [{name: hello, url: origin, branches: [master], github: %s}]\ntargets: [{name: armv8-qemu, arch: armv8, executor: qemu-user}]\n", gh.URL(), ghRepo)
	if database != "" {
		cfgText = "database: " + database + "\n" + cfgText
	}
	path := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(path, []byte(cfgText), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx := context.Background()
	m, err := measure.New(ctx, cfg, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Store.Close()
	client, _ := forge.New(forge.Options{APIURL: gh.URL(), Token: token, Log: log})
	svc, err := service.New(ctx, service.Options{Config: cfg, Measurer: m, Forge: client, Secret: []byte(secret), Log: log})
	if err != nil {
		b.Fatal(err)
	}
	h, _ := svc.Handler()
	srv := httptest.NewServer(h)
	defer srv.Close()

	raw, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", "webhooks", "pull_request", "synchronize.json"))
	if err != nil {
		b.Fatal(err)
	}
	var tmpl map[string]any
	json.Unmarshal(raw, &tmpl)
	type delivery struct {
		id   string
		body []byte
		sig  string
	}
	var ds []delivery
	for i := 0; i < total; i++ {
		tmpl["number"] = i + 1
		obj(tmpl, "pull_request")["number"] = i + 1
		body, _ := json.Marshal(tmpl)
		ds = append(ds, delivery{id: fmt.Sprintf("bench-%d", i), body: body, sig: webhook.Sign([]byte(secret), body)})
	}
	// Every tenth delivery is sent twice, as GitHub's redelivery does.
	var work []delivery
	for i, d := range ds {
		work = append(work, d)
		if i%10 == 0 {
			work = append(work, d)
		}
	}
	transport := &http.Transport{MaxIdleConnsPerHost: senders}
	hc := &http.Client{Transport: transport}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		lat := make([]time.Duration, len(work))
		codes := make([]int, len(work))
		var wg sync.WaitGroup
		next := make(chan int)
		start := time.Now()
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					d := work[i]
					req, _ := http.NewRequest("POST", srv.URL+"/webhook", bytes.NewReader(d.body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-GitHub-Event", "pull_request")
					req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("%s-%d", d.id, it))
					req.Header.Set("X-Hub-Signature-256", d.sig)
					t0 := time.Now()
					resp, err := hc.Do(req)
					lat[i] = time.Since(t0)
					if err != nil {
						codes[i] = -1
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}
			}()
		}
		for i := range work {
			next <- i
		}
		close(next)
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		accepted, dups := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusAccepted:
				accepted++
			case http.StatusOK:
				dups++
			default:
				b.Fatalf("a delivery got HTTP %d", c)
			}
		}
		if accepted != total || dups != len(work)-total {
			b.Fatalf("accepted %d (want %d), duplicates %d (want %d)", accepted, total, dups, len(work)-total)
		}
		var stored int
		m.Store.Q().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE id LIKE ?`, fmt.Sprintf("bench-%%-%d", it)).Scan(&stored)
		if stored != total {
			b.Fatalf("%d deliveries recorded, want %d: some were lost", stored, total)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(len(work))/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.StartTimer()
	}
}

func TestMain(m *testing.M) { pgtest.Main(m) }
