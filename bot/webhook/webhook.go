// Package webhook receives GitHub webhook deliveries: it verifies each one,
// reduces it to an Event and hands it to a Sink, which records it and queues
// its work in one transaction. It does nothing else (no GitHub API calls, no
// measuring), so it answers in milliseconds and a crash after the reply
// loses nothing.
//
// Guarantees:
//   - Nothing reaches the Sink unless its body carries a valid
//     X-Hub-Signature-256 (HMAC-SHA256 with the shared secret, compared in
//     constant time). There is no SHA-1 fallback and no unsigned mode.
//   - Until a body is verified its sender is anyone, so what it may cost is
//     bounded: a request whose X-Hub-Signature-256 is missing or is not
//     "sha256=" and 64 hex digits, or whose Content-Length is over
//     Options.MaxBody, is refused before any of its body is read; at most
//     Options.MaxReading bodies are read at once (a request finding no slot
//     within a quarter of a second is answered 503 with Retry-After, its
//     body unread); each is read up to Options.MaxBody and no further,
//     within Options.ReadTimeout (408 after that). A refused request's
//     connection is closed rather than drained.
//   - Redelivered deliveries (same X-GitHub-Delivery) are acknowledged and
//     queue nothing: the Sink dedupes them atomically with queueing.
//   - A verified delivery the Sink recorded but has no work for (see
//     Ignore) is answered and counted as ignored, not queued.
//   - Once a delivery is verified, the Sink's transaction is not cancelled
//     when GitHub hangs up; it runs under its own time limit.
//   - The secret and signatures are never logged.
//
// The handler is safe for concurrent use.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Sink takes verified events tcbot acts on.
type Sink interface {
	// Accept records the delivery and queues its work in one transaction.
	// duplicate is true (and nothing is queued) when the delivery ID was accepted before.
	// An error made by Ignore means the delivery was recorded (so a
	// redelivery is a duplicate) but needs no work, e.g. it is for a
	// repository tcbot does not watch.
	Accept(ctx context.Context, ev Event) (duplicate bool, err error)
}

// IgnoredError is the error Ignore makes.
type IgnoredError struct {
	Why string // the end of the reply: "ignored: <event>/<action>: <Why>"
}

func (e *IgnoredError) Error() string { return "ignored: " + e.Why }

// Ignore returns the error a Sink's Accept returns for a delivery it
// recorded, and committed, but has no work for. The handler answers it 202
// "ignored: <event>/<action>: why" and counts it as ignored, not queued.
func Ignore(why string) error { return &IgnoredError{Why: why} }

// DefaultMaxBody is the largest body read when Options.MaxBody is 0: GitHub
// caps payloads at 25 MB.
const DefaultMaxBody = 25 << 20

// AcceptTimeout bounds the Sink's transaction. It is detached from the
// request so a verified delivery is not lost when the sender stops waiting.
const AcceptTimeout = 30 * time.Second

// DefaultMaxReading is how many bodies are read at once when
// Options.MaxReading is 0. GitHub's deliveries are read in milliseconds, so
// a few slots serve bursts; they bound what unauthenticated senders hold
// (MaxReading × MaxBody of memory at most).
const DefaultMaxReading = 8

// DefaultReadTimeout is how long reading one body may take when
// Options.ReadTimeout is 0. GitHub gives up on a delivery after 10 s, so a
// body still arriving after that is not GitHub's.
const DefaultReadTimeout = 10 * time.Second

// busyWait is how long a request waits for a reading slot before it is
// answered 503: long enough to ride out a burst of real deliveries, short
// enough that waiting costs nothing while slots are held by slow senders.
const busyWait = 250 * time.Millisecond

// maxDeliveryID bounds X-GitHub-Delivery, which becomes a database key.
// GitHub's are GUIDs (36 bytes).
const maxDeliveryID = 200

