// Command fakecrm runs the fake central CRM as its own process, for
// end-to-end tests. Once listening it prints exactly one line to stdout,
//
//	listening on http://HOST:PORT
//
// and it exits cleanly on SIGINT or SIGTERM. Faults and seed data are set
// over the /_fake/ control endpoints (see package fakecrm).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"crmedge/upstream/fakecrm"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	token := flag.String("token", "", "token required as Authorization: Bearer or Api-Key (none when empty)")
	org := flag.String("org", "", "organisation id shown in history items (minted when empty)")
	acceptUnknown := flag.Bool("accept-unknown-codes", false, "accept accumulation codes missing from the catalog")
	defaultScore := flag.Int("default-score", 100, "score of an accepted unknown code")
	flag.Parse()

	opts := fakecrm.Options{
		Token:              *token,
		Org:                *org,
		AcceptUnknownCodes: *acceptUnknown,
		DefaultScore:       *defaultScore,
	}
	if err := run(*addr, opts); err != nil {
		fmt.Fprintln(os.Stderr, "fakecrm:", err)
		os.Exit(1)
	}
}

func run(addr string, opts fakecrm.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	crm := fakecrm.New(opts)
	served := make(chan error, 1)
	go func() { served <- crm.Serve(l) }()
	// Printed only once the listener exists, so a test that reads this line
	// can connect at once.
	fmt.Printf("listening on http://%s\n", l.Addr())

	select {
	case <-ctx.Done():
		return crm.Close()
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
