package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/result"
)

const (
	revA = "1111111111111111111111111111111111111111"
	revB = "2222222222222222222222222222222222222222"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db", "tcbot.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func key(rev string) Key {
	return Key{Repo: "toolchain", Revision: rev, ToolchainID: "0123456789abcdef", Target: "armv8-qemu", Suite: "bench", SuiteVersion: "fedcba9876543210"}
}

func measurement(k Key) *Measurement {
	r := func(bench, metric, unit string, samples ...float64) result.Result {
		return result.Result{Target: k.Target, Suite: k.Suite, Benchmark: bench, Metric: metric, Unit: unit, Samples: samples}
	}
	m := &Measurement{
		Key:       k,
		Subject:   "aarch64: cheaper memcpy",
		Toolchain: "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0, -O2",
		CreatedAt: time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC),
		Results: []result.Result{
			r("sha256", "instructions", "count", 1.2e8),
			r("sha256", "time", "s", 0.51, 0.49, 0.5),
			r("crc32", "code-size", "bytes", 4096),
			r("crc32", "status", "pass/fail", result.Fail),
		},
		Binaries: map[string]Binary{
			"sha256": {SHA256: strings.Repeat("ab", 32), Functions: []result.FunctionSize{{Name: "sha256_block", Size: 1200}, {Name: "main", Size: 88}},
				Profile: []result.FunctionCount{{Name: "sha256_block", Count: 119_000_000}, {Name: "main", Count: 1_000_000}}},
			"crc32": {SHA256: strings.Repeat("cd", 32), Functions: []result.FunctionSize{}},
		},
	}
	m.Results[1].Identical = true
	m.Results[1].Note = "identical binary: reused"
	m.Results[3].Note = "wrong checksum"
	return m
}

// sorted returns results in the order the store returns them.
func sorted(rs []result.Result) []result.Result {
	out := append([]result.Result(nil), rs...)
	result.Sort(out)
	return out
}

func TestOpenCreatesSchema(t *testing.T) {
	s, path := openTemp(t)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	var v int
	if err := s.DB().QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != SchemaVersion() {
		t.Errorf("schema_version = %d (%v), want %d", v, err, SchemaVersion())
	}
	for _, table := range []string{"measurements", "results", "binaries"} {
		var n int
		if err := s.DB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: %d (%v)", table, n, err)
		}
	}
	if n, err := s.Count(context.Background()); err != nil || n != 0 {
		t.Errorf("Count = %d, %v; want 0", n, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tcbot.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, measurement(key(revA))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s.Close()
	if _, ok, err := s.Get(ctx, key(revA)); !ok || err != nil {
		t.Errorf("Get after reopen: ok %v, err %v", ok, err)
	}
}

func confPutGetRoundTrip(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	want := measurement(key(revA))
	if err := s.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, key(revA))
	if err != nil || !ok {
		t.Fatalf("Get: ok %v, err %v", ok, err)
	}
	if got.Key != want.Key || got.Subject != want.Subject || got.Toolchain != want.Toolchain {
		t.Errorf("got %+v\nwant %+v", got.Key, want.Key)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	if !reflect.DeepEqual(got.Results, sorted(want.Results)) {
		t.Errorf("Results =\n %+v\nwant\n %+v", got.Results, sorted(want.Results))
	}
	if len(got.Binaries) != 2 {
		t.Fatalf("Binaries = %+v, want 2", got.Binaries)
	}
	if b := got.Binaries["sha256"]; !reflect.DeepEqual(b, want.Binaries["sha256"]) {
		t.Errorf("binary sha256 = %+v, want %+v", b, want.Binaries["sha256"])
	}
	if b := got.Binaries["crc32"]; b.SHA256 != want.Binaries["crc32"].SHA256 || len(b.Functions) != 0 {
		t.Errorf("binary crc32 = %+v", b)
	}
}

func confBinaryWithoutFunctionTable(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	m := measurement(key(revA))
	m.Binaries = map[string]Binary{"sha256": {SHA256: "00"}}
	if err := s.Put(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Get(ctx, key(revA))
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Binaries["sha256"]; b.SHA256 != "00" || len(b.Functions) != 0 {
		t.Errorf("binary = %+v", b)
	}
}

func confPutSetsCreatedAt(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	m := measurement(key(revA))
	m.CreatedAt = time.Time{}
	before := time.Now()
	if err := s.Put(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Get(ctx, key(revA))
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt = %v, want about %v", got.CreatedAt, before)
	}
}

func confPutReplacesSameKey(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	if err := s.Put(ctx, measurement(key(revA))); err != nil {
		t.Fatal(err)
	}
	again := &Measurement{
		Key: key(revA), Subject: "second run",
		Results: []result.Result{{Target: "armv8-qemu", Suite: "bench", Benchmark: "sha256", Metric: "instructions", Unit: "count", Samples: []float64{1.3e8}}},
	}
	if err := s.Put(ctx, again); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
	got, ok, err := s.Get(ctx, key(revA))
	if err != nil || !ok {
		t.Fatalf("Get: %v %v", ok, err)
	}
	if got.Subject != "second run" || len(got.Results) != 1 || got.Results[0].Samples[0] != 1.3e8 || len(got.Binaries) != 0 {
		t.Errorf("got %+v, want only the second measurement", got)
	}
	// The first measurement's rows are gone, not only hidden.
	for _, table := range []string{"results", "binaries"} {
		var n int
		if err := s.Q().QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"results": 1, "binaries": 0}[table]; n != want {
			t.Errorf("%d rows in %s, want %d", n, table, want)
		}
	}
}

func confKeysAreDistinct(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	base := key(revA)
	variants := []struct {
		name   string
		change func(*Key)
	}{
		{"another revision", func(k *Key) { k.Revision = revB }},
		{"another toolchain", func(k *Key) { k.ToolchainID = "aaaaaaaaaaaaaaaa" }},
		{"another target", func(k *Key) { k.Target = "armv7-qemu" }},
		{"another suite version", func(k *Key) { k.SuiteVersion = "bbbbbbbbbbbbbbbb" }},
		{"another repo", func(k *Key) { k.Repo = "kernel" }},
	}
	if err := s.Put(ctx, &Measurement{Key: base, Subject: "base"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			k := base
			v.change(&k)
			if _, ok, err := s.Get(ctx, k); ok || err != nil {
				t.Fatalf("Get(%+v) before Put: ok %v, err %v; want not found", k, ok, err)
			}
			if err := s.Put(ctx, &Measurement{Key: k, Subject: v.name}); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.Get(ctx, k)
			if err != nil || !ok || got.Subject != v.name {
				t.Errorf("Get = %+v, %v, %v", got, ok, err)
			}
		})
	}
	if n, _ := s.Count(ctx); n != 1+len(variants) {
		t.Errorf("Count = %d, want %d", n, 1+len(variants))
	}
	if got, _, _ := s.Get(ctx, base); got == nil || got.Subject != "base" {
		t.Errorf("base measurement = %+v, want untouched", got)
	}
}

