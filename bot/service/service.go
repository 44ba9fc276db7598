// Package service is `tcbot serve`: it turns pushes, pull requests,
// comments, polls and sweeps into changes, measures them with River jobs on
// the store's own database, and reports the results on GitHub.
//
// Guarantees:
//   - Every webhook delivery is recorded and its work queued in one
//     transaction: a crash loses nothing and a redelivery queues nothing.
//   - Jobs are unique by their arguments, so a change is never measured
//     twice at once; River retries failed jobs with backoff and rescues jobs
//     a crash left running.
//   - Reports are safe to repeat: the sticky comment is found by a hidden
//     marker and edited in place, statuses are idempotent, and a report
//     that could not reach GitHub is retried for hours.
//   - A periodic reconcile pass re-queues what should exist and does not
//     (changes without a job, finished changes without a report, pull
//     requests that moved while tcbot was down).
package service

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
)

// Forge is what the service needs of GitHub (bot/forge implements it).
// Lookups by marker find only comments and issues the token's own login
// wrote (Login), so anyone's look-alike is left alone.
type Forge interface {
	Login(ctx context.Context) (string, error)
	FindComment(ctx context.Context, r forge.Repo, pr int, marker string) (int64, string, bool, error)
	UpsertComment(ctx context.Context, r forge.Repo, pr int, marker, body string) (int64, bool, error)
	CreateComment(ctx context.Context, r forge.Repo, pr int, body string) (int64, error)
	EditComment(ctx context.Context, r forge.Repo, id int64, body string) error
	SetStatus(ctx context.Context, r forge.Repo, sha, context, state, description, targetURL string) error
	React(ctx context.Context, r forge.Repo, commentID int64, content string) error
	Permission(ctx context.Context, r forge.Repo, user string) (string, error)
	PullRequest(ctx context.Context, r forge.Repo, number int) (forge.PR, error)
	OpenPullRequests(ctx context.Context, r forge.Repo) ([]forge.PR, error)
	UpsertIssue(ctx context.Context, r forge.Repo, marker, title, body string) (int, bool, error)
	CloseIssue(ctx context.Context, r forge.Repo, marker, comment string) (bool, error)
	CommitAuthor(ctx context.Context, r forge.Repo, sha string) (string, error)
}

// Options wire a Service.
type Options struct {
	Config   *config.Config
	Measurer *measure.Measurer // its Store is the service's store
	Forge    Forge             // nil: no GitHub, reports go to the dashboard only
	Secret   []byte            // webhook secret; required with a Forge
	Log      *logrus.Logger
	Registry *prometheus.Registry
	// PollInterval overrides River's fetch poll interval (tests).
	PollInterval time.Duration
	// RetryBase is the first retry delay of a failed job (default 5s); it
	// doubles each attempt up to 10 minutes.
	RetryBase time.Duration
	// Targets are the targets whose measurement jobs this process works:
	// nil means every configured target, an empty list none (a `serve`
	// that leaves measuring to `tcbot worker` hosts).
	Targets []string
	// WorkerOnly makes a `tcbot worker`: it works only its targets' queues
	// and receives no webhooks. It needs PostgreSQL.
	WorkerOnly bool
	// ID names this process in the queue and the workers table; default
	// host-pid.
	ID string
	// Heartbeat and DeadAfter tune worker liveness (defaults 5s and 30s):
	// a process silent for DeadAfter is dead and its jobs run elsewhere.
	Heartbeat, DeadAfter time.Duration
}

// Service is a running tcbot bot.
type Service struct {
	cfg     *config.Config
	store   *store.Store
	meas    *measure.Measurer
	gh      Forge
	secret  []byte
	log     *logrus.Logger
	reg     *prometheus.Registry
	river   Queue
	metrics *metrics

	id, host             string
	targets              []string // whose queues this process works
	workerOnly           bool
	heartbeat, deadAfter time.Duration
	stopLiveness         context.CancelFunc
	livenessDone         chan struct{}

	mirrorsMu sync.Mutex
	mirrors   map[string]*source.Mirror
	// running holds the cancel functions of measurements in progress.
	runningMu sync.Mutex
	running   map[int64]map[int64]context.CancelFunc // change -> job -> cancel
	bisecting map[int64]context.CancelFunc           // bisection -> cancel
	started   time.Time
}

