package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/keyhold/keyhold/internal/verify"
)

// Postgres reports whether the database is PostgreSQL.
func (db *DB) Postgres() bool { return db.dialect == goose.DialectPostgres }

// Notify sends msg to every session listening on channel (PostgreSQL
// NOTIFY). It is how instances without Redis tell each other that cached
// keys changed.
func (db *DB) Notify(ctx context.Context, channel, msg string) error {
	if _, err := db.sql.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, msg); err != nil {
		return fmt.Errorf("store: notify: %w", err)
	}
	return nil
}

// Listen calls fn with the payload of every notification on channel until
// ctx ends, on a connection of its own, reconnecting after a failure.
func (db *DB) Listen(ctx context.Context, channel string, fn func(payload string), onErr func(error)) {
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, channel, fn)
		if ctx.Err() != nil {
			return
		}
		if onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (db *DB) listenOnce(ctx context.Context, channel string, fn func(string)) error {
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("store: listen: %w", err)
		}
		fn(n.Payload)
	}
}

// invalidateChannel is the NOTIFY channel of cache changes between
// instances without Redis.
const invalidateChannel = "keyhold_invalidate"

// Notifier is the verify.Invalidator over PostgreSQL LISTEN/NOTIFY, for
// instances that share a database and no Redis. It carries key and
// account changes; it keeps no change counters and numbers no secrets
// (so, on PostgreSQL without Redis, verify.Config.Secrets stays unset and
// an unknown key is read).
type Notifier struct {
	db  *DB
	log *slog.Logger
}

// Notifier returns the invalidator over db, which must be PostgreSQL;
// log gets the listening connection's failures (nil: discarded).
func (db *DB) Notifier(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{db: db, log: log}
}

// Announce implements verify.Invalidator: a key or account change is one
// NOTIFY; a new secret is not carried (nothing here would trust it).
func (n *Notifier) Announce(ctx context.Context, c verify.Change) error {
	msg := c.Message()
	if msg == "" {
		return nil
	}
	return n.db.Notify(ctx, invalidateChannel, msg)
}

// Listen implements verify.Invalidator, on a connection of its own,
// reconnecting after a failure.
func (n *Notifier) Listen(ctx context.Context, apply func(verify.Change)) {
	n.db.Listen(ctx, invalidateChannel, func(payload string) {
		if c, ok := verify.ParseChange(payload); ok {
			apply(c)
		}
	}, func(err error) { n.log.Warn("listen for other instances' changes", "err", err) })
}

// Generation implements verify.Invalidator: NOTIFY keeps no counters.
func (*Notifier) Generation(context.Context, string, string) (int64, int64) { return 0, 0 }

// Degraded implements verify.Invalidator. It is never degraded: while the
// listening connection is down the database is usually down too, and then
// the verifier keeps answering from its cache, which a shorter trust would
// only turn into waits on a dead database.
func (*Notifier) Degraded() bool { return false }

var _ verify.Invalidator = (*Notifier)(nil)
