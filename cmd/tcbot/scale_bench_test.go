package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/store/pgtest"
)

// BenchmarkQueueThroughput measures jobs per second through River on
// PostgreSQL with 1, 2 and 4 `tcbot worker` processes serving one target.
// The jobs are trivial: measurement jobs of changes that are already done,
// which a worker takes, checks and completes without measuring, so the
// number is the queue's own cost (fetch, lock, run, complete) per job.
func BenchmarkQueueThroughput(b *testing.B) {
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) { benchQueue(b, n) })
	}
}

func benchQueue(b *testing.B, workers int) {
	const jobs = 300
	dir := b.TempDir()
	dsn := pgtest.URL(b)
	if err := measuretest.WriteSuite(filepath.Join(dir, "suite")); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var procs []*proc
	for i := 0; i < workers; i++ {
		cfg := filepath.Join(dir, fmt.Sprintf("w%d.yaml", i))
		os.WriteFile(cfg, []byte(fmt.Sprintf(`database: %s
workdir: work-%d
benchmarks_dir: suite
repos: [{name: r, url: origin}]
targets: [{name: armv8-qemu, arch: armv8, executor: qemu-user}]
`, dsn, i)), 0o644)
		addr := freePort(b)
		p := startTcbot(b, []string{"worker", "--config", cfg, "--id", fmt.Sprintf("w%d", i), "--targets", "armv8-qemu", "--listen", addr, "--drain", "5s"})
		procs = append(procs, p)
		waitFor(b, "worker to answer /healthz", 60*time.Second, func() bool { return healthy(addr) })
	}
	defer func() {
		for _, p := range procs {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
	}()
	client, err := river.NewClient(riverpgxv5.New(st.Pool()), &river.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		var params []river.InsertManyParams
		for i := 0; i < jobs; i++ {
			c := &store.Change{Repo: "r", Head: fmt.Sprintf("%040d", i), Origin: "push"}
			if _, err := store.InsertChange(ctx, st.Q(), c); err != nil {
				b.Fatal(err)
			}
			if err := store.SetChangeState(ctx, st.Q(), c.ID, store.ChangeDone, ""); err != nil {
				b.Fatal(err)
			}
			a := service.MeasureArgs{Change: c.ID, Target: "armv8-qemu"}
			o := a.InsertOpts()
			params = append(params, river.InsertManyParams{Args: a, InsertOpts: &o})
		}
		b.StartTimer()
		start := time.Now()
		if _, err := client.InsertMany(ctx, params); err != nil {
			b.Fatal(err)
		}
		waitFor(b, "the queue to drain", 5*time.Minute, func() bool {
			var left int
			st.Q().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'tcbot_measure' AND state <> 'completed'`).Scan(&left)
			return left == 0
		})
		elapsed := time.Since(start)
		b.StopTimer()
		var done int
		st.Q().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'tcbot_measure' AND state = 'completed'`).Scan(&done)
		if done != jobs*(it+1) {
			b.Fatalf("%d jobs completed, want %d", done, jobs*(it+1))
		}
		b.ReportMetric(float64(jobs)/elapsed.Seconds(), "jobs/s")
		b.StartTimer()
	}
}