// New prepares the service: River's tables in the store's database, the
// job workers, the periodic jobs (polls, sweeps, reconcile).
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Forge != nil && len(o.Secret) == 0 && !o.WorkerOnly {
		return nil, fmt.Errorf("GitHub mode needs a webhook secret: export the variable named by github.webhook_secret_env in %s", o.Config.Path)
	}
	if o.Log == nil {
		o.Log = logrus.New()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Forge != nil && !o.WorkerOnly {
		// tcbot edits and closes only what it wrote itself: it must know
		// who it is on GitHub before it looks for anything.
		login, err := o.Forge.Login(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: GitHub mode needs to know who tcbot is on GitHub (check the token and that GitHub is reachable): %w", o.Config.Path, err)
		}
		o.Log.WithField("login", login).Info("GitHub: tcbot acts as " + login)
	}
	s := &Service{
		cfg: o.Config, store: o.Measurer.Store, meas: o.Measurer, gh: o.Forge, secret: o.Secret,
		log: o.Log, reg: o.Registry, mirrors: map[string]*source.Mirror{}, running: map[int64]map[int64]context.CancelFunc{}, bisecting: map[int64]context.CancelFunc{},
		workerOnly: o.WorkerOnly, heartbeat: o.Heartbeat, deadAfter: o.DeadAfter,
	}
	if s.heartbeat <= 0 {
		s.heartbeat = defaultHeartbeat
	}
	if s.deadAfter <= 0 {
		s.deadAfter = defaultDeadAfter
	}
	if s.deadAfter < 2*s.heartbeat {
		return nil, fmt.Errorf("--dead-after %s must be at least twice --heartbeat %s, or live workers would be taken for dead", s.deadAfter, s.heartbeat)
	}
	s.host, _ = os.Hostname()
	s.id = o.ID
	if s.id == "" {
		s.id = fmt.Sprintf("%s-%d", s.host, os.Getpid())
	}
	if o.WorkerOnly && s.store.Dialect() != store.Postgres {
		return nil, fmt.Errorf("%s: tcbot worker needs database: postgres://... (a SQLite queue belongs to the one tcbot serve process)", s.cfg.Path)
	}
	if o.Targets == nil {
		for _, t := range s.cfg.Targets {
			s.targets = append(s.targets, t.Name)
		}
	} else if len(o.Targets) > 0 {
		ts, err := s.cfg.SelectTargets(o.Targets)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			s.targets = append(s.targets, t.Name)
		}
	}
	for _, t := range s.cfg.Targets {
		if err := checkQueueName(t.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", s.cfg.Path, err)
		}
	}
	s.metrics = newMetrics(s.reg, s.store)

	workers := river.NewWorkers()
	river.AddWorker(workers, &pullWorker{s: s})
	river.AddWorker(workers, &measureWorker{s: s})
	river.AddWorker(workers, &reportWorker{s: s})
	river.AddWorker(workers, &commandWorker{s: s})
	river.AddWorker(workers, &cancelWorker{s: s})
	river.AddWorker(workers, &rerequestWorker{s: s})
	river.AddWorker(workers, &pollWorker{s: s})
	river.AddWorker(workers, &sweepWorker{s: s})
	river.AddWorker(workers, &reconcileWorker{s: s})
	river.AddWorker(workers, &finishWorker{s: s})
	river.AddWorker(workers, &bisectWorker{s: s})
	river.AddWorker(workers, &bisectReportWorker{s: s})

	var periodic []*river.PeriodicJob
	for _, r := range s.cfg.Repos {
		if r.Poll > 0 && len(r.Branches) > 0 {
			name := r.Name
			periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(time.Duration(r.Poll)),
				func() (river.JobArgs, *river.InsertOpts) { return PollArgs{Repo: name}, nil },
				&river.PeriodicJobOpts{ID: "poll-" + name, RunOnStart: true}))
		}
	}
	for _, sw := range s.cfg.Sweeps {
		sched, err := cron.ParseStandard(sw.Schedule)
		if err != nil {
			return nil, fmt.Errorf("%s: sweep %s: %w", s.cfg.Path, sw.Name, err)
		}
		name := sw.Name
		periodic = append(periodic, river.NewPeriodicJob(sched,
			func() (river.JobArgs, *river.InsertOpts) {
				return SweepArgs{Sweep: name, At: time.Now().UTC().Truncate(time.Minute)}, nil
			},
			&river.PeriodicJobOpts{ID: "sweep-" + name}))
	}
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(time.Duration(s.cfg.Reconcile)),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
		&river.PeriodicJobOpts{ID: "reconcile", RunOnStart: true}))

	poll := o.PollInterval
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	queues := map[string]river.QueueConfig{}
	if !o.WorkerOnly {
		queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: s.cfg.Workers}
		queues[BisectQueue] = river.QueueConfig{MaxWorkers: bisectWorkers}
	}
	for _, t := range s.targets {
		// One measurement at a time per target and process: the measurer
		// serializes runs, and a board runs one benchmark at a time.
		queues[TargetQueue(t)] = river.QueueConfig{MaxWorkers: 1}
	}
	rcfg := &river.Config{
		ID:                   s.id,
		Queues:               queues,
		Workers:              workers,
		PeriodicJobs:         periodic,
		FetchPollInterval:    poll,
		FetchCooldown:        poll / 4,
		JobTimeout:           2 * time.Hour,
		RescueStuckJobsAfter: 3 * time.Hour,
		MaxAttempts:          10,
		ErrorHandler:         &errorHandler{s: s},
		RetryPolicy:          &retryPolicy{base: o.RetryBase, max: 10 * time.Minute},
		Logger:               slog.New(slog.NewTextHandler(s.log.WriterLevel(logrus.DebugLevel), nil)),
		WorkerMiddleware:     []rivertype.WorkerMiddleware{&latencyMiddleware{s: s}},
	}
	if len(queues) == 0 {
		return nil, fmt.Errorf("%s: a worker with no target has nothing to do: name targets with --targets", s.cfg.Path)
	}
	var err error
	switch s.store.Dialect() {
	case store.Postgres:
		s.river, err = newPostgresQueue(ctx, s.store, rcfg)
	default:
		s.river, err = newSQLiteQueue(ctx, s.store, rcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("job queue in %s: %w", s.store.Name(), err)
	}
	return s, nil
}

