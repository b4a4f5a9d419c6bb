package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// adminTLS is the client side of admin.tls. The admin API carries the
// bearer token, so the CLI verifies the server's certificate against the
// PEM file it is given: the admin certificate itself (self-signed or
// not), or the CA that issued it. The host name is not checked: the CLI
// dials the address it is given, often 127.0.0.1, while the certificate
// names the shop's admin host; being the trusted certificate, or chaining
// to it, is the identity that matters here.
func adminTLS(file string) (*tls.Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var trusted []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		trusted = append(trusted, c)
	}
	if len(trusted) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	roots := x509.NewCertPool()
	for _, c := range trusted {
		roots.AddCert(c)
	}
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("the admin port sent no certificate")
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		for _, c := range trusted {
			if bytes.Equal(c.Raw, leaf.Raw) {
				return nil
			}
		}
		inter := x509.NewCertPool()
		for _, b := range raw[1:] {
			if c, err := x509.ParseCertificate(b); err == nil {
				inter.AddCert(c)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
			return fmt.Errorf("the admin port's certificate is not the one in %s, nor issued by it: %w", file, err)
		}
		return nil
	}
	// InsecureSkipVerify only turns off the host-name check's standard
	// verification: VerifyPeerCertificate above does the verifying.
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, VerifyPeerCertificate: verify}, nil //nolint:gosec // verified by verify
}
