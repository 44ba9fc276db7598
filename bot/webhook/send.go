package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Sign returns the X-Hub-Signature-256 value GitHub sends for body:
// "sha256=" and the hex HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, body))
}

// maxReply bounds how much of a reply Send reads.
const maxReply = 64 << 10

// Send delivers body to a tcbot (or any GitHub webhook receiver) at url the
// way GitHub does: signed with secret, as event, under a new random delivery
// ID, which it returns. It is for `tcbot webhook send`. err reports only a
// failure to deliver; the receiver's verdict is status and its reply text.
func Send(ctx context.Context, url string, secret []byte, event string, body []byte) (status int, reply string, delivery string, err error) {
	if len(secret) == 0 {
		return 0, "", "", errors.New("send webhook: empty secret")
	}
	if event == "" {
		return 0, "", "", errors.New("send webhook: no event name")
	}
	delivery = newDeliveryID()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", delivery, fmt.Errorf("send webhook to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/tcbot")
	req.Header.Set(headerEvent, event)
	req.Header.Set(headerDelivery, delivery)
	req.Header.Set(headerSignature256, Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", delivery, fmt.Errorf("send webhook: %w", err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return resp.StatusCode, "", delivery, fmt.Errorf("send webhook to %s: read reply: %w", url, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(text)), delivery, nil
}

// newDeliveryID returns a random (version 4) UUID, the form of GitHub's
// delivery IDs.
func newDeliveryID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
