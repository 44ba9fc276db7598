package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/target"
	"github.com/tcbot/tcbot/bot/webhook"
)

func serveCmd(log *logrus.Logger, stderr io.Writer) *cobra.Command {
	var o runOpts
	var targets, dir string
	c := &cobra.Command{
		Use:   "serve (--config F | --dir DEMO_DIR)",
		Short: "run the bot: webhooks, git polling, sweeps, workers, dashboard, /metrics, /healthz",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir != "" {
				if o.cfgPath != "" {
					return fmt.Errorf("--dir and --config exclude each other: --dir DIR serves DIR/tcbot.yaml, as tcbot demo --dir DIR wrote it")
				}
				o.cfgPath = filepath.Join(dir, "tcbot.yaml")
				if _, err := os.Stat(o.cfgPath); err != nil {
					return fmt.Errorf("--dir %s: %v: give the directory tcbot demo printed", dir, err)
				}
			}
			switch targets {
			case "all":
			case "none":
				o.targets = []string{}
			default:
				o.targets = splitList(targets)
			}
			return runService(cmd.Context(), log, stderr, o)
		},
	}
	c.Flags().StringVar(&o.cfgPath, "config", "", "configuration file")
	c.Flags().StringVar(&dir, "dir", "", "serve the dashboard of a demo directory (its tcbot.yaml; tcbot demo prints it)")
	c.Flags().DurationVar(&o.drain, "drain", 30*time.Second, "on SIGTERM, how long running jobs may take to finish before they are cancelled (and retried after a restart)")
	c.Flags().StringVar(&targets, "targets", "all", "targets whose measurements this process runs: all, none (leave them to tcbot worker hosts; needs PostgreSQL), or a comma-separated list")
	livenessFlags(c, &o)
	return c
}

func workerCmd(log *logrus.Logger, stderr io.Writer) *cobra.Command {
	var o runOpts
	var targets string
	c := &cobra.Command{
		Use:   "worker --config F --targets a,b",
		Short: "take the measurement jobs of some targets from a shared PostgreSQL queue (for more hosts)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.worker = true
			if targets == "" {
				return fmt.Errorf("--targets: name the targets this host serves (comma-separated, as in the config's targets)")
			}
			if targets != "all" {
				o.targets = splitList(targets)
			}
			return runService(cmd.Context(), log, stderr, o)
		},
	}
	c.Flags().StringVar(&o.cfgPath, "config", "", "configuration file (database: postgres://...)")
	c.Flags().StringVar(&targets, "targets", "", "comma-separated targets this host serves, or all")
	c.Flags().StringVar(&o.listen, "listen", "", "address for this worker's /metrics and /healthz (default: none)")
	c.Flags().DurationVar(&o.drain, "drain", 5*time.Minute, "on SIGTERM, how long running jobs may take to finish before they are cancelled (and taken by another worker)")
	c.Flags().StringVar(&o.id, "id", "", "name of this worker in the queue and /metrics (default: host-pid)")
	livenessFlags(c, &o)
	return c
}

type runOpts struct {
	cfgPath string
	drain   time.Duration
	targets []string // nil: all
	worker  bool
	listen  string // worker: optional
	id      string
	// liveness of worker processes (PostgreSQL)
	heartbeat, deadAfter time.Duration
}

func livenessFlags(c *cobra.Command, o *runOpts) {
	c.Flags().DurationVar(&o.heartbeat, "heartbeat", 5*time.Second, "how often this process tells the queue it is alive (PostgreSQL)")
	c.Flags().DurationVar(&o.deadAfter, "dead-after", 30*time.Second, "a worker silent this long is dead: its running jobs go to another worker serving the target (PostgreSQL)")
}

