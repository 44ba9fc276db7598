package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

var testSecret = []byte("It's a Secret to Everybody")

// fakeSink records what it accepts. It reports a duplicate for a delivery
// ID it has seen, like the store does, or whatever dup and err say.
type fakeSink struct {
	mu     sync.Mutex
	events []Event
	seen   map[string]bool
	dup    bool
	err    error
}

func (s *fakeSink) Accept(ctx context.Context, ev Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if s.dup || s.seen[ev.Delivery] {
		return true, nil
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[ev.Delivery] = true
	s.events = append(s.events, ev)
	return false, nil
}

func (s *fakeSink) accepted() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

type testServer struct {
	handler http.Handler
	sink    *fakeSink
	reg     *prometheus.Registry
	logs    *logtest.Hook
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	ts := &testServer{sink: &fakeSink{}, reg: prometheus.NewRegistry(), logs: hook}
	h, err := NewHandler(Options{Secret: testSecret, Sink: ts.sink, Log: log, Registerer: ts.reg})
	if err != nil {
		t.Fatal(err)
	}
	ts.handler = h
	return ts
}

// delivery is a request as GitHub would send it; tests change fields to
// make it less so.
type delivery struct {
	method      string
	event       string
	id          string
	contentType string
	body        []byte
	signature   string // "" signs body with testSecret; "-" sends none
	header      http.Header
}

func newDelivery(event string, body []byte) *delivery {
	return &delivery{method: http.MethodPost, event: event, id: "72d3162e-cc78-11e3-81ab-4c9367dc0958", contentType: "application/json", body: body}
}

func (d *delivery) request() *http.Request {
	r := httptest.NewRequest(d.method, "/webhook", bytes.NewReader(d.body))
	if d.event != "" {
		r.Header.Set("X-GitHub-Event", d.event)
	}
	if d.id != "" {
		r.Header.Set("X-GitHub-Delivery", d.id)
	}
	if d.contentType != "" {
		r.Header.Set("Content-Type", d.contentType)
	}
	switch d.signature {
	case "":
		r.Header.Set("X-Hub-Signature-256", Sign(testSecret, d.body))
	case "-":
	default:
		r.Header.Set("X-Hub-Signature-256", d.signature)
	}
	for k, vs := range d.header {
		r.Header[k] = vs
	}
	return r
}

func (ts *testServer) do(d *delivery) (int, string) {
	w := httptest.NewRecorder()
	ts.handler.ServeHTTP(w, d.request())
	return w.Code, strings.TrimSpace(w.Body.String())
}

func (ts *testServer) count(event, result string) float64 {
	return testutil.ToFloat64(ts.handler.(*handler).metrics.deliveries.WithLabelValues(event, result))
}

// payload reads one of the real deliveries in testdata/webhooks.
func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit returns body with change applied to its decoded JSON.
func edit(t testing.TB, body []byte, change func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// onPullRequest turns a comment on a plain issue into one on a pull
// request, as GitHub marks those: with issue.pull_request.
func onPullRequest(m map[string]any) {
	m["issue"].(map[string]any)["pull_request"] = map[string]any{
		"url":      "https://api.github.com/repos/Codertocat/Hello-World/pulls/1",
		"html_url": "https://github.com/Codertocat/Hello-World/pull/1",
	}
}

func setAction(action string) func(map[string]any) {
	return func(m map[string]any) { m["action"] = action }
}

const (
	prHead = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	prBase = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
)

func pr(state string, draft bool) *PullRequest {
	return &PullRequest{
		Number: 2, HeadSHA: prHead, HeadRef: "changes", BaseRef: "master", BaseSHA: prBase,
		Author: "Codertocat", AuthorAssociation: "OWNER", State: state, Draft: draft,
	}
}

func TestRealPayloads(t *testing.T) {
	tests := []struct {
		name      string
		event     string
		file      string
		change    func(map[string]any) // derives a variant; nil sends the file as it is
		wantCode  int
		wantReply string
		want      *Event // nil: the Sink must not be called
	}{
		{
			name: "push deleting a tag", event: "push", file: "push/payload.json",
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "push", Repo: "Codertocat/Hello-World", Sender: "Codertocat", Push: &Push{
				Ref: "refs/tags/simple-tag", Before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
				After: "0000000000000000000000000000000000000000", Deleted: true,
			}},
		},
		{
			name: "pull request opened", event: "pull_request", file: "pull_request/opened.json",
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "pull_request", Action: "opened", Repo: "Codertocat/Hello-World", Sender: "Codertocat", PullRequest: pr("open", false)},
		},
		{
			name: "pull request synchronize", event: "pull_request", file: "pull_request/synchronize.json",
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "pull_request", Action: "synchronize", Repo: "Codertocat/Hello-World", Sender: "Codertocat", PullRequest: pr("open", false)},
		},
		{
			name: "pull request reopened", event: "pull_request", file: "pull_request/reopened.json",
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "pull_request", Action: "reopened", Repo: "Codertocat/Hello-World", Sender: "Codertocat", PullRequest: pr("open", false)},
		},
		{
			name: "pull request closed", event: "pull_request", file: "pull_request/closed.json",
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "pull_request", Action: "closed", Repo: "Codertocat/Hello-World", Sender: "Codertocat", PullRequest: pr("closed", false)},
		},
		{
			name: "pull request converted to draft", event: "pull_request", file: "pull_request/opened.json",
			change: func(m map[string]any) {
				m["action"] = "converted_to_draft"
				m["pull_request"].(map[string]any)["draft"] = true
			},
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "pull_request", Action: "converted_to_draft", Repo: "Codertocat/Hello-World", Sender: "Codertocat", PullRequest: pr("open", true)},
		},
		{
			name: "pull request ready for review", event: "pull_request", file: "pull_request/opened.json",
			change:   setAction("ready_for_review"),
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "pull_request", Action: "ready_for_review", Repo: "Codertocat/Hello-World", Sender: "Codertocat", PullRequest: pr("open", false)},
		},
		{
			name: "pull request labeled", event: "pull_request", file: "pull_request/opened.json",
			change:   setAction("labeled"),
			wantCode: 202, wantReply: "ignored: pull_request/labeled",
		},
		{
			name: "comment on a pull request", event: "issue_comment", file: "issue_comment/created.json",
			change:   onPullRequest,
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "issue_comment", Action: "created", Repo: "Codertocat/Hello-World", Sender: "Codertocat", Comment: &Comment{
				ID: 492700400, Body: "You are totally right! I'll get this fixed right away.",
				Author: "Codertocat", AuthorAssociation: "OWNER", IssueNumber: 1, OnPullRequest: true,
			}},
		},
		{
			name: "comment on an issue", event: "issue_comment", file: "issue_comment/created.json",
			change: func(m map[string]any) {
				onPullRequest(m)
				delete(m["issue"].(map[string]any), "pull_request")
			},
			wantCode: 202, wantReply: "ignored: issue_comment/created: not a pull request",
		},
		{
			name: "/tcbot accept on an issue", event: "issue_comment", file: "issue_comment/created.json",
			change: func(m map[string]any) {
				m["comment"].(map[string]any)["body"] = "Intended.\n/tcbot accept new cost model"
			},
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "issue_comment", Action: "created", Repo: "Codertocat/Hello-World", Sender: "Codertocat", Comment: &Comment{
				ID: 492700400, Body: "Intended.\n/tcbot accept new cost model",
				Author: "Codertocat", AuthorAssociation: "OWNER", IssueNumber: 1, OnPullRequest: false,
			}},
		},
		{
			name: "comment on an issue as delivered", event: "issue_comment", file: "issue_comment/created.json",
			wantCode: 202, wantReply: "ignored: issue_comment/created: not a pull request",
		},
		{
			name: "edited comment", event: "issue_comment", file: "issue_comment/edited.json",
			wantCode: 202, wantReply: "ignored: issue_comment/edited",
		},
		{
			name: "edited comment on a pull request", event: "issue_comment", file: "issue_comment/edited.json",
			change:   onPullRequest,
			wantCode: 202, wantReply: "ignored: issue_comment/edited",
		},
		{
			name: "check run rerequested", event: "check_run", file: "check_run/rerequested.json",
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "check_run", Action: "rerequested", Repo: "github/hello-world", Sender: "octocat", Rerequest: &Rerequest{
				HeadSHA: "d6fde92930d4715a2b49857d24b940956b26d2d3", HeadBranch: "master", CheckName: "randscape",
			}},
		},
		{
			name: "check run requested action", event: "check_run", file: "check_run/rerequested.json",
			change:   setAction("requested_action"),
			wantCode: 202, wantReply: "ignored: check_run/requested_action",
		},
		{
			name: "check suite rerequested", event: "check_suite", file: "check_suite/rerequested.json",
			wantCode: 202, wantReply: "queued",
			want: &Event{Kind: "check_suite", Action: "rerequested", Repo: "Codertocat/Hello-World", Sender: "octocoders-linter[bot]", Rerequest: &Rerequest{
				HeadSHA: prHead, HeadBranch: "changes",
			}},
		},
		{
			name: "ping", event: "ping", file: "ping/payload.json",
			wantCode: 200, wantReply: "pong",
		},
		{
			name: "event tcbot does not read", event: "star", file: "issue_comment/created.json",
			wantCode: 202, wantReply: "ignored: star/created",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			body := payload(t, tt.file)
			if tt.change != nil {
				body = edit(t, body, tt.change)
			}
			d := newDelivery(tt.event, body)
			code, reply := ts.do(d)
			if code != tt.wantCode || reply != tt.wantReply {
				t.Errorf("got %d %q, want %d %q", code, reply, tt.wantCode, tt.wantReply)
			}
			got := ts.sink.accepted()
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("Sink called with %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("Sink got %d events, want 1", len(got))
			}
			ev := got[0]
			if !bytes.Equal(ev.Payload, body) {
				t.Error("Event.Payload is not the delivered body")
			}
			ev.Payload = nil
			want := *tt.want
			want.Delivery = d.id
			if !reflect.DeepEqual(ev, want) {
				t.Errorf("Event:\n got %s\nwant %s", dump(ev), dump(want))
			}
		})
	}
}

