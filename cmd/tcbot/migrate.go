package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/store"
)

func migrateCmd(stdout io.Writer) *cobra.Command {
	var cfgPath, from string
	c := &cobra.Command{
		Use:   "migrate --config F --from sqlite://OLD.db",
		Short: "copy a tcbot history (e.g. SQLite) into the config's database (e.g. PostgreSQL)",
		Long: `Copies every measurement, change, pull request, delivery and branch head
from --from into the database the config names, keeping every ID, in one
transaction. The destination must be empty; the source is only read. Stop
tcbot serve first; start it on the new config afterwards: its reconcile pass
queues again whatever was unfinished.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from: name the database to copy from, e.g. --from sqlite:///var/lib/tcbot/tcbot.db")
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if from == cfg.Database {
				return fmt.Errorf("--from %s is the config's own database: copy into a new one", store.Redact(from))
			}
			ctx := cmd.Context()
			src, err := store.OpenURL(ctx, from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer src.Close()
			dst, err := store.OpenURL(ctx, cfg.Database)
			if err != nil {
				return fmt.Errorf("%s: database: %w", cfg.Path, err)
			}
			defer dst.Close()
			stats, err := store.Copy(ctx, src, dst)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "copied %s to %s: %s\n", src.Name(), dst.Name(), stats)
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "configuration file naming the destination database")
	c.Flags().StringVar(&from, "from", "", "database to copy from: sqlite://PATH or postgres://...")
	return c
}
