package forge_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/forge"
)

const commentsPath = "/repos/acme/gcc/issues/7/comments"

func TestRetries(t *testing.T) {
	start := time.Unix(1_700_000_000, 0) // the fake clock's start
	reset := func(d time.Duration) string { return strconv.FormatInt(start.Add(d).Unix(), 10) }

	tests := []struct {
		name  string
		fail  func(e *env)
		wrap  func(next http.RoundTripper) http.RoundTripper // between client and stand-in
		check func(t *testing.T, e *env, err error)
	}{{
		name: "500 twice then success posts one comment",
		fail: func(e *env) { e.gh.Fail("POST", commentsPath, 2, 500, nil) },
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			if w := e.clock.Waits(); len(w) != 2 || !within(w[0], 375*time.Millisecond, 625*time.Millisecond) || !within(w[1], 750*time.Millisecond, 1250*time.Millisecond) {
				t.Errorf("waits %v, want about 0.5s then 1s", w)
			}
		},
	}, {
		name: "502 on a read is retried",
		fail: func(e *env) { e.gh.Fail("GET", commentsPath, 3, 502, nil) },
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			wantWaits(t, e, 3)
		},
	}, {
		name: "primary rate limit waits until the reset",
		fail: func(e *env) {
			e.gh.Fail("GET", commentsPath, 1, 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(30 * time.Second)})
		},
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			if w := e.clock.Waits(); len(w) != 1 || w[0] != 30*time.Second {
				t.Errorf("waits %v, want [30s]", w)
			}
		},
	}, {
		name: "429 with Retry-After waits exactly that long",
		fail: func(e *env) { e.gh.Fail("POST", commentsPath, 1, 429, map[string]string{"Retry-After": "7"}) },
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			if w := e.clock.Waits(); len(w) != 1 || w[0] != 7*time.Second {
				t.Errorf("waits %v, want [7s]", w)
			}
		},
	}, {
		name: "secondary rate limit 403 with Retry-After",
		fail: func(e *env) { e.gh.Fail("POST", commentsPath, 1, 403, map[string]string{"Retry-After": "60"}) },
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			if w := e.clock.Waits(); len(w) != 1 || w[0] != time.Minute {
				t.Errorf("waits %v, want [1m]", w)
			}
		},
	}, {
		name: "429 without a hint backs off",
		fail: func(e *env) { e.gh.Fail("POST", commentsPath, 1, 429, nil) },
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			wantWaits(t, e, 1)
		},
	}, {
		name: "a rate limit resetting after MaxWait fails at once",
		fail: func(e *env) {
			e.gh.Fail("GET", commentsPath, 1, 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(time.Hour)})
		},
		check: func(t *testing.T, e *env, err error) {
			if !errors.Is(err, forge.ErrUnavailable) || !strings.Contains(err.Error(), "rate limited until") {
				t.Errorf("err = %v, want GitHub unavailable, rate limited until the reset", err)
			}
			var ue *forge.UnavailableError
			if errors.As(err, &ue) && !ue.Until.Equal(start.Add(time.Hour)) {
				t.Errorf("Until = %v, want the reset %v", ue.Until, start.Add(time.Hour))
			}
			wantWaits(t, e, 0)
			wantComments(t, e, nil, 0)
		},
	}, {
		name: "persistent 502 gives up after MaxWait",
		fail: func(e *env) {
			if _, err := e.c.Login(context.Background()); err != nil { // learnt at start, before the outage
				panic(err)
			}
			e.gh.Fail("", "", 1000, 502, nil)
		},
		check: func(t *testing.T, e *env, err error) {
			if !errors.Is(err, forge.ErrUnavailable) || !strings.Contains(err.Error(), "GitHub unavailable") || !strings.Contains(err.Error(), "retried for 2m0s") {
				t.Errorf("err = %v, want GitHub unavailable, retried for 2m0s", err)
			}
			if !strings.HasPrefix(err.Error(), "find comment on acme/gcc#7: GitHub unavailable: GET /repos/acme/gcc/issues/7/comments: ") {
				t.Errorf("err = %v, want it to name the operation", err)
			}
			if got := e.totalWait(); got != 2*time.Minute {
				t.Errorf("waited %v in all, want MaxWait 2m", got)
			}
			for _, w := range e.clock.Waits() {
				if w > 30*time.Second {
					t.Errorf("a wait of %v, want backoff capped at 30s", w)
				}
			}
		},
	}, {
		name: "POST applied but answered 502 posts one comment",
		fail: func(e *env) { e.gh.FailAfterApply("POST", commentsPath, 1, 502) },
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			if n := e.calls("POST", commentsPath); n != 1 {
				t.Errorf("%d POSTs, want 1: the comment was found, not posted again", n)
			}
		},
	}, {
		name: "POST applied but the connection broke posts one comment",
		wrap: func(next http.RoundTripper) http.RoundTripper {
			var broke atomic.Bool
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := next.RoundTrip(r)
				if r.Method == "POST" && !broke.Swap(true) {
					resp.Body.Close()
					return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
				}
				return resp, err
			})
		},
		check: func(t *testing.T, e *env, err error) { wantComments(t, e, err, 1) },
	}, {
		name: "failed dials are retried, even for a POST",
		wrap: func(next http.RoundTripper) http.RoundTripper {
			var fails atomic.Int32
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if fails.Add(1) <= 2 {
					return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
				}
				return next.RoundTrip(r)
			})
		},
		check: func(t *testing.T, e *env, err error) {
			wantComments(t, e, err, 1)
			wantWaits(t, e, 2)
		},
	}, {
		name: "plain 403 is not retried",
		fail: func(e *env) { e.gh.Fail("POST", commentsPath, 1, 403, nil) },
		check: func(t *testing.T, e *env, err error) {
			if err == nil || !strings.Contains(err.Error(), "403") {
				t.Errorf("err = %v, want the 403", err)
			}
			wantWaits(t, e, 0)
		},
	}, {
		name: "404 is not retried",
		fail: func(e *env) { e.gh.Fail("GET", commentsPath, 1, 404, nil) },
		check: func(t *testing.T, e *env, err error) {
			if !forge.IsNotFound(err) {
				t.Errorf("err = %v, want not found", err)
			}
			wantWaits(t, e, 0)
		},
	}, {
		name: "422 on create is not retried",
		fail: func(e *env) { e.gh.Fail("POST", commentsPath, 1, 422, nil) },
		check: func(t *testing.T, e *env, err error) {
			if err == nil || !strings.HasPrefix(err.Error(), "create comment on acme/gcc#7: ") {
				t.Errorf("err = %v, want a create error", err)
			}
			wantWaits(t, e, 0)
			if n := e.calls("POST", commentsPath); n != 1 {
				t.Errorf("%d POSTs, want 1", n)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, func(o *forge.Options) {
				if tt.wrap != nil {
					o.HTTPTransport = tt.wrap(http.DefaultTransport)
				}
			})
			if tt.fail != nil {
				tt.fail(e)
			}
			_, _, err := e.c.UpsertComment(context.Background(), acme, 7, marker, report("no regressions"))
			tt.check(t, e, err)
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
}

func TestPlainForbiddenIsNotRetried(t *testing.T) {
	e := setup(t, func(o *forge.Options) {
		o.HTTPTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: 403, Status: "403 Forbidden", Request: r,
				Header: http.Header{"Content-Type": {"application/json"}},
				Body:   readCloser(`{"message":"Resource not accessible by integration"}`),
			}, nil
		})
	})
	err := e.c.SetStatus(context.Background(), acme, headSHA, "tcbot/armv8-qemu", "pending", "", "")
	if err == nil || !strings.Contains(err.Error(), "Resource not accessible by integration") {
		t.Errorf("err = %v, want GitHub's refusal", err)
	}
	wantWaits(t, e, 0)
}

