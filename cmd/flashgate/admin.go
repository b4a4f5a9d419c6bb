package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/userid"
)

const adminHelp = `usage: flashgate admin [--config FILE | --addr HOST:PORT] [--cacert PEM] [--token T] [--timeout D] CALL [ARGS]

Call the admin API and print its JSON answer. The token defaults to
$FLASHGATE_ADMIN_TOKEN (or admin.token of --config); --addr defaults to
admin.listen of --config, else 127.0.0.1:8081. --cacert calls over HTTPS,
trusting that PEM file (the admin certificate or its CA; the host name is
not checked); with --config and admin.tls it defaults to admin.tls.cert_file.

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
  paid ID KEY                  POST   /admin/activities/ID/orders/KEY/paid (KEY: the order's
                                      Idempotency-Key ID:USER:SEQ; keeps a pay_within unit sold)
  reservations ID              GET    /admin/activities/ID/reservations
  reserve ID FILE              POST   /admin/activities/ID/reservations, FILE ("-": stdin) one user id a
                                      line, every line checked first (a bad one sends nothing), then sent in
                                      batches of 10000 with a progress line each; adding is idempotent, so
                                      after a refused batch run it again
  blacklist                    GET    /admin/blacklist
  blacklist-add ENTRY          POST   /admin/blacklist?entry=ENTRY (user id, IP or CIDR)
  blacklist-remove ENTRY       DELETE /admin/blacklist?entry=ENTRY

Exit codes: 0 the call succeeded (2xx), 1 it was refused or the admin API
is unreachable (the answer is printed on stderr), or a pause or resume holds
on the called instance only (202: the answer on stdout, the reason on
stderr), 2 usage or config error.
`

// adminFlags are flashgate admin's own flags: a call's extra argument
// that is one of them was meant before the call, any other is not ours
// to suggest moving.
var adminFlags = map[string]bool{"config": true, "addr": true, "token": true, "timeout": true, "cacert": true}

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
			for _, a := range args[1:] {
				if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && adminFlags[name] {
					return fmt.Errorf("%s takes %s; flags go before the call: flashgate admin %s ... %s", args[0], names, a, args[0])
				}
			}
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
		// --force belongs to the call (it is the query's force=true), so
		// it is taken on either side of the ID.
		var ids []string
		force := false
		for _, a := range args[1:] {
			switch {
			case a == "--force" || a == "-force":
				force = true
			case strings.HasPrefix(a, "-"):
				return adminCall{}, fmt.Errorf("warm takes ID [--force], not %s", a)
			default:
				ids = append(ids, a)
			}
		}
		if len(ids) != 1 {
			return adminCall{}, fmt.Errorf("warm takes ID [--force]")
		}
		args = []string{"warm", ids[0]}
		if force {
			return adminCall{"POST", act() + "/warm?force=true", nil}, nil
		}
		return adminCall{"POST", act() + "/warm", nil}, nil
	case "reservations":
		if err := want(1, "ID"); err != nil {
			return adminCall{}, err
		}
		return adminCall{"GET", act() + "/reservations", nil}, nil
	case "reserve":
		if err := want(2, "ID FILE"); err != nil {
			return adminCall{}, err
		}
		return adminCall{"POST", act() + "/reservations", nil}, nil
	case "blacklist":
		return adminCall{"GET", "/admin/blacklist", nil}, want(0, "no arguments")
	case "blacklist-add", "blacklist-remove":
		if err := want(1, "ENTRY"); err != nil {
			return adminCall{}, err
		}
		method := map[string]string{"blacklist-add": "POST", "blacklist-remove": "DELETE"}[args[0]]
		return adminCall{method, "/admin/blacklist?entry=" + url.QueryEscape(args[1]), nil}, nil
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
	case "paid":
		if err := want(2, "ID KEY"); err != nil {
			return adminCall{}, err
		}
		return adminCall{"POST", act() + "/orders/" + url.PathEscape(args[2]) + "/paid", nil}, nil
	}
	return adminCall{}, fmt.Errorf("unknown call %q", args[0])
}

