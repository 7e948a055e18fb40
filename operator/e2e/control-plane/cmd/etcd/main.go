// etcd for the end-to-end tests, at the server version k8s.io/kubernetes pins (go.etcd.io/etcd/server/v3).
// Debian bookworm's etcd-server is 3.4, older than what Kubernetes 1.36 supports.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
