package override

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redisfence"
)

// Poll is how often every instance reads the shared overrides: a pause
// reaches every instance within Poll plus one Redis round trip.
const Poll = 250 * time.Millisecond

// NewRedis returns a Store shared through the hash <prefix>overrides.
// It reads the hash once before returning (so a gateway starting in the
// middle of a paused sale starts paused), then every Poll, each read
// bounded by timeout. A failed read keeps the last known overrides and is
// logged once until a read succeeds again: a gateway whose Redis is down
// at start starts, and its stock checks fail closed meanwhile.
func NewRedis(ctx context.Context, client rueidis.Client, prefix string, timeout time.Duration, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rb := &redisBackend{client: client, key: prefix + "overrides", timeout: timeout, stop: make(chan struct{}), log: log}
	s := NewMemory()
	s.be = rb
	gen := s.gen.Load()
	snap, err := rb.read(ctx)
	failing := err != nil
	if failing {
		log.Warn("overrides: cannot read Redis at start; pauses and window overrides apply once it answers", "err", err)
	} else {
		_ = s.apply(gen, snap)
	}
	rb.wg.Add(1)
	go rb.poll(s, failing)
	return s
}

type redisBackend struct {
	client  rueidis.Client
	key     string
	timeout time.Duration
	log     *slog.Logger
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

const (
	fieldPaused   = "paused:"
	fieldDecided  = "decided:"
	fieldWindow   = "window:"
	fieldWDecided = "wdecided:"
)

// wireWindow is a window as stored in Redis and shown by the admin API.
type wireWindow struct {
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
}

// A pause is the field paused:<id> = "1" (absent once resumed, as older
// gateways read it), and decided:<id> counts the operators' pause and
// resume decisions: a pause held on one instance while Redis refused it
// is shared later only if no decision was recorded since it was taken
// (sharePaused), so it never undoes a resume made meanwhile. A count kept
// by Redis, not a time: the instances' clocks need not agree.
// An operator's write is fenced (internal/redisfence): one Redis runs
// only after the call gave up is refused, so a 503 means nothing changed.
var setPauseScript = rueidis.NewLuaScript(redisfence.Prologue + `
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], ARGV[3], '1') else redis.call('HDEL', KEYS[1], ARGV[3]) end
return redis.call('HINCRBY', KEYS[1], ARGV[4], 1)`)

// sharePauseScript sets a held pause taken when the decision count was
// ARGV[1] (-1: unknown), unless a decision was recorded since (a higher
// count: a lower one means Redis lost decisions, not that anyone made
// one). Reply {code, count}, count the decisions Redis then holds; code
// 1 set, 2 already paused (another instance shared its own), 0 a later
// decision stands.
var sharePauseScript = rueidis.NewLuaScript(`
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0')
if redis.call('HGET', KEYS[1], ARGV[2]) == '1' then return {2, n} end
if tonumber(ARGV[1]) >= 0 and n > tonumber(ARGV[1]) then return {0, n} end
redis.call('HSET', KEYS[1], ARGV[2], '1')
return {1, redis.call('HINCRBY', KEYS[1], ARGV[3], 1)}`)

func (rb *redisBackend) setPaused(ctx context.Context, id string, paused bool) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, rb.timeout)
	defer cancel()
	flag := "0"
	if paused {
		flag = "1"
	}
	return redisfence.Exec(ctx, rb.client, setPauseScript, rb.key, flag, fieldPaused+id, fieldDecided+id)
}

func (rb *redisBackend) sharePaused(ctx context.Context, id string, base int64) (bool, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, rb.timeout)
	defer cancel()
	return codeCount(sharePauseScript.Exec(ctx, rb.client, []string{rb.key},
		[]string{strconv.FormatInt(base, 10), fieldPaused + id, fieldDecided + id}).AsIntSlice())
}

// codeCount reads a share script's {code, count}: ok for codes 1 and 2.
func codeCount(r []int64, err error) (bool, int64, error) {
	if err != nil {
		return false, 0, err
	}
	if len(r) != 2 {
		return false, 0, fmt.Errorf("override: unexpected script reply %v", r)
	}
	return r[0] == 1 || r[0] == 2, r[1], nil
}

// A window override is the field window:<id> (JSON, absent once
// cleared, as older gateways read it), and wdecided:<id> counts the
// operators' window decisions, so that a window Redis lost (fewer
// decisions than an instance read) is told from one an operator cleared.
var setWindowScript = rueidis.NewLuaScript(redisfence.Prologue + `
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[3]) else redis.call('HSET', KEYS[1], ARGV[3], ARGV[2]) end
return redis.call('HINCRBY', KEYS[1], ARGV[4], 1)`)

// shareWindowScript writes back window ARGV[1] (” for none) that Redis
// lost at window decision count ARGV[4], unless a decision was recorded
// since. Reply {code, count}: 1 written, 0 a later decision stands.
var shareWindowScript = rueidis.NewLuaScript(`
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0')
if n > tonumber(ARGV[4]) then return {0, n} end
if ARGV[1] == '' then redis.call('HDEL', KEYS[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[2], ARGV[1]) end
return {1, redis.call('HINCRBY', KEYS[1], ARGV[3], 1)}`)

