package conf

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes environment overrides: FLASHGATE_SERVER_LISTEN
// overrides server.listen.
const EnvPrefix = "FLASHGATE"

// Load reads, decodes, defaults and validates the YAML file at path.
// Every error names the file and the YAML path it concerns. Like Parse,
// it returns the partial config beside validation errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if cfg != nil {
		cfg.resolvePaths(filepath.Dir(path))
	}
	if err != nil {
		return cfg, PrefixFile(path, err)
	}
	return cfg, nil
}

// resolvePaths makes file paths in the config relative to the config
// file's directory, so a config works from any working directory.
func (c *Config) resolvePaths(dir string) {
	c.Dir = dir
	c.Static.Templates = c.Resolve(c.Static.Templates)
	c.Static.Catalogue = c.Resolve(c.Static.Catalogue)
}

// Parse decodes, defaults and validates YAML config bytes. On validation
// errors it also returns the config as far as it decoded, so that
// `flashgate check` can go on to check the filters; callers that serve
// must not use it.
func Parse(data []byte) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	var cfg Config
	var errs Errors
	if err := Decode(v.AllSettings(), &cfg); err != nil {
		// Keep going: validation still reports the fields that decoded,
		// so one run lists every problem in the file.
		errs.Add("", err)
	}
	cfg.applyDefaults()
	cfg.Validate(&errs)
	errs.NameEnv(envOverride)
	if err := errs.Err(); err != nil {
		return &cfg, err
	}
	return &cfg, nil
}

// EnvName is the environment variable that overrides the YAML key at
// path: server.max_inflight is FLASHGATE_SERVER_MAX_INFLIGHT. Keys inside
// lists (routes[0].path) have none.
func EnvName(path string) string {
	if path == "" || strings.ContainsAny(path, "[]") {
		return ""
	}
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// envOverride names the variable that set path, or "" when none is set.
func envOverride(path string) string {
	name := EnvName(path)
	if name == "" {
		return ""
	}
	if _, set := os.LookupEnv(name); !set {
		return ""
	}
	return name
}

// Decode decodes a YAML-shaped value strictly into out: unknown keys and
// wrong types are errors, durations and RFC 3339 times are parsed.
// Filters use it for their own sections.
func Decode(in any, out any) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			envScalarHook,
			integerHook,
			mapstructure.StringToTimeHookFunc(time.RFC3339),
		),
		ErrorUnused:      true,
		WeaklyTypedInput: false,
		Result:           out,
		TagName:          "mapstructure",
	})
	if err != nil {
		return err
	}
	return d.Decode(in)
}

// durationHook accepts "250ms"-style strings for time.Duration and refuses
// bare numbers, which are ambiguous (seconds? nanoseconds?).
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		return time.ParseDuration(d)
	case time.Duration:
		return d, nil
	case int, int64, float64, uint64:
		if fmt.Sprint(d) == "0" {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("duration needs a unit, e.g. \"%vs\"", d)
	}
	return data, nil
}

// envScalarHook turns a string that parses as the target's number or bool
// into it: environment overrides (FLASHGATE_SERVER_MAX_INFLIGHT=5) arrive
// as strings. A string that does not parse is left for the decoder to
// refuse with its "wrong type" error.
func envScalarHook(from, to reflect.Type, data any) (any, error) {
	str, ok := data.(string)
	if !ok || to == reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, err := strconv.ParseInt(strings.TrimSpace(str), 10, 64); err == nil {
			return n, nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, err := strconv.ParseUint(strings.TrimSpace(str), 10, 64); err == nil {
			return n, nil
		}
	case reflect.Float32, reflect.Float64:
		if f, err := strconv.ParseFloat(strings.TrimSpace(str), 64); err == nil {
			return f, nil
		}
	case reflect.Bool:
		if b, err := strconv.ParseBool(strings.TrimSpace(str)); err == nil {
			return b, nil
		}
	}
	return data, nil
}

// integerHook refuses a fractional number for an integer field, which
// mapstructure would otherwise truncate (burst: 2.5 becoming 2).
func integerHook(from, to reflect.Type, data any) (any, error) {
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return data, nil
	}
	if to == reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	if f, ok := data.(float64); ok && f != float64(int64(f)) {
		return nil, fmt.Errorf("must be a whole number, got %v", f)
	}
	return data, nil
}