func dump(ev Event) string {
	b, _ := json.Marshal(ev)
	return string(b)
}

func TestRejected(t *testing.T) {
	body := payload(t, "pull_request/opened.json")
	sha1Sig := func(body []byte) string {
		m := hmac.New(sha1.New, testSecret)
		m.Write(body)
		return "sha1=" + hex.EncodeToString(m.Sum(nil))
	}
	tests := []struct {
		name       string
		change     func(*delivery)
		wantCode   int
		wantReply  string
		wantResult string
	}{
		{
			name:     "wrong secret",
			change:   func(d *delivery) { d.signature = Sign([]byte("not the secret"), d.body) },
			wantCode: 401, wantReply: "signature mismatch", wantResult: "bad_signature",
		},
		{
			name:     "signature over a different body",
			change:   func(d *delivery) { d.signature = Sign(testSecret, append([]byte(" "), d.body...)) },
			wantCode: 401, wantReply: "signature mismatch", wantResult: "bad_signature",
		},
		{
			name: "body changed after signing",
			change: func(d *delivery) {
				d.signature = Sign(testSecret, d.body)
				d.body = bytes.Replace(d.body, []byte("opened"), []byte("closed"), 1)
			},
			wantCode: 401, wantReply: "signature mismatch", wantResult: "bad_signature",
		},
		{
			name:     "missing signature",
			change:   func(d *delivery) { d.signature = "-" },
			wantCode: 401, wantReply: "missing X-Hub-Signature-256", wantResult: "bad_signature",
		},
		{
			name: "SHA-1 signature only",
			change: func(d *delivery) {
				d.signature = "-"
				d.header = http.Header{"X-Hub-Signature": {sha1Sig(d.body)}}
			},
			wantCode: 401, wantReply: "missing X-Hub-Signature-256", wantResult: "bad_signature",
		},
		{
			name:     "SHA-1 signature in the SHA-256 header",
			change:   func(d *delivery) { d.signature = sha1Sig(d.body) },
			wantCode: 401, wantReply: "malformed X-Hub-Signature-256: want sha256=<hex>", wantResult: "bad_signature",
		},
		{
			name:     "signature not hex",
			change:   func(d *delivery) { d.signature = "sha256=zz" },
			wantCode: 401, wantReply: "malformed X-Hub-Signature-256: want sha256=<hex>", wantResult: "bad_signature",
		},
		{
			name:     "truncated signature",
			change:   func(d *delivery) { d.signature = Sign(testSecret, d.body)[:40] },
			wantCode: 401, wantReply: "malformed X-Hub-Signature-256: want sha256=<hex>", wantResult: "bad_signature",
		},
		{
			name:     "missing event header",
			change:   func(d *delivery) { d.event = "" },
			wantCode: 400, wantReply: "missing X-GitHub-Event", wantResult: "bad_request",
		},
		{
			name:     "missing delivery header",
			change:   func(d *delivery) { d.id = "" },
			wantCode: 400, wantReply: "missing X-GitHub-Delivery", wantResult: "bad_request",
		},
		{
			name:     "delivery ID too long",
			change:   func(d *delivery) { d.id = strings.Repeat("a", 201) },
			wantCode: 400, wantReply: "X-GitHub-Delivery too long", wantResult: "bad_request",
		},
		{
			name:     "GET",
			change:   func(d *delivery) { d.method = http.MethodGet; d.body = nil },
			wantCode: 405, wantReply: "method not allowed: use POST", wantResult: "bad_request",
		},
		{
			name:     "body one byte over 25 MiB",
			change:   func(d *delivery) { d.body = bytes.Repeat([]byte(" "), 25<<20+1) },
			wantCode: 413, wantReply: "body larger than 25 MiB", wantResult: "too_large",
		},
		{
			name:     "malformed JSON",
			change:   func(d *delivery) { d.body = d.body[:len(d.body)/2] },
			wantCode: 400, wantReply: "malformed JSON: unexpected end of JSON input", wantResult: "bad_request",
		},
		{
			name:     "JSON null",
			change:   func(d *delivery) { d.body = []byte("null") },
			wantCode: 400, wantReply: "malformed JSON: not an object", wantResult: "bad_request",
		},
		{
			name:     "pull request event without a pull request",
			change:   func(d *delivery) { d.body = []byte(`{"action":"opened","number":2}`) },
			wantCode: 400, wantReply: "malformed JSON: payload has no pull_request", wantResult: "bad_request",
		},
		{
			name:     "pull request without a repository",
			change:   func(d *delivery) { d.body = edit(t, d.body, func(m map[string]any) { delete(m, "repository") }) },
			wantCode: 400, wantReply: "malformed JSON: payload has no repository.full_name", wantResult: "bad_request",
		},
		{
			name:     "unsupported content type",
			change:   func(d *delivery) { d.contentType = "text/plain" },
			wantCode: 415, wantReply: "unsupported Content-Type: want application/json", wantResult: "bad_request",
		},
		{
			name:     "missing content type",
			change:   func(d *delivery) { d.contentType = "" },
			wantCode: 415, wantReply: "missing Content-Type: want application/json", wantResult: "bad_request",
		},
		{
			name: "form without payload",
			change: func(d *delivery) {
				d.contentType = "application/x-www-form-urlencoded"
				d.body = []byte("data=" + url.QueryEscape(string(d.body)))
			},
			wantCode: 400, wantReply: "form has no payload field", wantResult: "bad_request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			d := newDelivery("pull_request", body)
			tt.change(d)
			w := httptest.NewRecorder()
			ts.handler.ServeHTTP(w, d.request())
			reply := strings.TrimSpace(w.Body.String())
			if w.Code != tt.wantCode || reply != tt.wantReply {
				t.Errorf("got %d %q, want %d %q", w.Code, reply, tt.wantCode, tt.wantReply)
			}
			if got := w.Header().Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if tt.wantCode == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", w.Header().Get("Allow"))
			}
			if got := ts.sink.accepted(); len(got) != 0 {
				t.Errorf("Sink called with %d events", len(got))
			}
			event := d.event
			if event == "" {
				event = "other"
			}
			if n := ts.count(event, tt.wantResult); n != 1 {
				t.Errorf("tcbot_webhooks_total{event=%q,result=%q} = %v, want 1", event, tt.wantResult, n)
			}
		})
	}
}