// cmdAdmin calls the admin API: every documented call is one command line.
func cmdAdmin(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("admin")
	path := fs.String("config", "", "read admin.listen and admin.token from this config")
	addr := fs.String("addr", "", "admin API host:port (default admin.listen, else 127.0.0.1:8081)")
	// The default stays empty and the environment is read after parsing:
	// a flag's default is printed by the usage text on any mistyped flag,
	// and that text must never carry the live token into a CI log.
	token := fs.String("token", "", "bearer token (default $FLASHGATE_ADMIN_TOKEN)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	cacert := fs.String("cacert", "", "call over HTTPS, trusting this PEM file: the admin certificate or its CA (default with --config and admin.tls: admin.tls.cert_file)")
	if !parseFlags(fs, args, stderr) {
		return exitConfig
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "flashgate admin: --timeout must be > 0, got %v\n", *timeout)
		return exitConfig
	}
	if *token == "" {
		*token = os.Getenv("FLASHGATE_ADMIN_TOKEN")
	}
	call, err := adminRequest(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "flashgate admin: %v (see flashgate admin --help)\n", err)
		return exitConfig
	}
	if *path != "" {
		cfg, ok := readConfig(*path, stderr)
		if !ok {
			return exitConfig
		}
		if *addr == "" {
			*addr = probeAddr(cfg.Admin.Listen)
		}
		if *token == "" {
			*token = cfg.Admin.Token
		}
		if *cacert == "" && cfg.Admin.TLS.Enabled() {
			*cacert = cfg.Admin.TLS.CertFile
		}
	}
	if *addr == "" {
		*addr = "127.0.0.1:8081"
	}
	if *token == "" {
		fmt.Fprintln(stderr, "flashgate admin: no token: set FLASHGATE_ADMIN_TOKEN or --token")
		return exitConfig
	}
	c := adminClient{addr: *addr, token: *token, timeout: *timeout, client: &fasthttp.Client{
		// Send the path as escaped: normalising would turn a key's %2F
		// back into a /, and the call would reach another route (or none).
		DisablePathNormalizing: true,
	}}
	if *cacert != "" {
		if c.client.TLSConfig, err = adminTLS(*cacert); err != nil {
			fmt.Fprintf(stderr, "flashgate admin: --cacert: %v\n", err)
			return exitConfig
		}
	}
	if fs.Arg(0) == "reserve" {
		return c.reserve(call, fs.Arg(2), stdout, stderr)
	}
	body, code, err := c.doStatus(call)
	if err != nil {
		fmt.Fprintf(stderr, "flashgate admin: %v", err)
		return exitFail
	}
	_, _ = stdout.Write(body)
	if note := partialPause(fs.Arg(0), code, body); note != "" {
		// The brake held on this instance only (or a resume could not
		// reach Redis): a script must not take it for the fleet's.
		fmt.Fprintf(stderr, "flashgate admin: %s %s on %s only: %s\n", fs.Arg(0), fs.Arg(1), c.addr, note)
		return exitFail
	}
	return exitOK
}

// partialPause explains a pause or resume answer that holds on the called
// instance only, or "" for one every instance follows.
func partialPause(call string, code int, body []byte) string {
	var a struct {
		Paused    bool `json:"paused"`
		Overrides struct {
			HereOnly bool `json:"paused_here_only"`
		} `json:"overrides"`
	}
	if (call != "pause" && call != "resume") || json.Unmarshal(body, &a) != nil {
		return ""
	}
	switch {
	case call == "pause" && (code == 202 || a.Overrides.HereOnly):
		return "Redis did not take the pause, so the other instances are not paused yet (it is retried every poll); pause each instance's admin port to stop them all now"
	case call == "resume" && code == 202:
		return "the pause held here is lifted, but Redis did not answer: a pause it holds still holds on the other instances, and on this one again once it reads it"
	}
	return ""
}

