package webhook

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// watchedBody records whether anyone read it.
type watchedBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func TestRefusedBeforeReadingTheBody(t *testing.T) {
	body := payload(t, "push/payload.json")
	good := Sign(testSecret, body)
	tests := []struct {
		name      string
		signature string // "-" sends none
		length    int64  // Content-Length; 0 means the body's
		wantCode  int
		wantReply string
	}{
		{name: "no signature", signature: "-", wantCode: 401, wantReply: "missing X-Hub-Signature-256"},
		{name: "prefix only", signature: "sha256=", wantCode: 401, wantReply: malformedSignature},
		{name: "not hex", signature: "sha256=" + strings.Repeat("z", 64), wantCode: 401, wantReply: malformedSignature},
		{name: "one digit short", signature: good[:len(good)-1], wantCode: 401, wantReply: malformedSignature},
		{name: "one digit long", signature: good + "0", wantCode: 401, wantReply: malformedSignature},
		{name: "SHA-1 length", signature: "sha256=" + strings.Repeat("a", 40), wantCode: 401, wantReply: malformedSignature},
		{name: "other algorithm", signature: "sha512=" + good[len("sha256="):], wantCode: 401, wantReply: malformedSignature},
		{name: "spaces around", signature: " " + good + " ", wantCode: 401, wantReply: malformedSignature},
		{name: "declared longer than MaxBody", signature: good, length: 25<<20 + 1, wantCode: 413, wantReply: "body larger than 25 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			d := newDelivery("push", body)
			d.signature = tt.signature
			r := d.request()
			wb := &watchedBody{r: r.Body}
			r.Body = io.NopCloser(wb)
			if tt.length != 0 {
				r.ContentLength = tt.length
			}
			w := httptest.NewRecorder()
			ts.handler.ServeHTTP(w, r)
			if reply := strings.TrimSpace(w.Body.String()); w.Code != tt.wantCode || reply != tt.wantReply {
				t.Errorf("got %d %q, want %d %q", w.Code, reply, tt.wantCode, tt.wantReply)
			}
			if wb.read.Load() {
				t.Error("the body was read before the request was refused")
			}
			if got := w.Header().Get("Connection"); got != "close" {
				t.Errorf("Connection: %q, want close: the server must not drain a refused body", got)
			}
			result := "bad_signature"
			if tt.wantCode == 413 {
				result = "too_large"
			}
			if n := ts.count("push", result); n != 1 {
				t.Errorf("tcbot_webhooks_total{event=push,result=%s} = %v, want 1", result, n)
			}
		})
	}
}

func TestBodyOfUnknownLengthOverMaxBody(t *testing.T) {
	h, err := NewHandler(Options{Secret: testSecret, Sink: &fakeSink{}, Log: discard(), MaxBody: 1000})
	if err != nil {
		t.Fatal(err)
	}
	d := newDelivery("push", payload(t, "push/payload.json"))
	r := d.request()
	r.ContentLength = -1 // chunked
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if reply := strings.TrimSpace(w.Body.String()); w.Code != 413 || reply != "body larger than 1000 bytes" {
		t.Errorf("got %d %q, want 413", w.Code, reply)
	}
}

// slowUpload starts a delivery to addr on a connection of its own: it sends
// the headers, declaring a body of 1000 bytes, and the first byte of the
// body, then stops.
func slowUpload(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprintf(c, "POST /webhook HTTP/1.1\r\nHost: tcbot\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: push\r\nX-GitHub-Delivery: slow\r\nX-Hub-Signature-256: sha256=%s\r\n"+
		"Content-Length: 1000\r\n\r\n{", strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reply reads the response on c, giving up after wait.
func reply(t *testing.T, c net.Conn, wait time.Duration) (*http.Response, string, time.Duration) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(wait))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no reply within %s: %v", wait, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	elapsed := time.Since(start)
	// The server hangs up rather than wait for the rest of the body.
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the reply: %v, want EOF (connection closed)", err)
	}
	return resp, strings.TrimSpace(string(b)), elapsed
}

