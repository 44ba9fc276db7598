package store

import (
	"context"
	"fmt"
	"time"
)

// ExportFilter selects measurements for `tcbot export`.
type ExportFilter struct {
	Repo         string
	Since, Until time.Time // zero: unbounded
	Targets      []string  // empty: all
}

// Export returns the measurements of a repository that match f, oldest
// first (then by target), with their results.
func (s *Store) Export(ctx context.Context, f ExportFilter) ([]*Measurement, error) {
	q := `SELECT repo, revision, toolchain_id, target, suite, suite_version FROM measurements WHERE repo = ?`
	args := []any{f.Repo}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, f.Since.UTC().Format(timeFormat))
	}
	if !f.Until.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, f.Until.UTC().Format(timeFormat))
	}
	q += ` ORDER BY created_at, target, id`
	rows, err := s.q.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", f.Repo, err)
	}
	var keys []Key
	for rows.Next() {
		var k Key
		if err := rows.Scan(&k.Repo, &k.Revision, &k.ToolchainID, &k.Target, &k.Suite, &k.SuiteVersion); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, t := range f.Targets {
		want[t] = true
	}
	var out []*Measurement
	for _, k := range keys {
		if len(want) > 0 && !want[k.Target] {
			continue
		}
		m, ok, err := s.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, m)
		}
	}
	return out, nil
}
