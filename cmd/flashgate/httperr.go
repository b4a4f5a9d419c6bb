package main

import (
	"crypto/tls"
	"errors"

	"github.com/valyala/fasthttp"
)

// explain turns a client error into what an operator can act on.
// fasthttp's ErrConnectionClosed carries advice for a server's author
// ("make sure the server returns 'connection: close'"); the usual cause
// for a flashgate operator is a plain-HTTP call to a TLS listener, whose
// handshake fails and closes the connection without an answer. hint says
// how to call over HTTPS with that command.
func explain(err error, https bool, hint string) string {
	var rec tls.RecordHeaderError
	if https && errors.As(err, &rec) {
		return "the server answered in plain HTTP, not TLS: it does not serve HTTPS (drop --cacert, or use an http:// URL) (" + err.Error() + ")"
	}
	if !errors.Is(err, fasthttp.ErrConnectionClosed) {
		return err.Error()
	}
	if https {
		return "the server closed the connection without answering"
	}
	return "the server closed the connection without answering: if it serves HTTPS (server.tls or admin.tls set), " + hint
}