// setDefaults registers every scalar key with viper so that FLASHGATE_*
// environment variables can override it even when the file omits it.
func setDefaults(v *viper.Viper) {
	for k, val := range map[string]any{
		"server.listen":            "127.0.0.1:8080",
		"server.read_timeout":      "5s",
		"server.write_timeout":     "5s",
		"server.idle_timeout":      "60s",
		"server.max_header_bytes":  8192,
		"server.max_body_bytes":    65536,
		"server.max_conns":         65536,
		"server.write_buffer_size": 0,
		"server.max_inflight":      10000,
		"server.keep_alive":        true,
		"server.shutdown_timeout":  "10s",
		"server.real_ip_header":    "",
		"server.retry_after":       1,
		"admin.listen":             "",
		"admin.token":              "",
		"log.level":                "info",
		"log.format":               "json",
		"static.templates":         "",
		"static.catalogue":         "",
		"static.cache_control":     "public, max-age=60",
		"static.cache_mb":          64,
		"static.shop_name":         "Shop",
		"static.home":              "/",
		"static.login_url":         "",
		"static.signed_in_cookie":  "",
		"redis.username":           "",
		"redis.password":           "",
		"redis.timeout":            "100ms",
		"redis.dial_timeout":       "1s",
		"redis.prefix":             "fg:",
		"redis.breaker_failures":   5,
		"redis.breaker_open":       "1s",
		"redis.breaker_probes":     1,
		"stock.store":              "memory",
		"stock.shards":             4,
	} {
		v.SetDefault(k, val)
	}
}

// applyDefaults fills what viper's key defaults cannot reach: list items.
func (c *Config) applyDefaults() {
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		def(&u.ConnectTimeout, time.Second)
		def(&u.Timeout, 3*time.Second)
		def(&u.MaxConns, 512)
		def(&u.MaxIdleConnDuration, 30*time.Second)
		def(&u.MaxResponseBytes, 1<<20)
		def(&u.BreakerFailures, 20)
		def(&u.BreakerOpen, 5*time.Second)
		def(&u.BreakerProbes, 1)
	}
	for i := range c.Activities {
		a := &c.Activities[i]
		def(&a.Product, a.ID)
		def(&a.Shards, c.Stock.Shards)
		def(&a.PerUser, 1)
		if len(a.Windows) == 0 && (!a.Start.IsZero() || !a.End.IsZero()) {
			a.Windows = []Window{{Start: a.Start, End: a.End}}
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		def(&r.Method, "GET")
		r.Method = strings.ToUpper(r.Method)
		def(&r.Name, r.Method+" "+r.Path)
		if r.Shed.Target > 0 {
			def(&r.Shed.Interval, 100*time.Millisecond)
		}
	}
}