// Headers GitHub sends with every delivery, spelled as GitHub's
// documentation does (go-github's constants say "Github"; HTTP headers are
// case-insensitive, but replies quote these).
const (
	headerSignature256 = github.SHA256SignatureHeader // "X-Hub-Signature-256"
	headerEvent        = "X-GitHub-Event"
	headerDelivery     = "X-GitHub-Delivery"
)

// Options configure NewHandler.
type Options struct {
	Secret []byte // the webhook's shared secret; required
	Sink   Sink   // required
	Log    logrus.FieldLogger
	// Registerer receives tcbot_webhooks_total and tcbot_webhook_seconds;
	// nil registers nowhere. Handlers sharing a Registerer share the metrics.
	Registerer prometheus.Registerer
	MaxBody    int64 // bytes; 0 means DefaultMaxBody
	// MaxReading bounds the bodies read at once, before their signatures
	// are checked; 0 means DefaultMaxReading.
	MaxReading int
	// ReadTimeout bounds the reading of one body; 0 means
	// DefaultReadTimeout. It is set as the connection's read deadline, so
	// it needs a server that supports http.ResponseController.
	ReadTimeout time.Duration
}

// NewHandler returns the handler for POST /webhook. It refuses to work
// without a secret: an unsigned webhook would let anyone start runs.
func NewHandler(o Options) (http.Handler, error) {
	if len(o.Secret) == 0 {
		return nil, errors.New("webhook: no secret: GitHub mode needs the webhook secret (github.webhook_secret_env)")
	}
	if o.Sink == nil {
		return nil, errors.New("webhook: no Sink")
	}
	if o.MaxBody < 0 {
		return nil, fmt.Errorf("webhook: MaxBody %d is negative", o.MaxBody)
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxReading < 0 {
		return nil, fmt.Errorf("webhook: MaxReading %d is negative", o.MaxReading)
	}
	if o.MaxReading == 0 {
		o.MaxReading = DefaultMaxReading
	}
	if o.ReadTimeout < 0 {
		return nil, fmt.Errorf("webhook: ReadTimeout %s is negative", o.ReadTimeout)
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &handler{
		secret:      append([]byte(nil), o.Secret...),
		sink:        o.Sink,
		log:         o.Log,
		maxBody:     o.MaxBody,
		reading:     make(chan struct{}, o.MaxReading),
		readTimeout: o.ReadTimeout,
		metrics:     m,
	}, nil
}

type handler struct {
	secret      []byte
	sink        Sink
	log         logrus.FieldLogger
	maxBody     int64
	reading     chan struct{} // a semaphore: one slot per body being read
	readTimeout time.Duration
	metrics     *metrics
}

// Results, as counted in tcbot_webhooks_total and logged.
const (
	resultQueued       = "queued"
	resultDuplicate    = "duplicate"
	resultIgnored      = "ignored" // also pings
	resultBusy         = "busy"    // every reading slot taken
	resultBadSignature = "bad_signature"
	resultBadRequest   = "bad_request"
	resultTooLarge     = "too_large"
	resultTooSlow      = "too_slow" // body not read within ReadTimeout
	resultError        = "error"
)

// outcome is what became of one request.
type outcome struct {
	status int
	result string
	reply  string // the text/plain body
	err    error  // logged, never sent
	ev     Event  // as much as is known
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o := h.serve(w, r)
	elapsed := time.Since(start)

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(o.status)
	io.WriteString(w, o.reply+"\n")

	// Until the signature is checked, the headers are anyone's: they are
	// shortened for the log and bucketed for the metrics.
	event := o.ev.Kind
	if event == "" {
		event = r.Header.Get(headerEvent)
	}
	delivery := o.ev.Delivery
	if delivery == "" {
		delivery = r.Header.Get(headerDelivery)
	}
	h.metrics.observe(event, o.result, elapsed)

	pr := 0
	switch {
	case o.ev.PullRequest != nil:
		pr = o.ev.PullRequest.Number
	case o.ev.Comment != nil:
		pr = o.ev.Comment.IssueNumber
	}
	entry := h.log.WithFields(logrus.Fields{
		"delivery": shorten(delivery),
		"event":    shorten(event),
		"action":   shorten(o.ev.Action),
		"repo":     shorten(o.ev.Repo),
		"pr":       pr,
		"result":   o.result,
		"status":   o.status,
		"duration": elapsed,
	})
	switch {
	case o.status >= 500 && o.result != resultBusy:
		entry.WithError(o.err).Error("webhook delivery failed")
	case o.status >= 400:
		entry.WithField("reason", o.reply).Warn("webhook delivery rejected")
	default:
		entry.Info("webhook delivery")
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) outcome {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return outcome{status: http.StatusMethodNotAllowed, result: resultBadRequest, reply: "method not allowed: use POST"}
	}

	// Authenticate before anything else, so an unsigned request learns
	// nothing about what else is wrong with it. What can be refused
	// without the body is refused before reading any of it.
	signature := r.Header.Get(headerSignature256)
	if signature == "" {
		hangUp(w)
		return outcome{status: http.StatusUnauthorized, result: resultBadSignature, reply: "missing " + headerSignature256}
	}
	if !wellFormed(signature) {
		hangUp(w)
		return outcome{status: http.StatusUnauthorized, result: resultBadSignature, reply: malformedSignature}
	}
	if r.ContentLength > h.maxBody {
		hangUp(w)
		return h.tooLarge()
	}
	body, o, ok := h.readVerified(w, r, signature)
	if !ok {
		return o
	}

	ev := Event{Kind: github.WebHookType(r), Delivery: github.DeliveryID(r)}
	bad := func(reason string) outcome {
		return outcome{status: http.StatusBadRequest, result: resultBadRequest, reply: reason, ev: ev}
	}
	switch {
	case ev.Kind == "":
		return bad("missing " + headerEvent)
	case ev.Delivery == "":
		return bad("missing " + headerDelivery)
	case len(ev.Delivery) > maxDeliveryID:
		return bad(headerDelivery + " too long")
	}

	payload, status, reason := jsonPayload(r.Header.Get("Content-Type"), body)
	if status != 0 {
		o := bad(reason)
		o.status = status
		return o
	}

	parsed, err := parseEvent(ev.Kind, payload)
	parsed.Kind, parsed.Delivery = ev.Kind, ev.Delivery
	ev = parsed
	if ignored, ok := errors.AsType[*ignoredError](err); ok {
		if ev.Kind == kindPing {
			return outcome{status: http.StatusOK, result: resultIgnored, reply: "pong", ev: ev}
		}
		return outcome{status: http.StatusAccepted, result: resultIgnored, reply: ignored.Error(), ev: ev}
	}
	if err != nil {
		return bad(shorten(err.Error()))
	}
	ev.Payload = payload

	// The request may be cancelled once GitHub stops waiting; the delivery
	// is verified by then and must not be lost half-way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), AcceptTimeout)
	defer cancel()
	duplicate, err := h.sink.Accept(ctx, ev)
	if ignored, ok := errors.AsType[*IgnoredError](err); ok {
		reply := "ignored: " + ev.Kind
		if ev.Action != "" {
			reply += "/" + ev.Action
		}
		return outcome{status: http.StatusAccepted, result: resultIgnored, reply: shorten(reply + ": " + ignored.Why), ev: ev}
	}
	switch {
	case err != nil:
		short := "internal error"
		if errors.Is(err, context.DeadlineExceeded) {
			short = "timed out"
		}
		return outcome{status: http.StatusInternalServerError, result: resultError, reply: "could not queue: " + short, err: err, ev: ev}
	case duplicate:
		return outcome{status: http.StatusOK, result: resultDuplicate, reply: "duplicate delivery", ev: ev}
	default:
		return outcome{status: http.StatusAccepted, result: resultQueued, reply: "queued", ev: ev}
	}
}

// readVerified reads the body within the reading limits and checks it
// against signature, which is well formed. ok is false when the request
// is answered with o instead.
func (h *handler) readVerified(w http.ResponseWriter, r *http.Request, signature string) (body []byte, o outcome, ok bool) {
	if !h.acquire(r.Context()) {
		hangUp(w)
		w.Header().Set("Retry-After", "1")
		return nil, outcome{status: http.StatusServiceUnavailable, result: resultBusy, reply: "busy: try again later"}, false
	}
	defer func() { <-h.reading }()

	// The deadline cuts a sender that trickles its body. A server that
	// cannot set it (ErrNotSupported) keeps its own timeouts.
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(h.readTimeout)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	switch {
	case err == nil:
	case isMaxBytes(err):
		hangUp(w)
		return nil, h.tooLarge(), false
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Left expired, the deadline stops the server draining the rest.
		w.Header().Set("Connection", "close")
		return nil, outcome{status: http.StatusRequestTimeout, result: resultTooSlow,
			reply: fmt.Sprintf("body not received within %s", h.readTimeout), err: err}, false
	default:
		hangUp(w)
		return nil, outcome{status: http.StatusBadRequest, result: resultBadRequest, reply: "could not read body", err: err}, false
	}
	if deadline {
		// The body is in; the server's own timeouts govern the rest.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if reason := h.verify(signature, body); reason != "" {
		return nil, outcome{status: http.StatusUnauthorized, result: resultBadSignature, reply: reason}, false
	}
	return body, outcome{}, true
}

// acquire takes a reading slot, waiting up to busyWait for one.
func (h *handler) acquire(ctx context.Context) bool {
	select {
	case h.reading <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(busyWait)
	defer t.Stop()
	select {
	case h.reading <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func isMaxBytes(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}

func (h *handler) tooLarge() outcome {
	return outcome{status: http.StatusRequestEntityTooLarge, result: resultTooLarge,
		reply: fmt.Sprintf("body larger than %s", formatBytes(h.maxBody))}
}

// hangUp makes the server close the connection after the reply instead of
// reading what is left of a body nobody will verify: a sender that
// trickles it must not keep the connection.
func hangUp(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

const malformedSignature = "malformed " + headerSignature256 + ": want sha256=<hex>"

// wellFormed reports whether an X-Hub-Signature-256 value is "sha256="
// and the 64 hex digits of an HMAC-SHA256, as GitHub sends it.
func wellFormed(signature string) bool {
	hexMAC, ok := strings.CutPrefix(signature, "sha256=")
	if !ok || len(hexMAC) != hex.EncodedLen(sha256.Size) {
		return false
	}
	for _, c := range []byte(hexMAC) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// verify checks an X-Hub-Signature-256 value against the body and returns
// why it fails, or "".
func (h *handler) verify(signature string, body []byte) string {
	hexMAC, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return malformedSignature
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil || len(got) != sha256.Size {
		return malformedSignature
	}
	if !hmac.Equal(got, mac(h.secret, body)) {
		return "signature mismatch"
	}
	return ""
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// jsonPayload returns the JSON in a body of the given Content-Type, or an
// HTTP status and reason. GitHub sends either the JSON itself or, for hooks
// set to application/x-www-form-urlencoded, a form whose payload field
// holds it.
func jsonPayload(contentType string, body []byte) (payload []byte, status int, reason string) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil && contentType == "":
		return nil, http.StatusUnsupportedMediaType, "missing Content-Type: want application/json"
	case err != nil:
		return nil, http.StatusUnsupportedMediaType, "malformed Content-Type"
	case mediaType == "application/json":
		return body, 0, ""
	case mediaType == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, http.StatusBadRequest, "malformed form body"
		}
		if !form.Has("payload") {
			return nil, http.StatusBadRequest, "form has no payload field"
		}
		return []byte(form.Get("payload")), 0, ""
	default:
		return nil, http.StatusUnsupportedMediaType, "unsupported Content-Type: want application/json"
	}
}

// shorten keeps untrusted or long values from flooding logs and replies.
func shorten(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

func formatBytes(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
