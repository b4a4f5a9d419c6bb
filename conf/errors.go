// Package conf is the load and validate stages of a config: its schema
// and its loader.
//
// Configuration is read once with viper (YAML plus FLASHGATE_* environment
// overrides), decoded strictly into typed structs (each filter's settings
// and each endpoint's config by its registered type, sections.go), given
// defaults and validated. Every problem is a *PathError with its YAML
// path, and all of them come at once as one *FileError, so an operator
// fixes a file in one pass. The gateway builds its plan from the Config
// returned; there is no config beside an error.
package conf

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// PathError is one problem of a config, at the YAML path it concerns
// ("routes[1].filters[0].rate_limit.rate"). Err keeps the cause, so
// errors.Is and errors.As see through it.
type PathError struct {
	// Path is the YAML path; "" for the file as a whole.
	Path string
	// Env names the environment variable that set the value, when one
	// did: the problem is then the variable's, not the file's.
	Env string
	Err error
}

func (e *PathError) Error() string {
	switch {
	case e.Env != "":
		return fmt.Sprintf("%s (environment, overrides %s): %v", e.Env, e.Path, e.Err)
	case e.Path == "":
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *PathError) Unwrap() error { return e.Err }

// AtPath wraps err as the problem at path; nil stays nil.
func AtPath(path string, err error) error {
	if err == nil {
		return nil
	}
	return &PathError{Path: path, Err: err}
}

// FileError is every problem of one config file: one error, whose
// Unwrap lists them, so an operator fixes the file in one pass and a
// caller can still reach each problem with errors.As.
type FileError struct {
	// File is the config file's path; "" when the config came from bytes.
	File string
	Errs []error
}

// Error is one line per problem, each led by the file's name:
// "flashgate.yaml: routes[0].path: ...". This is the only place the
// file's name is put before a problem.
func (e *FileError) Error() string {
	prefix := ""
	if e.File != "" {
		prefix = filepath.Base(e.File) + ": "
	}
	var b strings.Builder
	for i, err := range e.Errs {
		for j, l := range strings.Split(err.Error(), "\n") {
			if i+j > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(prefix)
			b.WriteString(l)
		}
	}
	return b.String()
}

func (e *FileError) Unwrap() []error { return e.Errs }

// InFile returns err as the problems of file: a *FileError whose Errs
// are err's leaves (joined errors and nested FileErrors are opened). Nil
// stays nil. The load and build stages both report through it.
func InFile(file string, err error) error {
	if err == nil {
		return nil
	}
	return &FileError{File: file, Errs: leaves(err)}
}

// leaves opens joined errors and FileErrors down to single problems.
func leaves(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
}

// Errors collects configuration problems, each a *PathError.
type Errors struct {
	list []*PathError
	// bad holds paths whose value could not be decoded, so that validation
	// does not report the same field twice ("invalid duration" and then
	// "must be > 0").
	bad []string
}

// Addf records a problem at path.
func (e *Errors) Addf(path, format string, args ...any) {
	e.add(path, fmt.Errorf(format, args...))
}

func (e *Errors) add(path string, err error) {
	for _, b := range e.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return
		}
	}
	e.list = append(e.list, &PathError{Path: path, Err: err})
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
			e.add(p, errors.New(describe(de.Unwrap())))
			if !strings.HasPrefix(de.Unwrap().Error(), "has invalid keys") {
				e.bad = append(e.bad, p)
			}
			continue
		}
		e.add(path, leaf)
	}
}

// NameEnv makes the problems whose value came from an environment
// override blame the variable, not the YAML key the file may not even
// have: "FLASHGATE_SERVER_MAX_INFLIGHT (environment, overrides
// server.max_inflight): ...". env maps a YAML path to the variable that
// set it, or "" for none.
func (e *Errors) NameEnv(env func(path string) string) {
	for _, pe := range e.list {
		if pe.Path != "" {
			pe.Env = env(pe.Path)
		}
	}
}

// Unreadable reports whether a value at path, or below it, failed to
// decode: validation then does not call the section missing.
func (e *Errors) Unreadable(path string) bool {
	for _, b := range e.bad {
		if b == path || strings.HasPrefix(b, path+".") || strings.HasPrefix(b, path+"[") {
			return true
		}
	}
	return false
}

// Len reports how many problems were recorded.
func (e *Errors) Len() int { return len(e.list) }

// Err returns the recorded problems as one *FileError with no file
// (InFile names it), or nil when there are none.
func (e *Errors) Err() error {
	if len(e.list) == 0 {
		return nil
	}
	out := make([]error, len(e.list))
	for i, pe := range e.list {
		out[i] = pe
	}
	return &FileError{Errs: out}
}

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
	if rest, ok := strings.CutPrefix(msg, "source data must be an array or slice, got "); ok {
		msg = "wrong type: expected a list, got '" + rest + "'"
	}
	return goTypeWords.ReplaceAllStringFunc(msg, func(q string) string {
		if w, ok := yamlWords[q[1:len(q)-1]]; ok {
			return w
		}
		return q
	})
}

// goTypeWords finds the quoted Go types of mapstructure's messages
// ("expected 'int', got 'string'"), and yamlWords says them as a YAML
// author would.
var goTypeWords = regexp.MustCompile(`'[^']+'`)

var yamlWords = map[string]string{
	"int": "a whole number", "int64": "a whole number", "int32": "a whole number", "uint": "a whole number", "uint64": "a whole number",
	"float64": "a number", "float32": "a number", "string": "a string", "bool": "true or false",
	"time.Duration": "a duration such as 250ms", "time.Time": "an RFC 3339 time",
	"[]interface {}": "a list", "[]string": "a list of strings", "map[string]interface {}": "a mapping", "map[interface {}]interface {}": "a mapping",
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
