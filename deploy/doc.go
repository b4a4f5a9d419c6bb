// Package deploy holds the container deployment: deploy/compose.yaml (a
// 3-master Redis Cluster, two gateway instances behind nginx, the demo
// backend, Prometheus and Grafana) and the files it mounts. It has no
// code: its test loads compose.yaml with compose-go, the loader Docker
// Compose uses, and checks it against the gateway config it mounts.
package deploy
