package conf

import "time"

// Config is a whole flashgate configuration file.
type Config struct {
	// Server is the public listener.
	Server Server `mapstructure:"server"`
	// Admin is the operator API; disabled when Admin.Listen is empty.
	Admin Admin `mapstructure:"admin"`
	// Log chooses log level and format.
	Log Log `mapstructure:"log"`
	// Reload chooses how the config file is reloaded besides SIGHUP and
	// POST /admin/reload.
	Reload Reload `mapstructure:"reload"`
	// Static is the pre-rendered page cache.
	Static Static `mapstructure:"static"`
	// Redis is shared by every filter that needs cross-instance state.
	// Empty Addrs means no Redis: only in-memory stores are allowed.
	Redis Redis `mapstructure:"redis"`
	// Stock chooses where stock decisions are made.
	Stock Stock `mapstructure:"stock"`
	// Upstreams are the shop's order backends, referenced by name.
	Upstreams []Upstream `mapstructure:"upstreams"`
	// Activities are the sales: an item, its stock and its time windows.
	Activities []Activity `mapstructure:"activities"`
	// Routes are matched in the order given.
	Routes []Route `mapstructure:"routes"`

	// File is the config file's path; "" for a config parsed from bytes.
	File string `mapstructure:"-"`
	// Dir is the directory of the config file; relative file paths in the
	// config (catalogue, blacklist files, key files) are relative to it.
	Dir string `mapstructure:"-"`
}

