package store

import (
	"context"
	"testing"

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
