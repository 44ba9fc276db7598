package service

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tcbot/tcbot/bot/store"
)

// Queue is what the service needs of River, whatever the database: River's
// client is generic in its transaction type (*sql.Tx on SQLite, pgx.Tx on
// PostgreSQL), and store.Tx carries either.
type Queue interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	ID() string
}

type riverQueue[TTx any] struct{ *river.Client[TTx] }

func (q riverQueue[TTx]) InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	raw, ok := tx.Raw().(TTx)
	if !ok {
		return nil, fmt.Errorf("queue: transaction of type %T, want %T", tx.Raw(), *new(TTx))
	}
	return q.Client.InsertTx(ctx, raw, args, opts)
}

var (
	_ Queue = riverQueue[*sql.Tx]{}
	_ Queue = riverQueue[pgx.Tx]{}
)

var queueRE = regexp.MustCompile(`^[a-z0-9]+(?:[_-][a-z0-9]+)*$`)

// TargetQueue is the River queue of a target's measurement jobs: only the
// processes serving the target (`tcbot worker --targets`) work it.
func TargetQueue(target string) string { return "target_" + strings.ToLower(target) }

func checkQueueName(target string) error {
	q := TargetQueue(target)
	if len(q) > 64 || !queueRE.MatchString(q) {
		return fmt.Errorf("target %q cannot name a job queue: use lower-case letters, digits, '-' and '_' (at most 57 characters)", target)
	}
	return nil
}

// Liveness of worker processes. River rescues a stuck job only after
// RescueStuckJobsAfter (hours, since OpenEmbedded builds take hours), so a
// worker host that dies would hold its jobs that long. Each process writes
// a heartbeat instead; a job still "running" on a process whose heartbeat
// stopped is made available again, and another worker serving its queue
// takes it.
const (
	defaultHeartbeat = 5 * time.Second
	defaultDeadAfter = 30 * time.Second
)

// liveness keeps this process's heartbeat and rescues the jobs of dead
// processes; it returns when ctx ends.
func (s *Service) liveness(ctx context.Context) {
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	for {
		if err := s.beat(ctx); err != nil && ctx.Err() == nil {
			s.log.WithError(err).Warn("worker heartbeat")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) beat(ctx context.Context) error {
	if err := store.Heartbeat(ctx, s.store.Q(), s.id, s.host, s.targetNames()); err != nil {
		return err
	}
	if s.meas != nil {
		if err := store.SetWorkerActivity(ctx, s.store.Q(), s.id, s.meas.Activity()); err != nil {
			return err
		}
	}
	n, err := s.rescueOrphans(ctx)
	if err != nil {
		return fmt.Errorf("rescue jobs of dead workers: %w", err)
	}
	if n > 0 {
		s.log.WithField("jobs", n).Warn("a worker stopped sending heartbeats: its running jobs run again elsewhere")
		s.metrics.rescued.Add(float64(n))
	}
	return nil
}

// rescueOrphans makes the running jobs of dead processes available again.
func (s *Service) rescueOrphans(ctx context.Context) (int64, error) {
	if s.store.Dialect() != store.Postgres {
		return 0, nil // one process owns a SQLite queue: see Start
	}
	cutoff := time.Now().Add(-s.deadAfter).UTC().Format("2006-01-02T15:04:05.000000000Z")
	var n int64
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] IN
				(SELECT id FROM workers WHERE heartbeat_at < ?)`, cutoff)
		if err != nil {
			return err
		}
		// A dead process that held nothing more is forgotten after a while.
		_, err = tx.Exec(ctx, `DELETE FROM workers WHERE heartbeat_at < ? AND id NOT IN
			(SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job WHERE state = 'running' AND attempted_by IS NOT NULL)`,
			time.Now().Add(-10*s.deadAfter).UTC().Format("2006-01-02T15:04:05.000000000Z"))
		return err
	})
	return n, err
}
