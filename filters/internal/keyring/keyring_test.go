package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

const s32 = "0123456789abcdef0123456789abcdef"

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		keys []Key
		want string
	}{
		{"none", nil, "f.keys: at least one key is required"},
		{"bad id", []Key{{ID: "k 1", Secret: s32}}, `f.keys[0].id: required, [A-Za-z0-9_-]{1,32}, got "k 1"`},
		{"duplicate", []Key{{ID: "k", Secret: s32}, {ID: "k", Secret: s32}}, `f.keys[1].id: duplicate key id "k"`},
		{"short", []Key{{ID: "k", Secret: "short"}}, "f.keys[0].secret: must be at least 32 bytes, got 5"},
		{"no secret", []Key{{ID: "k"}}, "f.keys[0]: one of secret or secret_file is required"},
		{"both", []Key{{ID: "k", Secret: s32, SecretFile: "/x"}}, "f.keys[0]: set one of secret or secret_file, not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var errs conf.Errors
			Validate(conf.At{Errs: &errs, Path: "f"}, "keys", tc.keys)
			if err := errs.Err(); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	var errs conf.Errors
	Validate(conf.At{Errs: &errs, Path: "f"}, "keys", []Key{{ID: "k2", Secret: s32}, {ID: "k1", SecretFile: "/k1"}})
	if errs.Len() != 0 {
		t.Fatal(errs.Err())
	}
}

func TestSharedAndSum(t *testing.T) {
	env := gateway.NewEnv()
	file := filepath.Join(t.TempDir(), "k1")
	if err := os.WriteFile(file, []byte("  "+s32+"-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := []Key{{ID: "k2", Secret: s32}, {ID: "k1", SecretFile: file}}
	a, err := Shared(env, "keys", keys)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Shared(env, "keys", []Key{{ID: "k2", Secret: s32}, {ID: "k1", SecretFile: file}})
	if a != b {
		t.Fatal("the same key set built two rings")
	}
	c, _ := Shared(env, "keys", []Key{{ID: "k2", Secret: s32 + "x"}, {ID: "k1", SecretFile: file}})
	if c == a {
		t.Fatal("different secrets share a ring")
	}
	if a.Primary().ID != "k2" || a.Lookup([]byte("k1")) == nil || a.Lookup([]byte("k3")) != nil || len(a.Keys()) != 2 {
		t.Fatal("lookup")
	}
	var got [32]byte
	a.Lookup([]byte("k1")).Sum(&got, []byte("pre"), []byte("msg"))
	m := hmac.New(sha256.New, []byte(s32+"-file"))
	m.Write([]byte("premsg"))
	if !hmac.Equal(got[:], m.Sum(nil)) {
		t.Fatal("Sum differs from crypto/hmac (secret file not trimmed?)")
	}
	if _, err := Shared(env, "keys", []Key{{ID: "k", SecretFile: "/nonexistent"}}); err == nil ||
		err.Error() != "keys[0].secret_file: open /nonexistent: no such file or directory" {
		t.Fatalf("got %v", err)
	}
}
