package postgres

import (
	"context"
	"database/sql"
	"net"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/recon-dev/recon/sources"
)

var _ sources.Abortable = Dialect{}

// OpenAbortable implements sources.Abortable: lib/pq answers a cancelled
// context with a cancel request and waits for the server, which a server
// that stopped answering never sends; so recon dials its own connections
// and can close them under a read that would otherwise wait forever.
func (Dialect) OpenAbortable(dsn string) (*sql.DB, func(), error) {
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, nil, err
	}
	d := &dialer{conns: map[*conn]struct{}{}}
	c.Dialer(d)
	return sql.OpenDB(c), d.closeAll, nil
}

// dialer dials TCP (or Unix) connections and remembers the open ones.
type dialer struct {
	net.Dialer
	mu    sync.Mutex
	conns map[*conn]struct{}
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d *dialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := d.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return d.track(nc), nil
}

// track remembers nc until it is closed.
func (d *dialer) track(nc net.Conn) net.Conn {
	c := &conn{Conn: nc, d: d}
	d.mu.Lock()
	d.conns[c] = struct{}{}
	d.mu.Unlock()
	return c
}

// closeAll closes every open connection: reads on them return at once.
func (d *dialer) closeAll() {
	d.mu.Lock()
	conns := make([]*conn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type conn struct {
	net.Conn
	d *dialer
}

func (c *conn) Close() error {
	c.d.mu.Lock()
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	return c.Conn.Close()
}