func TestDuplicate(t *testing.T) {
	ts := newTestServer(t)
	d := newDelivery("pull_request", payload(t, "pull_request/synchronize.json"))
	if code, reply := ts.do(d); code != 202 || reply != "queued" {
		t.Fatalf("first delivery: %d %q", code, reply)
	}
	// GitHub's "Redeliver" sends the same delivery ID again.
	if code, reply := ts.do(d); code != 200 || reply != "duplicate delivery" {
		t.Fatalf("redelivery: %d %q, want 200 \"duplicate delivery\"", code, reply)
	}
	if n := len(ts.sink.accepted()); n != 1 {
		t.Errorf("Sink accepted %d events, want 1", n)
	}
	if n := ts.count("pull_request", "duplicate"); n != 1 {
		t.Errorf("duplicate count = %v", n)
	}

	// The Sink alone decides what is a duplicate.
	ts = newTestServer(t)
	ts.sink.dup = true
	if code, reply := ts.do(d); code != 200 || reply != "duplicate delivery" {
		t.Fatalf("Sink says duplicate: %d %q", code, reply)
	}
}

func TestSinkError(t *testing.T) {
	ts := newTestServer(t)
	ts.sink.err = errors.New(`insert delivery: database "/var/lib/tcbot/tcbot.db" is locked`)
	code, reply := ts.do(newDelivery("issue_comment", edit(t, payload(t, "issue_comment/created.json"), onPullRequest)))
	if code != 500 || reply != "could not queue: internal error" {
		t.Errorf("got %d %q, want 500 \"could not queue: internal error\"", code, reply)
	}
	if n := ts.count("issue_comment", "error"); n != 1 {
		t.Errorf("error count = %v", n)
	}
	// The log has the details the reply leaves out.
	entry := ts.logs.LastEntry()
	if entry == nil || entry.Level != logrus.ErrorLevel || !strings.Contains(fmt.Sprint(entry.Data[logrus.ErrorKey]), "is locked") {
		t.Errorf("log entry %+v does not carry the Sink's error", entry)
	}

	ts.sink.err = fmt.Errorf("begin: %w", context.DeadlineExceeded)
	if code, reply := ts.do(newDelivery("push", payload(t, "push/payload.json"))); code != 500 || reply != "could not queue: timed out" {
		t.Errorf("got %d %q, want 500 \"could not queue: timed out\"", code, reply)
	}
}