// runService runs `tcbot serve` or `tcbot worker` until ctx ends, then
// drains.
func runService(ctx context.Context, log *logrus.Logger, stderr io.Writer, o runOpts) error {
	cfg, err := loadConfig(o.cfgPath)
	if err != nil {
		return err
	}
	if log.GetLevel() < logrus.InfoLevel {
		log.SetLevel(logrus.InfoLevel)
	}
	if (o.worker || (o.targets != nil && len(o.targets) == 0)) && !cfg.IsPostgres() {
		what := "tcbot worker"
		if !o.worker {
			what = "serve --targets none"
		}
		return fmt.Errorf("%s: %s needs database: postgres://... (with SQLite the one serve process measures everything)", cfg.Path, what)
	}
	// What this host cannot run, it must not take jobs for: a worker
	// refuses at once; serve (one host, every target) says so and goes on,
	// and those targets' jobs end as infrastructure errors.
	wanted, err := cfg.SelectTargets(o.targets)
	if err != nil {
		return err
	}
	if o.targets != nil && len(o.targets) == 0 {
		wanted = nil
	}
	for _, t := range wanted {
		if err := target.CanRun(t); err != nil {
			if o.worker {
				return fmt.Errorf("%s: this worker cannot serve %v; fix that or leave %s out of --targets", cfg.Path, err, t.Name)
			}
			log.Warnf("%v: its measurements will end as infrastructure errors", err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var gh service.Forge
	var secret []byte
	if err := cfg.CheckUntrusted(true); err != nil {
		return err
	}
	// Every secret is read here, once, and its environment variable
	// removed, before anything that starts a child process.
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		return err
	}
	if cfg.GitHub != nil {
		secret = []byte(secrets.WebhookSecret)
		if !o.worker && len(secret) == 0 {
			return fmt.Errorf("%s: github.webhook_secret_env / webhook_secret_file: GitHub mode needs a webhook secret, and there is none in %s: export it in the environment variable webhook_secret_env names, or write it in the file webhook_secret_file names (mode 0600)", cfg.Path, cfg.GitHub.WebhookSecretSource())
		}
		token := secrets.GitHubToken
		switch {
		case token != "":
			client, err := forge.New(forge.Options{APIURL: cfg.GitHub.APIURL, Token: token, Log: log, Registerer: reg})
			if err != nil {
				return err
			}
			gh = client
		case o.worker:
			// A worker only sets pending and error statuses; reports are
			// posted by serve.
			log.Warnf("no GitHub token in %s: this worker sets no pending or error commit statuses (serve still posts every report)", cfg.GitHub.TokenSource())
		default:
			return fmt.Errorf("%s: github.token_env / token_file: there is no GitHub token in %s: export it in the environment variable token_env names, or write it in the file token_file names (mode 0600)", cfg.Path, cfg.GitHub.TokenSource())
		}
	}
	m, err := measure.New(ctx, cfg, log, progress.Discard{})
	if err != nil {
		return err
	}
	defer m.Store.Close()
	svc, err := service.New(ctx, service.Options{Config: cfg, Measurer: m, Forge: gh, Secret: secret, Log: log, Registry: reg,
		Targets: o.targets, WorkerOnly: o.worker, ID: o.id, Heartbeat: o.heartbeat, DeadAfter: o.deadAfter})
	if err != nil {
		return err
	}
	var h http.Handler
	listen := cfg.Listen
	if o.worker {
		h, listen = svc.WorkerHandler(), o.listen
	} else if h, err = svc.Handler(); err != nil {
		return err
	}
	var ln net.Listener
	if listen != "" {
		if ln, err = net.Listen("tcp", listen); err != nil {
			return fmt.Errorf("%s: listen %s: %w", cfg.Path, listen, err)
		}
	}
	srv := newHTTPServer(h)
	// Jobs outlive the request that queued them: they run under a
	// context that only the drain cancels.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	if err := svc.Start(jobCtx); err != nil {
		return err
	}
	errc := make(chan error, 1)
	fields := logrus.Fields{"id": svc.ID(), "database": m.Store.Name(), "targets": strings.Join(svcTargets(cfg, svc), ",")}
	if ln != nil {
		go func() { errc <- srv.Serve(ln) }()
		fields["listen"] = ln.Addr().String()
	}
	if o.worker {
		log.WithFields(fields).Info("tcbot worker running")
		fmt.Fprintf(stderr, "tcbot: worker %s taking jobs for %s\n", svc.ID(), fields["targets"])
	} else {
		fields["github"], fields["repos"] = gh != nil, len(cfg.Repos)
		log.WithFields(fields).Info("tcbot serving")
		fmt.Fprintf(stderr, "tcbot: serving on http://%s\n", ln.Addr())
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("draining: no new jobs; running jobs may finish")
	sctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	if ln != nil {
		_ = srv.Shutdown(sctx)
	}
	return svc.Stop(sctx)
}

func svcTargets(cfg *config.Config, svc *service.Service) []string {
	var out []string
	for _, t := range cfg.Targets {
		if svc.Serves(t.Name) {
			out = append(out, t.Name)
		}
	}
	if out == nil {
		out = []string{"none"}
	}
	return out
}

func webhookCmd(stdout io.Writer) *cobra.Command {
	c := &cobra.Command{Use: "webhook", Short: "test a running bot's webhook endpoint"}
	var url, secretEnv, event string
	send := &cobra.Command{
		Use:   "send --url U --secret-env V --event E FILE",
		Short: "send FILE as a signed GitHub webhook delivery",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" || event == "" || secretEnv == "" {
				return fmt.Errorf("--url, --event and --secret-env are required")
			}
			secret := os.Getenv(secretEnv)
			if secret == "" {
				return fmt.Errorf("--secret-env %s: the variable is empty: export the webhook secret there", secretEnv)
			}
			body, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			status, reply, delivery, err := webhook.Send(cmd.Context(), url, []byte(secret), event, body)
			if err != nil {
				return fmt.Errorf("send %s to %s: %w", args[0], url, err)
			}
			fmt.Fprintf(stdout, "delivery %s: HTTP %d %s\n", delivery, status, reply)
			if status >= 300 {
				return exitError{1}
			}
			return nil
		},
	}
	send.Flags().StringVar(&url, "url", "", "webhook URL, e.g. http://127.0.0.1:8080/webhook")
	send.Flags().StringVar(&secretEnv, "secret-env", "", "environment variable holding the webhook secret")
	send.Flags().StringVar(&event, "event", "", "GitHub event name: push, pull_request, issue_comment, ping, ...")
	c.AddCommand(send)
	return c
}
