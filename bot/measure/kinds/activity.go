package kinds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Activity measures the wall time during which at least one subprocess
// runs, to tell tcbot's own overhead from compilers and emulators.
type Activity struct {
	mu     sync.Mutex
	active int
	since  time.Time
	sum    time.Duration
}

// Begin says a subprocess starts.
func (a *Activity) Begin() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active == 0 {
		a.since = time.Now()
	}
	a.active++
}

// End says it ended.
func (a *Activity) End() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.active--
	if a.active == 0 {
		a.sum += time.Since(a.since)
	}
}

// Total is the busy wall time so far.
func (a *Activity) Total() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sum
}

// Pool runs fns with at most n at once and returns when all are done.
func Pool(ctx context.Context, n int, fns []func(context.Context)) {
	if n < 1 {
		n = 1
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, fn := range fns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx)
		}()
	}
	wg.Wait()
}

// FileSHA256 is the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteJSON writes v to path atomically.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Tail returns the last n non-empty lines of out, for failure notes.
func Tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, " | ")
	if len(s) > 600 {
		s = s[len(s)-600:]
	}
	return s
}

// OneLineTail is the last n lines of s on one line.
func OneLineTail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Dedupe drops adjacent repeats (of sorted lines).
func Dedupe(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
