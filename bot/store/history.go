package store

import (
	"context"
	"fmt"
	"strings"
)

// RecordChange stores a change measured outside the queue (tcbot run, the
// demo) with its report, done, so the dashboard shows it like the bot's.
func RecordChange(ctx context.Context, q Querier, c *Change, verdict, report string) (int64, error) {
	id, err := InsertChange(ctx, q, c)
	if err != nil {
		return 0, err
	}
	if err := FinishChange(ctx, q, id, c.Base, verdict, report); err != nil {
		return 0, fmt.Errorf("store change %d: %w", id, err)
	}
	c.State, c.Verdict, c.Report = ChangeDone, verdict, report
	return id, nil
}

// Branch is a repository's branch with measured heads.
type Branch struct {
	Repo, Branch string
	Changes      int
}

// Branches lists the (repository, branch) pairs with measured changes,
// by repository and branch.
func Branches(ctx context.Context, q Querier) ([]Branch, error) {
	rows, err := q.Query(ctx, `SELECT repo, branch, count(*) FROM changes WHERE branch <> '' AND report <> '' GROUP BY repo, branch ORDER BY repo, branch`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Branch
	for rows.Next() {
		var b Branch
		if err := rows.Scan(&b.Repo, &b.Branch, &b.Changes); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BranchHistory returns the measured changes of a branch, oldest first,
// at most limit (the newest ones).
func BranchHistory(ctx context.Context, q Querier, repo, branch string, limit int) ([]*Change, error) {
	cs, err := ListChanges(ctx, q, `repo = ? AND branch = ? AND report <> ''`, limit, repo, branch)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(cs)-1; i < j; i, j = i+1, j-1 {
		cs[i], cs[j] = cs[j], cs[i]
	}
	return cs, nil
}

// ChangeOfRevisions returns the newest measured change of repo whose
// base and head are exactly these revisions, if any.
func ChangeOfRevisions(ctx context.Context, q Querier, repo, base, head string) (*Change, bool, error) {
	cs, err := ListChanges(ctx, q, `repo = ? AND base = ? AND head = ? AND report <> ''`, 1, repo, base, head)
	if err != nil || len(cs) == 0 {
		return nil, false, err
	}
	return cs[0], true, nil
}

// MeasuredRevisions returns up to limit revisions of repo with stored
// measurements that start with prefix (a full or short SHA), in order.
func MeasuredRevisions(ctx context.Context, q Querier, repo, prefix string, limit int) ([]string, error) {
	if strings.Trim(prefix, "0123456789abcdef") != "" || prefix == "" {
		return nil, nil // not a (lower-case hex) SHA: nothing to match
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT revision FROM measurements WHERE repo = ? AND revision LIKE ? ORDER BY revision LIMIT ?`, repo, prefix+"%", limit)
	if err != nil {
		return nil, fmt.Errorf("measured revisions of %s like %s: %w", repo, prefix, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
