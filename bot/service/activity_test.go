package service_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/store"
)

// TestDashboardShowsWhatWorkersDo: a worker's long build (its step,
// elapsed time and last log line, sent with its heartbeat) is on the
// dashboard.
func TestDashboardShowsWhatWorkersDo(t *testing.T) {
	e := setup(t, setupOpts{})
	ctx := context.Background()
	if err := store.Heartbeat(ctx, e.st.Q(), "build-host-1", "builder", []string{"armv8-qemu"}); err != nil {
		t.Fatal(err)
	}
	doing := "build gcc-overlay-armv8 gcc@0123456789ab: make -j2 all-gcc (12m20s): g++ -c insn-recog.cc"
	if err := store.SetWorkerActivity(ctx, e.st.Q(), "build-host-1", doing); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "<th>doing</th>") || !strings.Contains(string(body), "make -j2 all-gcc (12m20s)") {
		t.Errorf("dashboard does not show what build-host-1 is doing:\n%s", body)
	}
	ws, err := store.Workers(ctx, e.st.Q())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.ID == e.svc.ID() && w.Activity != "" {
			t.Errorf("an idle worker reports activity %q", w.Activity)
		}
	}
}