func TestSecondaryRateLimitWithoutRetryAfterWaitsAMinute(t *testing.T) {
	var limited atomic.Bool
	e := setup(t, func(o *forge.Options) {
		o.HTTPTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if limited.Swap(true) {
				return http.DefaultTransport.RoundTrip(r)
			}
			return &http.Response{
				StatusCode: 403, Status: "403 Forbidden", Request: r,
				Header: http.Header{"Content-Type": {"application/json"}},
				Body:   readCloser(`{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`),
			}, nil
		})
	})
	if err := e.c.SetStatus(context.Background(), acme, headSHA, "tcbot/armv8-qemu", "pending", "", ""); err != nil {
		t.Fatal(err)
	}
	if w := e.clock.Waits(); len(w) != 1 || w[0] != time.Minute {
		t.Errorf("waits %v, want [1m]", w)
	}
	if _, ok := e.gh.LatestStatus("acme/gcc", headSHA, "tcbot/armv8-qemu"); !ok {
		t.Error("the status was not set")
	}
}

func TestLastRequestOfTheRateLimitDoesNotBlockTheNext(t *testing.T) {
	var first atomic.Bool
	e := setup(t, func(o *forge.Options) {
		o.HTTPTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil && !first.Swap(true) {
				// go-github reads these with the real clock.
				resp.Header.Set("X-RateLimit-Remaining", "0")
				resp.Header.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
			}
			return resp, err
		})
	})
	for range 2 {
		if _, err := e.c.PullRequest(context.Background(), acme, 7); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.gh.Calls()); n != 2 {
		t.Errorf("%d calls reached GitHub, want 2: GitHub, not go-github, says when the limit bites", n)
	}
}

