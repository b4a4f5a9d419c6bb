package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/flashgate/flashgate/conf"
)

// certSlot is a listener's certificate. The listener asks it for the
// certificate at each handshake, so a reload that re-reads the files
// renews it for new connections without closing the listener.
type certSlot struct {
	cur atomic.Pointer[tls.Certificate]
}

// load reads the files of c into the slot; path names the section in
// the error.
func (cs *certSlot) load(path string, c conf.TLS) error {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cs.cur.Store(&cert)
	return nil
}

// config is the server side TLS config of the slot.
func (cs *certSlot) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cs.cur.Load(), nil
		},
	}
}

// readCerts reads the certificate files of both listeners that serve
// TLS and returns the function that puts them in use: a reload reads them
// before it builds, and uses them only once the whole config built.
func (s *Server) readCerts(cfg *conf.Config) (use func(), err error) {
	defer func() { err = conf.InFile(cfg.File, err) }()
	var pub, adm certSlot
	if s.tlsPublic != nil {
		if err := pub.load("server.tls", cfg.Server.TLS); err != nil {
			return nil, err
		}
	}
	if s.tlsAdmin != nil {
		if err := adm.load("admin.tls", cfg.Admin.TLS); err != nil {
			return nil, err
		}
	}
	return func() {
		if s.tlsPublic != nil {
			s.tlsPublic.cur.Store(pub.cur.Load())
		}
		if s.tlsAdmin != nil {
			s.tlsAdmin.cur.Store(adm.cur.Load())
		}
	}, nil
}

// PublicListener wraps ln in TLS when server.tls is set.
func (s *Server) PublicListener(ln net.Listener) net.Listener {
	if s.tlsPublic == nil {
		return ln
	}
	return tls.NewListener(ln, s.tlsPublic.config())
}

// AdminListener wraps ln in TLS when admin.tls is set.
func (s *Server) AdminListener(ln net.Listener) net.Listener {
	if s.tlsAdmin == nil {
		return ln
	}
	return tls.NewListener(ln, s.tlsAdmin.config())
}
