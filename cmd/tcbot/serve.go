package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/webhook"
)

func serveCmd(log *logrus.Logger, stderr io.Writer) *cobra.Command {
	var cfgPath string
	var drain time.Duration
	c := &cobra.Command{
		Use:   "serve --config F",
		Short: "run the bot: webhooks, git polling, sweeps, workers, dashboard, /metrics, /healthz",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if log.GetLevel() < logrus.InfoLevel {
				log.SetLevel(logrus.InfoLevel)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			var gh service.Forge
			var secret []byte
			if cfg.GitHub != nil {
				secret = []byte(os.Getenv(cfg.GitHub.WebhookSecretEnv))
				if cfg.GitHub.WebhookSecretEnv == "" || len(secret) == 0 {
					return fmt.Errorf("%s: github.webhook_secret_env: GitHub mode needs a webhook secret: set webhook_secret_env to the name of an environment variable and export it", cfg.Path)
				}
				token := os.Getenv(cfg.GitHub.TokenEnv)
				if token == "" {
					return fmt.Errorf("%s: github.token_env: the environment variable %s is empty: export the GitHub token there", cfg.Path, cfg.GitHub.TokenEnv)
				}
				client, err := forge.New(forge.Options{APIURL: cfg.GitHub.APIURL, Token: token, Log: log, Registerer: reg})
				if err != nil {
					return err
				}
				gh = client
			}
			m, err := measure.New(ctx, cfg, log, progress.Discard{})
			if err != nil {
				return err
			}
			defer m.Store.Close()
			svc, err := service.New(ctx, service.Options{Config: cfg, Measurer: m, Forge: gh, Secret: secret, Log: log, Registry: reg})
			if err != nil {
				return err
			}
			h, err := svc.Handler()
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("%s: listen: %w", cfg.Path, err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			// Jobs outlive the request that queued them: they run under a
			// context that only the drain cancels.
			jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
			defer cancelJobs()
			if err := svc.Start(jobCtx); err != nil {
				return err
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			log.WithFields(logrus.Fields{"listen": ln.Addr().String(), "github": gh != nil, "repos": len(cfg.Repos), "targets": len(cfg.Targets)}).Info("tcbot serving")
			fmt.Fprintf(stderr, "tcbot: serving on http://%s\n", ln.Addr())
			select {
			case <-ctx.Done():
			case err := <-errc:
				if !errors.Is(err, http.ErrServerClosed) {
					return err
				}
			}
			log.Info("draining: no new deliveries; running jobs may finish")
			sctx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			_ = srv.Shutdown(sctx)
			return svc.Stop(sctx)
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "configuration file")
	c.Flags().DurationVar(&drain, "drain", 30*time.Second, "on SIGTERM, how long running jobs may take to finish before they are cancelled (and retried after a restart)")
	return c
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
