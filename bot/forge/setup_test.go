package forge_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
)

// token is what the stand-in accepts; it must never show in errors or logs.
const token = "ghs_s3cr3tT0kenThatMustNeverLeak"

var acme = forge.Repo{Owner: "acme", Name: "gcc"}

const (
	headSHA = "1111111111111111111111111111111111111111"
	baseSHA = "2222222222222222222222222222222222222222"
	marker  = "<!-- tcbot:report -->"
)

// clock is a fake clock whose Sleep records the wait and moves time on.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// syncBuffer is a log destination safe to read while goroutines log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	gh    *githubtest.Server
	c     *forge.Client
	clock *clock
	log   *syncBuffer
	reg   *prometheus.Registry
}

// setup starts a stand-in with acme/gcc#7 open, and a client for it with a
// fake clock, a captured debug log and a fresh metrics registry. opt, if
// given, adjusts the client's options.
func setup(t *testing.T, opt ...func(*forge.Options)) *env {
	t.Helper()
	e := &env{
		gh:    githubtest.New(t, token),
		clock: &clock{now: time.Unix(1_700_000_000, 0)},
		log:   &syncBuffer{},
		reg:   prometheus.NewRegistry(),
	}
	e.gh.AddPull("acme/gcc", forge.PR{Number: 7, HeadSHA: headSHA, BaseSHA: baseSHA, Author: "alice"})
	log := logrus.New()
	log.SetOutput(e.log)
	log.SetLevel(logrus.DebugLevel)
	o := forge.Options{
		APIURL:     e.gh.URL(),
		Token:      token,
		Log:        log,
		Registerer: e.reg,
		Sleep:      e.clock.Sleep,
		Now:        e.clock.Now,
	}
	for _, f := range opt {
		f(&o)
	}
	c, err := forge.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	t.Cleanup(func() {
		for _, call := range e.gh.Unhandled() {
			t.Errorf("the stand-in does not know %s %s", call.Method, call.Path)
		}
		if strings.Contains(e.log.String(), token) {
			t.Errorf("the token is in the log:\n%s", e.log)
		}
	})
	return e
}

// calls counts the requests matching method and path prefix.
func (e *env) calls(method, prefix string) int {
	n := 0
	for _, c := range e.gh.Calls() {
		if c.Method == method && strings.HasPrefix(c.Path, prefix) {
			n++
		}
	}
	return n
}

func (e *env) totalWait() time.Duration {
	var sum time.Duration
	for _, w := range e.clock.Waits() {
		sum += w
	}
	return sum
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
