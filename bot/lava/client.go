// Package lava drives a LAVA lab (Linaro's Automated Validation
// Architecture, REST API v0.2, as in LAVA 2023.01) for tcbot: a REST
// client, the artifact server LAVA's workers download kernels and ramdisks
// from, and an executor that measures benchmarks in LAVA jobs.
//
// Guarantees:
//   - The REST token is sent only in the Authorization header of requests
//     to the configured lab; it never appears in an error, a log line or a
//     job definition.
//   - A job that LAVA ends Incomplete or Canceled is an infrastructure
//     failure (*executor.InfraError after the configured retries), never a
//     benchmark result.
//   - Artifacts are reachable only under unguessable per-run URLs, and only
//     until the run is over.
package lava

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Client talks to one LAVA instance's REST API (v0.2). It is safe for
// concurrent use.
type Client struct {
	// URL is the instance's root ("https://lava.example.org/").
	URL string
	// Token is a REST API token of a user allowed to submit jobs.
	Token string
	// HTTP is the client used; nil means one with a 60 s timeout.
	HTTP *http.Client
}

// Job is a LAVA test job as GET /api/v0.2/jobs/N/ shows it.
type Job struct {
	ID           int     `json:"id"`
	Description  string  `json:"description"` // the job_name
	Submitter    string  `json:"submitter"`
	DeviceType   string  `json:"requested_device_type"`
	ActualDevice *string `json:"actual_device"`
	// State is Submitted, Scheduling, Scheduled, Running, Canceling or
	// Finished.
	State string `json:"state"`
	// Health is Unknown until the job ends, then Complete, Incomplete or
	// Canceled.
	Health         string  `json:"health"`
	SubmitTime     *string `json:"submit_time"`
	StartTime      *string `json:"start_time"`
	EndTime        *string `json:"end_time"`
	FailureComment *string `json:"failure_comment"`
}

// Job states and healths tcbot looks at.
const (
	StateFinished    = "Finished"
	HealthComplete   = "Complete"
	HealthIncomplete = "Incomplete"
	HealthCanceled   = "Canceled"
)

// TestCase is one result of a job, as GET /api/v0.2/jobs/N/tests/ lists it.
type TestCase struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Result string `json:"result"` // pass, fail, skip, unknown
	// Measurement is a decimal string ("2.2300000000"), or nil when the
	// test case gave none.
	Measurement *string `json:"measurement"`
	Unit        string  `json:"unit"`
	Suite       int     `json:"suite"`
	TestSet     *int    `json:"test_set"`
	// Metadata is a YAML mapping as a string: case, definition (the
	// suite's name, "0_tcbot"), result, measurement, units and set (the
	// test set's name) as the guest reported them.
	Metadata string `json:"metadata"`
}

// Value returns the measurement as a number; ok is false when there is
// none or it does not parse.
func (tc TestCase) Value() (v float64, ok bool) {
	if tc.Measurement == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(*tc.Measurement, 64)
	return v, err == nil
}

// Meta is what tcbot reads from a test case's metadata.
type Meta struct {
	Case       string `yaml:"case"`
	Definition string `yaml:"definition"`
	Set        string `yaml:"set"`
	// ErrorType and ErrorMsg say why a job failed, on LAVA's own "job"
	// test case ("Infrastructure", "Connection closed").
	ErrorType string `yaml:"error_type"`
	ErrorMsg  string `yaml:"error_msg"`
}

// Meta parses the test case's metadata; a test case with unreadable
// metadata gives a zero Meta.
func (tc TestCase) Meta() Meta {
	var m Meta
	_ = yaml.Unmarshal([]byte(tc.Metadata), &m)
	return m
}

// DeviceType is a LAVA device type.
type DeviceType struct {
	Name    string `json:"name"`
	Display bool   `json:"display"`
}

// Device is one device of a lab.
type Device struct {
	Hostname   string `json:"hostname"`
	DeviceType string `json:"device_type"`
	// State is Idle, Reserved or Running.
	State string `json:"state"`
	// Health is Good, Unknown, Looping, Bad, Maintenance or Retired.
	Health string   `json:"health"`
	Worker string   `json:"worker_host"`
	Tags   []string `json:"tags"`
}

// Usable reports whether LAVA schedules jobs on the device: health Good,
// or Unknown (a device whose health check has not run, or that an
// infrastructure error left unsure, still takes jobs).
func (d Device) Usable() bool { return d.Health == "Good" || d.Health == "Unknown" }

// Worker is a LAVA worker (a dispatcher host).
type Worker struct {
	Hostname string `json:"hostname"`
	State    string `json:"state"`  // Online, Offline
	Health   string `json:"health"` // Active, Maintenance, Retired
}

