// Command flashgate is the flash-sale edge gateway.
//
//	flashgate serve  --config FILE   run the gateway
//	flashgate check  --config FILE   validate a config (exit 2 on errors)
//	flashgate warm   --config FILE   load activities' stock into Redis
//	flashgate health [--config FILE | --url URL]   probe /healthz (container HEALTHCHECK)
//	flashgate admin  [--config FILE | --addr HOST:PORT] CALL ...   call the admin API
//	flashgate version
//
// Every command answers --help on stdout with exit 0.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/flashgate/flashgate/conf"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes, as nginx -t uses them: 2 means the config (or the command
// line) is wrong, 1 that something failed at run time.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// command is one subcommand with the help it prints for --help.
type command struct {
	run  func(args []string, stdout, stderr io.Writer) int
	help string
}

var commands = map[string]command{
	"serve": {cmdServe, `usage: flashgate serve --config FILE

Run the gateway on server.listen (and the admin API on admin.listen).
SIGTERM or SIGINT drains in-flight requests, then exits; SIGHUP reloads the
config file (a bad file is logged with every error; the running config stays).
Redis unreachable at start is not fatal: pages serve, purchases answer 503
busy, and the gateway connects once Redis answers.

  --config FILE   the config file (YAML)

Exit codes: 0 stopped cleanly, 1 runtime failure (listen, Redis refusing the
connection, drain incomplete), 2 usage or config error.
`},
	"check": {cmdCheck, `usage: flashgate check --config FILE

Validate a config like nginx -t: "config ok", or every error with its YAML
path, one per line. With redis.addrs set it connects to Redis to finish.

  --config FILE   the config file (YAML)

Exit codes: 0 config ok, 1 could not finish (Redis unreachable), 2 config
errors.
`},
	"warm": {cmdWarm, `usage: flashgate warm --config FILE [--activity ID] [--force]

Load activities' stock, shards and per-user limit into the configured Redis
before a sale (stock.store: redis). An activity already loaded with the
same spec is left alone ("already loaded, nothing to do"); one that has
sold under another spec is refused unless --force, which resets its stock
and ledgers. The config is read and built as serve would (without
listening), so a config serve refuses is refused, with the same errors.

  --config FILE     the config file (YAML)
  --activity ID     warm only this activity
  --force           reset the sale of --activity ID, even one that has sold
                    (its units sell again, its buyers can buy again); with
                    several activities in the config it needs --activity

Every activity is tried, one refused or failing or not, and a summary
names the refused and failed ones.

Exit codes: 0 done, 1 an activity refused without --force or failed (Redis),
2 usage or config error (--force without --activity among several).
`},
	"health": {cmdHealth, `usage: flashgate health [--config FILE | --url URL] [--timeout D]

Probe the gateway's /healthz, for a container HEALTHCHECK (distroless
images have no curl). With --config the URL is built from server.listen
(a wildcard host is probed on loopback).

  --config FILE   read server.listen from this config
  --url URL       probe this URL instead (default http://127.0.0.1:8080/healthz)
  --timeout D     give up after D (default 2s)

Exit codes: 0 healthy, 1 unhealthy or unreachable, 2 usage or config error.
`},
	"admin": {cmdAdmin, adminHelp},
	"version": {func(args []string, stdout, stderr io.Writer) int {
		if len(args) > 0 { // every command refuses what it does not take
			fmt.Fprintf(stderr, "flashgate version: unexpected argument %q (version takes none)\n", args[0])
			return exitConfig
		}
		fmt.Fprintln(stdout, "flashgate", version)
		return exitOK
	}, "usage: flashgate version\n\nPrint the version. Exit codes: 0, 2 for any argument.\n"},
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitConfig
	}
	name := args[0]
	switch name {
	case "--version", "-v":
		name = "version"
	case "help", "-h", "--help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "flashgate: unknown command %q\n", args[1])
				usage(stderr)
				return exitConfig
			}
			fmt.Fprint(stdout, c.help)
			return exitOK
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "flashgate: unknown command %q\n", args[0])
		usage(stderr)
		return exitConfig
	}
	if wantsHelp(args[1:]) {
		fmt.Fprint(stdout, c.help)
		return exitOK
	}
	return c.run(args[1:], stdout, stderr)
}

// wantsHelp reports whether the flags ask for help (before any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  flashgate serve  --config FILE    run the gateway (SIGTERM/SIGINT drain then exit, SIGHUP reloads)
  flashgate check  --config FILE    validate a config: "config ok" or every error with its YAML path (exit 2)
  flashgate warm   --config FILE [--activity ID] [--force]
                                    load activities' stock into the configured Redis before a sale
  flashgate health [--config FILE | --url URL]
                                    probe /healthz (exit 0 healthy, 1 not): a container HEALTHCHECK
  flashgate admin  [--config FILE | --addr HOST:PORT [--cacert PEM]] CALL [ARGS]
                                    call the admin API (activities, pause, resume, window, ...)
  flashgate version

"flashgate COMMAND --help" explains a command.
Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
`)
}

// commandNames lists the commands, for tests.
func commandNames() []string {
	out := make([]string, 0, len(commands))
	for n := range commands {
		out = append(out, n)
	}
	return out
}

// loadFlags parses the flags of a command that reads a config, then
// loads the --config file (readConfig): serve, check and warm read their
// config only through it.
func loadFlags(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (string, *conf.Config, bool) {
	path, ok := configFlag(name, args, stderr, extra)
	if !ok {
		return "", nil, false
	}
	cfg, ok := readConfig(path, stderr)
	return path, cfg, ok
}

// readConfig is the load stage of every command (conf.Load): the whole
// file decoded and validated. Its problems are printed as conf reports
// them, one per line, each naming the file.
func readConfig(path string, stderr io.Writer) (*conf.Config, bool) {
	cfg, err := conf.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	return cfg, true
}

// newFlags is a command's flag set. A mistake (an unknown flag, one
// without its value) prints one line naming the command and its --help,
// not the flag package's raw usage dump.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs, printing a mistake as newFlags says.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "flashgate %s: %v (flashgate %s --help lists its flags)\n", fs.Name(), err, fs.Name())
		return false
	}
	return true
}

// configFlag parses the flags shared by every command that reads a config.
func configFlag(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (string, bool) {
	fs := newFlags(name)
	path := fs.String("config", "", "config file (YAML)")
	if extra != nil {
		extra(fs)
	}
	if !parseFlags(fs, args, stderr) {
		return "", false
	}
	if *path == "" {
		fmt.Fprintf(stderr, "flashgate %s: --config FILE is required\n", name)
		return "", false
	}
	if fs.NArg() > 0 {
		// "check a.yaml b.yaml" would check a.yaml alone and say ok.
		fmt.Fprintf(stderr, "flashgate %s: unexpected argument %q (one --config FILE, flags before it)\n", name, fs.Arg(0))
		return "", false
	}
	return *path, true
}