type adminClient struct {
	addr, token string
	timeout     time.Duration
	// client is one for every call of a command, so that reserve's
	// batches share its connection (and TLS handshake); HTTPS when it has
	// a TLSConfig.
	client *fasthttp.Client
}

// do sends one call; a non-2xx answer is an error carrying the answer.
func (c adminClient) do(call adminCall) ([]byte, error) {
	body, _, err := c.doStatus(call)
	return body, err
}

// doStatus is do with the answer's status.
func (c adminClient) doStatus(call adminCall) ([]byte, int, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(call.method)
	scheme := "http://"
	if c.client.TLSConfig != nil {
		scheme = "https://"
	}
	req.SetRequestURI(scheme + c.addr + call.path)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if call.body != nil {
		ctype := "application/json"
		if strings.HasSuffix(call.path, "/reservations") {
			ctype = "text/plain; charset=utf-8" // one user id a line
		}
		req.Header.SetContentType(ctype)
		req.SetBody(call.body)
	}
	if err := c.client.DoTimeout(req, resp, c.timeout); err != nil {
		return nil, 0, fmt.Errorf("%s %s: %s\n", call.method, call.path, explain(err, c.client.TLSConfig != nil, "call it with --cacert FILE, or --config FILE"))
	}
	code := resp.StatusCode()
	if code < 200 || code > 299 {
		return nil, code, fmt.Errorf("%s %s: %d\n%s", call.method, call.path, code, resp.Body())
	}
	return append([]byte(nil), resp.Body()...), code, nil
}

// reserveBatch is how many user ids one reservation call carries, so a
// list of millions shows progress and no call nears the body limit.
const reserveBatch = 10000

// reserve uploads a reservation list in batches, one progress line each.
func (c adminClient) reserve(call adminCall, file string, stdout, stderr io.Writer) int {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "flashgate admin reserve: %v\n", err)
		return exitConfig
	}
	var lines [][]byte
	bad := 0
	for n, l := range bytes.Split(data, []byte("\n")) {
		// The gateway's rule for these lists: '#' starts a comment that
		// runs to the end of the line, and what is left is trimmed.
		if i := bytes.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		t := bytes.TrimSpace(l)
		if len(t) == 0 {
			continue
		}
		// Checked here first, with the file's own line number, so a bad
		// file adds nothing rather than stopping half-way.
		if !userid.Valid(t) {
			if bad++; bad <= 10 {
				fmt.Fprintf(stderr, "%s:%d: %q is not a user id (%s)\n", file, n+1, t, userid.Rule)
			}
			continue
		}
		lines = append(lines, t)
	}
	if bad > 0 {
		lines := "lines"
		if bad == 1 {
			lines = "line"
		}
		fmt.Fprintf(stderr, "flashgate admin reserve: %d bad %s in %s, nothing sent\n", bad, lines, file)
		return exitConfig
	}
	if len(lines) == 0 {
		fmt.Fprintf(stderr, "flashgate admin reserve: %s lists no user ids\n", file)
		return exitConfig
	}
	batches := (len(lines) + reserveBatch - 1) / reserveBatch
	var added int64
	for b := 0; b < batches; b++ {
		chunk := lines[b*reserveBatch : min((b+1)*reserveBatch, len(lines))]
		call.body = append(bytes.Join(chunk, []byte("\n")), '\n')
		body, err := c.do(call)
		if err != nil {
			before := "nothing was added"
			if b > 0 {
				before = "the batches before it were added; adding again is harmless"
			}
			fmt.Fprintf(stderr, "flashgate admin reserve: batch %d/%d refused (%s): %v", b+1, batches, before, err)
			return exitFail
		}
		var ans struct {
			Added int64 `json:"added"`
		}
		_ = json.Unmarshal(body, &ans)
		added += ans.Added
		fmt.Fprintf(stdout, "[%d/%d] %d of %d user ids sent, %d new so far\n", b+1, batches, b*reserveBatch+len(chunk), len(lines), added)
	}
	return exitOK
}