func confGetMissing(t *testing.T, open opener) {
	s := open(t)
	m, ok, err := s.Get(context.Background(), key(revB))
	if m != nil || ok || err != nil {
		t.Errorf("Get(missing) = %v, %v, %v; want nil, false, nil", m, ok, err)
	}
	m, ok, err = s.Latest(context.Background(), "toolchain", revB, "armv8-qemu", "bench", "fedcba9876543210")
	if m != nil || ok || err != nil {
		t.Errorf("Latest(missing) = %v, %v, %v; want nil, false, nil", m, ok, err)
	}
}

func confLatest(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, p := range []struct {
		tc string
		at time.Time
	}{
		{"aaaaaaaaaaaaaaaa", t0},
		{"cccccccccccccccc", t0.Add(2 * time.Hour)},
		{"bbbbbbbbbbbbbbbb", t0.Add(time.Hour)},
	} {
		k := key(revA)
		k.ToolchainID = p.tc
		if err := s.Put(ctx, &Measurement{Key: k, Toolchain: "gcc " + p.tc[:1], CreatedAt: p.at}); err != nil {
			t.Fatal(err)
		}
	}
	// Another target's newer measurement is not a candidate.
	other := key(revA)
	other.Target = "armv7-qemu"
	if err := s.Put(ctx, &Measurement{Key: other, CreatedAt: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	m, ok, err := s.Latest(ctx, "toolchain", revA, "armv8-qemu", "bench", "fedcba9876543210")
	if err != nil || !ok {
		t.Fatalf("Latest: %v %v", ok, err)
	}
	if m.ToolchainID != "cccccccccccccccc" || m.Toolchain != "gcc c" || m.Target != "armv8-qemu" {
		t.Errorf("Latest = %+v, want the one created at %v", m.Key, t0.Add(2*time.Hour))
	}
}

// created_at is stored as RFC3339Nano text and Latest orders by that text,
// but RFC3339Nano drops trailing zeros, so "10:00:00Z" sorts after
// "10:00:00.5Z" and ".5Z" after ".55Z": Latest picks an older measurement.
func confLatestOrdersByTimeNotByText(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		older, newer time.Time
	}{
		{"whole second then half a second later", t0, t0.Add(500 * time.Millisecond)},
		{"fewer digits then more digits", t0.Add(500 * time.Millisecond), t0.Add(550 * time.Millisecond)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := fmt.Sprintf("%040d", i)
			for _, p := range []struct {
				tc string
				at time.Time
			}{{"0000000000000old", tt.older}, {"0000000000000new", tt.newer}} {
				k := key(rev)
				k.ToolchainID = p.tc
				if err := s.Put(ctx, &Measurement{Key: k, CreatedAt: p.at}); err != nil {
					t.Fatal(err)
				}
			}
			m, ok, err := s.Latest(ctx, "toolchain", rev, "armv8-qemu", "bench", "fedcba9876543210")
			if err != nil || !ok {
				t.Fatalf("Latest: %v %v", ok, err)
			}
			if m.ToolchainID != "0000000000000new" {
				t.Errorf("Latest = measurement created at %v, want the newer one created at %v", m.CreatedAt, tt.newer)
			}
		})
	}
}