func TestBadTokenIsNotRetried(t *testing.T) {
	e := setup(t, func(o *forge.Options) { o.Token = "not-the-token" })
	_, _, err := e.c.UpsertComment(context.Background(), acme, 7, marker, report("x"))
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want 401", err)
	}
	if n := len(e.gh.Calls()); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	wantWaits(t, e, 0)
	if strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("the token is in the error: %v", err)
	}
}

func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.gh.Fail("", "", 1000, 502, nil)
	var errs []error
	_, _, err := e.c.UpsertComment(ctx, acme, 7, marker, report("x"))
	errs = append(errs, err)
	errs = append(errs, e.c.SetStatus(ctx, acme, headSHA, "tcbot/armv7-qemu", "failure", "boom", ""))
	_, err = e.c.Permission(ctx, acme, "alice")
	errs = append(errs, err)
	_, err = e.c.CloseIssue(ctx, acme, "<!-- sweep -->", "fixed")
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Error("a call succeeded against a broken GitHub")
		} else if strings.Contains(err.Error(), token) {
			t.Errorf("the token is in the error: %v", err)
		}
	}
	if !strings.Contains(e.log.String(), "retrying") {
		t.Errorf("the log does not show the retries:\n%s", e.log)
	}
	// setup's cleanup checks the log for the token.
}

func TestRetryStopsWhenContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := setup(t, func(o *forge.Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
	})
	e.gh.Fail("", "", 1000, 503, nil)
	_, err := e.c.PullRequest(ctx, acme, 7)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context canceled", err)
	}
	if n := len(e.gh.Calls()); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func wantComments(t *testing.T, e *env, err error, n int) {
	t.Helper()
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if cs := e.gh.Comments("acme/gcc", 7); len(cs) != n {
		t.Errorf("%d comments, want %d: %+v", len(cs), n, cs)
	}
}

func wantWaits(t *testing.T, e *env, n int) {
	t.Helper()
	if w := e.clock.Waits(); len(w) != n {
		t.Errorf("waits %v, want %d", w, n)
	}
}

func within(d, lo, hi time.Duration) bool { return lo <= d && d <= hi }

func readCloser(s string) *readCloserString { return &readCloserString{strings.NewReader(s)} }

type readCloserString struct{ *strings.Reader }

func (readCloserString) Close() error { return nil }
