package gateway

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// connErrorPrefix starts fasthttp's per-connection error line
// (workerpool.go: "error when serving connection %q<->%q: %v").
const connErrorPrefix = "error when serving connection"

// connLogEvery is the shortest gap between two logged connection errors.
const connLogEvery = 10 * time.Second

// fasthttpLog is the public server's fasthttp Logger. Any client can
// cause a per-connection error at will (`printf 'GARBAGE\r\n\r\n' | nc`,
// a 70 KB body), so logging each one would let it grow the log without
// limit: they are counted in flashgate_connection_errors_total and logged
// at most once per connLogEvery, with the number left out since the last
// line. fasthttp's other lines (accept errors, the concurrency limit,
// which it limits to one a minute itself) are logged as they come.
type fasthttpLog struct {
	log   *slog.Logger
	count interface{ Inc() }
	every sampled
}

func newFasthttpLog(log *slog.Logger, now func() time.Time) *fasthttpLog {
	return &fasthttpLog{log: log, count: connErrorsTotal, every: sampled{now: now}}
}

// sampled lets one line through per connLogEvery, for lines any client
// can cause at will: it counts the ones it holds back.
type sampled struct {
	now func() time.Time // nil: time.Now

	mu         sync.Mutex
	last       time.Time // when a line was last let through
	suppressed int
}

// allow reports whether a line may be written now and, if so, how many
// were held back since the last one.
func (s *sampled) allow() (held int, ok bool) {
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now()
	if !s.last.IsZero() && t.Sub(s.last) < connLogEvery {
		s.suppressed++
		return 0, false
	}
	held, s.last, s.suppressed = s.suppressed, t, 0
	return held, true
}

// Printf implements fasthttp.Logger.
func (l *fasthttpLog) Printf(format string, args ...any) {
	if !strings.HasPrefix(format, connErrorPrefix) {
		l.log.Warn("fasthttp", "error", redactQuoted(fmt.Sprintf(format, args...)))
		return
	}
	l.count.Inc()
	n, ok := l.every.allow()
	if !ok {
		return
	}
	l.log.Warn("connection error", "error", redactQuoted(fmt.Sprintf(format, args...)), "not_logged_since_last", n,
		"note", "at most one a "+connLogEvery.String()+"; all are counted in flashgate_connection_errors_total")
}

// redactQuoted replaces every double-quoted string in a fasthttp error
// line except the two connection addresses at its start by "…": fasthttp
// quotes the bytes it could not parse ("invalid header key \"...\".
// Buffer size=206, contents: \"POST /api/buy/act/<sig>\r\nCookie: ...\""),
// and those carry paths, cookies, JWTs and order tokens, which no log
// line may hold (README, Logs). Anything after "contents:" goes too, in
// case a version writes it unquoted. Runs at most once per connLogEvery.
func redactQuoted(line string) string {
	if i := strings.Index(line, "contents:"); i >= 0 {
		line = line[:i+len("contents:")] + " …"
	}
	var b strings.Builder
	b.Grow(len(line))
	addrs := 0 // the first two quoted strings of a connection error are the peer addresses
	if !strings.HasPrefix(line, connErrorPrefix) {
		addrs = 2
	}
	for i := 0; i < len(line); i++ {
		if line[i] != '"' {
			b.WriteByte(line[i])
			continue
		}
		j := i + 1 // find the closing quote, skipping escapes
		for j < len(line) && line[j] != '"' {
			if line[j] == '\\' {
				j++
			}
			j++
		}
		if addrs < 2 {
			addrs++
			b.WriteString(line[i:min(j+1, len(line))])
		} else {
			b.WriteString(`"…"`)
		}
		i = j
	}
	return b.String()
}