// cancelCheckingSink fails when its context is already done.
type cancelCheckingSink struct{ fakeSink }

func (s *cancelCheckingSink) Accept(ctx context.Context, ev Event) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return s.fakeSink.Accept(ctx, ev)
}

func TestSenderHangsUp(t *testing.T) {
	sink := &cancelCheckingSink{}
	h, err := NewHandler(Options{Secret: testSecret, Sink: sink, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := newDelivery("pull_request", payload(t, "pull_request/opened.json")).request().WithContext(ctx)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 202 || len(sink.accepted()) != 1 {
		t.Errorf("got %d and %d events: a verified delivery must be queued after the sender hung up", w.Code, len(sink.accepted()))
	}
}

func TestFormEncoded(t *testing.T) {
	ts := newTestServer(t)
	json := payload(t, "pull_request/reopened.json")
	d := newDelivery("pull_request", []byte("payload="+url.QueryEscape(string(json))))
	d.contentType = "application/x-www-form-urlencoded"
	if code, reply := ts.do(d); code != 202 || reply != "queued" {
		t.Fatalf("got %d %q, want 202 queued", code, reply)
	}
	got := ts.sink.accepted()
	if len(got) != 1 || got[0].PullRequest == nil || got[0].PullRequest.Number != 2 || got[0].Action != "reopened" {
		t.Fatalf("Sink got %+v", got)
	}
	if !bytes.Equal(got[0].Payload, json) {
		t.Error("Event.Payload is not the JSON of the form's payload field")
	}

	// The signature covers the form as sent, not the JSON inside it.
	d.id = "another"
	d.signature = Sign(testSecret, json)
	if code, reply := ts.do(d); code != 401 || reply != "signature mismatch" {
		t.Errorf("form signed over its JSON: got %d %q, want 401", code, reply)
	}
}

func TestJSONWithCharset(t *testing.T) {
	ts := newTestServer(t)
	d := newDelivery("push", payload(t, "push/payload.json"))
	d.contentType = "application/json; charset=utf-8"
	if code, reply := ts.do(d); code != 202 {
		t.Errorf("got %d %q, want 202", code, reply)
	}
}

func TestSend(t *testing.T) {
	ts := newTestServer(t)
	srv := httptest.NewServer(ts.handler)
	defer srv.Close()

	body := payload(t, "pull_request/opened.json")
	status, reply, delivery, err := Send(context.Background(), srv.URL+"/webhook", testSecret, "pull_request", body)
	if err != nil {
		t.Fatal(err)
	}
	if status != 202 || reply != "queued" {
		t.Errorf("Send: %d %q, want 202 queued", status, reply)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(delivery) {
		t.Errorf("delivery ID %q is not a UUID", delivery)
	}
	got := ts.sink.accepted()
	if len(got) != 1 || got[0].Delivery != delivery || got[0].PullRequest.HeadSHA != prHead || !bytes.Equal(got[0].Payload, body) {
		t.Fatalf("Sink got %+v", got)
	}

	// Each send is a new delivery.
	_, _, again, err := Send(context.Background(), srv.URL+"/webhook", testSecret, "pull_request", body)
	if err != nil || again == delivery || len(ts.sink.accepted()) != 2 {
		t.Errorf("second send: delivery %q (first %q), err %v, %d events", again, delivery, err, len(ts.sink.accepted()))
	}

	// The receiver's verdict is a status, not an error.
	status, reply, _, err = Send(context.Background(), srv.URL+"/webhook", []byte("wrong"), "pull_request", body)
	if err != nil || status != 401 || reply != "signature mismatch" {
		t.Errorf("wrong secret: %d %q %v", status, reply, err)
	}

	if _, _, _, err := Send(context.Background(), srv.URL, nil, "ping", body); err == nil {
		t.Error("Send with no secret succeeded")
	}
}

func TestSendHeaders(t *testing.T) {
	var got http.Header
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		gotBody, _ = io.ReadAll(r.Body)
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	_, reply, delivery, err := Send(context.Background(), srv.URL, testSecret, "ping", body)
	if err != nil || reply != "ok" {
		t.Fatalf("Send: %q %v", reply, err)
	}
	for k, want := range map[string]string{
		"X-GitHub-Event":      "ping",
		"X-GitHub-Delivery":   delivery,
		"X-Hub-Signature-256": Sign(testSecret, body),
		"Content-Type":        "application/json",
		"User-Agent":          "GitHub-Hookshot/tcbot",
	} {
		if got.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, got.Get(k), want)
		}
	}
	if got.Get("X-Hub-Signature") != "" {
		t.Error("Send sent a SHA-1 signature")
	}
	if !bytes.Equal(gotBody, body) {
		t.Error("body changed in transit")
	}
}

func TestSign(t *testing.T) {
	// The example in GitHub's "Validating webhook deliveries".
	got := Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestNewHandler(t *testing.T) {
	if _, err := NewHandler(Options{Sink: &fakeSink{}}); err == nil {
		t.Error("NewHandler without a secret succeeded")
	}
	if _, err := NewHandler(Options{Secret: []byte{}, Sink: &fakeSink{}}); err == nil {
		t.Error("NewHandler with an empty secret succeeded")
	}
	if _, err := NewHandler(Options{Secret: testSecret}); err == nil {
		t.Error("NewHandler without a Sink succeeded")
	}
	h, err := NewHandler(Options{Secret: testSecret, Sink: &fakeSink{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.(*handler).maxBody; got != 25<<20 {
		t.Errorf("default MaxBody = %d, want 25 MiB", got)
	}

	// Two handlers on one registry share their metrics.
	reg := prometheus.NewRegistry()
	for range 2 {
		h, err := NewHandler(Options{Secret: testSecret, Sink: &fakeSink{}, Registerer: reg, Log: discard()})
		if err != nil {
			t.Fatal(err)
		}
		code, _ := (&testServer{handler: h}).do(newDelivery("ping", payload(t, "ping/payload.json")))
		if code != 200 {
			t.Fatalf("ping: %d", code)
		}
	}
	want := `
# HELP tcbot_webhooks_total GitHub webhook deliveries received, by event and result: queued, duplicate, ignored, bad_signature, bad_request, too_large, too_slow (body not received within the read timeout), busy (refused unread: as many bodies as allowed were being read), error.
# TYPE tcbot_webhooks_total counter
tcbot_webhooks_total{event="ping",result="ignored"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tcbot_webhooks_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "tcbot_webhook_seconds"); err != nil || n != 1 {
		t.Errorf("tcbot_webhook_seconds: %d series, %v", n, err)
	}
}

func TestMaxBody(t *testing.T) {
	log, _ := logtest.NewNullLogger()
	h, err := NewHandler(Options{Secret: testSecret, Sink: &fakeSink{}, Log: log, MaxBody: 1000})
	if err != nil {
		t.Fatal(err)
	}
	code, reply := (&testServer{handler: h}).do(newDelivery("push", payload(t, "push/payload.json")))
	if code != 413 || reply != "body larger than 1000 bytes" {
		t.Errorf("got %d %q", code, reply)
	}
}

func TestUntrustedEventLabel(t *testing.T) {
	ts := newTestServer(t)
	d := newDelivery(strings.Repeat("x", 500), []byte("{}"))
	d.signature = "sha256=00"
	ts.do(d)
	if n := ts.count("other", "bad_signature"); n != 1 {
		t.Errorf("an unknown event must count as other; got %v", n)
	}
}

func TestLog(t *testing.T) {
	ts := newTestServer(t)
	d := newDelivery("pull_request", payload(t, "pull_request/opened.json"))
	ts.do(d)
	bad := newDelivery("pull_request", d.body)
	bad.signature = Sign([]byte("guess"), d.body)
	ts.do(bad)

	entries := ts.logs.AllEntries()
	if len(entries) != 2 {
		t.Fatalf("%d log entries for 2 deliveries", len(entries))
	}
	want := logrus.Fields{"delivery": d.id, "event": "pull_request", "action": "opened", "repo": "Codertocat/Hello-World", "pr": 2, "result": "queued"}
	for k, v := range want {
		if entries[0].Data[k] != v {
			t.Errorf("log field %s = %v, want %v", k, entries[0].Data[k], v)
		}
	}
	if _, ok := entries[0].Data["duration"]; !ok {
		t.Error("no duration logged")
	}
	if entries[1].Data["result"] != "bad_signature" || entries[1].Level != logrus.WarnLevel {
		t.Errorf("rejected delivery logged as %v %v", entries[1].Level, entries[1].Data)
	}
	for _, e := range entries {
		line, err := e.String()
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{string(testSecret), Sign(testSecret, d.body), bad.signature, strings.TrimPrefix(bad.signature, "sha256=")} {
			if strings.Contains(line, secret) {
				t.Errorf("log line holds a secret or signature: %s", line)
			}
		}
	}
}

func discard() logrus.FieldLogger {
	log, _ := logtest.NewNullLogger()
	return log
}

func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ event, file string }{
		{"push", "push/payload.json"},
		{"pull_request", "pull_request/opened.json"},
		{"pull_request", "pull_request/synchronize.json"},
		{"issue_comment", "issue_comment/created.json"},
		{"check_run", "check_run/rerequested.json"},
		{"check_suite", "check_suite/rerequested.json"},
		{"ping", "ping/payload.json"},
	} {
		f.Add(seed.event, payload(f, seed.file), false)
	}
	f.Add("issue_comment", []byte(`{"action":"created","issue":{"number":1,"pull_request":{}},"comment":{"id":1},"repository":{"full_name":"a/b"}}`), false)
	f.Add("pull_request", []byte(`{"action":"opened","pull_request":{"number":1,"head":{"sha":"x"}},"repository":{"full_name":"a/b"}}`), true)
	f.Add("push", []byte(`null`), false)
	f.Add("star", []byte(`[]`), false)

	log, _ := logtest.NewNullLogger()
	sink := &fakeSink{}
	h, err := NewHandler(Options{Secret: testSecret, Sink: sink, Log: log, MaxBody: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	f.Fuzz(func(t *testing.T, event string, body []byte, form bool) {
		n++
		d := newDelivery(event, body)
		d.id = fmt.Sprint("fuzz-", n)
		if form {
			d.contentType = "application/x-www-form-urlencoded"
			d.body = []byte("payload=" + url.QueryEscape(string(body)))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, d.request())
		if w.Code >= 500 {
			t.Fatalf("%d %q for a signed delivery the Sink accepted", w.Code, w.Body.String())
		}
		if w.Code == 401 || w.Code == 405 || w.Code == 413 {
			t.Fatalf("%d %q for a signed POST", w.Code, w.Body.String())
		}
		if strings.TrimSpace(w.Body.String()) != "queued" {
			return
		}
		evs := sink.accepted()
		ev := evs[len(evs)-1]
		set := 0
		for _, p := range []bool{ev.Push != nil, ev.PullRequest != nil, ev.Comment != nil, ev.Rerequest != nil} {
			if p {
				set++
			}
		}
		if ev.Repo == "" || ev.Kind != event || ev.Delivery != d.id || set != 1 || !bytes.Equal(ev.Payload, body) {
			t.Fatalf("queued a malformed event %s", dump(ev))
		}
	})
}

func BenchmarkHandler(b *testing.B) {
	log, _ := logtest.NewNullLogger()
	sink := &memorySink{seen: map[string]bool{}}
	h, err := NewHandler(Options{Secret: testSecret, Sink: sink, Log: log, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	body := payload(b, "pull_request/synchronize.json")
	signature := Sign(testSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-GitHub-Event", "pull_request")
		r.Header.Set("X-GitHub-Delivery", fmt.Sprint("bench-", i))
		r.Header.Set("X-Hub-Signature-256", signature)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// memorySink is the cheapest Sink that still dedupes, so the benchmark
// measures the handler.
type memorySink struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (s *memorySink) Accept(ctx context.Context, ev Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[ev.Delivery] {
		return true, nil
	}
	s.seen[ev.Delivery] = true
	return false, nil
}
