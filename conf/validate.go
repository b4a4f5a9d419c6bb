package conf

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/flashgate/flashgate/internal/ident"
	"github.com/flashgate/flashgate/stock"
)

// This file holds Validate: the checks of the whole decoded config, with
// no I/O. Decoding and defaults are in load.go.

// Bounds of server.write_buffer_size: fasthttp's own default is the
// floor; past 1 MiB a page should be split or streamed, not buffered.
const (
	MinWriteBuffer = 4096
	MaxWriteBuffer = 1 << 20
)

// Validate checks the whole config and records every problem in errs.
// It does no I/O; filter sections are checked by the gateway's registry.
func (c *Config) Validate(errs *Errors) {
	s := c.Server
	checkAddr(errs, "server.listen", s.Listen, listenAddr)
	positive(errs, "server.read_timeout", s.ReadTimeout)
	positive(errs, "server.write_timeout", s.WriteTimeout)
	positive(errs, "server.idle_timeout", s.IdleTimeout)
	positive(errs, "server.shutdown_timeout", s.ShutdownTimeout)
	if s.MaxHeaderBytes < 1024 {
		errs.Addf("server.max_header_bytes", "must be >= 1024, got %d", s.MaxHeaderBytes)
	}
	positive(errs, "server.max_body_bytes", s.MaxBodyBytes)
	positive(errs, "server.max_conns", s.MaxConns)
	if w := s.WriteBufferSize; w != 0 && (w < MinWriteBuffer || w > MaxWriteBuffer) {
		errs.Addf("server.write_buffer_size", "must be 0 (derived: 4096 on plain HTTP, the largest page over TLS) or in %d..%d, got %d", MinWriteBuffer, MaxWriteBuffer, w)
	}
	if s.MaxInflight < 0 {
		errs.Addf("server.max_inflight", "must be >= 0, got %d", s.MaxInflight)
	}
	if s.RetryAfter < 1 {
		errs.Addf("server.retry_after", "must be >= 1, got %d", s.RetryAfter)
	}
	pairTLS(errs, "server.tls", s.TLS.CertFile, s.TLS.KeyFile)
	pairTLS(errs, "admin.tls", c.Admin.TLS.CertFile, c.Admin.TLS.KeyFile)
	pairTLS(errs, "redis.tls", c.Redis.TLS.CertFile, c.Redis.TLS.KeyFile)
	if rt := c.Redis.TLS; !rt.Enabled && (rt.CAFile != "" || rt.CertFile != "" || rt.ServerName != "") {
		errs.Addf("redis.tls.enabled", "must be true when other redis.tls settings are set")
	}
	if c.Admin.Listen != "" {
		checkAddr(errs, "admin.listen", c.Admin.Listen, listenAddr)
		if sameListener(c.Admin.Listen, s.Listen) {
			errs.Addf("admin.listen", "must differ from server.listen (%q): the two listeners cannot share a port", s.Listen)
		}
		if len(c.Admin.Token) < 16 {
			errs.Addf("admin.token", "required when admin.listen is set, at least 16 characters (set FLASHGATE_ADMIN_TOKEN)")
		}
	}
	positive(errs, "reload.debounce", c.Reload.Debounce)
	oneOf(errs, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(errs, "log.format", c.Log.Format, "json", "text")
	if c.Log.AccessEvery < 0 {
		errs.Addf("log.access_every", "must be >= 0 (0: no access log), got %d", c.Log.AccessEvery)
	}
	positive(errs, "static.cache_mb", c.Static.CacheMB)
	if c.Static.ShopName == "" {
		errs.Addf("static.shop_name", "must not be empty")
	}
	localURL(errs, "static.home", c.Static.Home, true)
	localURL(errs, "static.login_url", c.Static.LoginURL, false)
	if n := c.Static.SignedInCookie; n != "" && strings.ContainsAny(n, " \t\r\n;,=\"") {
		errs.Addf("static.signed_in_cookie", "must be a cookie name, got %q", n)
	}
	c.validateRedis(errs)
	oneOf(errs, "stock.store", c.Stock.Store, "memory", "redis")
	if c.Stock.Store == "redis" && len(c.Redis.Addrs) == 0 {
		errs.Addf("stock.store", "\"redis\" needs redis.addrs")
	}
	if c.Stock.Shards < 1 || c.Stock.Shards > stock.MaxShards {
		errs.Addf("stock.shards", "must be in 1..%d, got %d", stock.MaxShards, c.Stock.Shards)
	}
	c.validateUpstreams(errs)
	c.validateActivities(errs)
	c.validateRoutes(errs)
	for i, u := range c.Upstreams {
		if s.ShutdownTimeout > 0 && u.Timeout > s.ShutdownTimeout {
			errs.Addf("server.shutdown_timeout", "%s is shorter than %s %s: orders in flight at shutdown would be cut off",
				s.ShutdownTimeout, Join(Index("upstreams", i), "timeout"), u.Timeout)
		}
	}
}

func (c *Config) validateUpstreams(errs *Errors) {
	seen := map[string]bool{}
	for i, u := range c.Upstreams {
		p := Index("upstreams", i)
		uniqueName(errs, Join(p, "name"), "upstream", u.Name, seen)
		if len(u.Addrs) == 0 {
			errs.Addf(Join(p, "addrs"), "at least one host:port is required")
		}
		for j, a := range u.Addrs {
			checkAddr(errs, Index(Join(p, "addrs"), j), a, dialAddr)
		}
		positive(errs, Join(p, "connect_timeout"), u.ConnectTimeout)
		positive(errs, Join(p, "timeout"), u.Timeout)
		positive(errs, Join(p, "max_conns"), u.MaxConns)
		positive(errs, Join(p, "max_idle_conn_duration"), u.MaxIdleConnDuration)
		positive(errs, Join(p, "max_response_bytes"), u.MaxResponseBytes)
		if u.BreakerFailures < -1 {
			errs.Addf(Join(p, "breaker_failures"), "must be >= 1, or -1 to disable; got %d", u.BreakerFailures)
		}
		positive(errs, Join(p, "breaker_open"), u.BreakerOpen)
		if u.BreakerProbes < 1 || u.BreakerProbes > 1000 {
			errs.Addf(Join(p, "breaker_probes"), "must be in 1..1000, got %d", u.BreakerProbes)
		}
	}
}

func (c *Config) validateActivities(errs *Errors) {
	seen := map[string]bool{}
	for i, a := range c.Activities {
		p := Index("activities", i)
		uniqueName(errs, Join(p, "id"), "activity", a.ID, seen)
		if !ident.Valid(a.Product) {
			errs.Addf(Join(p, "product"), "must match %s, got %q", ident.Rule, a.Product)
		}
		if a.Stock < 0 || a.Stock > stock.MaxUnits { // 2^40
			errs.Addf(Join(p, "stock"), "must be in 0..2^40, got %d", a.Stock)
		}
		if a.Shards < 1 || a.Shards > stock.MaxShards {
			errs.Addf(Join(p, "shards"), "must be in 1..%d, got %d", stock.MaxShards, a.Shards)
		}
		if a.PerUser < 1 {
			errs.Addf(Join(p, "per_user"), "must be >= 1, got %d", a.PerUser)
		}
		if a.PayWithin != 0 && (a.PayWithin < time.Second || a.PayWithin > stock.MaxPayWithin) {
			errs.Addf(Join(p, "pay_within"), "must be 0 (off) or in 1s..720h, got %s", a.PayWithin)
		}
		// applyDefaults made start/end the one window when windows is
		// absent; anything else beside start/end is both given.
		single := !a.Start.IsZero() || !a.End.IsZero()
		if single && (len(a.Windows) != 1 || a.Windows[0] != (Window{Start: a.Start, End: a.End})) {
			errs.Addf(Join(p, "windows"), "set start/end (one window) or windows, not both: start/end would be ignored")
			single = false
		}
		for j, w := range a.Windows {
			wp := Index(Join(p, "windows"), j)
			if single {
				wp = Join(p, "end")
			}
			switch {
			case w.Start.IsZero() && w.End.IsZero():
				errs.Addf(wp, "start or end is required: a window open on both sides would open the sale now")
			case !w.End.IsZero() && !w.End.After(w.Start):
				errs.Addf(wp, "end %s must be after start %s",
					w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
			default:
				for k, o := range a.Windows[:j] {
					if o.valid() && w.overlaps(o) {
						errs.Addf(wp, "overlaps windows[%d] (%s): merge them into one window, so the countdown's next opening and closing are the sale's",
							k, o)
						break
					}
				}
			}
		}
	}
}

func (c *Config) validateRoutes(errs *Errors) {
	ups := map[string]bool{}
	for _, u := range c.Upstreams {
		ups[u.Name] = true
	}
	acts := map[string]bool{}
	for _, a := range c.Activities {
		acts[a.ID] = true
	}
	if len(c.Routes) == 0 {
		errs.Addf("routes", "at least one route is required: without one every request is a 404")
	}
	names := map[string]string{} // route name -> the route that has it
	for i, r := range c.Routes {
		p := Index("routes", i)
		if other, ok := names[r.Name]; ok {
			errs.Addf(Join(p, "name"), "duplicate route name %q (%s has it): their metrics and access log lines would merge", r.Name, other)
		} else {
			names[r.Name] = p
		}
		if r.Path == "" || r.Path[0] != '/' {
			errs.Addf(Join(p, "path"), "required, must start with /, got %q", r.Path)
		}
		oneOf(errs, Join(p, "method"), r.Method, "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
		if strings.Contains(r.Path, "{activity}") && len(c.Activities) == 0 {
			errs.Addf(Join(p, "path"), "uses {activity} but no activities are configured")
		}
		if len(r.Activities) > 0 && !strings.Contains(r.Path, "{activity}") {
			errs.Addf(Join(p, "activities"), "needs {activity} in the path")
		}
		for j, id := range r.Activities {
			if !acts[id] {
				errs.Addf(Index(Join(p, "activities"), j), "unknown activity %q", id)
			}
		}
		if sh := r.Shed; sh.Target != 0 {
			inRange(errs, Join(p, "shed.target"), sh.Target, time.Millisecond, time.Minute)
		}
		if sh := r.Shed; sh.Interval != 0 {
			inRange(errs, Join(p, "shed.interval"), sh.Interval, time.Millisecond, time.Minute)
		}
		for j, f := range r.Filters {
			if len(f.raw) != 1 {
				errs.Addf(Index(Join(p, "filters"), j), "must be a one-key map {type: settings}, got %d keys", len(f.raw))
			}
		}
		ap := Join(p, "action")
		switch r.Action.Type {
		case "static":
			if r.Action.Page == "" {
				errs.Addf(Join(ap, "page"), "required for a static action")
			}
		case "proxy":
			if r.Action.Upstream == "" {
				errs.Addf(Join(ap, "upstream"), "required for a proxy action")
			} else if !ups[r.Action.Upstream] {
				errs.Addf(Join(ap, "upstream"), "unknown upstream %q", r.Action.Upstream)
			}
			if r.Action.Rewrite != "" && r.Action.Rewrite[0] != '/' {
				errs.Addf(Join(ap, "rewrite"), "must start with /, got %q", r.Action.Rewrite)
			}
			c.validateMode(errs, ap, r.Action)
		case "json":
			if r.Action.Endpoint == "" {
				errs.Addf(Join(ap, "endpoint"), "required for a json action")
			}
		default:
			errs.Addf(Join(ap, "type"), "must be one of static, proxy, json; got %q", r.Action.Type)
		}
		if r.Action.Type != "proxy" {
			if r.Action.Mode != "" {
				errs.Addf(Join(ap, "mode"), "only a proxy action has a mode")
			}
			if r.Action.Queue != nil {
				errs.Addf(Join(ap, "queue"), "only an async proxy action has a queue")
			}
		}
	}
}

// validateMode checks a proxy action's mode and its queue.
func (c *Config) validateMode(errs *Errors, ap string, a Action) {
	if errs.Unreadable(Join(ap, "mode")) {
		return // its wrong type is the news; the default it fell back to is no mode to judge a queue by
	}
	oneOf(errs, Join(ap, "mode"), a.Mode, "sync", "async")
	q := a.Queue
	if a.Mode != "sync" && a.Mode != "async" {
		return // the mode's own error says it; its queue cannot be judged
	}
	if a.Mode != "async" {
		if q != nil {
			errs.Addf(Join(ap, "queue"), "only an async proxy action has a queue (mode is %s)", a.Mode)
		}
		return
	}
	if q == nil {
		if !errs.Unreadable(Join(ap, "queue")) { // else its bad field is the news
			errs.Addf(Join(ap, "queue"), "required for mode async (at least rate)")
		}
		return
	}
	qp := Join(ap, "queue")
	if !(q.Rate > 0) || q.Rate > 1e6 {
		errs.Addf(Join(qp, "rate"), "must be in (0, 1e6] deliveries per second, got %v", q.Rate)
	}
	positive(errs, Join(qp, "max_inflight"), q.MaxInflight)
	positive(errs, Join(qp, "attempts"), q.Attempts)
	positive(errs, Join(qp, "backoff"), q.Backoff)
	positive(errs, Join(qp, "capacity"), q.Capacity)
	if q.BackoffMax < q.Backoff {
		errs.Addf(Join(qp, "backoff_max"), "must be >= backoff (%s), got %s", q.Backoff, q.BackoffMax)
	}
	positive(errs, Join(qp, "max_wait"), q.MaxWait)
	if q.MaxWait > 0 && q.MaxWait < q.BackoffMax {
		errs.Addf(Join(qp, "max_wait"), "must be >= backoff_max (%s): one retry's wait would outlast it, got %s", q.BackoffMax, q.MaxWait)
	}
	for _, u := range c.Upstreams {
		if u.Name != a.Upstream || c.Stock.Store != "redis" { // only a Redis Stream's entries are claimed
			continue
		}
		if floor := 2 * (u.ConnectTimeout + u.Timeout); q.ClaimIdle < floor {
			errs.Addf(Join(qp, "claim_idle"), "must be >= 2 x (connect_timeout + timeout) of upstream %s (%s): a live delivery must not look dead, got %s", u.Name, floor, q.ClaimIdle)
		}
	}
}

// uniqueName reports a name (an upstream's, an activity's) that breaks
// the name rule (internal/ident) or repeats one in seen, and adds it.
func uniqueName(errs *Errors, path, kind, name string, seen map[string]bool) {
	if !ident.Valid(name) {
		errs.Addf(path, "required, %s, got %q", ident.Rule, name)
	} else if seen[name] {
		errs.Addf(path, "duplicate %s %q", kind, name)
	}
	seen[name] = true
}

// localURL checks a link the pages carry: an absolute path on this site
// or an http(s) URL, never javascript: or the like.
func localURL(errs *Errors, path, v string, required bool) {
	switch {
	case v == "":
		if required {
			errs.Addf(path, "required")
		}
	case v[0] == '/' && !strings.HasPrefix(v, "//"):
	case strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://"):
	default:
		errs.Addf(path, "must be a path starting with / or an http(s) URL, got %q", v)
	}
}

func positive[T int | int64 | time.Duration](errs *Errors, path string, v T) {
	if v <= 0 {
		errs.Addf(path, "must be > 0, got %v", v)
	}
}

func inRange(errs *Errors, path string, v, lo, hi time.Duration) {
	if v < lo || v > hi {
		errs.Addf(path, "must be in %s..%s, got %s", lo, hi, v)
	}
}

func oneOf(errs *Errors, path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	errs.Addf(path, "must be one of %s; got %q", strings.Join(allowed, ", "), v)
}

// How checkAddr reads an address.
type addrKind int

const (
	listenAddr addrKind = iota // a listener: the host may be empty (every address), port 0 is any free port
	dialAddr                   // a peer: host and port required
	seedAddr                   // a Redis seed: the host may be empty (this machine)
)

// checkAddr checks a host:port, the port a number in 1..65535 (or 0 for
// a listener), so that a typo fails the load, not the listen or the
// first dial.
func checkAddr(errs *Errors, path, addr string, kind addrKind) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || (kind == dialAddr && host == "") {
		errs.Addf(path, "must be host:port, got %q", addr)
		return
	}
	lo := 1
	if kind == listenAddr {
		lo = 0
	}
	if n, err := strconv.Atoi(port); err != nil || n < lo || n > 65535 || port != strconv.Itoa(n) {
		errs.Addf(path, "port must be a number in %d..65535, got %q", lo, addr)
	}
}

// sameListener reports whether two listen addresses would take the same
// port: the same port, and the same host or either one every address
// ("", 0.0.0.0, ::). Port 0 (any free port) never clashes.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

// pairTLS reports a certificate without its key or a key without its
// certificate.
func pairTLS(errs *Errors, path, cert, key string) {
	switch {
	case cert != "" && key == "":
		errs.Addf(Join(path, "key_file"), "required when cert_file is set")
	case cert == "" && key != "":
		errs.Addf(Join(path, "cert_file"), "required when key_file is set")
	}
}
