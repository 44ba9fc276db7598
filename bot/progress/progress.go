// Package progress shows how far a long measurement has got, on stderr: a
// one-line bar that redraws itself on a terminal, plain log lines
// otherwise (CI logs, pipes). It never writes to stdout, which holds
// reports only.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Reporter receives progress; implementations are safe for concurrent use.
type Reporter interface {
	// Start announces a phase with total steps.
	Start(phase string, total int)
	// Step marks one step of the current phase done.
	Step(what string)
	// Finish ends the current phase.
	Finish()
}

// Discard ignores progress.
type Discard struct{}

func (Discard) Start(string, int) {}
func (Discard) Step(string)       {}
func (Discard) Finish()           {}

// New returns a bar when w is a terminal, else plain lines every few
// seconds at most.
func New(w io.Writer) Reporter {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &bar{w: w}
	}
	return &lines{w: w}
}

type bar struct {
	mu          sync.Mutex
	w           io.Writer
	phase       string
	total, done int
	start       time.Time
}

func (b *bar) Start(phase string, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.phase, b.total, b.done, b.start = phase, total, 0, time.Now()
	b.draw("")
}

func (b *bar) Step(what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done++
	b.draw(what)
}

func (b *bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.phase == "" {
		return
	}
	fmt.Fprintf(b.w, "\r\033[K%s: %d/%d done in %.1fs\n", b.phase, b.done, b.total, time.Since(b.start).Seconds())
	b.phase = ""
}

func (b *bar) draw(what string) {
	const width = 30
	filled := 0
	if b.total > 0 {
		filled = width * b.done / b.total
	}
	if len(what) > 40 {
		what = what[:40]
	}
	fmt.Fprintf(b.w, "\r\033[K%-9s [%s%s] %d/%d %s", b.phase, strings.Repeat("#", filled), strings.Repeat(".", width-filled), b.done, b.total, what)
}

type lines struct {
	mu          sync.Mutex
	w           io.Writer
	phase       string
	total, done int
	start, last time.Time
}

func (l *lines) Start(phase string, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase, l.total, l.done, l.start, l.last = phase, total, 0, time.Now(), time.Now()
	fmt.Fprintf(l.w, "%s: %d steps\n", phase, total)
}

func (l *lines) Step(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	if time.Since(l.last) >= 5*time.Second {
		l.last = time.Now()
		fmt.Fprintf(l.w, "%s: %d/%d (%s)\n", l.phase, l.done, l.total, what)
	}
}

func (l *lines) Finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase == "" {
		return
	}
	fmt.Fprintf(l.w, "%s: %d/%d done in %.1fs\n", l.phase, l.done, l.total, time.Since(l.start).Seconds())
	l.phase = ""
}
