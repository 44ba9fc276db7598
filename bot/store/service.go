package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

func now() string { return time.Now().UTC().Format(timeFormat) }

// RecordDelivery remembers a webhook delivery; duplicate is true when the
// ID was recorded before.
func RecordDelivery(ctx context.Context, q Querier, id, event, action string) (duplicate bool, err error) {
	n, err := q.Exec(ctx, `INSERT INTO deliveries (id, event, action, received_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, id, event, action, now())
	if err != nil {
		return false, fmt.Errorf("record delivery %s: %w", id, err)
	}
	return n == 0, nil
}

// Change states.
const (
	ChangeQueued    = "queued"
	ChangeRunning   = "running"
	ChangeDone      = "done"
	ChangeCancelled = "cancelled"
	// ChangeError: tcbot could not measure it (infrastructure), and gave up.
	ChangeError = "error"
)

// Change is one thing to measure: a head revision against a base.
type Change struct {
	ID        int64
	Repo      string // config repo name
	Head      string
	Base      string // empty: decided when measured (first parent, merge base)
	Origin    string // push, pr, sweep, command, poll
	PR        int
	Targets   []string
	State     string
	Verdict   string
	Report    string // JSON
	Reported  bool
	Note      string
	CreatedAt time.Time
	// Bisection is the bisection this change probes (0: none).
	Bisection int64
	// Branch is the branch whose head this is (push, sweep, demo); empty
	// for pull requests and one-off measurements.
	Branch string
}

// InsertChange stores a new change and returns its ID.
func InsertChange(ctx context.Context, q Querier, c *Change) (int64, error) {
	t := now()
	err := q.QueryRow(ctx, `INSERT INTO changes (repo, head, base, origin, pr, targets, state, note, bisection, branch, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Repo, c.Head, c.Base, c.Origin, c.PR, strings.Join(c.Targets, ","), ChangeQueued, c.Note, c.Bisection, c.Branch, t, t).Scan(&c.ID)
	if err != nil {
		return 0, fmt.Errorf("store change %s@%s: %w", c.Repo, c.Head, err)
	}
	c.State = ChangeQueued
	return c.ID, nil
}

const changeCols = `id, repo, head, base, origin, pr, targets, state, verdict, report, reported, note, created_at, bisection, branch`

func scanChange(row interface{ Scan(...any) error }) (*Change, error) {
	var c Change
	var targets, created string
	var reported int
	if err := row.Scan(&c.ID, &c.Repo, &c.Head, &c.Base, &c.Origin, &c.PR, &targets, &c.State, &c.Verdict, &c.Report, &reported, &c.Note, &created, &c.Bisection, &c.Branch); err != nil {
		return nil, err
	}
	if targets != "" {
		c.Targets = strings.Split(targets, ",")
	}
	c.Reported = reported != 0
	c.CreatedAt, _ = time.Parse(timeFormat, created)
	return &c, nil
}

// GetChange reads a change.
func GetChange(ctx context.Context, q Querier, id int64) (*Change, error) {
	c, err := scanChange(q.QueryRow(ctx, `SELECT `+changeCols+` FROM changes WHERE id = ?`, id))
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("change %d: not found", id)
	}
	return c, err
}

