package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
)

const adminHelp = `usage: flashgate admin [--config FILE | --addr HOST:PORT] [--token T] [--timeout D] CALL [ARGS]

Call the admin API and print its JSON answer. The token defaults to
$FLASHGATE_ADMIN_TOKEN (or admin.token of --config); --addr defaults to
admin.listen of --config, else 127.0.0.1:8081.

Calls:
  activities                   GET    /admin/activities (phase, stock, sold, paused, overrides)
  status                       GET    /admin/status
  reload                       POST   /admin/reload
  pause ID                     POST   /admin/activities/ID/pause (every instance, within 1 s)
  resume ID                    POST   /admin/activities/ID/resume
  window ID START END          PUT    /admin/activities/ID/window (RFC 3339 times; "-" leaves a side open)
  window-clear ID              DELETE /admin/activities/ID/window (the YAML's windows again)
  warm ID [--force]            POST   /admin/activities/ID/warm
  stock ID                     GET    /admin/activities/ID/stock
  topup ID UNITS               POST   /admin/activities/ID/topup?units=UNITS
  release ID USER SEQ          POST   /admin/activities/ID/release?user=USER&seq=SEQ

Exit codes: 0 the call succeeded (2xx), 1 it was refused or the admin API
is unreachable (the answer is printed on stderr), 2 usage or config error.
`

// adminCall is the HTTP request one CLI call makes.
type adminCall struct {
	method, path string
	body         []byte
}

// adminRequest maps a CLI call to its HTTP request.
func adminRequest(args []string) (adminCall, error) {
	if len(args) == 0 {
		return adminCall{}, fmt.Errorf("a CALL is required")
	}
	want := func(n int, names string) error {
		if len(args)-1 != n {
			return fmt.Errorf("%s takes %s", args[0], names)
		}
		return nil
	}
	act := func() string { return "/admin/activities/" + url.PathEscape(args[1]) }
	switch args[0] {
	case "activities":
		return adminCall{"GET", "/admin/activities", nil}, want(0, "no arguments")
	case "status":
		return adminCall{"GET", "/admin/status", nil}, want(0, "no arguments")
	case "reload":
		return adminCall{"POST", "/admin/reload", nil}, want(0, "no arguments")
	case "pause", "resume", "stock", "window-clear":
		if err := want(1, "ID"); err != nil {
			return adminCall{}, err
		}
		switch args[0] {
		case "stock":
			return adminCall{"GET", act() + "/stock", nil}, nil
		case "window-clear":
			return adminCall{"DELETE", act() + "/window", nil}, nil
		}
		return adminCall{"POST", act() + "/" + args[0], nil}, nil
	case "window":
		if err := want(3, "ID START END"); err != nil {
			return adminCall{}, err
		}
		side := func(s string) *string {
			if s == "-" {
				return nil
			}
			return &s
		}
		body, _ := json.Marshal(map[string]*string{"start": side(args[2]), "end": side(args[3])})
		return adminCall{"PUT", act() + "/window", body}, nil
	case "warm":
		if len(args) == 3 && args[2] == "--force" {
			return adminCall{"POST", act() + "/warm?force=true", nil}, nil
		}
		if len(args) < 2 {
			return adminCall{}, fmt.Errorf("warm takes ID [--force]")
		}
		return adminCall{"POST", act() + "/warm", nil}, want(1, "ID [--force]")
	case "topup":
		if err := want(2, "ID UNITS"); err != nil {
			return adminCall{}, err
		}
		return adminCall{"POST", act() + "/topup?units=" + url.QueryEscape(args[2]), nil}, nil
	case "release":
		if err := want(3, "ID USER SEQ"); err != nil {
			return adminCall{}, err
		}
		return adminCall{"POST", act() + "/release?user=" + url.QueryEscape(args[2]) + "&seq=" + url.QueryEscape(args[3]), nil}, nil
	}
	return adminCall{}, fmt.Errorf("unknown call %q", args[0])
}

// cmdAdmin calls the admin API: every documented call is one command line.
func cmdAdmin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "read admin.listen and admin.token from this config")
	addr := fs.String("addr", "", "admin API host:port (default admin.listen, else 127.0.0.1:8081)")
	token := fs.String("token", os.Getenv("FLASHGATE_ADMIN_TOKEN"), "bearer token (default $FLASHGATE_ADMIN_TOKEN)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	call, err := adminRequest(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "flashgate admin: %v (see flashgate admin --help)\n", err)
		return exitConfig
	}
	if *path != "" {
		cfg, err := conf.Load(*path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitConfig
		}
		if *addr == "" {
			*addr = probeAddr(cfg.Admin.Listen)
		}
		if *token == "" {
			*token = cfg.Admin.Token
		}
	}
	if *addr == "" {
		*addr = "127.0.0.1:8081"
	}
	if *token == "" {
		fmt.Fprintln(stderr, "flashgate admin: no token: set FLASHGATE_ADMIN_TOKEN or --token")
		return exitConfig
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(call.method)
	req.SetRequestURI("http://" + *addr + call.path)
	req.Header.Set("Authorization", "Bearer "+*token)
	if call.body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(call.body)
	}
	if err := fasthttp.DoTimeout(req, resp, *timeout); err != nil {
		fmt.Fprintf(stderr, "flashgate admin: %s %s: %v\n", call.method, call.path, err)
		return exitFail
	}
	if code := resp.StatusCode(); code < 200 || code > 299 {
		fmt.Fprintf(stderr, "flashgate admin: %s %s: %d\n%s", call.method, call.path, code, resp.Body())
		return exitFail
	}
	_, _ = stdout.Write(resp.Body())
	return exitOK
}
