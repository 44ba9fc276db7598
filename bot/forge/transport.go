package forge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// ErrUnavailable matches (errors.Is) the error of a call that kept failing
// for reasons on GitHub's side (5xx, broken connections, rate limits) until
// its retry budget ran out. Such a call is worth repeating later.
var ErrUnavailable = errors.New("GitHub unavailable")

// UnavailableError is the error behind ErrUnavailable.
type UnavailableError struct {
	Method, Path string
	Attempts     int
	Retried      time.Duration // time spent since the operation began
	Last         string        // the last failure: a status line or a connection error
	// Until, if not zero, is when GitHub said the rate limit resets; the
	// call failed at once because that is beyond its budget.
	Until time.Time
}

func (e *UnavailableError) Error() string {
	msg := fmt.Sprintf("GitHub unavailable: %s %s: retried for %s (%d attempts), last: %s",
		e.Method, e.Path, e.Retried.Round(time.Millisecond), e.Attempts, e.Last)
	if !e.Until.IsZero() {
		msg += fmt.Sprintf("; rate limited until %s", e.Until.UTC().Format(time.RFC3339))
	}
	return msg
}

func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// budget is the retry allowance of one operation. It travels in the context
// so that an operation's several requests (find, then create) share it.
type budget struct{ start, deadline time.Time }

type budgetKey struct{}

// withBudget starts an operation's retry budget unless one is running.
func (c *Client) withBudget(ctx context.Context) context.Context {
	if _, ok := ctx.Value(budgetKey{}).(budget); ok {
		return ctx
	}
	now := c.now()
	return context.WithValue(ctx, budgetKey{}, budget{start: now, deadline: now.Add(c.maxWait)})
}

type noReplayKey struct{}

// noReplay marks a request whose repetition would duplicate something (a
// POST that creates a comment or an issue). The transport then retries it
// only when GitHub certainly did not apply it: rate limits and failed dials.
// After a 5xx or a broken connection the caller looks before trying again.
func noReplay(ctx context.Context) context.Context {
	return context.WithValue(ctx, noReplayKey{}, true)
}

// retryTransport retries what is worth retrying, within the operation's
// budget, and counts calls.
type retryTransport struct {
	base    http.RoundTripper
	log     logrus.FieldLogger
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	maxWait time.Duration
	calls   *prometheus.CounterVec
}

const (
	backoffFirst = 500 * time.Millisecond
	backoffMax   = 30 * time.Second
	// secondaryWait is GitHub's advice for a secondary rate limit that names
	// no time: "wait for at least one minute before retrying".
	secondaryWait = time.Minute
)

// backoff is the wait before retry number attempt+1: 0.5s, 1s, 2s, ... up
// to 30s, each within ±25% so that clients do not retry in step.
func backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 10 {
		d = min(backoffFirst<<attempt, backoffMax)
	}
	d = d*3/4 + rand.N(d/2)
	return min(d, backoffMax)
}

