package conf

// Environment overrides: FLASHGATE_SERVER_MAX_INFLIGHT=5 overrides
// server.max_inflight (viper's AutomaticEnv, keys registered by
// setDefaults), and a misspelt one is refused like an unknown YAML key.

import (
	"os"
	"sort"
	"strings"

	"github.com/spf13/viper"
)

// EnvName is the environment variable that overrides the YAML key at
// path: server.max_inflight is FLASHGATE_SERVER_MAX_INFLIGHT. Keys inside
// lists (routes[0].path) have none.
func EnvName(path string) string {
	if path == "" || strings.ContainsAny(path, "[]") {
		return ""
	}
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// unknownEnv reports a FLASHGATE_* variable that looks like a misspelt
// setting (at most 2 edits from one, FLASHGATE_REDIS_TIMOUT): the file's
// keys are strict, and the override would otherwise be dropped without a
// word while the file's value runs. Other FLASHGATE_* names are left
// alone: Kubernetes gives every pod FLASHGATE_SERVICE_HOST, FLASHGATE_PORT,
// ... for a Service named flashgate, and CI or images may set their own
// (FLASHGATE_VERSION); refusing those would stop a fleet from starting.
func unknownEnv(v *viper.Viper, errs *Errors) {
	known := map[string]bool{}
	var names []string
	for _, k := range v.AllKeys() {
		if n := EnvName(k); n != "" {
			known[n] = true
			names = append(names, n)
		}
	}
	var unknown []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") && !known[name] && !serviceLink(name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		best, near := 3, ""
		for _, n := range names {
			if d := editDistance(name, n); d < best {
				best, near = d, n
			}
		}
		if near != "" {
			errs.Addf(name+" (environment)", "names no setting, so it would be ignored; did you mean %s?", near)
		}
	}
}

// serviceLink reports a variable Kubernetes or Docker links define for a
// service: <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT[_x], <NAME>_PORT and
// <NAME>_PORT_<n>_<proto>[_x].
func serviceLink(name string) bool {
	return strings.Contains(name, "_SERVICE_HOST") || strings.Contains(name, "_SERVICE_PORT") ||
		strings.HasSuffix(name, "_PORT") || strings.Contains(name, "_PORT_")
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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
