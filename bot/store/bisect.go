package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Bisection states.
const (
	BisectQueued    = "queued"
	BisectRunning   = "running"
	BisectDone      = "done"
	BisectCancelled = "cancelled"
	// BisectError: tcbot could not finish it (infrastructure), and gave up.
	BisectError = "error"
)

// Bisection is a search for the commit that brought a regression.
type Bisection struct {
	ID        int64
	Repo      string
	Good, Bad string
	// Origin is what asked for it: sweep, push, command (a pull request's
	// /tcbot bisect) or cli.
	Origin string
	// Change is the change whose regression is bisected (0: none).
	Change      int64
	PR          int
	Targets     []string
	RequestedBy string
	State       string
	// Progress is the last round's summary, for the dashboard.
	Progress string
	// Result is the bisect.Result as JSON once done.
	Result    string
	Note      string
	Reported  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// InsertBisection stores a new bisection and returns its ID.
func InsertBisection(ctx context.Context, q Querier, b *Bisection) (int64, error) {
	t := now()
	err := q.QueryRow(ctx, `INSERT INTO bisections (repo, good, bad, origin, change_id, pr, targets, requested_by, state, note, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		b.Repo, b.Good, b.Bad, b.Origin, b.Change, b.PR, strings.Join(b.Targets, ","), b.RequestedBy, BisectQueued, b.Note, t, t).Scan(&b.ID)
	if err != nil {
		return 0, fmt.Errorf("store bisection %s %s..%s: %w", b.Repo, b.Good, b.Bad, err)
	}
	b.State = BisectQueued
	return b.ID, nil
}

const bisectionCols = `id, repo, good, bad, origin, change_id, pr, targets, requested_by, state, progress, result, note, reported, created_at, updated_at`

func scanBisection(row interface{ Scan(...any) error }) (*Bisection, error) {
	var b Bisection
	var targets, created, updated string
	var reported int
	if err := row.Scan(&b.ID, &b.Repo, &b.Good, &b.Bad, &b.Origin, &b.Change, &b.PR, &targets, &b.RequestedBy, &b.State, &b.Progress, &b.Result, &b.Note, &reported, &created, &updated); err != nil {
		return nil, err
	}
	if targets != "" {
		b.Targets = strings.Split(targets, ",")
	}
	b.Reported = reported != 0
	b.CreatedAt, _ = time.Parse(timeFormat, created)
	b.UpdatedAt, _ = time.Parse(timeFormat, updated)
	return &b, nil
}

// GetBisection reads a bisection.
func GetBisection(ctx context.Context, q Querier, id int64) (*Bisection, error) {
	b, err := scanBisection(q.QueryRow(ctx, `SELECT `+bisectionCols+` FROM bisections WHERE id = ?`, id))
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("bisection %d: not found", id)
	}
	return b, err
}

// ListBisections returns bisections matching a WHERE clause (without
// "WHERE"), newest first, at most limit.
func ListBisections(ctx context.Context, q Querier, where string, limit int, args ...any) ([]*Bisection, error) {
	if where == "" {
		where = "1=1"
	}
	rows, err := q.Query(ctx, `SELECT `+bisectionCols+` FROM bisections WHERE `+where+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Bisection
	for rows.Next() {
		b, err := scanBisection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// SetBisectionState moves a bisection to a state; a non-empty note
// replaces its note. A finished bisection (done, cancelled, error) keeps
// its state.
func SetBisectionState(ctx context.Context, q Querier, id int64, state, note string) error {
	_, err := q.Exec(ctx, `UPDATE bisections SET state = ?, note = CASE WHEN ? = '' THEN note ELSE ? END, updated_at = ?
		WHERE id = ? AND state IN ('queued', 'running')`, state, note, note, now(), id)
	return err
}

// SetBisectionProgress records where a running bisection stands.
func SetBisectionProgress(ctx context.Context, q Querier, id int64, progress string) error {
	_, err := q.Exec(ctx, `UPDATE bisections SET progress = ?, updated_at = ? WHERE id = ?`, progress, now(), id)
	return err
}

// FinishBisection stores a bisection's result.
func FinishBisection(ctx context.Context, q Querier, id int64, result string) error {
	_, err := q.Exec(ctx, `UPDATE bisections SET state = ?, result = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'running')`, BisectDone, result, now(), id)
	return err
}

// MarkBisectionReported records that a bisection's result was posted.
func MarkBisectionReported(ctx context.Context, q Querier, id int64) error {
	_, err := q.Exec(ctx, `UPDATE bisections SET reported = 1, updated_at = ? WHERE id = ?`, now(), id)
	return err
}

// Acceptance records a maintainer accepting a regression (/tcbot accept):
// the branch's baseline moved to SHA.
type Acceptance struct {
	Repo, Branch, SHA string
	By, Why           string
	Issue             int
	At                time.Time
}

// InsertAcceptance records an acceptance.
func InsertAcceptance(ctx context.Context, q Querier, a Acceptance) error {
	_, err := q.Exec(ctx, `INSERT INTO acceptances (repo, branch, sha, accepted_by, why, issue, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.Repo, a.Branch, a.SHA, a.By, a.Why, a.Issue, now())
	return err
}

// Acceptances lists a repository's acceptances, newest first.
func Acceptances(ctx context.Context, q Querier, repo string) ([]Acceptance, error) {
	rows, err := q.Query(ctx, `SELECT repo, branch, sha, accepted_by, why, issue, at FROM acceptances WHERE repo = ? ORDER BY id DESC`, repo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Acceptance
	for rows.Next() {
		var a Acceptance
		var at string
		if err := rows.Scan(&a.Repo, &a.Branch, &a.SHA, &a.By, &a.Why, &a.Issue, &at); err != nil {
			return nil, err
		}
		a.At, _ = time.Parse(timeFormat, at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// SweepIssue is an issue tcbot opened for a swept branch's regression.
type SweepIssue struct {
	Repo          string
	Number        int
	Sweep, Branch string
}

// RecordSweepIssue remembers which sweep and branch an issue is about.
func RecordSweepIssue(ctx context.Context, q Querier, si SweepIssue) error {
	_, err := q.Exec(ctx, `INSERT INTO sweep_issues (repo, number, sweep, branch) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo, number) DO UPDATE SET sweep = excluded.sweep, branch = excluded.branch`, si.Repo, si.Number, si.Sweep, si.Branch)
	return err
}

// GetSweepIssue finds the sweep and branch of an issue; ok is false for
// an issue tcbot did not open.
func GetSweepIssue(ctx context.Context, q Querier, repo string, number int) (si SweepIssue, ok bool, err error) {
	si = SweepIssue{Repo: repo, Number: number}
	err = q.QueryRow(ctx, `SELECT sweep, branch FROM sweep_issues WHERE repo = ? AND number = ?`, repo, number).Scan(&si.Sweep, &si.Branch)
	if errors.Is(err, ErrNoRows) {
		return si, false, nil
	}
	return si, err == nil, err
}
