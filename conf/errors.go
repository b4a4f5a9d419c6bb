// Package conf holds flashgate's configuration schema and its loader.
//
// Configuration is read once with viper (YAML plus FLASHGATE_* environment
// overrides), decoded strictly into typed structs, given defaults and
// validated. Every problem is reported with its YAML path, and all of them
// at once, so an operator fixes a file in one pass.
package conf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Errors collects configuration problems, each prefixed with the YAML path
// it concerns (for example "routes[1].filters[0].rate_limit.rate").
type Errors struct {
	list  []error
	paths []string
	// bad holds paths whose value could not be decoded, so that validation
	// does not report the same field twice ("invalid duration" and then
	// "must be > 0").
	bad []string
}

// Addf records a problem at path.
func (e *Errors) Addf(path, format string, args ...any) {
	for _, b := range e.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return
		}
	}
	msg := fmt.Sprintf(format, args...)
	e.paths = append(e.paths, path)
	if path == "" {
		e.list = append(e.list, errors.New(msg))
		return
	}
	e.list = append(e.list, fmt.Errorf("%s: %s", path, msg))
}

// Add records err at path. A mapstructure decode error is split into one
// entry per field, each with its full YAML path.
func (e *Errors) Add(path string, err error) {
	if err == nil {
		return
	}
	for _, leaf := range flatten(err) {
		var de *mapstructure.DecodeError
		if errors.As(leaf, &de) {
			p := Join(path, de.Name())
			e.Addf(p, "%s", describe(de.Unwrap()))
			if !strings.HasPrefix(de.Unwrap().Error(), "has invalid keys") {
				e.bad = append(e.bad, p)
			}
			continue
		}
		e.Addf(path, "%s", leaf.Error())
	}
}

// NameEnv rewrites the problems whose value came from an environment
// override so they blame the variable, not the YAML key the file may not
// even have: "FLASHGATE_SERVER_MAX_INFLIGHT (server.max_inflight): ...".
// env maps a YAML path to the variable that set it, or "" for none.
func (e *Errors) NameEnv(env func(path string) string) {
	for i, p := range e.paths {
		if p == "" {
			continue
		}
		if name := env(p); name != "" {
			msg := strings.TrimPrefix(e.list[i].Error(), p+": ")
			e.list[i] = fmt.Errorf("%s (environment, overrides %s): %s", name, p, msg)
		}
	}
}

// Len reports how many problems were recorded.
func (e *Errors) Len() int { return len(e.list) }

// Err joins the recorded problems, or returns nil when there are none.
func (e *Errors) Err() error { return errors.Join(e.list...) }

// Join appends a child key to a YAML path: Join("a", "b") is "a.b",
// Join("a", "[2]") is "a[2]".
func Join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	case key[0] == '[':
		return path + key
	}
	return path + "." + key
}

// Index is the YAML path of element i of the list at path.
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// flatten returns the leaves of a tree of joined errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if de, ok := err.(*mapstructure.DecodeError); ok {
		// A DecodeError may wrap further joined errors of nested fields.
		if inner := de.Unwrap(); inner != nil {
			if _, ok := inner.(interface{ Unwrap() []error }); ok {
				return flatten(inner)
			}
		}
		return []error{err}
	}
	// Descend through wrappers ("decoding failed due to ...: %w").
	if w, ok := err.(interface{ Unwrap() error }); ok && w.Unwrap() != nil {
		var de *mapstructure.DecodeError
		if errors.As(err, &de) {
			return flatten(w.Unwrap())
		}
	}
	return []error{err}
}

// describe turns a mapstructure leaf error into operator wording.
func describe(err error) string {
	if err == nil {
		return "invalid value"
	}
	msg := err.Error()
	msg = strings.Replace(msg, "has invalid keys: ", "unknown field(s): ", 1)
	msg = strings.Replace(msg, "expected type '", "wrong type: expected '", 1)
	msg = strings.Replace(msg, "got unconvertible type '", "got '", 1)
	return msg
}

// At scopes error reporting to one YAML path, so a filter's Validate can
// name its own fields ("rate") and still report the full path.
type At struct {
	Errs *Errors
	Path string
}

// Addf records a problem at the field below the scope's path.
func (a At) Addf(field, format string, args ...any) {
	a.Errs.Addf(Join(a.Path, field), format, args...)
}

// Add records err at the field below the scope's path.
func (a At) Add(field string, err error) { a.Errs.Add(Join(a.Path, field), err) }

// Validator is a config section that checks itself (filter settings,
// endpoint settings).
type Validator interface{ Validate(at At) }

// DecodeSection decodes in strictly into out, then validates it, recording
// every problem under path in errs. It is how every filter and endpoint
// section is read, in the gateway and in the filters' tests alike.
func DecodeSection(errs *Errors, path string, in any, out Validator) {
	if err := Decode(in, out); err != nil {
		errs.Add(path, err)
	}
	out.Validate(At{Errs: errs, Path: path})
}

// CheckSection is DecodeSection for one section on its own: it returns
// the section's problems as one error, or nil.
func CheckSection(path string, in any, out Validator) error {
	var errs Errors
	DecodeSection(&errs, path, in, out)
	return errs.Err()
}

// Problems lists the problems of a config error one per entry, as the
// admin API's 422 answer carries them: each line of the joined error.
func Problems(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
