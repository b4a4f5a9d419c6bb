package main

import (
	"fmt"
	"io"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

// cmdCheck validates a config like `nginx -t`: decoding, every filter's
// settings, endpoints, templates and catalogue; it dials nothing.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("check", args, stderr, nil)
	if !ok {
		return exitConfig
	}
	cfg, err := conf.Load(path)
	if err == nil {
		err = conf.PrefixFile(path, gateway.Check(cfg))
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	fmt.Fprintln(stdout, "config ok")
	return exitOK
}