// APIError is a refusal by the LAVA server.
type APIError struct {
	Method, URL string
	Status      int
	// Detail is LAVA's message ("Invalid token.", "Problem with submitted
	// job data: ...").
	Detail string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.Method, e.URL, http.StatusText(e.Status), e.Detail)
}

// NotFound reports whether err is a 404 from LAVA.
func NotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// api is the URL of an API path ("jobs/12/") with query.
func (c *Client) api(p string, q url.Values) (string, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("lava url %q: want http(s)://host/", c.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v0.2/" + p
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// do sends one request and decodes a JSON answer into out. GETs are
// retried on network errors and 5xx answers (a lab's web front end
// restarting), with backoff; a POST is sent once.
func (c *Client) do(ctx context.Context, method, full string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	tries := 1
	if method == http.MethodGet {
		tries = 4
	}
	var last error
	for i := 0; i < tries; i++ {
		if i > 0 {
			select {
			case <-time.After(time.Duration(1<<i) * 500 * time.Millisecond):
			case <-ctx.Done():
				return fmt.Errorf("%s %s: %w", method, full, ctx.Err())
			}
		}
		var retry bool
		retry, last = c.once(ctx, method, full, payload, out)
		if last == nil || !retry {
			return last
		}
	}
	return last
}

func (c *Client) once(ctx context.Context, method, full string, payload []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, full, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Token "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		// *url.Error names method and URL; the header is not in it.
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return true, fmt.Errorf("%s %s: read answer: %w", method, full, err)
	}
	if resp.StatusCode >= 300 {
		var msg struct {
			Detail  string `json:"detail"`
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(data, &msg)
		detail := strings.TrimSpace(msg.Detail + " " + msg.Message + " " + msg.Error)
		if detail == "" {
			detail = strings.TrimSpace(string(data[:min(len(data), 300)]))
		}
		return resp.StatusCode >= 500, &APIError{Method: method, URL: full, Status: resp.StatusCode, Detail: detail}
	}
	if out == nil {
		return false, nil
	}
	if s, ok := out.(*[]byte); ok {
		*s = data
		return false, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("%s %s: unexpected answer (%w): %.200s", method, full, err, data)
	}
	return false, nil
}

func (c *Client) get(ctx context.Context, p string, q url.Values, out any) error {
	full, err := c.api(p, q)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodGet, full, nil, out)
}

// page is one page of a paginated list.
type page[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// list reads every page of a paginated list, following "next".
func list[T any](ctx context.Context, c *Client, p string, q url.Values) ([]T, error) {
	full, err := c.api(p, q)
	if err != nil {
		return nil, err
	}
	var all []T
	for n := 0; full != ""; n++ {
		if n > 10000 {
			return nil, fmt.Errorf("GET %s: more than 10000 pages", full)
		}
		var pg page[T]
		if err := c.do(ctx, http.MethodGet, full, nil, &pg); err != nil {
			return nil, err
		}
		all = append(all, pg.Results...)
		full = ""
		if pg.Next != nil && *pg.Next != "" && len(pg.Results) > 0 {
			full = *pg.Next
		}
	}
	return all, nil
}

// Version returns the LAVA version of the instance ("2023.01").
func (c *Client) Version(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	err := c.get(ctx, "system/version/", nil, &v)
	return v.Version, err
}

// Whoami returns the user the token belongs to. LAVA answers 403 for a
// token it does not know, and an empty user for no token.
func (c *Client) Whoami(ctx context.Context) (string, error) {
	var v struct {
		User string `json:"user"`
	}
	err := c.get(ctx, "system/whoami/", nil, &v)
	return v.User, err
}

// Submit submits a job definition (YAML) and returns the job's id.
func (c *Client) Submit(ctx context.Context, definition string) (int, error) {
	full, err := c.api("jobs/", nil)
	if err != nil {
		return 0, err
	}
	var v struct {
		Message string `json:"message"`
		JobIDs  []any  `json:"job_ids"`
	}
	if err := c.do(ctx, http.MethodPost, full, map[string]string{"definition": definition}, &v); err != nil {
		return 0, err
	}
	if len(v.JobIDs) != 1 {
		return 0, fmt.Errorf("POST %s: want one job id, got %v (%s)", full, v.JobIDs, v.Message)
	}
	switch id := v.JobIDs[0].(type) {
	case float64:
		return int(id), nil
	case string: // a multinode sub id "12.0"
		n, err := strconv.Atoi(strings.SplitN(id, ".", 2)[0])
		if err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("POST %s: job id %v is not a number", full, v.JobIDs[0])
}

// Validate asks LAVA to check a job definition without submitting it.
func (c *Client) Validate(ctx context.Context, definition string) error {
	full, err := c.api("jobs/validate/", nil)
	if err != nil {
		return err
	}
	var v struct {
		Message string `json:"message"`
	}
	if err := c.do(ctx, http.MethodPost, full, map[string]string{"definition": definition}, &v); err != nil {
		return err
	}
	if v.Message != "Job valid." {
		return fmt.Errorf("job definition not valid: %s", v.Message)
	}
	return nil
}

// Job reads a job's state.
func (c *Client) Job(ctx context.Context, id int) (*Job, error) {
	var j Job
	if err := c.get(ctx, fmt.Sprintf("jobs/%d/", id), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// Cancel asks LAVA to cancel a job (GET /jobs/N/cancel/, as LAVA 2023.01
// has it).
func (c *Client) Cancel(ctx context.Context, id int) error {
	return c.get(ctx, fmt.Sprintf("jobs/%d/cancel/", id), nil, nil)
}

// Backoff is how Wait polls: First, then each interval Factor times the
// last, at most Max.
type Backoff struct {
	First, Max time.Duration
	Factor     float64
}

// DefaultBackoff suits a lab whose jobs take seconds to minutes: a job of
// the local qemu lab ends ~11 s after submission.
var DefaultBackoff = Backoff{First: time.Second, Max: 15 * time.Second, Factor: 1.3}

// Wait polls a job until its state is Finished and returns it.
func (c *Client) Wait(ctx context.Context, id int, b Backoff) (*Job, error) {
	if b.First <= 0 {
		b = DefaultBackoff
	}
	d := b.First
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return nil, err
		}
		if j.State == StateFinished {
			return j, nil
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		d = min(time.Duration(float64(d)*b.Factor), b.Max)
		if d < b.First {
			d = b.First
		}
	}
}

// Tests returns every test case of a job, all pages.
func (c *Client) Tests(ctx context.Context, id int) ([]TestCase, error) {
	return list[TestCase](ctx, c, fmt.Sprintf("jobs/%d/tests/", id), url.Values{"limit": {"1000"}})
}

// Failure says why a job ended Incomplete or Canceled: its failure
// comment, or the error LAVA recorded on its own "job" test case. Empty
// when LAVA says nothing.
func (c *Client) Failure(ctx context.Context, j *Job) string {
	var why []string
	if j.FailureComment != nil && strings.TrimSpace(*j.FailureComment) != "" {
		why = append(why, strings.TrimSpace(*j.FailureComment))
	}
	tests, err := list[TestCase](ctx, c, fmt.Sprintf("jobs/%d/tests/", j.ID), url.Values{"suite__name": {"lava"}, "name": {"job"}})
	if err == nil {
		for _, tc := range tests {
			if m := tc.Meta(); m.ErrorMsg != "" {
				why = append(why, strings.TrimSpace(strings.TrimSpace(m.ErrorType+" error: ")+" "+m.ErrorMsg))
			}
		}
	}
	return strings.Join(why, "; ")
}

// LogLine is one line of a job's log.
type LogLine struct {
	Time  string `yaml:"dt"`
	Level string `yaml:"lvl"` // target (the console), info, debug, results, ...
	// Msg is a string for most levels, a mapping for results.
	Msg any `yaml:"msg"`
}

// Logs returns a job's log (GET /jobs/N/logs/: YAML, one flow mapping a
// line).
func (c *Client) Logs(ctx context.Context, id int) ([]LogLine, error) {
	var raw []byte
	if err := c.get(ctx, fmt.Sprintf("jobs/%d/logs/", id), nil, &raw); err != nil {
		return nil, err
	}
	return ParseLog(raw)
}

// ParseLog parses a LAVA job log.
func ParseLog(raw []byte) ([]LogLine, error) {
	var lines []LogLine
	if err := yaml.Unmarshal(raw, &lines); err != nil {
		return nil, fmt.Errorf("job log: %w", err)
	}
	return lines, nil
}

// DeviceType reads a device type; NotFound(err) when the lab has none of
// that name.
func (c *Client) DeviceType(ctx context.Context, name string) (*DeviceType, error) {
	var dt DeviceType
	if err := c.get(ctx, "devicetypes/"+url.PathEscape(name)+"/", nil, &dt); err != nil {
		return nil, err
	}
	return &dt, nil
}

// Devices lists the devices of a device type.
func (c *Client) Devices(ctx context.Context, deviceType string) ([]Device, error) {
	return list[Device](ctx, c, "devices/", url.Values{"device_type": {deviceType}, "limit": {"500"}})
}

// Worker reads a worker.
func (c *Client) Worker(ctx context.Context, name string) (*Worker, error) {
	var w Worker
	if err := c.get(ctx, "workers/"+url.PathEscape(name)+"/", nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// JobURL is the web page of a job, for people.
func (c *Client) JobURL(id int) string {
	return strings.TrimSuffix(c.URL, "/") + fmt.Sprintf("/scheduler/job/%d", id)
}
