package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flashgate/flashgate/conf"
	// conf.Load checks each filter entry against the registered types.
	_ "github.com/flashgate/flashgate/filters"
	"github.com/flashgate/flashgate/filters/token"
)

// userKind is what a replayed user carries.
type userKind int

const (
	valid       userKind = iota // a token older than min_age
	young                       // a token issued in the future: too young all run long
	none                        // no token at all
	blacklisted                 // a valid token, but the user is on the blacklist
)

// mix is a share of users of one kind.
type mix struct {
	kind  userKind
	share int
}

// minter signs tokens with the keys the gateways verify with: those of
// buy_local's order_token filter in the generated config.
func (h *harness) minter(cfgPath string) (*token.Minter, error) {
	cfg, err := conf.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	return token.MinterFor(cfg, "buy_local")
}

// writeUsers writes n users "prefix<i> token" for activity, the kinds
// interleaved by their shares, to a file for bench/users.lua.
func (h *harness) writeUsers(name, prefix string, n int, activity string, kinds ...mix) (string, error) {
	if len(kinds) == 0 {
		kinds = []mix{{valid, 1}}
	}
	var pattern []userKind
	for _, k := range kinds {
		for i := 0; i < k.share; i++ {
			pattern = append(pattern, k.kind)
		}
	}
	path := filepath.Join(h.tmp, name+".users")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	now := time.Now()
	act := []byte(activity)
	var user, tok []byte
	for i := 0; i < n; i++ {
		kind := pattern[i%len(pattern)]
		if kind == blacklisted {
			user = strconv.AppendInt(append(user[:0], blacklistPrefix...), int64(i%blacklistSize), 10)
		} else {
			user = strconv.AppendInt(append(user[:0], prefix...), int64(i), 10)
		}
		switch kind {
		case none:
			tok = append(tok[:0], '-')
		case young:
			tok, err = h.mint.Append(tok[:0], now.Add(time.Hour), user, act)
		default:
			tok, err = h.mint.Append(tok[:0], now.Add(-2*time.Second), user, act)
		}
		if err != nil {
			return "", err
		}
		w.Write(user)
		w.WriteByte(' ')
		w.Write(tok)
		w.WriteByte('\n')
	}
	return path, w.Flush()
}

// The blacklist file the harness writes: bl-0 .. bl-9999.
const (
	blacklistPrefix = "bl-"
	blacklistSize   = 10000
)

func (h *harness) writeBlacklist() error {
	h.blacklist = filepath.Join(h.tmp, "blacklist.txt")
	f, err := os.Create(h.blacklist)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.WriteString("# bench/harness: blacklisted bot accounts\n")
	for i := 0; i < blacklistSize; i++ {
		w.WriteString(blacklistPrefix + strconv.Itoa(i) + "\n")
	}
	return w.Flush()
}
