// Package store keeps measurements in SQLite (modernc.org/sqlite, pure Go).
//
// A measurement is every result of one revision of one repository, built
// with one toolchain and run on one target with one version of a suite. It
// is written in a single transaction, so a crash leaves either the whole
// measurement or none of it, and a reader never sees half of one. Schema
// changes are versioned migrations applied at Open.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"

	"github.com/tcbot/tcbot/bot/result"
)

// Key identifies a measurement: the same key is never measured twice.
type Key struct {
	Repo         string
	Revision     string // full commit SHA
	ToolchainID  string
	Target       string
	Suite        string
	SuiteVersion string
}

// Binary is what tcbot keeps of one built benchmark.
type Binary struct {
	SHA256    string                `json:"sha256"`
	Functions []result.FunctionSize `json:"functions,omitempty"`
}

// Measurement is everything measured for one key.
type Measurement struct {
	Key
	Subject   string // commit subject, for reports
	Toolchain string // human description of the toolchain
	CreatedAt time.Time
	Results   []result.Result
	Binaries  map[string]Binary // by benchmark
}

// timeFormat is fixed-width, so timestamps sort as text in time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

// Store is a tcbot database.
type Store struct {
	db   *sql.DB
	path string
}

// migrations are applied in order; never edit one that has shipped.
var migrations = []string{
	// 1: measurements, their results and binaries.
	`CREATE TABLE measurements (
		id            INTEGER PRIMARY KEY,
		repo          TEXT NOT NULL,
		revision      TEXT NOT NULL,
		toolchain_id  TEXT NOT NULL,
		target        TEXT NOT NULL,
		suite         TEXT NOT NULL,
		suite_version TEXT NOT NULL,
		subject       TEXT NOT NULL DEFAULT '',
		toolchain     TEXT NOT NULL DEFAULT '',
		created_at    TEXT NOT NULL,
		UNIQUE (repo, revision, toolchain_id, target, suite, suite_version)
	);
	CREATE INDEX measurements_by_rev ON measurements (repo, revision, target, suite);
	CREATE TABLE results (
		measurement_id INTEGER NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
		benchmark      TEXT NOT NULL,
		metric         TEXT NOT NULL,
		unit           TEXT NOT NULL,
		samples        TEXT NOT NULL,
		note           TEXT NOT NULL DEFAULT '',
		identical      INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (measurement_id, benchmark, metric)
	);
	CREATE TABLE binaries (
		measurement_id INTEGER NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
		benchmark      TEXT NOT NULL,
		sha256         TEXT NOT NULL,
		functions      TEXT NOT NULL DEFAULT '[]',
		PRIMARY KEY (measurement_id, benchmark)
	);`,
	// 2: the bot service: webhook deliveries, changes, pull requests and
	// the last seen heads of watched branches.
	`CREATE TABLE deliveries (
		id          TEXT PRIMARY KEY,
		event       TEXT NOT NULL,
		action      TEXT NOT NULL DEFAULT '',
		received_at TEXT NOT NULL
	);
	CREATE TABLE changes (
		id         INTEGER PRIMARY KEY,
		repo       TEXT NOT NULL,
		head       TEXT NOT NULL,
		base       TEXT NOT NULL DEFAULT '',
		origin     TEXT NOT NULL,
		pr         INTEGER NOT NULL DEFAULT 0,
		targets    TEXT NOT NULL DEFAULT '',
		state      TEXT NOT NULL DEFAULT 'queued',
		verdict    TEXT NOT NULL DEFAULT '',
		report     TEXT NOT NULL DEFAULT '',
		reported   INTEGER NOT NULL DEFAULT 0,
		note       TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX changes_by_pr ON changes (repo, pr, id);
	CREATE INDEX changes_by_state ON changes (state);
	CREATE TABLE pulls (
		repo          TEXT NOT NULL,
		number        INTEGER NOT NULL,
		head          TEXT NOT NULL,
		base_ref      TEXT NOT NULL,
		author        TEXT NOT NULL,
		trusted       INTEGER NOT NULL DEFAULT 0,
		approved_head TEXT NOT NULL DEFAULT '',
		draft         INTEGER NOT NULL DEFAULT 0,
		open          INTEGER NOT NULL DEFAULT 1,
		last_verdict  TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (repo, number)
	);
	CREATE TABLE branch_heads (
		repo   TEXT NOT NULL,
		branch TEXT NOT NULL,
		sha    TEXT NOT NULL,
		PRIMARY KEY (repo, branch)
	);`,
}

// Open opens (creating if needed) the SQLite database at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
	}
	// WAL is switched on only after the schema check passed, so a database
	// this tcbot refuses is left exactly as it was.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode=WAL`); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return s, nil
}

