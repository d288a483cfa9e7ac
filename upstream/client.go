// Package upstream talks to the central CRM: the client behind read-through
// and the forwarder that drains the outbox.
package upstream

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"crmedge/edge"
)

// Options configure a Client.
type Options struct {
	BaseURL     string
	Token       string
	EdgeID      string
	Concurrency int
	Timeout     time.Duration
	MaxBackoff  time.Duration
	Logger      *slog.Logger
}

// Client is the central CRM as edge.Upstream.
type Client struct{ opts Options }

// New returns a client for the central CRM at opts.BaseURL.
func New(opts Options) (*Client, error) { return &Client{opts: opts}, nil }

var errTODO = errors.New("upstream: not implemented yet")

func (c *Client) Status() edge.UpstreamStatus { return edge.UpstreamStatus{} }
func (c *Client) FetchMember(ctx context.Context, e164, posID string) (*edge.Customer, error) {
	return nil, errTODO
}
func (c *Client) FetchHistory(ctx context.Context, ct edge.Contact) ([]edge.LedgerEntry, error) {
	return nil, errTODO
}
func (c *Client) Accumulate(ctx context.Context, call edge.Call) (int, []byte, error) {
	return 0, nil, errTODO
}

// ForwarderOptions configure a Forwarder.
type ForwarderOptions struct {
	Logger   *slog.Logger
	OnResult func(result string)
}

// Forwarder drains the outbox.
type Forwarder struct{}

// NewForwarder returns a forwarder.
func NewForwarder(c *Client, svc *edge.Service, opts ForwarderOptions) *Forwarder {
	return &Forwarder{}
}

// Run forwards until ctx ends.
func (f *Forwarder) Run(ctx context.Context) { <-ctx.Done() }
