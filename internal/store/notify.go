package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
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