// retry is the decision about one failed attempt.
type retry struct {
	wait   time.Duration
	exact  bool      // GitHub named the wait: honour it exactly, or give up
	until  time.Time // the rate limit's reset, if that set the wait
	reason string
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	b, ok := ctx.Value(budgetKey{}).(budget)
	if !ok {
		now := t.now()
		b = budget{start: now, deadline: now.Add(t.maxWait)}
	}
	replay := ctx.Value(noReplayKey{}) == nil
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	log := t.log.WithFields(logrus.Fields{"method": req.Method, "path": req.URL.Path})

	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					t.count(req.Method, "error")
					return nil, fmt.Errorf("rewind request body: %w", err)
				}
				r.Body = body
			}
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil && ctx.Err() != nil {
			t.count(req.Method, "error")
			return nil, err
		}
		var d retry
		var again bool
		if rewindable {
			d, again = t.classify(resp, err, attempt, replay)
		}
		if !again {
			status := "error"
			if resp != nil {
				status = strconv.Itoa(resp.StatusCode)
				hideRateLimitReset(resp)
			}
			t.count(req.Method, status)
			log.WithField("status", status).Debug("github call")
			return resp, err
		}

		status, last := "error", ""
		if resp != nil {
			status, last = strconv.Itoa(resp.StatusCode), resp.Status
			drain(resp)
		} else {
			last = err.Error()
		}
		remaining := b.deadline.Sub(t.now())
		if d.exact && d.wait > remaining || remaining <= 0 {
			t.count(req.Method, status)
			return nil, &UnavailableError{
				Method: req.Method, Path: req.URL.Path, Attempts: attempt,
				Retried: t.now().Sub(b.start), Last: last, Until: d.until,
			}
		}
		d.wait = min(d.wait, remaining)
		log.WithFields(logrus.Fields{"status": status, "attempt": attempt, "wait": d.wait}).
			Warnf("github call failed (%s), retrying", d.reason)
		if err := t.sleep(ctx, d.wait); err != nil {
			t.count(req.Method, "error")
			return nil, err
		}
	}
}

// classify says whether a failed attempt is worth retrying, and after how long.
func (t *retryTransport) classify(resp *http.Response, err error, attempt int, replay bool) (retry, bool) {
	if err != nil {
		var op *net.OpError
		if !replay && !(errors.As(err, &op) && op.Op == "dial") {
			return retry{}, false // the request may have reached GitHub
		}
		return retry{wait: backoff(attempt - 1), reason: "connection error"}, true
	}
	code := resp.StatusCode
	switch {
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		if d, ok := t.serverWait(resp); ok {
			return d, true
		}
		if code == http.StatusTooManyRequests {
			return retry{wait: backoff(attempt - 1), reason: "too many requests"}, true
		}
		if secondaryRateLimited(resp) {
			return retry{wait: secondaryWait, exact: true, reason: "secondary rate limit"}, true
		}
		return retry{}, false // a real "forbidden"
	case code >= 500:
		if !replay {
			return retry{}, false
		}
		if d, ok := t.serverWait(resp); ok {
			return d, true
		}
		return retry{wait: backoff(attempt - 1), reason: "server error"}, true
	}
	return retry{}, false
}

// serverWait reads the wait GitHub asks for: Retry-After (seconds or a
// date), or the primary rate limit's reset (epoch seconds) when none remain.
func (t *retryTransport) serverWait(resp *http.Response) (retry, bool) {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
			return retry{wait: time.Duration(s) * time.Second, exact: true, reason: "Retry-After " + v}, true
		}
		if at, err := http.ParseTime(v); err == nil {
			return t.waitUntil(at, "Retry-After "+v), true
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			d := t.waitUntil(time.Unix(s, 0), "rate limit exhausted")
			d.until = time.Unix(s, 0)
			return d, true
		}
		return retry{wait: secondaryWait, exact: true, reason: "rate limit exhausted"}, true
	}
	return retry{}, false
}

func (t *retryTransport) waitUntil(at time.Time, reason string) retry {
	d := at.Sub(t.now())
	if d <= 0 {
		// Our clock is ahead of GitHub's; a short wait avoids a tight loop.
		d = backoffFirst
	}
	return retry{wait: d, exact: true, reason: reason}
}

// secondaryRateLimited recognizes a secondary rate limit that came without
// a Retry-After header by its message, leaving the body readable.
func secondaryRateLimited(resp *http.Response) bool {
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	s := strings.ToLower(string(data))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse")
}

// hideRateLimitReset keeps go-github from refusing the next call on its
// own: it fails calls without sending them while the last answer said no
// requests remain. This transport owns rate limiting: it sends the next
// request, and if GitHub refuses it, waits for the reset within the budget.
func hideRateLimitReset(resp *http.Response) {
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		resp.Header.Del("X-RateLimit-Reset")
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func (t *retryTransport) count(method, status string) {
	t.calls.WithLabelValues(method, status).Inc()
}
