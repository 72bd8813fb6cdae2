// Command pointpeft adapts pre-trained 3D point-cloud Transformers to new tasks by
// training a few percent of their weights (Point-PEFT and its peers). It is a shell
// over the library: each command parses its flags and makes one call.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/sysinfo"
	"github.com/pointpeft/pointpeft/tensor"
	"github.com/pointpeft/pointpeft/train"
)

// commands are the constructors of the subcommands; each file registers its own in init.
var commands []func() *cobra.Command

func register(c func() *cobra.Command) { commands = append(commands, c) }

// errUsage marks a mistake on the command line (exit status 2).
var errUsage = errors.New("usage")

// usagef is a command-line mistake with a message.
func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// newRoot builds the command tree afresh (flags hold per-run state).
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "pointpeft",
		Short: "pointpeft adapts pre-trained 3D point-cloud Transformers by training a few percent of their weights.",
		Long: `pointpeft adapts pre-trained 3D point-cloud Transformers (Point-MAE, Point-BERT) to new
tasks by training a few percent of their weights, with Point-PEFT and its peers.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(stderr)
			cmd.Usage()
			return usagef("name a command")
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolVarP(&quiet, "quiet", "q", false, "no progress display and no per-epoch log lines (warnings, errors and results only)")
	// Say once, before any work, when GEMMs will run slower than this CPU allows.
	root.PersistentPreRun = func(*cobra.Command, []string) {
		if w := tensor.GEMM().Warning; w != "" {
			fmt.Fprintf(stderr, "pointpeft: warning: %s\n", w)
		}
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

// run executes a command line and returns the process exit status: 0 on success and
// on a planned stop (--time-limit), 2 for a mistake on the command line, 1 otherwise.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	name := "pointpeft"
	if cmd != nil && cmd != root {
		name += " " + cmd.Name()
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, train.ErrTimeLimit):
		// A planned stop: the state is saved and --resume continues it.
		fmt.Fprintf(stderr, "%s: stopped: %v\n", name, err)
		return 0
	case errors.Is(err, errUsage), strings.HasPrefix(err.Error(), "unknown command"),
		strings.HasPrefix(err.Error(), "unknown flag"), strings.Contains(err.Error(), "arg(s)"):
		fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", name, strings.TrimPrefix(err.Error(), "usage: "), name)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
}

// noArgs refuses stray words on a command that takes none (a word would otherwise be
// easy to mistake for a value).
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q (this command takes only flags)", args[0])
	}
	return nil
}

// minArgs and exactArgs are cobra's argument checks, as usage errors.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("name %s", what)
		}
		return nil
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

func init() { register(newVersionCmd) }

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version and build settings",
		Long:  "Prints the version, the Go toolchain, the CPU and the GEMM library and kernel in use.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			version := "(devel)"
			goVersion := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
				if bi.Main.Version != "" {
					version = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						version += " " + s.Value[:min(12, len(s.Value))]
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pointpeft %s\ngo       %s\n%s", version, goVersion, sysinfo.Read())
			return nil
		},
	}
}
