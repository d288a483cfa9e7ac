// Package bench holds crmedge's end-to-end benchmarks (`make bench`): the
// real server on loopback over a generated store of realistic size, driven by
// concurrent keep-alive HTTP clients, quoted against the raw durable-commit
// floor of the same disk; and the built binary's start-up time, memory and
// size. See docs/readme-performance.md. Plain `go test` runs none of it.
package bench