// DB is the database handle, shared with the job queue (River) so a store
// write and the job it causes commit in one transaction.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// SchemaVersion is the newest schema this tcbot knows.
func SchemaVersion() int { return len(migrations) }

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("database %s: %w (is it a SQLite file?)", s.path, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("database %s: %w (is it a SQLite file?)", s.path, err)
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("database %s: %w", s.path, err)
		}
	case err != nil:
		return fmt.Errorf("database %s: read schema version: %w", s.path, err)
	}
	if v > len(migrations) {
		return fmt.Errorf("database %s has schema version %d, newer than this tcbot knows (%d): upgrade tcbot; the database was not changed", s.path, v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("database %s: migration %d: %w", s.path, i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("database %s: %w", s.path, err)
	}
	return tx.Commit()
}

// Get returns the measurement with exactly this key.
func (s *Store) Get(ctx context.Context, k Key) (*Measurement, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT id, subject, toolchain, created_at FROM measurements
		WHERE repo = ? AND revision = ? AND toolchain_id = ? AND target = ? AND suite = ? AND suite_version = ?`,
		k.Repo, k.Revision, k.ToolchainID, k.Target, k.Suite, k.SuiteVersion)
	return s.load(ctx, k, row)
}

// Latest returns the newest measurement of a revision on a target for a
// suite version, whatever the toolchain (for `tcbot compare`).
func (s *Store) Latest(ctx context.Context, repo, revision, target, suite, suiteVersion string) (*Measurement, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT id, subject, toolchain, created_at, toolchain_id FROM measurements
		WHERE repo = ? AND revision = ? AND target = ? AND suite = ? AND suite_version = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, repo, revision, target, suite, suiteVersion)
	k := Key{Repo: repo, Revision: revision, Target: target, Suite: suite, SuiteVersion: suiteVersion}
	return s.load(ctx, k, row)
}

type scanner interface{ Scan(...any) error }

func (s *Store) load(ctx context.Context, k Key, row scanner) (*Measurement, bool, error) {
	var id int64
	var created string
	m := &Measurement{Key: k, Binaries: map[string]Binary{}}
	dest := []any{&id, &m.Subject, &m.Toolchain, &created}
	if k.ToolchainID == "" {
		dest = append(dest, &m.ToolchainID)
	}
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read measurement %s@%s on %s: %w", k.Repo, short(k.Revision), k.Target, err)
	}
	m.CreatedAt, _ = time.Parse(timeFormat, created)
	rows, err := s.db.QueryContext(ctx, `SELECT benchmark, metric, unit, samples, note, identical FROM results
		WHERE measurement_id = ? ORDER BY benchmark, metric`, id)
	if err != nil {
		return nil, false, fmt.Errorf("read results of %s@%s: %w", k.Repo, short(k.Revision), err)
	}
	defer rows.Close()
	for rows.Next() {
		r := result.Result{Target: m.Target, Suite: m.Suite}
		var samples string
		var identical int
		if err := rows.Scan(&r.Benchmark, &r.Metric, &r.Unit, &samples, &r.Note, &identical); err != nil {
			return nil, false, err
		}
		if err := json.Unmarshal([]byte(samples), &r.Samples); err != nil {
			return nil, false, fmt.Errorf("result %s/%s of %s@%s: bad samples: %w", r.Benchmark, r.Metric, k.Repo, short(k.Revision), err)
		}
		r.Identical = identical != 0
		m.Results = append(m.Results, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	brows, err := s.db.QueryContext(ctx, `SELECT benchmark, sha256, functions FROM binaries WHERE measurement_id = ?`, id)
	if err != nil {
		return nil, false, err
	}
	defer brows.Close()
	for brows.Next() {
		var name, fns string
		var b Binary
		if err := brows.Scan(&name, &b.SHA256, &fns); err != nil {
			return nil, false, err
		}
		if err := json.Unmarshal([]byte(fns), &b.Functions); err != nil {
			return nil, false, fmt.Errorf("binary %s of %s@%s: %w", name, k.Repo, short(k.Revision), err)
		}
		m.Binaries[name] = b
	}
	return m, true, brows.Err()
}

// Put stores a measurement in one transaction, replacing any measurement
// with the same key. Results must belong to m's target and suite.
func (s *Store) Put(ctx context.Context, m *Measurement) error {
	for _, r := range m.Results {
		if r.Target != m.Target || r.Suite != m.Suite {
			return fmt.Errorf("store measurement %s@%s on %s: result %s belongs to %s/%s", m.Repo, short(m.Revision), m.Target, r.Key(), r.Target, r.Suite)
		}
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store measurement: %w", err)
	}
	defer tx.Rollback()
	k := m.Key
	if _, err := tx.ExecContext(ctx, `DELETE FROM measurements WHERE repo = ? AND revision = ? AND toolchain_id = ? AND target = ? AND suite = ? AND suite_version = ?`,
		k.Repo, k.Revision, k.ToolchainID, k.Target, k.Suite, k.SuiteVersion); err != nil {
		return fmt.Errorf("store measurement: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO measurements (repo, revision, toolchain_id, target, suite, suite_version, subject, toolchain, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.Repo, k.Revision, k.ToolchainID, k.Target, k.Suite, k.SuiteVersion, m.Subject, m.Toolchain, m.CreatedAt.UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("store measurement: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	for _, r := range m.Results {
		samples, err := json.Marshal(r.Samples)
		if err != nil {
			return fmt.Errorf("store %s: %w", r.Key(), err)
		}
		identical := 0
		if r.Identical {
			identical = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO results (measurement_id, benchmark, metric, unit, samples, note, identical) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, r.Benchmark, r.Metric, r.Unit, string(samples), r.Note, identical); err != nil {
			return fmt.Errorf("store %s: %w", r.Key(), err)
		}
	}
	for name, b := range m.Binaries {
		fns, err := json.Marshal(b.Functions)
		if err != nil {
			return err
		}
		if b.Functions == nil {
			fns = []byte("[]")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO binaries (measurement_id, benchmark, sha256, functions) VALUES (?, ?, ?, ?)`,
			id, name, b.SHA256, string(fns)); err != nil {
			return fmt.Errorf("store binary %s: %w", name, err)
		}
	}
	return tx.Commit()
}

// Count returns how many measurements are stored.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM measurements`).Scan(&n)
	return n, err
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
