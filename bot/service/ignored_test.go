package service_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/webhook"
)

// TestDeliveryForAnUnwatchedRepositoryIsIgnored: a signed delivery for a
// repository the config does not list queues nothing and is answered and
// counted as ignored, not queued; it is still recorded, so its redelivery
// is a duplicate.
func TestDeliveryForAnUnwatchedRepositoryIsIgnored(t *testing.T) {
	e := setup(t, setupOpts{})
	body := payload(t, "pull_request/opened.json", func(m map[string]any) {
		obj(m, "repository")["full_name"] = "someone/elsewhere"
	})
	post := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+"/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", "unwatched-1")
		req.Header.Set("X-Hub-Signature-256", webhook.Sign([]byte(secret), body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		text, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(text))
	}

	if code, reply := post(); code != http.StatusAccepted || reply != "ignored: pull_request/opened: repository not watched" {
		t.Errorf("got %d %q, want 202 \"ignored: pull_request/opened: repository not watched\"", code, reply)
	}
	if code, reply := post(); code != http.StatusOK || reply != "duplicate delivery" {
		t.Errorf("redelivery: got %d %q, want 200 \"duplicate delivery\" (the ignored delivery must be recorded)", code, reply)
	}
	e.idle()
	if n := len(e.changes()); n != 0 {
		t.Errorf("a delivery for an unwatched repository started %d changes", n)
	}

	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`tcbot_webhooks_total{event="pull_request",result="ignored"} 1`,
		`tcbot_webhooks_total{event="pull_request",result="duplicate"} 1`,
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if bytes.Contains(metrics, []byte(`result="queued"`)) {
		t.Errorf("/metrics counts a delivery as queued:\n%s", grepLines(metrics, "tcbot_webhooks_total"))
	}
}

func grepLines(b []byte, substr string) string {
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