func confPutRejectsForeignResult(t *testing.T, open opener) {
	tests := []struct {
		name   string
		change func(*result.Result)
	}{
		{"result of another target", func(r *result.Result) { r.Target = "armv7-qemu" }},
		{"result of another suite", func(r *result.Result) { r.Suite = "oe" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if err := s.Put(ctx, measurement(key(revB))); err != nil {
				t.Fatal(err)
			}
			before, _ := s.Count(ctx)
			m := measurement(key(revA))
			tt.change(&m.Results[2])
			err := s.Put(ctx, m)
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			if !strings.Contains(err.Error(), "crc32") || !strings.Contains(err.Error(), "belongs to") {
				t.Errorf("error %q does not say which result belongs elsewhere", err)
			}
			if after, _ := s.Count(ctx); after != before {
				t.Errorf("Count %d -> %d: a failed Put stored something", before, after)
			}
			if _, ok, _ := s.Get(ctx, key(revA)); ok {
				t.Error("the rejected measurement is stored")
			}
		})
	}
}

// A rejected Put over an existing key keeps the old measurement.
func confRejectedPutKeepsExisting(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	if err := s.Put(ctx, measurement(key(revA))); err != nil {
		t.Fatal(err)
	}
	m := measurement(key(revA))
	m.Results[0].Target = "armv7-qemu"
	if err := s.Put(ctx, m); err == nil {
		t.Fatal("Put succeeded, want an error")
	}
	got, ok, err := s.Get(ctx, key(revA))
	if err != nil || !ok || len(got.Results) != 4 {
		t.Errorf("after a rejected Put: %v results, ok %v, err %v; want the 4 stored before", len(got.Results), ok, err)
	}
}

func confConcurrentPuts(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := measurement(key(fmt.Sprintf("%020d%020d", w, i)))
				if err := s.Put(ctx, m); err != nil {
					errs <- err
				}
				// Every worker also rewrites one shared key.
				if err := s.Put(ctx, measurement(key(revB))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != workers*each+1 {
		t.Errorf("Count = %d, %v; want %d", n, err, workers*each+1)
	}
	for w := range workers {
		for i := range each {
			got, ok, err := s.Get(ctx, key(fmt.Sprintf("%020d%020d", w, i)))
			if err != nil || !ok || len(got.Results) != 4 || len(got.Binaries) != 2 {
				t.Errorf("measurement %d/%d: ok %v err %v", w, i, ok, err)
			}
		}
	}
}

// setSchemaVersion writes version into a closed database, as a newer tcbot
// would have left it.
func setSchemaVersion(t *testing.T, path string, version int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE schema_version SET version = ?`, version); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tcbot.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, measurement(key(revA))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := SchemaVersion() + 1
	setSchemaVersion(t, path, newer)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer database succeeded")
	}
	for _, want := range []string{path, fmt.Sprintf("schema version %d", newer), "upgrade tcbot"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("database file changed by a refused Open")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v, n int
	if err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != newer {
		t.Errorf("schema_version = %d (%v), want %d", v, err, newer)
	}
	if err := db.QueryRow(`SELECT count(*) FROM measurements`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d measurements (%v), want the 1 stored before", n, err)
	}
}

func TestOpenRefusesNonSQLiteFile(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"a YAML file", []byte("database: sqlite://tcbot.db\nworkdir: ./work\n" + strings.Repeat("# padding to more than one page\n", 200))},
		{"a short text file", []byte("hello\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tcbot.yaml")
			if err := os.WriteFile(path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open of a non-SQLite file succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.content) {
				t.Errorf("the file was changed by a failed Open")
			}
		})
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "tcbot.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created: %v", err)
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "tcbot.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
}

// A newer database in SQLite's default rollback-journal mode (written by
// another tool, or restored from a backup) is switched to WAL by the DSN's
// journal_mode pragma before the version check refuses it, so the file's
// header changes although the error says "the database was not changed".
func TestRefusedOpenLeavesRollbackJournalDatabaseUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tcbot.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (?)`, SchemaVersion()+1)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer database succeeded")
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		// Bytes 18 and 19 of the header are the file format versions: 1
		// for rollback journal, 2 for WAL.
		t.Errorf("refused Open changed the file (header bytes 18-19: %d %d -> %d %d)", before[18], before[19], after[18], after[19])
	}
}
