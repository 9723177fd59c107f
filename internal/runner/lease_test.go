package runner

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/recon-dev/recon/internal/state"
)

// A run stops when its lock goes to another recon (class busy: that recon
// runs it), or when the state store does not answer for so long that the
// lease may run out (class connectivity: it alerts): never two runs of a
// reconciliation at once.
func TestRenewStopsTheRunWhenTheLeaseIsLost(t *testing.T) {
	ttl, renew := lockTTL, lockRenew
	lockTTL, lockRenew = 400*time.Millisecond, 50*time.Millisecond
	defer func() { lockTTL, lockRenew = ttl, renew }()
	for _, c := range []struct {
		name string
		lose func(t *testing.T, store *state.Store)
		// notBefore is how long the run must have gone on when stopped.
		notBefore time.Duration
		cause     error
		class     string
	}{
		{"taken by another", func(t *testing.T, store *state.Store) {
			ctx := context.Background()
			store.Unlock(ctx, "deals", "me")
			if ok, _, err := store.TryLock(ctx, "deals", "another", time.Now(), time.Hour); !ok || err != nil {
				t.Fatalf("another could not take the lock: %v", err)
			}
		}, 0, errLostLock, ClassBusy},
		{"not renewed in time", func(t *testing.T, store *state.Store) { store.Close() }, 350 * time.Millisecond, errUnrenewed, ClassConnectivity},
	} {
		t.Run(c.name, func(t *testing.T) {
			store, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), "", "")
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if ok, _, err := store.TryLock(context.Background(), "deals", "me", time.Now(), lockTTL); !ok || err != nil {
				t.Fatalf("lock: %v", err)
			}
			r := &Runner{State: store}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			start := time.Now()
			stop := r.renew(ctx, cancel, "deals", "me", slog.New(slog.DiscardHandler))
			defer stop()
			time.Sleep(2 * lockRenew) // renewed at least once
			if ctx.Err() != nil {
				t.Fatalf("stopped while holding the lock: %v", context.Cause(ctx))
			}
			c.lose(t, store)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the run goes on")
			}
			cause := context.Cause(ctx)
			if took := time.Since(start); took < c.notBefore {
				t.Errorf("stopped after %s, before the lease could have run out (%s): %v", took, c.notBefore, cause)
			}
			if !errors.Is(cause, c.cause) || classify(cause) != c.class {
				t.Errorf("cause %v, class %s", cause, classify(cause))
			}
		})
	}
}