// waitUntil polls cond until it holds or 10 s have passed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func TestBusyWhenAllReadingSlotsAreTaken(t *testing.T) {
	const slots = 3
	ts := newTestServer(t)
	h, err := NewHandler(Options{Secret: testSecret, Sink: ts.sink, Log: discard(), Registerer: ts.reg, MaxReading: slots, ReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ts.handler = h
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	var slow []net.Conn
	for range slots {
		slow = append(slow, slowUpload(t, addr))
	}
	waitUntil(t, fmt.Sprintf("%d bodies are being read", slots), func() bool { return len(h.(*handler).reading) == slots })

	extra := slowUpload(t, addr)
	resp, text, elapsed := reply(t, extra, 5*time.Second)
	if resp.StatusCode != http.StatusServiceUnavailable || text != "busy: try again later" {
		t.Errorf("slow upload %d of %d slots: got %d %q, want 503", slots+1, slots, resp.StatusCode, text)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if elapsed > 2*time.Second {
		t.Errorf("503 took %s", elapsed)
	}
	if n := ts.count("push", "busy"); n != 1 {
		t.Errorf("tcbot_webhooks_total{event=push,result=busy} = %v, want 1", n)
	}

	// Slots free up as the senders go, and real deliveries get through.
	for _, c := range slow {
		c.Close()
	}
	waitUntil(t, "the slots are free", func() bool { return len(h.(*handler).reading) == 0 })
	status, text, _, err := Send(t.Context(), srv.URL+"/webhook", testSecret, "push", payload(t, "push/payload.json"))
	if err != nil || status != 202 || text != "queued" {
		t.Errorf("delivery after the slow senders left: %d %q %v", status, text, err)
	}
}

func TestSlowUploadIsCut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := newTestServer(t)
	h, err := NewHandler(Options{Secret: testSecret, Sink: ts.sink, Log: discard(), Registerer: ts.reg, ReadTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	ts.handler = h
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	resp, text, elapsed := reply(t, slowUpload(t, srv.Listener.Addr().String()), 5*time.Second)
	if resp.StatusCode != http.StatusRequestTimeout || text != "body not received within 300ms" {
		t.Errorf("got %d %q, want 408", resp.StatusCode, text)
	}
	if elapsed < timeout/2 || elapsed > 3*time.Second {
		t.Errorf("cut after %s, want about %s", elapsed, timeout)
	}
	if n := ts.count("push", "too_slow"); n != 1 {
		t.Errorf("tcbot_webhooks_total{event=push,result=too_slow} = %v, want 1", n)
	}
	waitUntil(t, "the slot is free", func() bool { return len(h.(*handler).reading) == 0 })

	// A delivery sent at once is not cut: the deadline is per request.
	status, text, _, err := Send(t.Context(), srv.URL+"/webhook", testSecret, "push", payload(t, "push/payload.json"))
	if err != nil || status != 202 {
		t.Errorf("prompt delivery: %d %q %v", status, text, err)
	}
}

func TestSinkIgnores(t *testing.T) {
	tests := []struct {
		name, event, file, want string
	}{
		{"pull request", "pull_request", "pull_request/opened.json", "ignored: pull_request/opened: repository not watched"},
		{"push, which has no action", "push", "push/payload.json", "ignored: push: repository not watched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			ts.sink.err = fmt.Errorf("route: %w", Ignore("repository not watched"))
			code, text := ts.do(newDelivery(tt.event, payload(t, tt.file)))
			if code != 202 || text != tt.want {
				t.Errorf("got %d %q, want 202 %q", code, text, tt.want)
			}
			if n := ts.count(tt.event, "ignored"); n != 1 {
				t.Errorf("ignored count = %v, want 1", n)
			}
			if n := ts.count(tt.event, "queued"); n != 0 {
				t.Errorf("queued count = %v, want 0", n)
			}
		})
	}
	if err := Ignore("why"); err.Error() != "ignored: why" {
		t.Errorf("Ignore(why).Error() = %q", err)
	}
}

func TestReadingLimitsOptions(t *testing.T) {
	h, err := NewHandler(Options{Secret: testSecret, Sink: &fakeSink{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cap(h.(*handler).reading); got != DefaultMaxReading {
		t.Errorf("default MaxReading = %d, want %d", got, DefaultMaxReading)
	}
	if got := h.(*handler).readTimeout; got != DefaultReadTimeout {
		t.Errorf("default ReadTimeout = %s, want %s", got, DefaultReadTimeout)
	}
	if _, err := NewHandler(Options{Secret: testSecret, Sink: &fakeSink{}, MaxReading: -1}); err == nil {
		t.Error("negative MaxReading accepted")
	}
	if _, err := NewHandler(Options{Secret: testSecret, Sink: &fakeSink{}, ReadTimeout: -time.Second}); err == nil {
		t.Error("negative ReadTimeout accepted")
	}
}
