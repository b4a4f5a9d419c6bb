// Package blacklist is the blacklist filter: risk control that turns away
// listed users and IP ranges with 403, from a local copy of a file and a
// Redis set that every instance shares, so the request path never waits
// on Redis.
package blacklist

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/userset"
	"github.com/flashgate/flashgate/gateway"
)

func init() {
	gateway.Register(gateway.Module{
		Name:    "blacklist",
		Filters: []gateway.FilterInfo{{Type: "blacklist", New: func() gateway.FilterConfig { return newConfig() }}},
		Admin:   adminRoutes,
	})
}

func newConfig() *Config {
	return &Config{RedisKey: "blacklist", Refresh: time.Second, Check: []string{"user", "ip"}}
}

// Config is the settings block of a blacklist entry.
type Config struct {
	// File lists entries, one a line: user ids, IP addresses, CIDRs; '#'
	// starts a comment. A relative path is relative to the config file.
	// It is read when the config is built (a reload re-reads it); a bad
	// line fails the build. Default "" (none).
	File string `mapstructure:"file"`
	// RedisKey is the Redis set, under redis.prefix, shared by every
	// instance and written by the admin API. "" uses the file alone.
	// Default "blacklist".
	RedisKey string `mapstructure:"redis_key"`
	// Refresh is how often the local copy reloads the Redis set, so an
	// entry added on another instance applies here within it. > 0.
	// Default 1s.
	Refresh time.Duration `mapstructure:"refresh"`
	// Check lists what is matched: "user" (the authenticated user id; put
	// identity first) and/or "ip" (the client address). Default [user, ip].
	Check []string `mapstructure:"check"`
}

// Validate checks the settings without I/O.
func (c *Config) Validate(at conf.At) {
	if c.File == "" && c.RedisKey == "" {
		at.Addf("file", "set file, redis_key or both")
	}
	if c.Refresh <= 0 {
		at.Addf("refresh", "must be > 0, got %s", c.Refresh)
	}
	if len(c.Check) == 0 {
		at.Addf("check", "must name user, ip or both")
	}
	seen := map[string]bool{}
	for i, v := range c.Check {
		switch {
		case v != "user" && v != "ip":
			at.Addf(conf.Index("check", i), "must be user or ip, got %q", v)
		case seen[v]:
			at.Addf(conf.Index("check", i), "%q is listed twice", v)
		}
		seen[v] = true
	}
}

// list is one blacklist copy, shared by every entry naming the same
// redis_key and file, with one background reload.
type list struct {
	redisKey string // as configured, without the prefix
	file     string
	m        *userset.Mirror[snapshot]
}

func (l *list) Close() error { return l.m.Close() }

// registry lets the admin API reach every blacklist of the instance.
type registry struct {
	mu    sync.Mutex
	lists []*list
}

func (g *registry) add(l *list) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, x := range g.lists {
		if x == l {
			return
		}
	}
	g.lists = append(g.lists, l)
}

func (g *registry) all() []*list {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*list(nil), g.lists...)
}

// Shared keys: the instance's registry of lists (read by the admin
// calls), and each list, one per redis_key and file.
var (
	registryKey = gateway.NewSharedKey[*registry]("blacklist")
	listKey     = gateway.NewSharedKey[*list]("blacklist")
)

// initialLoad bounds the first Redis load at build time.
const initialLoad = 2 * time.Second

// Build loads the file, shares one copy per redis_key and file, and makes
// the first Redis load (on failure the file entries apply until a reload
// succeeds).
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	if c.RedisKey != "" && env.Redis == nil {
		return nil, fmt.Errorf("redis_key: %q needs redis.addrs; set redis_key: \"\" to use the file alone", c.RedisKey)
	}
	file := env.Config.Resolve(c.File)
	l, err := gateway.Share(env, listKey.With(c.RedisKey+"|"+file), func() (*list, error) { return c.newList(env, file) })
	if err != nil {
		return nil, err
	}
	l.m.LowerRefresh(c.Refresh)
	reg, _ := gateway.Share(env, registryKey, func() (*registry, error) { return new(registry), nil })
	reg.add(l)
	f := &filter{l: l}
	for _, ch := range c.Check {
		f.user = f.user || ch == "user"
		f.ip = f.ip || ch == "ip"
	}
	f.page, err = env.Page(gateway.PageSpec{Status: 403, Reason: "blacklisted", Kind: "blocked",
		Message: "Access denied. If you think this is a mistake, contact support."})
	return f, err
}

func (c *Config) newList(env *gateway.Env, file string) (*list, error) {
	var static []string
	if file != "" {
		var err error
		if static, err = readFile(file); err != nil {
			return nil, fmt.Errorf("file: %w", err)
		}
	}
	key := ""
	if c.RedisKey != "" {
		key = env.RedisPrefix() + c.RedisKey
	}
	log := env.Logger.With("filter", "blacklist", "key", key, "file", file)
	var warned atomic.Pointer[string] // the skipped members last logged: each change once, not every refresh
	m := userset.New(userset.Options[snapshot]{
		Client: env.BackgroundRedis(), Key: key, Static: static, Refresh: c.Refresh, Provisional: true, Logger: log,
		Build: func(entries []string) *snapshot {
			s := build(entries)
			if seen := strings.Join(s.invalid, "\x00"); len(s.invalid) > 0 && (warned.Load() == nil || *warned.Load() != seen) {
				log.Warn("skipping Redis members that are not blacklist entries (DELETE /admin/blacklist?entry= removes one as written)",
					"count", len(s.invalid), "first", s.invalid[0])
				warned.Store(&seen)
			} else if len(s.invalid) == 0 {
				warned.Store(nil)
			}
			return s
		},
	})
	if m.HasRedis() {
		ctx, cancel := context.WithTimeout(context.Background(), initialLoad)
		err := m.Refresh(ctx)
		cancel()
		if err != nil {
			log.Warn("first load of the blacklist failed; the file entries apply until a reload succeeds", "err", err)
		}
		m.Start()
	}
	return &list{redisKey: c.RedisKey, file: file, m: m}, nil
}

// readFile reads a blacklist file, reporting every bad line.
func readFile(path string) ([]string, error) {
	lines, err := userset.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(lines))
	var bad []string
	for _, ln := range lines {
		e, err := parseEntry(ln.Text)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s:%d: %v", path, ln.N, err))
			continue
		}
		out = append(out, e.String())
	}
	if len(bad) > 0 {
		return nil, userset.Problems(bad)
	}
	return out, nil
}

// filter checks a request against the current copy.
type filter struct {
	l        *list
	user, ip bool
	page     *gateway.Page
}

// Handle rejects a listed user or an address in a listed range. It reads
// the local copy only: never Redis, never an error.
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	s := f.l.m.Load()
	if f.user && len(r.User) > 0 && s.hasUser(r.User) {
		return gateway.RejectWith(f.page), nil
	}
	if f.ip && s.hasIP(r.IP) {
		return gateway.RejectWith(f.page), nil
	}
	return gateway.Pass, nil
}

var (
	_ gateway.FilterConfig = (*Config)(nil)
	_ gateway.Filter       = (*filter)(nil)
)