// Server configures the public fasthttp server.
type Server struct {
	// Listen is host:port. Default "127.0.0.1:8080".
	Listen string `mapstructure:"listen"`
	// ReadTimeout bounds reading a whole request. Default 5s.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout bounds writing a whole response. Default 5s.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 60s.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxHeaderBytes is the largest request header accepted; larger gets
	// 431. Default 8192.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
	// MaxBodyBytes is the largest request body accepted; larger gets 413.
	// Default 65536.
	MaxBodyBytes int `mapstructure:"max_body_bytes"`
	// MaxConns caps concurrent connections. Default 65536.
	MaxConns int `mapstructure:"max_conns"`
	// WriteBufferSize is each connection's response write buffer, in
	// bytes. A response larger than it leaves in more than one write(2);
	// a keep-alive connection keeps its buffer while it lives, so the
	// memory it can cost is write_buffer_size × max_conns. Default 0:
	// derived at start-up from the largest page actually served (the
	// rendered catalogue's largest HTML page, plain or gzip, images not
	// counted, and the largest rejection page) plus room for its headers,
	// rounded up to 1 KiB, never below fasthttp's 4096. Else 4096..1048576.
	WriteBufferSize int `mapstructure:"write_buffer_size"`
	// MaxInflight caps requests being handled at once; beyond it requests
	// are shed with the busy page (503 + Retry-After). 0 disables. Default 10000.
	MaxInflight int `mapstructure:"max_inflight"`
	// KeepAlive enables HTTP keep-alive. Default true.
	KeepAlive bool `mapstructure:"keep_alive"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	// Default 10s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// RealIPHeader names a header set by a trusted proxy in front that
	// carries the client address (e.g. "X-Real-IP"). Default "": the
	// connection's remote address.
	RealIPHeader string `mapstructure:"real_ip_header"`
	// RetryAfter is the Retry-After, in seconds, sent with busy pages.
	// Default 1.
	RetryAfter int `mapstructure:"retry_after"`
	// TLS serves HTTPS on Listen when its files are set. Default: plain
	// HTTP.
	TLS TLS `mapstructure:"tls"`
}

// TLS is a listener's certificate. Both files or neither; they are read
// at start-up and again on every reload, so a renewed certificate applies
// without a restart (turning TLS on or off needs one).
type TLS struct {
	// CertFile is the PEM certificate chain. Default "" (no TLS).
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the PEM private key of CertFile. Default "".
	KeyFile string `mapstructure:"key_file"`
}

// Enabled reports whether the listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Admin configures the operator API.
type Admin struct {
	// Listen is host:port for the admin API. Default "" (disabled).
	Listen string `mapstructure:"listen"`
	// Token is the bearer token the admin API requires. Required when
	// Listen is set; set it with FLASHGATE_ADMIN_TOKEN rather than in a file.
	Token string `mapstructure:"token"`
	// TLS serves the admin API over HTTPS when its files are set.
	// Default: plain HTTP.
	TLS TLS `mapstructure:"tls"`
}

// Reload configures reloading the config file without a restart.
type Reload struct {
	// Watch reloads the file when its content changes (an edit, a rename
	// over it, a Kubernetes ConfigMap update). Default false.
	Watch bool `mapstructure:"watch"`
	// Debounce is how long the file's directory must be quiet before the
	// file is read, so a burst of writes is one reload. Default 500ms.
	Debounce time.Duration `mapstructure:"debounce"`
}

// Log configures structured logging.
type Log struct {
	// Level is debug, info, warn or error. Default "info".
	Level string `mapstructure:"level"`
	// Format is "json" or "text". Default "json".
	Format string `mapstructure:"format"`
	// AccessEvery writes an access log line (slog JSON on stderr, whatever
	// Format and Level say) for one request in this many: 1 logs every
	// request, 100 one in a hundred. Default 0 (no access log).
	AccessEvery int `mapstructure:"access_every"`
}

// Static configures product pages and system pages.
type Static struct {
	// Templates is a directory of html/template files that replace the
	// embedded ones with the same name (product.html, busy.html, ...).
	// Default "" (embedded templates only).
	Templates string `mapstructure:"templates"`
	// Catalogue is a YAML or JSON file listing the products to pre-render.
	// Default "" (no product pages).
	Catalogue string `mapstructure:"catalogue"`
	// CacheControl is sent with product pages so a CDN can cache them.
	// Default "public, max-age=60".
	CacheControl string `mapstructure:"cache_control"`
	// CacheMB bounds the in-memory page cache. Default 64.
	CacheMB int `mapstructure:"cache_mb"`
	// ShopName is the shop's name in the header of every page. Default
	// "Shop".
	ShopName string `mapstructure:"shop_name"`
	// Home is the link back to the shop on every page. Default "/".
	Home string `mapstructure:"home"`
	// LoginURL is where the product page sends a visitor who is not
	// signed in, with ?next=<the page>. Default "" (no sign-in link).
	LoginURL string `mapstructure:"login_url"`
	// SignedInCookie names a cookie that scripts can read (not the
	// session itself) whose presence tells the product page that the
	// visitor is signed in, so an anonymous visitor never asks for an
	// order token. Default "": the page asks once and takes 401 as
	// signed out.
	SignedInCookie string `mapstructure:"signed_in_cookie"`
}

// Stock chooses the stock store.
type Stock struct {
	// Store is "memory" (one gateway) or "redis" (many). Default "memory".
	Store string `mapstructure:"store"`
	// Shards is the default number of shard keys per item. Default 4.
	Shards int `mapstructure:"shards"`
}

// Upstream is one order backend.
type Upstream struct {
	// Name is how routes refer to it. Required.
	Name string `mapstructure:"name"`
	// Addrs are host:port; requests are balanced over them. Required.
	Addrs []string `mapstructure:"addrs"`
	// ConnectTimeout bounds dialing. Default 1s.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// Timeout bounds a whole upstream exchange; past it the client gets
	// 504. Default 3s.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxConns caps connections per address. Default 512.
	MaxConns int `mapstructure:"max_conns"`
	// MaxIdleConnDuration closes idle upstream connections. Default 30s.
	MaxIdleConnDuration time.Duration `mapstructure:"max_idle_conn_duration"`
	// MaxResponseBytes caps an upstream response body. Default 1 MiB.
	MaxResponseBytes int `mapstructure:"max_response_bytes"`
	// BreakerFailures: the breaker opens after this many consecutive
	// failures (timeouts, unreachable, broken connections, 5xx; a full
	// local pool is not the backend's failure and does not count): while open, the routes that proxy here answer 503
	// at once, before their chain runs, so no stock is taken for orders
	// that cannot be delivered. Default 20; -1 disables.
	BreakerFailures int `mapstructure:"breaker_failures"`
	// BreakerOpen is how long the breaker stays open before it turns
	// half-open and lets probe requests through. Default 5s.
	BreakerOpen time.Duration `mapstructure:"breaker_open"`
	// BreakerProbes is how many requests a half-open breaker lets through
	// at once, and how many successes in a row close it; the first failed
	// probe opens it again. 1..1000. Default 1.
	BreakerProbes int `mapstructure:"breaker_probes"`
}

// Activity is one sale of one item.
type Activity struct {
	// ID names the activity in paths, keys and metrics. Required,
	// [A-Za-z0-9_-]{1,64}.
	ID string `mapstructure:"id"`
	// Product is the catalogue product sold. Default: ID.
	Product string `mapstructure:"product"`
	// Stock is the number of units. Required, >= 0.
	Stock int64 `mapstructure:"stock"`
	// Shards splits the stock over this many keys. Default stock.shards.
	Shards int `mapstructure:"shards"`
	// PerUser is how many units one user may buy. Default 1.
	PerUser int64 `mapstructure:"per_user"`
	// PayWithin, when set, holds every admitted unit until the backend
	// confirms its payment (POST /admin/activities/{id}/orders/{key}/paid)
	// and gives it back once this long has passed unpaid. 0 or 1s..720h.
	// Default 0: a unit is sold for good at admission.
	PayWithin time.Duration `mapstructure:"pay_within"`
	// Start and End bound the sale (RFC 3339). Zero means unbounded.
	Start time.Time `mapstructure:"start"`
	End   time.Time `mapstructure:"end"`
	// Windows are several sale windows, instead of Start/End (giving
	// both is an error). Each needs a start or an end.
	Windows []Window `mapstructure:"windows"`
}

// Window is one period in which an activity sells: [Start, End). A zero
// Start or End leaves that side open.
type Window struct {
	Start time.Time `mapstructure:"start"`
	End   time.Time `mapstructure:"end"`
}

// valid reports a window with a side and its end after its start.
func (w Window) valid() bool {
	return (!w.Start.IsZero() || !w.End.IsZero()) && (w.End.IsZero() || w.End.After(w.Start))
}

// overlaps reports whether w and o share an instant (an open side reaches
// for ever; [Start, End) touching End == o.Start does not overlap).
func (w Window) overlaps(o Window) bool {
	before := func(a, b time.Time) bool { return a.IsZero() || b.IsZero() || a.Before(b) } // a start before b end
	return before(w.Start, o.End) && before(o.Start, w.End)
}

// String is the window as "start..end", an open side as "".
func (w Window) String() string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	return f(w.Start) + ".." + f(w.End)
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	return (w.Start.IsZero() || !t.Before(w.Start)) && (w.End.IsZero() || t.Before(w.End))
}

// Route is a match, an ordered filter chain and an action.
type Route struct {
	// Name labels the route in metrics and logs. Default "METHOD path".
	Name string `mapstructure:"name"`
	// Method is the HTTP method. Default "GET".
	Method string `mapstructure:"method"`
	// Path is a fasthttp/router pattern. {activity} and {product} are
	// expanded at start-up to the configured ids, so those routes match
	// without allocating. Required.
	Path string `mapstructure:"path"`
	// Activities limits {activity} to these ids, so that different sales
	// can run different chains (a reservation-only launch beside an open
	// sale, say). Default: every configured activity.
	Activities []string `mapstructure:"activities"`
	// Filters run in the order given.
	Filters []Filter `mapstructure:"filters"`
	// Action is what an admitted request gets.
	Action Action `mapstructure:"action"`
	// Shed turns on adaptive overload shedding for the route. Default off.
	Shed Shed `mapstructure:"shed"`
}

// Filter is one entry of a route's chain, in YAML a one-key map from
// the filter type to its settings: `- rate_limit: {rate: 100}`.
type Filter struct {
	// Type is the registered filter type ("rate_limit").
	Type string
	// OnError is the settings' on_error: deny (default) or allow.
	OnError OnError
	// Settings are the type's own config struct, decoded and validated.
	Settings Section
	// Path is the YAML path of the settings, for the build's errors:
	// "routes[0].filters[1].rate_limit".
	Path string

	raw map[string]any // the YAML entry, until decodeSections reads it
}

// Shed configures a route's adaptive overload shedding (internal/shed):
// when even the fastest request of a whole interval took longer than
// target, new requests beyond what the route has shown it can hold in
// flight get the busy page (503 + Retry-After) before the chain runs.
type Shed struct {
	// Target is the latency (routing to answer ready, including the
	// upstream) the route should keep; set it above the route's normal
	// latency. 0 disables shedding. 1ms..60s. Default 0.
	Target time.Duration `mapstructure:"target"`
	// Interval is how long the latency must stay above target before the
	// route sheds, and the length of one of the 10 buckets its statistics
	// keep. 1ms..60s. Default 100ms.
	Interval time.Duration `mapstructure:"interval"`
}

// Action is what a route does with an admitted request.
type Action struct {
	// Type is "static", "proxy" or "json". Required.
	Type string `mapstructure:"type"`
	// Page is the static page key for type static; "{product}" serves the
	// route's product page.
	Page string `mapstructure:"page"`
	// Upstream names the upstream for type proxy.
	Upstream string `mapstructure:"upstream"`
	// Rewrite replaces the request path sent upstream (type proxy), e.g.
	// "/orders". Default "": the request's own path.
	Rewrite string `mapstructure:"rewrite"`
	// Mode is "sync" (the client waits for the backend's answer) or
	// "async" (the order is queued, the client gets 202 with a ticket to
	// poll, and a forwarder delivers at the queue's pace). Type proxy
	// only; async needs a stock filter in the chain. With stock.store
	// redis the queue is the shards' Redis Streams, drained by every
	// instance; with memory, an in-process queue. Default "sync".
	Mode string `mapstructure:"mode"`
	// Queue paces async deliveries. Required for mode async, refused
	// otherwise.
	Queue *Queue `mapstructure:"queue"`
	// Endpoint names the built-in endpoint for type json.
	Endpoint string `mapstructure:"endpoint"`
	// Config holds the endpoint's settings (type json only), as YAML.
	Config map[string]any `mapstructure:"config"`
	// Settings is Config decoded by the endpoint's schema.
	Settings Section `mapstructure:"-"`
}

// Queue is the delivery pace of an async proxy action.
type Queue struct {
	// Rate is deliveries per second to the upstream. Required, > 0.
	Rate float64 `mapstructure:"rate"`
	// MaxInflight bounds deliveries under way at once. Default 32.
	MaxInflight int `mapstructure:"max_inflight"`
	// Attempts is how many sends the backend may have seen (answered
	// 5xx, or no answer after sending) an order gets before it is
	// dead-lettered and its unit given back. Sends that never left the
	// gateway (breaker open, connection refused) and 429 / 503 with
	// Retry-After answers use none. Default 6.
	Attempts int `mapstructure:"attempts"`
	// Backoff is the wait before the first retry, doubling per failed
	// send with jitter (half fixed, half random). Default 200ms.
	Backoff time.Duration `mapstructure:"backoff"`
	// BackoffMax caps the doubling, and a backend's Retry-After. Default
	// 10s, >= backoff.
	BackoffMax time.Duration `mapstructure:"backoff_max"`
	// MaxWait bounds the retries: an order whose next send would start
	// more than max_wait after its admission is dead-lettered (reason
	// expired) and its unit given back. A first send is never refused
	// (a healthy backlog is not cut), so keep it above the longest line
	// a sale makes (units / rate). Default 10m (unset or 0: the
	// default; there is no "no limit"), >= backoff_max.
	MaxWait time.Duration `mapstructure:"max_wait"`
	// Capacity bounds the orders queued and not yet delivered or
	// dead-lettered; a purchase beyond it gets 503 busy and its unit
	// back. It also bounds the finished statuses kept for polling.
	// Memory store only (the Redis Streams hold at most the sale's
	// units). Default 65536.
	Capacity int `mapstructure:"capacity"`
	// ClaimIdle is how long an order a gateway is delivering may go
	// without news before another instance takes it over (it died): at
	// least twice the upstream's connect_timeout + timeout, since a live
	// forwarder refreshes its orders every claim_idle/3 and a takeover
	// sends the order again. Redis store only. Default 30s.
	ClaimIdle time.Duration `mapstructure:"claim_idle"`
}