func (rb *redisBackend) setWindow(ctx context.Context, id string, w *conf.Window) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, rb.timeout)
	defer cancel()
	v := ""
	if w != nil {
		v = windowJSON(*w)
	}
	return redisfence.Exec(ctx, rb.client, setWindowScript, rb.key, v, fieldWindow+id, fieldWDecided+id)
}

func (rb *redisBackend) shareWindow(ctx context.Context, id string, w *conf.Window, base int64) (bool, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, rb.timeout)
	defer cancel()
	v := ""
	if w != nil {
		v = windowJSON(*w)
	}
	return codeCount(shareWindowScript.Exec(ctx, rb.client, []string{rb.key},
		[]string{v, fieldWindow + id, fieldWDecided + id, strconv.FormatInt(base, 10)}).AsIntSlice())
}

func windowJSON(w conf.Window) string {
	var ww wireWindow
	if !w.Start.IsZero() {
		ww.Start = &w.Start
	}
	if !w.End.IsZero() {
		ww.End = &w.End
	}
	b, _ := json.Marshal(ww)
	return string(b)
}

func (rb *redisBackend) read(ctx context.Context) (map[string]Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, rb.timeout)
	defer cancel()
	m, err := rb.client.Do(ctx, rb.client.B().Hgetall().Key(rb.key).Build()).AsStrMap()
	if err != nil {
		return nil, err
	}
	snap := make(map[string]Entry, len(m))
	// count reads a decision count field into the entry of its id.
	count := func(id, v string, into func(*Entry) *int64) {
		e := snap[id]
		e.ID = id
		*into(&e), _ = strconv.ParseInt(v, 10, 64)
		snap[id] = e
	}
	for f, v := range m {
		switch {
		case strings.HasPrefix(f, fieldPaused):
			id := f[len(fieldPaused):]
			e := snap[id]
			e.ID, e.Paused = id, v == "1"
			snap[id] = e
		case strings.HasPrefix(f, fieldDecided):
			count(f[len(fieldDecided):], v, func(e *Entry) *int64 { return &e.decided })
		case strings.HasPrefix(f, fieldWDecided):
			count(f[len(fieldWDecided):], v, func(e *Entry) *int64 { return &e.wdecided })
		case strings.HasPrefix(f, fieldWindow):
			id := f[len(fieldWindow):]
			var ww wireWindow
			if json.Unmarshal([]byte(v), &ww) != nil {
				continue // not ours to judge; the admin API writes valid ones
			}
			var w conf.Window
			if ww.Start != nil {
				w.Start = *ww.Start
			}
			if ww.End != nil {
				w.End = *ww.End
			}
			if Validate(w) != nil {
				continue
			}
			e := snap[id]
			e.ID, e.Window = id, &w
			snap[id] = e
		}
	}
	return snap, nil
}

func (rb *redisBackend) poll(s *Store, failing bool) {
	defer rb.wg.Done()
	t := time.NewTicker(Poll)
	defer t.Stop()
	for {
		select {
		case <-rb.stop:
			return
		case <-t.C:
		}
		gen := s.gen.Load()
		snap, err := rb.read(context.Background())
		if err != nil {
			if !failing {
				rb.log.Warn("overrides: cannot read Redis; keeping the last known pauses and windows", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			rb.log.Info("overrides: Redis answers again")
		}
		failing = false
		r := s.apply(gen, snap)
		// Not by this instance (its own writes are logged by the admin
		// call): another instance's pause, or one lost from Redis, which
		// would resume a sale with nothing said.
		for _, id := range r.paused {
			rb.log.Info("overrides: activity paused, by another instance (read from Redis)", "activity", id)
		}
		for _, id := range r.resumed {
			rb.log.Warn("overrides: activity no longer paused, not by this instance: resumed on another instance", "activity", id)
		}
		for _, id := range r.keptPauses {
			rb.log.Warn("overrides: the pause was lost from Redis (it holds fewer decisions than this instance read: restarted empty, or failed over to a replica that lagged); it stays on, held here and shared again", "activity", id)
		}
		for _, id := range r.keptWindows {
			rb.log.Warn("overrides: the window override was lost from Redis (it holds fewer window decisions than this instance read); it stays in force, held here and written back", "activity", id)
		}
		shared, superseded := s.shareLocal(context.Background())
		for _, id := range shared {
			rb.log.Info("overrides: the pause held on this instance only is now shared with every instance", "activity", id)
		}
		for _, id := range superseded {
			rb.log.Warn("overrides: the pause held on this instance only is dropped: an operator paused or resumed the activity since, on another instance (Redis holds that decision)", "activity", id)
		}
		wshared, wsuperseded := s.shareWindows(context.Background())
		for _, id := range wshared {
			rb.log.Info("overrides: the window override Redis lost is written back", "activity", id)
		}
		for _, id := range wsuperseded {
			rb.log.Warn("overrides: the window override Redis lost is not written back: an operator set or cleared the window since (Redis holds that decision)", "activity", id)
		}
	}
}

func (rb *redisBackend) close() {
	rb.once.Do(func() { close(rb.stop) })
	rb.wg.Wait()
}
