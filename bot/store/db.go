package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Dialect names a database engine behind the store API.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNoRows is returned by Row.Scan when a query found nothing, whatever
// the database.
var ErrNoRows = sql.ErrNoRows

// Querier runs SQL on the store's database or inside one of its
// transactions. Queries are written once, with `?` placeholders; the
// PostgreSQL side numbers them ($1, $2, ...).
type Querier interface {
	// Exec runs a statement and returns how many rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Row is one result row; Scan returns ErrNoRows when there is none.
type Row interface{ Scan(dest ...any) error }

// Rows iterates over query results.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Tx is a transaction of the store. Raw is the driver's own transaction
// (*sql.Tx on SQLite, pgx.Tx on PostgreSQL), for the job queue to insert
// jobs in the same transaction.
type Tx interface {
	Querier
	Raw() any
}

// --- SQLite (database/sql) ---

type sqlQ interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type sqlQuerier struct{ q sqlQ }

func (s sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return s.q.QueryRowContext(ctx, query, args...)
}

func (s sqlQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlTx struct {
	sqlQuerier
	tx *sql.Tx
}

func (t sqlTx) Raw() any { return t.tx }

// --- PostgreSQL (pgx) ---

type pgxQ interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgQuerier struct{ q pgxQ }

func (p pgQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, numbered(query), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return pgRow{p.q.QueryRow(ctx, numbered(query), args...)}
}

func (p pgQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := p.q.Query(ctx, numbered(query), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

type pgRow struct{ pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNoRows
	}
	return err
}

type pgTx struct {
	pgQuerier
	tx pgx.Tx
}

func (t pgTx) Raw() any { return t.tx }

// numbered turns `?` placeholders into PostgreSQL's $1, $2, ... It skips
// quoted literals; tcbot's queries have no other question marks.
func numbered(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	quoted := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var _ pgxQ = (*pgxpool.Pool)(nil)
var _ pgxQ = (pgx.Tx)(nil)

// LockTarget takes the lock of a target that only one measurement may use
// at a time (a board: two measurements on it at once would time each
// other), across every process sharing the database. ok is false when
// another process holds it. On PostgreSQL it is a session advisory lock on
// a connection of its own, so a process that dies lets go with its
// connection; on SQLite one process owns the queue and its per-target
// queue already runs one job at a time, so the lock is always granted.
func (s *Store) LockTarget(ctx context.Context, target string) (unlock func(), ok bool, err error) {
	if s.pool == nil {
		return func() {}, true, nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	key := "tcbot-target:" + target
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		_, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, key)
		if err != nil {
			// The session may still hold the lock: close it, which
			// releases it, rather than give it back to the pool.
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, true, nil
}
