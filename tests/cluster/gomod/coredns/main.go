// CoreDNS for the local cluster, built with only the in-tree plugins the harness's Corefile
// uses (upstream's plugin.cfg mechanism, done in Go): the full plugin set pulls in every cloud
// SDK and triples the build time. The plugins' code and the server are upstream's, unchanged.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The plugin chain runs in this order; it is upstream plugin.cfg's order restricted to the
// plugins imported above.
func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
