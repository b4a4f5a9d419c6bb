// Package reservation is the reservation filter: a sale that requires
// pre-registration admits only the users on its list. Each activity's list
// is a local copy of a Redis set (plus an optional file), loaded when the
// config is built and refreshed in the background, so the request path
// never waits on Redis.
package reservation

import (
	"fmt"
	"strings"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/userset"
	"github.com/flashgate/flashgate/gateway"
)

func init() {
	gateway.Register(gateway.Module{
		Name:    "reservation",
		Filters: []gateway.FilterInfo{{Type: "reservation", New: func() gateway.FilterConfig { return newConfig() }}},
		Admin:   adminRoutes,
	})
}

func newConfig() *Config {
	return &Config{RedisKeyPattern: "reservations:{activity}", Refresh: 5 * time.Second}
}

// placeholder is replaced by the activity id in redis_key_pattern.
const placeholder = "{activity}"

// Config is the settings block of a reservation entry.
type Config struct {
	// File lists reserved user ids, one a line ('#' comments), for every
	// activity of the entry. A relative path is relative to the config
	// file. It is read when the config is built (a reload re-reads it); a
	// bad line fails the build. Default "" (none).
	File string `mapstructure:"file"`
	// RedisKeyPattern names each activity's Redis set, under redis.prefix;
	// {activity} is replaced by the activity id. The admin API fills it
	// (POST /admin/activities/{id}/reservations). "" uses the file alone.
	// Default "reservations:{activity}".
	RedisKeyPattern string `mapstructure:"redis_key_pattern"`
	// Refresh is how often each local copy reloads its set. > 0.
	// Default 5s.
	Refresh time.Duration `mapstructure:"refresh"`
	// Activities are the ids that require a reservation; the route's other
	// activities pass. Default: every activity of the route.
	Activities []string `mapstructure:"activities"`
}

// Validate checks the settings without I/O.
func (c *Config) Validate(at conf.At) {
	if c.File == "" && c.RedisKeyPattern == "" {
		at.Addf("file", "set file, redis_key_pattern or both")
	}
	if c.RedisKeyPattern != "" && !strings.Contains(c.RedisKeyPattern, placeholder) {
		at.Addf("redis_key_pattern", "must contain {activity} (one set per activity), got %q", c.RedisKeyPattern)
	}
	if c.Refresh <= 0 {
		at.Addf("refresh", "must be > 0, got %s", c.Refresh)
	}
	seen := map[string]bool{}
	for i, id := range c.Activities {
		if seen[id] {
			at.Addf(conf.Index("activities", i), "%q is listed twice", id)
		}
		seen[id] = true
	}
}

// Build resolves the activities, then shares one local copy per Redis set
// and file across every entry of the instance.
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	if len(env.Activities) == 0 {
		return nil, fmt.Errorf("reservation needs {activity} in the route path")
	}
	if c.RedisKeyPattern != "" && env.Redis == nil {
		return nil, fmt.Errorf("redis_key_pattern: %q needs redis.addrs; set redis_key_pattern: \"\" to use the file alone", c.RedisKeyPattern)
	}
	acts, err := c.activities(env)
	if err != nil {
		return nil, err
	}
	var static []string
	file := env.Config.Resolve(c.File)
	if file != "" {
		if static, err = userset.Users(file); err != nil {
			return nil, fmt.Errorf("file: %w", err)
		}
	}
	h, err := gateway.Share(env, hubKey, func() (*hub, error) { return newHub(), nil })
	if err != nil {
		return nil, err
	}
	prefix := env.RedisPrefix()
	specs := make([]spec, len(acts))
	for i, a := range acts {
		specs[i] = spec{activity: a.ID, file: file, static: static}
		if c.RedisKeyPattern != "" {
			specs[i].key = prefix + strings.ReplaceAll(c.RedisKeyPattern, placeholder, a.ID)
		}
	}
	mirrors := h.mirrors(env, specs, c.Refresh)
	f := &filter{byIndex: make([]*userset.Mirror[userset.Set], len(env.AllActivities))}
	for i, a := range acts {
		if a.Index >= len(f.byIndex) {
			return nil, fmt.Errorf("activity %q has index %d beyond the %d activities configured", a.ID, a.Index, len(f.byIndex))
		}
		f.byIndex[a.Index] = mirrors[i]
	}
	if f.login, err = env.Page(gateway.PageSpec{Status: 401, Reason: "reservation_requires_login", Kind: "blocked",
		Message: "This sale is for registered customers: please log in first."}); err != nil {
		return nil, err
	}
	f.notReserved, err = env.Page(gateway.PageSpec{Status: 403, Reason: "not_reserved", Kind: "blocked",
		Message: "This sale is open to customers who reserved in advance only."})
	return f, err
}

// activities resolves the configured ids against the route's activities.
func (c *Config) activities(env *gateway.Env) ([]*gateway.Activity, error) {
	if len(c.Activities) == 0 {
		return env.Activities, nil
	}
	byID := make(map[string]*gateway.Activity, len(env.Activities))
	for _, a := range env.Activities {
		byID[a.ID] = a
	}
	out := make([]*gateway.Activity, 0, len(c.Activities))
	var bad []string
	for i, id := range c.Activities {
		a := byID[id]
		if a == nil {
			bad = append(bad, fmt.Sprintf("activities[%d]: %q is not an activity of this route", i, id))
			continue
		}
		out = append(out, a)
	}
	if len(bad) > 0 {
		return nil, userset.Problems(bad)
	}
	return out, nil
}

// filter admits reserved users of the activities it guards.
type filter struct {
	byIndex     []*userset.Mirror[userset.Set] // by Activity.Index; nil: no reservation needed
	login       *gateway.Page
	notReserved *gateway.Page
}

// Handle asks anonymous users to log in, refuses users not on the list,
// and fails closed (ErrUnavailable) while a list has never loaded.
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	a := r.Activity
	if a == nil || a.Index >= len(f.byIndex) || f.byIndex[a.Index] == nil {
		return gateway.Pass, nil
	}
	if r.Anonymous() {
		return gateway.RejectWith(f.login), nil
	}
	s := f.byIndex[a.Index].Load()
	if s == nil {
		return gateway.Verdict{}, gateway.ErrUnavailable
	}
	if !s.Has(r.User) {
		return gateway.RejectWith(f.notReserved), nil
	}
	return gateway.Pass, nil
}

var (
	_ gateway.FilterConfig = (*Config)(nil)
	_ gateway.Filter       = (*filter)(nil)
)
