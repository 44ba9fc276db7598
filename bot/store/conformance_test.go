package store

import (
	"context"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// opener gives a test a new, empty store.
type opener func(t *testing.T) *Store

// conformance is the suite every store implementation passes: what the
// rest of tcbot relies on, whatever the database.
var conformance = []struct {
	name string
	test func(t *testing.T, open opener)
}{
	{"PutGetRoundTrip", confPutGetRoundTrip},
	{"BinaryWithoutFunctionTable", confBinaryWithoutFunctionTable},
	{"PutSetsCreatedAt", confPutSetsCreatedAt},
	{"PutReplacesSameKey", confPutReplacesSameKey},
	{"KeysAreDistinct", confKeysAreDistinct},
	{"GetMissing", confGetMissing},
	{"Latest", confLatest},
	{"LatestOrdersByTimeNotByText", confLatestOrdersByTimeNotByText},
	{"PutRejectsForeignResult", confPutRejectsForeignResult},
	{"RejectedPutKeepsExisting", confRejectedPutKeepsExisting},
	{"ConcurrentPuts", confConcurrentPuts},
	{"Deliveries", confDeliveries},
	{"Changes", confChanges},
	{"ChangeTargets", confChangeTargets},
	{"Pulls", confPulls},
	{"BranchHeads", confBranchHeads},
	{"TxRollsBack", confTxRollsBack},
	{"Workers", confWorkers},
	{"Reopen", confReopen},
	{"Copy", confCopy},
}

func runConformance(t *testing.T, open opener) {
	for _, c := range conformance {
		t.Run(c.name, func(t *testing.T) { c.test(t, open) })
	}
}

func openSQLite(t *testing.T) *Store {
	s, _ := openTemp(t)
	return s
}

func openPostgres(t *testing.T) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceSQLite(t *testing.T)   { runConformance(t, openSQLite) }
func TestConformancePostgres(t *testing.T) { runConformance(t, openPostgres) }

// TestLockTargetPostgres: one holder at a time across processes (here two
// stores, i.e. two pools), released on unlock and when the holder's
// connections close (a process that dies).
func TestLockTargetPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	// a's pool is not closed: its locked connection is cut below, as when
	// its process dies, and the test database is dropped at the end.
	a, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlock, ok, err := a.LockTarget(ctx, "armv8-board1")
	if err != nil || !ok {
		t.Fatalf("first lock: ok %v, err %v", ok, err)
	}
	if _, ok, err := b.LockTarget(ctx, "armv8-board1"); ok || err != nil {
		t.Fatalf("second holder got the board: ok %v, err %v", ok, err)
	}
	if u, ok, err := b.LockTarget(ctx, "armv8-board2"); !ok || err != nil {
		t.Fatalf("another board is free: ok %v, err %v", ok, err)
	} else {
		u()
	}
	unlock()
	u, ok, err := b.LockTarget(ctx, "armv8-board1")
	if !ok || err != nil {
		t.Fatalf("after unlock: ok %v, err %v", ok, err)
	}
	u()
	// A holder that dies (its connections are cut) lets go.
	if _, ok, _ := a.LockTarget(ctx, "armv8-board1"); !ok {
		t.Fatal("relock")
	}
	if _, err := b.Q().Exec(ctx, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, ok, err := b.LockTarget(ctx, "armv8-board1")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			u()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock outlived its holder's connection")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLockTargetSQLite(t *testing.T) {
	s := openSQLite(t)
	u, ok, err := s.LockTarget(context.Background(), "armv8-board1")
	if !ok || err != nil {
		t.Fatalf("SQLite lock: ok %v, err %v", ok, err)
	}
	u()
}