func newSQLiteQueue(ctx context.Context, st *store.Store, cfg *river.Config) (Queue, error) {
	db := st.DB()
	// SQLite allows one writer; River's own advice is a single connection.
	db.SetMaxOpenConns(1)
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("queue tables: %w", err)
	}
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, err
	}
	return riverQueue[*sql.Tx]{c}, nil
}

func newPostgresQueue(ctx context.Context, st *store.Store, cfg *river.Config) (Queue, error) {
	driver := riverpgxv5.New(st.Pool())
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, err
	}
	// Several processes start at once: one migrates, the others wait. (Each
	// of River's versions needs its own transaction: one adds an enum value
	// that the next uses, so the lock is a session lock on its own
	// connection.)
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7206519)`); err != nil {
		return nil, err
	}
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7206519)`); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return nil, fmt.Errorf("queue tables: %w", err)
	}
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, err
	}
	return riverQueue[pgx.Tx]{c}, nil
}

// Start starts the workers and periodic jobs. With SQLite one process owns
// the queue, so a job still "running" at start was orphaned by a crash of
// this process: it is made available again at once rather than after
// River's stuck-job rescuer's hours-long threshold. (Its change is
// measured again from the store's last complete state: measurements are
// written whole or not at all.)
func (s *Service) Start(ctx context.Context) error {
	s.started = time.Now()
	if s.store.Dialect() == store.SQLite {
		// scheduled_at is already in the past: the job was running.
		n, err := s.store.Q().Exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		if err != nil {
			return fmt.Errorf("recover orphaned jobs: %w", err)
		}
		if n > 0 {
			s.log.WithField("jobs", n).Warn("recovered jobs a crash left running; they run again")
		}
	}
	// On PostgreSQL many processes share the queue: a job left running by
	// a dead process is rescued by the others once its heartbeat stops. A
	// process restarted under the same ID (a systemd instance, a pod)
	// would renew that heartbeat, so it frees its own orphans first:
	// nothing of this process can be running yet.
	if s.store.Dialect() == store.Postgres {
		n, err := s.store.Q().Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = ?`, s.id)
		if err != nil {
			return fmt.Errorf("recover orphaned jobs: %w", err)
		}
		if n > 0 {
			s.log.WithFields(logrus.Fields{"jobs": n, "id": s.id}).Warn("recovered jobs an earlier process with this ID left running; they run again")
		}
	}
	if err := s.beat(ctx); err != nil {
		return fmt.Errorf("worker heartbeat: %w", err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopLiveness, s.livenessDone = cancel, make(chan struct{})
	go func() {
		defer close(s.livenessDone)
		s.liveness(lctx)
	}()
	return s.river.Start(ctx)
}

// Stop drains: no new jobs are taken, running ones may finish within ctx;
// past it they are cancelled and River retries them (here after a restart,
// or on another worker).
func (s *Service) Stop(ctx context.Context) error {
	err := s.river.Stop(ctx)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = s.river.StopAndCancel(cctx)
	}
	if s.stopLiveness != nil {
		s.stopLiveness()
		<-s.livenessDone
		// Stopped cleanly: nothing of ours is running any more.
		if rerr := store.RemoveWorker(context.Background(), s.store.Q(), s.id); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// ID names this process in the queue.
func (s *Service) ID() string { return s.id }

// Serves reports whether this process works a target's measurement jobs.
func (s *Service) Serves(target string) bool {
	for _, t := range s.targets {
		if t == target {
			return true
		}
	}
	return false
}

func (s *Service) targetNames() []string { return s.targets }

// retryPolicy retries failed jobs after base, 2*base, 4*base... capped at
// max, with up to 10% jitter: a report job with 25 attempts keeps trying
// for about three hours, so a GitHub outage of an hour delays reports
// without losing them.
type retryPolicy struct{ base, max time.Duration }

func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	base := p.base
	if base <= 0 {
		base = 5 * time.Second
	}
	d := base
	for i := 1; i < job.Attempt && d < p.max; i++ {
		d *= 2
	}
	if d > p.max {
		d = p.max
	}
	d += time.Duration(rand.Int64N(int64(d)/10 + 1))
	return time.Now().Add(d)
}

// River exposes the queue client (tests wait on its events).
func (s *Service) River() Queue { return s.river }

// Handler serves /webhook, /healthz, /metrics and the dashboard.
func (s *Service) Handler() (http.Handler, error) {
	return s.handler()
}

func (s *Service) mirror(repo *config.Repo) (*source.Mirror, error) {
	s.mirrorsMu.Lock()
	defer s.mirrorsMu.Unlock()
	if m, ok := s.mirrors[repo.Name]; ok {
		return m, nil
	}
	m, err := source.Open(filepath.Join(s.cfg.Workdir, "git"), repo.Name, repo.URL)
	if err != nil {
		return nil, err
	}
	s.mirrors[repo.Name] = m
	return m, nil
}

// repoByGitHub finds the configured repository of a GitHub full name.
func (s *Service) repoByGitHub(full string) *config.Repo {
	for i := range s.cfg.Repos {
		if strings.EqualFold(s.cfg.Repos[i].GitHub, full) {
			return &s.cfg.Repos[i]
		}
	}
	return nil
}

func ghRepo(r *config.Repo) forge.Repo {
	owner, name, _ := strings.Cut(r.GitHub, "/")
	return forge.Repo{Owner: owner, Name: name}
}

func watched(r *config.Repo, branch string) bool {
	for _, b := range r.Branches {
		if b == branch {
			return true
		}
	}
	return false
}

// insertOpts makes a job unique by its arguments among jobs not finished.
func uniqueOpts() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}
}

// startChange stores a change and queues its measurement, one job per
// target on that target's queue, in one transaction.
func (s *Service) startChange(ctx context.Context, tx store.Tx, c *store.Change) error {
	if _, err := store.InsertChange(ctx, tx, c); err != nil {
		return err
	}
	return s.queueTargets(ctx, tx, c)
}
