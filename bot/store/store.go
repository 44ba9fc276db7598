// Package store keeps measurements and the bot service's state in SQLite
// (modernc.org/sqlite, pure Go; the embedded default) or PostgreSQL (pgx;
// many hosts), behind one API checked by one conformance suite.
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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	// Profile is the binary's instruction count per function (its run
	// on the measurement's target under qemu-user), largest first; empty
	// when the executor cannot attribute (boards, qemu-system).
	Profile []result.FunctionCount `json:"profile,omitempty"`
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

// Store is a tcbot database: SQLite (one file, the embedded default) or
// PostgreSQL (many hosts), behind one API.
type Store struct {
	dialect Dialect
	sqldb   *sql.DB       // SQLite
	pool    *pgxpool.Pool // PostgreSQL
	q       Querier
	name    string // the file, or the DSN without its password, for errors
	src     string // what it was opened from
}

// migrations are applied in order; never edit one that has shipped. Each
// is written for both databases; typed() adapts the few types that differ.
var migrations = []string{
	// 1: measurements, their results and binaries.
	`CREATE TABLE measurements (
		id            {{ID}},
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
		measurement_id {{REF}} NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
		benchmark      TEXT NOT NULL,
		metric         TEXT NOT NULL,
		unit           TEXT NOT NULL,
		samples        TEXT NOT NULL,
		note           TEXT NOT NULL DEFAULT '',
		identical      INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (measurement_id, benchmark, metric)
	);
	CREATE TABLE binaries (
		measurement_id {{REF}} NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,
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
		id         {{ID}},
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
	// 3: scale-out: each target of a change is measured by its own job,
	// perhaps on another host; and the worker processes' heartbeats.
	`CREATE TABLE change_targets (
		change_id  {{REF}} NOT NULL REFERENCES changes(id) ON DELETE CASCADE,
		target     TEXT NOT NULL,
		state      TEXT NOT NULL DEFAULT 'queued',
		worker     TEXT NOT NULL DEFAULT '',
		note       TEXT NOT NULL DEFAULT '',
		report     TEXT NOT NULL DEFAULT '',
		updated_at TEXT NOT NULL,
		PRIMARY KEY (change_id, target)
	);
	CREATE TABLE workers (
		id           TEXT PRIMARY KEY,
		host         TEXT NOT NULL,
		targets      TEXT NOT NULL DEFAULT '',
		started_at   TEXT NOT NULL,
		heartbeat_at TEXT NOT NULL
	);`,
	// 4: what a worker is doing (a long toolchain or kernel build's step,
	// elapsed time and last line), for the dashboard.
	`ALTER TABLE workers ADD COLUMN activity TEXT NOT NULL DEFAULT '';`,
	// 5: bisections, the changes that probe them, the acceptances of
	// regressions (/tcbot accept) and the sweep issues tcbot opened.
	`CREATE TABLE bisections (
		id           {{ID}},
		repo         TEXT NOT NULL,
		good         TEXT NOT NULL,
		bad          TEXT NOT NULL,
		origin       TEXT NOT NULL,
		change_id    {{REF}} NOT NULL DEFAULT 0,
		pr           INTEGER NOT NULL DEFAULT 0,
		targets      TEXT NOT NULL DEFAULT '',
		requested_by TEXT NOT NULL DEFAULT '',
		state        TEXT NOT NULL DEFAULT 'queued',
		progress     TEXT NOT NULL DEFAULT '',
		result       TEXT NOT NULL DEFAULT '',
		note         TEXT NOT NULL DEFAULT '',
		reported     INTEGER NOT NULL DEFAULT 0,
		created_at   TEXT NOT NULL,
		updated_at   TEXT NOT NULL
	);
	ALTER TABLE changes ADD COLUMN bisection {{REF}} NOT NULL DEFAULT 0;
	CREATE INDEX changes_bisection ON changes (bisection, head);
	CREATE TABLE acceptances (
		id          {{ID}},
		repo        TEXT NOT NULL,
		branch      TEXT NOT NULL,
		sha         TEXT NOT NULL,
		accepted_by TEXT NOT NULL,
		why         TEXT NOT NULL DEFAULT '',
		issue       INTEGER NOT NULL DEFAULT 0,
		at          TEXT NOT NULL
	);
	CREATE TABLE sweep_issues (
		repo   TEXT NOT NULL,
		number INTEGER NOT NULL,
		sweep  TEXT NOT NULL,
		branch TEXT NOT NULL,
		PRIMARY KEY (repo, number)
	);`,
	// 6: instructions per function of each binary (JSON, largest first).
	`ALTER TABLE binaries ADD COLUMN profile TEXT NOT NULL DEFAULT '[]';`,
	// 7: the branch a change's head was measured on (pushes, sweeps, the
	// demo), for the dashboard's history per repository and branch.
	`ALTER TABLE changes ADD COLUMN branch TEXT NOT NULL DEFAULT '';
	CREATE INDEX changes_by_branch ON changes (repo, branch, id);`,
}

// typed adapts a migration to a dialect.
func typed(d Dialect, m string) string {
	id, ref := "INTEGER PRIMARY KEY", "INTEGER"
	if d == Postgres {
		id, ref = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT"
	}
	return strings.NewReplacer("{{ID}}", id, "{{REF}}", ref).Replace(m)
}

// OpenURL opens the database a config names: sqlite://PATH or
// postgres://... (a libpq URL; the password comes from PGPASSWORD or
// ~/.pgpass, never from the config file).
func OpenURL(ctx context.Context, database string) (*Store, error) {
	switch {
	case strings.HasPrefix(database, "sqlite://"):
		return Open(ctx, strings.TrimPrefix(database, "sqlite://"))
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		return OpenPostgres(ctx, database)
	}
	return nil, fmt.Errorf("database %q: want sqlite://PATH or postgres://USER@HOST/DB", Redact(database))
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
	s := &Store{dialect: SQLite, sqldb: db, q: sqlQuerier{db}, name: path, src: "sqlite://" + path}
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

// OpenPostgres connects to a PostgreSQL database and brings its schema up
// to date. Several processes may open it at once: migrations are
// serialized by an advisory lock.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	name := Redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %v", name, redactErr(err, dsn))
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %v", name, redactErr(err, dsn))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: cannot connect: %v (is PostgreSQL running, and may this user log in? the password comes from PGPASSWORD or ~/.pgpass)", name, redactErr(err, dsn))
	}
	s := &Store{dialect: Postgres, pool: pool, q: pgQuerier{pool}, name: name, src: dsn}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Redact removes the password from a database URL, for logs and errors.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func redactErr(err error, dsn string) string {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// Dialect says which database the store is on.
func (s *Store) Dialect() Dialect { return s.dialect }

// Name is the database file or the DSN without its password.
func (s *Store) Name() string { return s.name }

// Q runs queries outside any transaction.
func (s *Store) Q() Querier { return s.q }

// DB is the SQLite handle (nil on PostgreSQL), shared with the job queue.
func (s *Store) DB() *sql.DB { return s.sqldb }

// Pool is the PostgreSQL pool (nil on SQLite), shared with the job queue.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.pool != nil {
		return s.pool.Ping(ctx)
	}
	return s.sqldb.PingContext(ctx)
}

// Close closes the database.
func (s *Store) Close() error {
	if s.pool != nil {
		s.pool.Close()
		return nil
	}
	return s.sqldb.Close()
}

// SchemaVersion is the newest schema this tcbot knows.
func SchemaVersion() int { return len(migrations) }

// Tx runs fn in a transaction, committed when fn returns nil.
func (s *Store) Tx(ctx context.Context, fn func(tx Tx) error) error {
	if s.pool != nil {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if err := fn(pgTx{pgQuerier{tx}, tx}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	tx, err := s.sqldb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(sqlTx{sqlQuerier{tx}, tx}); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) migrate(ctx context.Context) error {
	hint := " (is it a SQLite file?)"
	if s.dialect == Postgres {
		hint = ""
	}
	err := s.Tx(ctx, func(tx Tx) error {
		if s.dialect == Postgres {
			// One process migrates at a time; the others wait and then
			// find the schema current.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7206518)`); err != nil {
				return fmt.Errorf("database %s: %w", s.name, err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("database %s: %w%s", s.name, err, hint)
		}
		var v int
		err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
		switch {
		case errors.Is(err, ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				return fmt.Errorf("database %s: %w", s.name, err)
			}
		case err != nil:
			return fmt.Errorf("database %s: read schema version: %w", s.name, err)
		}
		if v > len(migrations) {
			return fmt.Errorf("database %s has schema version %d, newer than this tcbot knows (%d): upgrade tcbot; the database was not changed", s.name, v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if s.dialect == Postgres {
				// pgx runs one statement per Exec with arguments, but a
				// plain multi-statement string goes through the simple
				// protocol.
				if _, err := tx.Raw().(pgx.Tx).Exec(ctx, typed(s.dialect, migrations[i]), pgx.QueryExecModeSimpleProtocol); err != nil {
					return fmt.Errorf("database %s: migration %d: %w", s.name, i+1, err)
				}
				continue
			}
			if _, err := tx.Exec(ctx, typed(s.dialect, migrations[i])); err != nil {
				return fmt.Errorf("database %s: migration %d: %w", s.name, i+1, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
			return fmt.Errorf("database %s: %w", s.name, err)
		}
		return nil
	})
	if err != nil && !strings.Contains(err.Error(), s.name) {
		err = fmt.Errorf("database %s: %w%s", s.name, err, hint)
	}
	return err
}

// Get returns the measurement with exactly this key.
func (s *Store) Get(ctx context.Context, k Key) (*Measurement, bool, error) {
	row := s.q.QueryRow(ctx, `SELECT id, subject, toolchain, created_at FROM measurements
		WHERE repo = ? AND revision = ? AND toolchain_id = ? AND target = ? AND suite = ? AND suite_version = ?`,
		k.Repo, k.Revision, k.ToolchainID, k.Target, k.Suite, k.SuiteVersion)
	return s.load(ctx, k, row)
}

// Latest returns the newest measurement of a revision on a target for a
// suite version, whatever the toolchain (for `tcbot compare`).
func (s *Store) Latest(ctx context.Context, repo, revision, target, suite, suiteVersion string) (*Measurement, bool, error) {
	row := s.q.QueryRow(ctx, `SELECT id, subject, toolchain, created_at, toolchain_id FROM measurements
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
		if errors.Is(err, ErrNoRows) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read measurement %s@%s on %s: %w", k.Repo, short(k.Revision), k.Target, err)
	}
	m.CreatedAt, _ = time.Parse(timeFormat, created)
	rows, err := s.q.Query(ctx, `SELECT benchmark, metric, unit, samples, note, identical FROM results
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
	brows, err := s.q.Query(ctx, `SELECT benchmark, sha256, functions, profile FROM binaries WHERE measurement_id = ?`, id)
	if err != nil {
		return nil, false, err
	}
	defer brows.Close()
	for brows.Next() {
		var name, fns, prof string
		var b Binary
		if err := brows.Scan(&name, &b.SHA256, &fns, &prof); err != nil {
			return nil, false, err
		}
		if err := json.Unmarshal([]byte(fns), &b.Functions); err != nil {
			return nil, false, fmt.Errorf("binary %s of %s@%s: %w", name, k.Repo, short(k.Revision), err)
		}
		if err := json.Unmarshal([]byte(prof), &b.Profile); err != nil {
			return nil, false, fmt.Errorf("binary %s of %s@%s: profile: %w", name, k.Repo, short(k.Revision), err)
		}
		if len(b.Profile) == 0 {
			b.Profile = nil
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
	return s.Tx(ctx, func(tx Tx) error {
		if s.dialect == Postgres {
			// Two hosts storing the same key serialize here, so the
			// delete-then-insert below never collides.
			k := m.Key
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, strings.Join([]string{k.Repo, k.Revision, k.ToolchainID, k.Target, k.Suite, k.SuiteVersion}, "|")); err != nil {
				return fmt.Errorf("store measurement: %w", err)
			}
		}
		return putTx(ctx, tx, m)
	})
}

func putTx(ctx context.Context, tx Tx, m *Measurement) error {
	k := m.Key
	if _, err := tx.Exec(ctx, `DELETE FROM measurements WHERE repo = ? AND revision = ? AND toolchain_id = ? AND target = ? AND suite = ? AND suite_version = ?`,
		k.Repo, k.Revision, k.ToolchainID, k.Target, k.Suite, k.SuiteVersion); err != nil {
		return fmt.Errorf("store measurement: %w", err)
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO measurements (repo, revision, toolchain_id, target, suite, suite_version, subject, toolchain, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, k.Repo, k.Revision, k.ToolchainID, k.Target, k.Suite, k.SuiteVersion, m.Subject, m.Toolchain, m.CreatedAt.UTC().Format(timeFormat)).Scan(&id)
	if err != nil {
		return fmt.Errorf("store measurement: %w", err)
	}
	for _, r := range m.Results {
		samples, err := json.Marshal(r.Samples)
		if err != nil {
			return fmt.Errorf("store %s: %w", r.Key(), err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO results (measurement_id, benchmark, metric, unit, samples, note, identical) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, r.Benchmark, r.Metric, r.Unit, string(samples), r.Note, b2i(r.Identical)); err != nil {
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
		prof := []byte("[]")
		if len(b.Profile) > 0 {
			if prof, err = json.Marshal(b.Profile); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO binaries (measurement_id, benchmark, sha256, functions, profile) VALUES (?, ?, ?, ?, ?)`,
			id, name, b.SHA256, string(fns), string(prof)); err != nil {
			return fmt.Errorf("store binary %s: %w", name, err)
		}
	}
	return nil
}

// Count returns how many measurements are stored.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.q.QueryRow(ctx, `SELECT count(*) FROM measurements`).Scan(&n)
	return n, err
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