// ListChanges returns changes matching a WHERE clause (without "WHERE"),
// newest first, at most limit.
func ListChanges(ctx context.Context, q Querier, where string, limit int, args ...any) ([]*Change, error) {
	if where == "" {
		where = "1=1"
	}
	rows, err := q.Query(ctx, `SELECT `+changeCols+` FROM changes WHERE `+where+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetChangeState moves a change to a state; a non-empty note replaces the
// change's note (why it was cancelled or gave up).
func SetChangeState(ctx context.Context, q Querier, id int64, state, note string) error {
	_, err := q.Exec(ctx, `UPDATE changes SET state = ?, note = CASE WHEN ? = '' THEN note ELSE ? END, updated_at = ? WHERE id = ?`, state, note, note, now(), id)
	return err
}

// FinishChange stores the outcome of a measured change.
func FinishChange(ctx context.Context, q Querier, id int64, base, verdict, report string) error {
	_, err := q.Exec(ctx, `UPDATE changes SET state = ?, base = ?, verdict = ?, report = ?, updated_at = ? WHERE id = ?`, ChangeDone, base, verdict, report, now(), id)
	return err
}

// StartChange marks a queued change running (the first of its targets
// started); a change in any other state keeps it.
func StartChange(ctx context.Context, q Querier, id int64) error {
	_, err := q.Exec(ctx, `UPDATE changes SET state = ?, updated_at = ? WHERE id = ? AND state = ?`, ChangeRunning, now(), id, ChangeQueued)
	return err
}

// LockChange locks a change's row until the transaction q ends.
func LockChange(ctx context.Context, q Tx, id int64) error {
	_, err := q.Exec(ctx, `UPDATE changes SET updated_at = updated_at WHERE id = ?`, id)
	return err
}

// MarkReported records that a change's report reached everywhere it goes.
func MarkReported(ctx context.Context, q Querier, id int64) error {
	_, err := q.Exec(ctx, `UPDATE changes SET reported = 1, updated_at = ? WHERE id = ?`, now(), id)
	return err
}

// Pull is what tcbot remembers of a pull request.
type Pull struct {
	Repo         string // config repo name
	Number       int
	Head         string
	BaseRef      string
	Author       string
	Trusted      bool
	ApprovedHead string
	Draft        bool
	Open         bool
	LastVerdict  string
}

// UpsertPull records the state of a pull request, keeping its trust,
// approval and last verdict.
func UpsertPull(ctx context.Context, q Querier, p Pull) error {
	_, err := q.Exec(ctx, `INSERT INTO pulls (repo, number, head, base_ref, author, draft, open) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo, number) DO UPDATE SET head = excluded.head, base_ref = excluded.base_ref, author = excluded.author, draft = excluded.draft, open = excluded.open`,
		p.Repo, p.Number, p.Head, p.BaseRef, p.Author, b2i(p.Draft), b2i(p.Open))
	return err
}

// GetPull reads a pull request; found is false when unknown.
func GetPull(ctx context.Context, q Querier, repo string, number int) (*Pull, bool, error) {
	var p Pull
	var trusted, draft, open int
	err := q.QueryRow(ctx, `SELECT repo, number, head, base_ref, author, trusted, approved_head, draft, open, last_verdict FROM pulls WHERE repo = ? AND number = ?`, repo, number).
		Scan(&p.Repo, &p.Number, &p.Head, &p.BaseRef, &p.Author, &trusted, &p.ApprovedHead, &draft, &open, &p.LastVerdict)
	if errors.Is(err, ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	p.Trusted, p.Draft, p.Open = trusted != 0, draft != 0, open != 0
	return &p, true, nil
}

// OpenPulls lists the open pull requests of a repository.
func OpenPulls(ctx context.Context, q Querier, repo string) ([]Pull, error) {
	rows, err := q.Query(ctx, `SELECT number FROM pulls WHERE repo = ? AND open = 1 ORDER BY number`, repo)
	if err != nil {
		return nil, err
	}
	var nums []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		nums = append(nums, n)
	}
	rows.Close()
	var out []Pull
	for _, n := range nums {
		p, ok, err := GetPull(ctx, q, repo, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, *p)
		}
	}
	return out, nil
}

// SetPullTrust records whether the author may run tcbot without approval.
func SetPullTrust(ctx context.Context, q Querier, repo string, number int, trusted bool) error {
	_, err := q.Exec(ctx, `UPDATE pulls SET trusted = ? WHERE repo = ? AND number = ?`, b2i(trusted), repo, number)
	return err
}

// ApprovePull records a maintainer's /tcbot ok-to-test for one head SHA.
func ApprovePull(ctx context.Context, q Querier, repo string, number int, head string) error {
	_, err := q.Exec(ctx, `UPDATE pulls SET approved_head = ? WHERE repo = ? AND number = ?`, head, repo, number)
	return err
}

// SetPullVerdict records the verdict last posted on a pull request.
func SetPullVerdict(ctx context.Context, q Querier, repo string, number int, verdict string) error {
	_, err := q.Exec(ctx, `UPDATE pulls SET last_verdict = ? WHERE repo = ? AND number = ?`, verdict, repo, number)
	return err
}

// BranchHead returns the last head tcbot took of a branch ("" if none).
func BranchHead(ctx context.Context, q Querier, repo, branch string) (string, error) {
	var sha string
	err := q.QueryRow(ctx, `SELECT sha FROM branch_heads WHERE repo = ? AND branch = ?`, repo, branch).Scan(&sha)
	if errors.Is(err, ErrNoRows) {
		return "", nil
	}
	return sha, err
}

// SetBranchHead records the head tcbot took of a branch; sha "" forgets it.
func SetBranchHead(ctx context.Context, q Querier, repo, branch, sha string) error {
	if sha == "" {
		_, err := q.Exec(ctx, `DELETE FROM branch_heads WHERE repo = ? AND branch = ?`, repo, branch)
		return err
	}
	_, err := q.Exec(ctx, `INSERT INTO branch_heads (repo, branch, sha) VALUES (?, ?, ?) ON CONFLICT (repo, branch) DO UPDATE SET sha = excluded.sha`, repo, branch, sha)
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Target states of a change: each target is measured by its own job.
const (
	TargetQueued    = "queued"
	TargetRunning   = "running"
	TargetDone      = "done"
	TargetError     = "error"
	TargetCancelled = "cancelled"
)

// ChangeTarget is the state of one target of a change.
type ChangeTarget struct {
	ChangeID int64
	Target   string
	State    string
	Worker   string // the worker process that measured it
	Note     string
	Report   string // JSON report of this target alone, when done
}

// AddChangeTargets records the targets a change is measured on, queued;
// targets already recorded keep their state.
func AddChangeTargets(ctx context.Context, q Querier, changeID int64, targets []string) error {
	for _, t := range targets {
		if _, err := q.Exec(ctx, `INSERT INTO change_targets (change_id, target, state, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (change_id, target) DO NOTHING`,
			changeID, t, TargetQueued, now()); err != nil {
			return fmt.Errorf("change %d: record target %s: %w", changeID, t, err)
		}
	}
	return nil
}

// SetChangeTarget moves one target of a change to a state.
func SetChangeTarget(ctx context.Context, q Querier, changeID int64, target, state, worker, note string) error {
	n, err := q.Exec(ctx, `UPDATE change_targets SET state = ?, worker = CASE WHEN ? = '' THEN worker ELSE ? END, note = ?, updated_at = ? WHERE change_id = ? AND target = ?`,
		state, worker, worker, note, now(), changeID, target)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("change %d has no target %s", changeID, target)
	}
	return nil
}

// CancelChangeTargets cancels the targets of a change not yet measured.
func CancelChangeTargets(ctx context.Context, q Querier, changeID int64, why string) error {
	_, err := q.Exec(ctx, `UPDATE change_targets SET state = ?, note = ?, updated_at = ? WHERE change_id = ? AND state IN (?, ?)`,
		TargetCancelled, why, now(), changeID, TargetQueued, TargetRunning)
	return err
}

// FinishChangeTarget stores the report of one measured target.
func FinishChangeTarget(ctx context.Context, q Querier, changeID int64, target, worker, report string) error {
	n, err := q.Exec(ctx, `UPDATE change_targets SET state = ?, worker = ?, report = ?, note = '', updated_at = ? WHERE change_id = ? AND target = ?`,
		TargetDone, worker, report, now(), changeID, target)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("change %d has no target %s", changeID, target)
	}
	return nil
}

