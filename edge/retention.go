package edge

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// pruneBatch is how many delivered events one write deletes: small enough
// that a till's write queued behind it waits milliseconds, not seconds.
const pruneBatch = 1000

// PruneDelivered deletes the events the central CRM accepted more than keep
// ago, a batch per write, and returns how many. Pending and dead events stay
// whatever their age: they are writes the central does not have.
func (s *Service) PruneDelivered(ctx context.Context, keep time.Duration) (int64, error) {
	before := s.now().Add(-keep)
	var total int64
	for {
		var n int64
		err := s.store.Write(ctx, func(tx Tx) error {
			var err error
			n, err = tx.PruneDelivered(before, pruneBatch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("prune outbox: %w", err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}

// RunRetention prunes delivered events older than keep now and then every
// interval until ctx ends (`serve --outbox-keep`). A failed prune is logged
// and tried again at the next interval: it loses nothing.
func (s *Service) RunRetention(ctx context.Context, keep, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n, err := s.PruneDelivered(ctx, keep)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("outbox retention", "err", err)
		case n > 0:
			log.Info("outbox retention: deleted delivered events", "count", n, "older_than", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
