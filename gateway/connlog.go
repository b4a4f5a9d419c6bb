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
	now   func() time.Time
	count interface{ Inc() }

	mu         sync.Mutex
	last       time.Time // when a connection error was last logged
	suppressed int
}

func newFasthttpLog(log *slog.Logger, now func() time.Time) *fasthttpLog {
	if now == nil {
		now = time.Now
	}
	return &fasthttpLog{log: log, now: now, count: connErrorsTotal}
}

// Printf implements fasthttp.Logger.
func (l *fasthttpLog) Printf(format string, args ...any) {
	if !strings.HasPrefix(format, connErrorPrefix) {
		l.log.Warn("fasthttp", "error", redactQuoted(fmt.Sprintf(format, args...)))
		return
	}
	l.count.Inc()
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < connLogEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
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
