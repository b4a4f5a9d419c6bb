// Command flashgate is the flash-sale edge gateway.
//
//	flashgate serve --config FILE   run the gateway
//	flashgate check --config FILE   validate a config (exit 2 on errors)
//	flashgate warm  --config FILE   load activities' stock into Redis
//	flashgate version
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes, as nginx -t uses them: 2 means the config is wrong.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitConfig
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "warm":
		return cmdWarm(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "flashgate", version)
		return exitOK
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "flashgate: unknown command %q\n", args[0])
	usage(stderr)
	return exitConfig
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  flashgate serve --config FILE    run the gateway (SIGTERM/SIGINT drain then exit, SIGHUP reloads)
  flashgate check --config FILE    validate a config: "config ok" or every error with its YAML path (exit 2)
  flashgate warm  --config FILE [--activity ID] [--force]
                                   load activities' stock into the configured Redis before a sale
  flashgate version
`)
}

// configFlag parses the flags shared by every command that reads a config.
func configFlag(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (YAML)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if *path == "" {
		fmt.Fprintf(stderr, "flashgate %s: --config FILE is required\n", name)
		return "", false
	}
	return *path, true
}