func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks the whole config and records every problem in errs.
// It does no I/O; filter sections are checked by the gateway's registry.
func (c *Config) Validate(errs *Errors) {
	s := c.Server
	checkAddr(errs, "server.listen", s.Listen, true)
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
		errs.Addf("server.write_buffer_size", "must be 0 (derived from the pages) or in %d..%d, got %d", MinWriteBuffer, MaxWriteBuffer, w)
	}
	if s.MaxInflight < 0 {
		errs.Addf("server.max_inflight", "must be >= 0, got %d", s.MaxInflight)
	}
	if s.RetryAfter < 1 {
		errs.Addf("server.retry_after", "must be >= 1, got %d", s.RetryAfter)
	}
	if c.Admin.Listen != "" {
		checkAddr(errs, "admin.listen", c.Admin.Listen, true)
		if len(c.Admin.Token) < 16 {
			errs.Addf("admin.token", "required when admin.listen is set, at least 16 characters (set FLASHGATE_ADMIN_TOKEN)")
		}
	}
	oneOf(errs, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(errs, "log.format", c.Log.Format, "json", "text")
	positive(errs, "static.cache_mb", c.Static.CacheMB)
	if c.Static.ShopName == "" {
		errs.Addf("static.shop_name", "must not be empty")
	}
	localURL(errs, "static.home", c.Static.Home, true)
	localURL(errs, "static.login_url", c.Static.LoginURL, false)
	if n := c.Static.SignedInCookie; n != "" && strings.ContainsAny(n, " \t\r\n;,=\"") {
		errs.Addf("static.signed_in_cookie", "must be a cookie name, got %q", n)
	}
	for i, a := range c.Redis.Addrs {
		checkAddr(errs, Index("redis.addrs", i), a, true)
	}
	positive(errs, "redis.timeout", c.Redis.Timeout)
	positive(errs, "redis.dial_timeout", c.Redis.DialTimeout)
	if c.Redis.BreakerFailures < -1 || c.Redis.BreakerFailures == 0 {
		errs.Addf("redis.breaker_failures", "must be >= 1, or -1 to disable; got %d", c.Redis.BreakerFailures)
	}
	positive(errs, "redis.breaker_open", c.Redis.BreakerOpen)
	if c.Redis.BreakerProbes < 1 || c.Redis.BreakerProbes > 1000 {
		errs.Addf("redis.breaker_probes", "must be in 1..1000, got %d", c.Redis.BreakerProbes)
	}
	oneOf(errs, "stock.store", c.Stock.Store, "memory", "redis")
	if c.Stock.Store == "redis" && len(c.Redis.Addrs) == 0 {
		errs.Addf("stock.store", "\"redis\" needs redis.addrs")
	}
	if c.Stock.Shards < 1 || c.Stock.Shards > 1024 {
		errs.Addf("stock.shards", "must be in 1..1024, got %d", c.Stock.Shards)
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
		if !idPattern.MatchString(u.Name) {
			errs.Addf(Join(p, "name"), "required, [A-Za-z0-9_-]{1,64}, got %q", u.Name)
		} else if seen[u.Name] {
			errs.Addf(Join(p, "name"), "duplicate upstream %q", u.Name)
		}
		seen[u.Name] = true
		if len(u.Addrs) == 0 {
			errs.Addf(Join(p, "addrs"), "at least one host:port is required")
		}
		for j, a := range u.Addrs {
			checkAddr(errs, Index(Join(p, "addrs"), j), a, false)
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
		if !idPattern.MatchString(a.ID) {
			errs.Addf(Join(p, "id"), "required, [A-Za-z0-9_-]{1,64}, got %q", a.ID)
		} else if seen[a.ID] {
			errs.Addf(Join(p, "id"), "duplicate activity %q", a.ID)
		}
		seen[a.ID] = true
		if !idPattern.MatchString(a.Product) {
			errs.Addf(Join(p, "product"), "must match [A-Za-z0-9_-]{1,64}, got %q", a.Product)
		}
		if a.Stock < 0 || a.Stock > 1<<40 {
			errs.Addf(Join(p, "stock"), "must be in 0..2^40, got %d", a.Stock)
		}
		if a.Shards < 1 || a.Shards > 1024 {
			errs.Addf(Join(p, "shards"), "must be in 1..1024, got %d", a.Shards)
		}
		if a.PerUser < 1 {
			errs.Addf(Join(p, "per_user"), "must be >= 1, got %d", a.PerUser)
		}
		for j, w := range a.Windows {
			if !w.End.IsZero() && !w.End.After(w.Start) {
				errs.Addf(Index(Join(p, "windows"), j), "end %s must be after start %s",
					w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
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
	for i, r := range c.Routes {
		p := Index("routes", i)
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
			if len(f) != 1 {
				errs.Addf(Index(Join(p, "filters"), j), "must be a one-key map {type: settings}, got %d keys", len(f))
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
		case "json":
			if r.Action.Endpoint == "" {
				errs.Addf(Join(ap, "endpoint"), "required for a json action")
			}
		default:
			errs.Addf(Join(ap, "type"), "must be one of static, proxy, json; got %q", r.Action.Type)
		}
	}
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

func checkAddr(errs *Errors, path, addr string, listen bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || (!listen && host == "") {
		errs.Addf(path, "must be host:port, got %q", addr)
	}
}

// PrefixFile puts the config file's name before every line of a joined
// error, so each line reads "flashgate.yaml: routes[0].path: ...".
func PrefixFile(path string, err error) error {
	if err == nil {
		return nil
	}
	name := filepath.Base(path)
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = name + ": " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}
