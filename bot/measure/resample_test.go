package measure_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/result"
)

// scriptedBoard is Woodpecker's "dummy backend" idea at the executor
// contract: a board whose timings are drawn from known distributions, so
// the statistics can be tested without a board. It prints the right
// checksums.
type scriptedBoard struct {
	mu       sync.Mutex
	rng      *rand.Rand
	mean     map[string]float64 // benchmark -> mean seconds
	calls    map[string]int
	prepares int
}

func (s *scriptedBoard) Name() string { return "scripted" }
func (s *scriptedBoard) Prepare(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prepares++
	return nil
}
func (s *scriptedBoard) Cleanup() error { return nil }
func (s *scriptedBoard) Run(_ context.Context, spec executor.Spec) (*executor.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := filepath.Base(spec.Argv[0])
	s.calls[name]++
	sum := map[string]uint64{"loop": measuretest.LoopSum(300000), "steady": measuretest.SteadySum(200000)}[name]
	wall := s.mean[name] * (1 + 0.01*s.rng.NormFloat64())
	return &executor.Outcome{Stdout: []byte(fmt.Sprintf("checksum: %016x\n", sum)), Wall: time.Duration(wall * float64(time.Second))}, nil
}

func TestGreyZoneGetsMoreSamples(t *testing.T) {
	f := newFixture(t, `  - name: board
    arch: armv8
    executor: ssh
    samples: 3
    ssh: {host: board.lab, user: bench, key_file: id, known_hosts: kh}`)
	m := f.measurer(t)
	var mu sync.Mutex
	var boards []*scriptedBoard
	// The run prepares the base's executor, then the head's, and the
	// resampling rounds reuse them (a booted guest, a board's uploaded
	// binaries): the head's loop is 3% slower, steady is the same.
	m.NewExecutor = func(config.Target) (executor.Executor, error) {
		mu.Lock()
		defer mu.Unlock()
		b := &scriptedBoard{rng: rand.New(rand.NewPCG(7, uint64(len(boards)))), mean: map[string]float64{"loop": 1.0, "steady": 1.0}, calls: map[string]int{}}
		if len(boards)%2 == 1 {
			b.mean["loop"] = 1.03
		}
		boards = append(boards, b)
		return b, nil
	}
	rep, st, err := m.Run(context.Background(), measureRequest(f, "slow", "base"))
	if err != nil {
		t.Fatal(err)
	}
	if len(boards) != 2 || boards[0].prepares != 1 || boards[1].prepares != 1 {
		t.Fatalf("%d board executors, want one per side, prepared once and reused by every round", len(boards))
	}
	var loop, steady *compare.Comparison
	for i, c := range rep.Comparisons {
		if c.Metric == result.Time && c.Benchmark == "loop" {
			loop = &rep.Comparisons[i]
		}
		if c.Metric == result.Time && c.Benchmark == "steady" {
			steady = &rep.Comparisons[i]
		}
	}
	if loop == nil || steady == nil {
		t.Fatalf("time comparisons missing: %+v", rep.Comparisons)
	}
	if st.Resampled == 0 || loop.BaseN <= 3 || loop.BaseN != loop.HeadN || loop.BaseN > 12 {
		t.Errorf("loop: %d/%d samples after %d resamplings; want more than 3, equal on both sides, at most 4x", loop.BaseN, loop.HeadN, st.Resampled)
	}
	t.Logf("loop: %d samples a side, p %.4f, delta %+.2f%%; steady: %d samples; %d resamplings", loop.BaseN, *loop.P, *loop.DeltaPct, steady.BaseN, st.Resampled)
	if loop.Verdict != compare.Regression {
		t.Errorf("a 3%% slowdown with 1%% noise: verdict %s (p %v) after resampling, want regression", loop.Verdict, loop.P)
	}
	if steady.Verdict != compare.Unchanged {
		t.Errorf("steady: %s, want unchanged", steady.Verdict)
	}
	if got := boards[0].calls["loop"]; got != loop.BaseN {
		t.Errorf("base loop ran %d times, report says %d samples", got, loop.BaseN)
	}
}
