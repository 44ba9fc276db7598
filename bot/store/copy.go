package store

import (
	"context"
	"fmt"
	"strings"
)

// tables lists every table of the store with its columns, parents before
// children, for Copy.
var tables = []struct {
	name, cols, order string
	ids               bool // has an identity column "id" to carry over
}{
	{"measurements", "id, repo, revision, toolchain_id, target, suite, suite_version, subject, toolchain, created_at", "id", true},
	{"results", "measurement_id, benchmark, metric, unit, samples, note, identical", "measurement_id, benchmark, metric", false},
	{"binaries", "measurement_id, benchmark, sha256, functions, profile", "measurement_id, benchmark", false},
	{"deliveries", "id, event, action, received_at", "id", false},
	{"changes", "id, repo, head, base, origin, pr, targets, state, verdict, report, reported, note, created_at, updated_at", "id", true},
	{"change_targets", "change_id, target, state, worker, note, report, updated_at", "change_id, target", false},
	{"pulls", "repo, number, head, base_ref, author, trusted, approved_head, draft, open, last_verdict", "repo, number", false},
	{"branch_heads", "repo, branch, sha", "repo, branch", false},
}

// CopyStats counts the rows Copy carried, by table.
type CopyStats map[string]int

func (c CopyStats) String() string {
	var parts []string
	for _, t := range tables {
		parts = append(parts, fmt.Sprintf("%s %d", t.name, c[t.name]))
	}
	return strings.Join(parts, ", ")
}

// Copy copies the whole history of one store into another, empty one (from
// SQLite to PostgreSQL, say) in one transaction of the destination, keeping
// every ID, and then checks that each table holds as many rows as the
// source. The source is only read. Nothing is written unless everything
// is: a failure leaves the destination as it was.
//
// Queued jobs are not copied: the destination's reconcile pass queues
// again whatever change is unfinished.
func Copy(ctx context.Context, from, to *Store) (CopyStats, error) {
	stats := CopyStats{}
	err := to.Tx(ctx, func(tx Tx) error {
		for _, t := range []string{"measurements", "changes", "deliveries", "pulls"} {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("destination %s is not empty (%d rows in %s): copy into a new database, so no history is mixed or overwritten", to.name, n, t)
			}
		}
		for _, t := range tables {
			n, err := copyTable(ctx, from, tx, t.name, t.cols, t.order)
			if err != nil {
				return fmt.Errorf("copy %s from %s to %s: %w", t.name, from.name, to.name, err)
			}
			stats[t.name] = n
			if t.ids && to.dialect == Postgres {
				// New rows must not collide with the copied IDs.
				if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+t.name+`', 'id'), COALESCE((SELECT max(id) FROM `+t.name+`), 0) + 1, false)`); err != nil {
					return fmt.Errorf("copy %s: reset its ID sequence: %w", t.name, err)
				}
			}
		}
		for _, t := range tables {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
				return err
			}
			if n != stats[t.name] {
				return fmt.Errorf("copy %s: %d rows read, %d in the destination", t.name, stats[t.name], n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stats, nil
}

func copyTable(ctx context.Context, from *Store, tx Tx, name, cols, order string) (int, error) {
	ncol := len(strings.Split(cols, ","))
	rows, err := from.q.Query(ctx, `SELECT `+cols+` FROM `+name+` ORDER BY `+order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	// Row by row, so a long history never has to fit in memory; source
	// and destination are different databases, on their own connections.
	insert := `INSERT INTO ` + name + ` (` + cols + `) VALUES (` + strings.TrimSuffix(strings.Repeat("?, ", ncol), ", ") + `)`
	vals := make([]any, ncol)
	ptrs := make([]any, ncol)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			switch x := v.(type) {
			case []byte:
				vals[i] = string(x)
			case int32:
				vals[i] = int64(x)
			}
		}
		if _, err := tx.Exec(ctx, insert, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
