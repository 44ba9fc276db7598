// Package lavatest gives tests the real LAVA lab that CI stands up with
// deploy/lava/lava-setup.sh. CI sets
//
//	TCBOT_TEST_LAVA=http://127.0.0.1:8000/
//	TCBOT_TEST_LAVA_TOKEN_FILE=/var/lib/tcbot-lava/admin-token
//
// and then a test that needs the lab fails when the lab is not there; with
// TCBOT_TEST_LAVA unset, such tests are skipped (a developer machine
// without a lab).
package lavatest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/lava"
)

// Environment variables naming the lab.
const (
	EnvURL       = "TCBOT_TEST_LAVA"
	EnvTokenFile = "TCBOT_TEST_LAVA_TOKEN_FILE"
)

// DefaultTokenFile is where deploy/lava/lava-setup.sh keeps the token.
const DefaultTokenFile = "/var/lib/tcbot-lava/admin-token"

// Lab returns a client of the test lab, after checking it answers and
// takes the token. It skips the test when TCBOT_TEST_LAVA is unset and
// fails it when the lab named there is not usable.
func Lab(t testing.TB) *lava.Client {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skipf("%s is not set: no LAVA lab to test against (deploy/lava/lava-setup.sh all starts one; .ci/run does)", EnvURL)
	}
	tf := os.Getenv(EnvTokenFile)
	if tf == "" {
		tf = DefaultTokenFile
	}
	tok, err := os.ReadFile(tf)
	if err != nil {
		t.Fatalf("%s=%s but the lab's token is not readable: %v", EnvURL, u, err)
	}
	c := &lava.Client{URL: u, Token: strings.TrimSpace(string(tok))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user, err := c.Whoami(ctx)
	if err != nil || user == "" {
		t.Fatalf("%s=%s: the lab is not usable (user %q): %v", EnvURL, u, user, err)
	}
	return c
}