// ChangeTargets lists the targets of a change, by name.
func ChangeTargets(ctx context.Context, q Querier, changeID int64) ([]ChangeTarget, error) {
	rows, err := q.Query(ctx, `SELECT change_id, target, state, worker, note, report FROM change_targets WHERE change_id = ? ORDER BY target`, changeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChangeTarget
	for rows.Next() {
		var ct ChangeTarget
		if err := rows.Scan(&ct.ChangeID, &ct.Target, &ct.State, &ct.Worker, &ct.Note, &ct.Report); err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	return out, rows.Err()
}

// Worker is a process taking jobs: `tcbot serve` or `tcbot worker`.
type Worker struct {
	ID        string
	Host      string
	Targets   []string
	Started   time.Time
	Heartbeat time.Time
	// Activity is what the worker is doing, as of its last heartbeat: a
	// long build's step, elapsed time and last log line ("" when idle).
	Activity string
}

// SetWorkerActivity records what a worker is doing (see Worker.Activity).
func SetWorkerActivity(ctx context.Context, q Querier, id, activity string) error {
	_, err := q.Exec(ctx, `UPDATE workers SET activity = ? WHERE id = ?`, activity, id)
	return err
}

// Heartbeat records that a worker process is alive.
func Heartbeat(ctx context.Context, q Querier, id, host string, targets []string) error {
	t := now()
	_, err := q.Exec(ctx, `INSERT INTO workers (id, host, targets, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, host = excluded.host, targets = excluded.targets`,
		id, host, strings.Join(targets, ","), t, t)
	return err
}

// RemoveWorker forgets a worker that stopped cleanly.
func RemoveWorker(ctx context.Context, q Querier, id string) error {
	_, err := q.Exec(ctx, `DELETE FROM workers WHERE id = ?`, id)
	return err
}

// Workers lists the worker processes that ever sent a heartbeat and did
// not stop cleanly, newest heartbeat first.
func Workers(ctx context.Context, q Querier) ([]Worker, error) {
	rows, err := q.Query(ctx, `SELECT id, host, targets, started_at, heartbeat_at, activity FROM workers ORDER BY heartbeat_at DESC, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Worker
	for rows.Next() {
		var w Worker
		var targets, started, beat string
		if err := rows.Scan(&w.ID, &w.Host, &targets, &started, &beat, &w.Activity); err != nil {
			return nil, err
		}
		if targets != "" {
			w.Targets = strings.Split(targets, ",")
		}
		w.Started, _ = time.Parse(timeFormat, started)
		w.Heartbeat, _ = time.Parse(timeFormat, beat)
		out = append(out, w)
	}
	return out, rows.Err()
}
