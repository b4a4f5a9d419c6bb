package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// cmdHealth probes /healthz for a container HEALTHCHECK: a distroless
// image has no curl, and the binary is already there.
func cmdHealth(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("health")
	path := fs.String("config", "", "read server.listen from this config")
	url := fs.String("url", "", "probe this URL (default http://127.0.0.1:8080/healthz)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if !parseFlags(fs, args, stderr) || fs.NArg() > 0 {
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "flashgate health: unexpected argument %q\n", fs.Arg(0))
		}
		return exitConfig
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "flashgate health: --timeout must be > 0, got %v\n", *timeout)
		return exitConfig
	}
	if *path != "" && *url != "" {
		fmt.Fprintln(stderr, "flashgate health: give --config or --url, not both")
		return exitConfig
	}
	target := *url
	client := &fasthttp.Client{}
	switch {
	case *path != "":
		cfg, ok := readConfig(*path, stderr)
		if !ok {
			return exitConfig
		}
		target = "http://" + probeAddr(cfg.Server.Listen) + "/healthz"
		if cfg.Server.TLS.Enabled() {
			// The probe dials its own process on loopback, where the
			// certificate's names (the shop's host) never match, and
			// sends nothing secret: it checks liveness, not identity.
			target = "https://" + probeAddr(cfg.Server.Listen) + "/healthz"
			client.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback liveness probe, see above
		}
	case target == "":
		target = "http://127.0.0.1:8080/healthz"
	}
	code, body, err := client.GetTimeout(nil, target, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %s: %s\n", target, explain(err, strings.HasPrefix(target, "https://"), "use an https:// --url, or --config FILE"))
		return exitFail
	}
	if code != fasthttp.StatusOK {
		fmt.Fprintf(stderr, "unhealthy: %s answered %d: %s\n", target, code, firstLine(body))
		return exitFail
	}
	fmt.Fprintf(stdout, "healthy: %s\n", target)
	return exitOK
}

// probeAddr turns a listen address into one to dial: a wildcard or empty
// host is probed on loopback.
func probeAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// firstLine is the start of an answer for a one-line message: a probe
// pointed at a page gets its first line, not the whole HTML.
func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 200 {
		s = s[:200] + " ..."
	}
	return s
}
