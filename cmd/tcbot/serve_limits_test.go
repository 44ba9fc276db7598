package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/webhook"
)

func TestHTTPServerLimits(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s unset: a slow client could hold a connection for ever", name)
		}
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes >= http.DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d, want a limit below net/http's default", srv.MaxHeaderBytes)
	}
	// A verified delivery's reply must still be writable after the
	// slowest body the webhook reads and the longest Sink transaction.
	if need := srv.ReadHeaderTimeout + webhook.DefaultReadTimeout + webhook.AcceptTimeout; srv.WriteTimeout <= need {
		t.Errorf("WriteTimeout %s leaves no room for a webhook reply (%s)", srv.WriteTimeout, need)
	}
	if srv.ReadTimeout < srv.ReadHeaderTimeout+webhook.DefaultReadTimeout {
		t.Errorf("ReadTimeout %s is shorter than headers and a webhook body may take", srv.ReadTimeout)
	}
}

// TestHTTPServerRefusesHugeHeaders runs the server as serve builds it.
func TestHTTPServerRefusesHugeHeaders(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.Config = newHTTPServer(http.NotFoundHandler())
	ts.Start()
	defer ts.Close()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: tcbot\r\nX-Filler: %s\r\n\r\n", strings.Repeat("x", 2*maxHeaderBytes))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); !strings.HasPrefix(got, "HTTP/1.1 431") {
		t.Errorf("headers of %d bytes: got %q, want 431", 2*maxHeaderBytes, got)
	}
}
