package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/oe"
)

func oeCompareCmd(stdout io.Writer) *cobra.Command {
	var base, head, format string
	c := &cobra.Command{
		Use:   "oe-compare --base DIR --head DIR",
		Short: "compare two OpenEmbedded build directories: image and package sizes, build CPU time, task and test status, LAMP throughput (exit 0: no regression, 2: regression, 1: error)",
		Long: `Compare two OpenEmbedded build directories (the directories bitbake and kas
build in, holding buildhistory/ and tmp/buildstats/): image and package
sizes from buildhistory, per-recipe task status and CPU time from
buildstats, testimage results from tmp/log/oeqa/testresults.json and the
LAMP benchmark's tcbot-lamp.txt. Both builds need INHERIT += "buildhistory"
and BUILDHISTORY_COMMIT = "0", as tcbot's kas files set.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if base == "" || head == "" {
				return fmt.Errorf("--base and --head are required: the build directories of the baseline and of the change")
			}
			rep, err := oe.Compare(base, head)
			if err != nil {
				return err
			}
			return emit(stdout, rep, format)
		},
	}
	f := c.Flags()
	f.StringVar(&base, "base", "", "build directory of the baseline")
	f.StringVar(&head, "head", "", "build directory of the change")
	f.StringVar(&format, "format", "text", "report format: text, markdown or json")
	return c
}
