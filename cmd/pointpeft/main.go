// Command pointpeft adapts pre-trained 3D point-cloud Transformers to new tasks by
// training a few percent of their weights (Point-PEFT and its peers).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/pointpeft/pointpeft/sysinfo"
	"github.com/pointpeft/pointpeft/tensor"
	"github.com/pointpeft/pointpeft/train"
)

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

// errUsage marks an error whose message is the usage text already printed.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			if w := tensor.GEMM().Warning; w != "" {
				fmt.Fprintf(stderr, "pointpeft: warning: %s\n", w)
			}
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case errors.Is(err, train.ErrTimeLimit):
				// A planned stop: the state is saved and --resume continues it.
				fmt.Fprintf(stderr, "pointpeft %s: stopped: %v\n", c.name, err)
				return 0
			default:
				fmt.Fprintf(stderr, "pointpeft %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "pointpeft: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "pointpeft adapts pre-trained 3D point-cloud Transformers by training a few percent of their weights.")
	fmt.Fprintln(w, "\nUsage: pointpeft <command> [flags] [args]\n\nCommands:")
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'pointpeft <command> --help' for a command's flags.")
}

// newFlags makes a FlagSet whose -h prints the command's usage to stderr.
func newFlags(name, args, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pointpeft %s [flags] %s\n\n%s\n", name, args, strings.TrimSpace(about))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, turning a bad flag into errUsage (its message is printed).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func init() {
	register(command{name: "version", summary: "print the version and build settings", run: runVersion})
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", "Prints the version, the Go toolchain, the CPU and the GEMM library and kernel in use.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
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
	fmt.Fprintf(stdout, "pointpeft %s\ngo       %s\n%s", version, goVersion, sysinfo.Read())
	return nil
}
