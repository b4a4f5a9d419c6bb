package conf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// DefaultRedisPrefix is redis.prefix when the file does not set it.
const DefaultRedisPrefix = "fg:"

// EnvPrefix prefixes environment overrides: FLASHGATE_SERVER_LISTEN
// overrides server.listen.
const EnvPrefix = "FLASHGATE"

// Load reads, decodes, defaults and validates the YAML file at path:
// the whole file, the filters' and endpoints' own sections included. A
// problem in it is a *FileError naming the file, holding every problem
// with its YAML path; on error no config is returned.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := parse(data, filepath.Dir(path))
	if err != nil {
		return nil, InFile(path, err)
	}
	cfg.File = path
	return cfg, nil
}

// Resolve returns path relative to the config file's directory, so a
// config works from any working directory. Absolute and empty paths are
// returned unchanged.
func (c *Config) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || c == nil || c.Dir == "" {
		return path
	}
	return filepath.Join(c.Dir, path)
}

// resolvePaths makes file paths in the config relative to the config
// file's directory, so a config works from any working directory.
func (c *Config) resolvePaths(dir string) {
	c.Dir = dir
	c.Static.Templates = c.Resolve(c.Static.Templates)
	c.Static.Catalogue = c.Resolve(c.Static.Catalogue)
	for _, p := range []*string{&c.Server.TLS.CertFile, &c.Server.TLS.KeyFile, &c.Admin.TLS.CertFile, &c.Admin.TLS.KeyFile,
		&c.Redis.TLS.CAFile, &c.Redis.TLS.CertFile, &c.Redis.TLS.KeyFile} {
		*p = c.Resolve(*p)
	}
}

// Parse is Load for config bytes: relative file paths stay relative to
// the working directory, and a problem is a *FileError with no file.
func Parse(data []byte) (*Config, error) { return parse(data, "") }

// parse is the decode and validate stage: YAML, environment overrides,
// strict decoding, defaults, the filters' and endpoints' sections, then
// Validate. It reports every problem at once and returns no config
// beside them.
func parse(data []byte, dir string) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	if err := notAMapping(data); err != nil {
		return nil, &FileError{Errs: []error{err}}
	}
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		// viper wraps the YAML parser's "yaml: line N: ..." in "While
		// parsing config: ": report the parser's own words once.
		var pe viper.ConfigParseError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		}
		return nil, &FileError{Errs: yamlProblems(err)}
	}
	var cfg Config
	var errs Errors
	// The file's keys are checked against the schema on the YAML tree
	// (checkKeys), not on viper's flattened settings, which drop a key
	// whose value is empty; so the decode here does not report unused
	// keys itself, or each would be reported twice.
	if err := decode(v.AllSettings(), &cfg, false); err != nil {
		// Keep going: validation still reports the fields that decoded,
		// so one run lists every problem in the file.
		errs.Add("", err)
	}
	checkKeys(&errs, data, &cfg)
	unknownEnv(v, &errs)
	cfg.applyDefaults()
	if dir != "" {
		cfg.resolvePaths(dir)
	}
	cfg.Validate(&errs)
	cfg.decodeSections(&errs)
	if errs.Len() > 0 {
		registry().Check(&cfg, &errs)
	}
	errs.NameEnv(envOverride)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Decode decodes a YAML-shaped value strictly into out: unknown keys and
// wrong types are errors, durations and RFC 3339 times are parsed.
// Filters use it for their own sections.
func Decode(in any, out any) error { return decode(in, out, true) }

func decode(in any, out any, errorUnused bool) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			envScalarHook,
			integerHook,
			filterHook,
			timeHook,
		),
		ErrorUnused:      errorUnused,
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

// timeHook parses RFC 3339 strings for time.Time, saying what it wants
// when one does not parse (the time package's "parsing time as
// \"2006-01-02T15:04:05Z07:00\": cannot parse ..." names a layout, not
// the mistake).
func timeHook(from, to reflect.Type, data any) (any, error) {
	str, ok := data.(string)
	if !ok || to != reflect.TypeOf(time.Time{}) {
		return data, nil
	}
	t, err := time.Parse(time.RFC3339, str)
	if err != nil {
		return nil, fmt.Errorf("must be an RFC 3339 time with its offset, such as 2026-11-11T20:00:00+08:00 or 2026-11-11T12:00:00Z, got %q", str)
	}
	return t, nil
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
		"redis.prefix":             DefaultRedisPrefix,
		"redis.breaker_failures":   5,
		"redis.breaker_open":       "1s",
		"redis.breaker_probes":     1,
		"redis.wait_replicas":      0,
		"redis.wait_timeout":       "50ms",
		"stock.store":              "memory",
		"stock.shards":             4,
		"server.tls.cert_file":     "",
		"server.tls.key_file":      "",
		"admin.tls.cert_file":      "",
		"admin.tls.key_file":       "",
		"redis.tls.enabled":        false,
		"redis.tls.ca_file":        "",
		"redis.tls.cert_file":      "",
		"redis.tls.key_file":       "",
		"redis.tls.server_name":    "",
		"reload.watch":             false,
		"reload.debounce":          "500ms",
		"log.access_every":         0,
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
		if len(r.Activities) > 0 { // routes that split one pattern's sales keep apart
			def(&r.Name, r.Method+" "+r.Path+" ["+strings.Join(r.Activities, ",")+"]")
		}
		def(&r.Name, r.Method+" "+r.Path)
		if r.Action.Type == "proxy" {
			def(&r.Action.Mode, "sync")
		}
		if q := r.Action.Queue; q != nil {
			def(&q.MaxInflight, 32)
			def(&q.Attempts, 6)
			def(&q.Backoff, 200*time.Millisecond)
			def(&q.BackoffMax, 10*time.Second)
			def(&q.MaxWait, 10*time.Minute)
			def(&q.Capacity, 65536)
			def(&q.ClaimIdle, 30*time.Second)
		}
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

// yamlProblems splits the parser's list of problems ("yaml: unmarshal
// errors:" and one indented "line N: ..." each, such as a key given
// twice) into one error a line, so that every problem names its line and
// none is a bare header.
func yamlProblems(err error) []error {
	head, rest, ok := strings.Cut(err.Error(), "\n")
	if !ok || head != "yaml: unmarshal errors:" {
		return []error{err}
	}
	var errs []error
	for _, l := range strings.Split(rest, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			errs = append(errs, errors.New("yaml: "+l))
		}
	}
	if len(errs) == 0 {
		return []error{err}
	}
	return errs
}
