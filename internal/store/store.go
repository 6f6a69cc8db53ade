package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/keyhold/keyhold/migrations"
)

// DB is an open database.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect goose.Dialect
	url     string     // for connections of their own (LISTEN)
	outbox  Outbox     // where mail is queued; see SetOutbox
	events  EventQueue // where webhook jobs are queued; see SetEventQueue
}

// Open connects to databaseURL: sqlite://PATH (WAL, busy timeout, foreign
// keys on, immediate write transactions; PATH's directory must exist) or
// postgres://…. It does not migrate.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	var (
		dial    gorm.Dialector
		dialect goose.Dialect
	)
	switch {
	case strings.HasPrefix(databaseURL, "sqlite://"):
		path := strings.TrimPrefix(databaseURL, "sqlite://")
		// SQLite creates the file but not its directory. The directory is
		// not made here either: a mistyped path would otherwise start an
		// empty database somewhere unexpected, with nothing said.
		if dir := filepath.Dir(path); dir != "." {
			if fi, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("store: the directory %s of the SQLite database does not exist; create it or correct the path", dir)
			} else if err != nil {
				return nil, fmt.Errorf("store: database directory: %w", err)
			} else if !fi.IsDir() {
				return nil, fmt.Errorf("store: %s, where the SQLite database should be, is not a directory", dir)
			}
		}
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// 512 KiB of page cache per connection instead of SQLite's 2000 KiB:
		// the hot path reads no page, the kernel caches the file anyway,
		// and SQLite's allocator (modernc's) keeps what it once held, so
		// the pool's eight caches filled by a cache warm-up stayed
		// resident for good.
		q.Add("_pragma", "cache_size(-512)")
		// Immediate: a transaction takes the write lock when it begins, so
		// two writers queue on busy_timeout instead of failing on upgrade.
		q.Add("_txlock", "immediate")
		dial = sqlite.Open("file:" + path + "?" + q.Encode())
		dialect = goose.DialectSQLite3
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		dial = postgres.Open(databaseURL)
		dialect = goose.DialectPostgres
	default:
		return nil, errors.New("store: database URL must start with sqlite:// or postgres://")
	}
	g, err := gorm.Open(dial, &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if dialect == goose.DialectSQLite3 {
		// SQLite has one writer; a small pool keeps readers concurrent
		// under WAL without a crowd of writers queueing on the lock.
		sqlDB.SetMaxOpenConns(8)
	} else {
		sqlDB.SetMaxOpenConns(20)
	}
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := registerStatementCounter(g); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db := &DB{gorm: g, sql: sqlDB, dialect: dialect, url: databaseURL}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Migrate applies every pending migration, each in its own transaction,
// recorded in the goose_db_version table. On PostgreSQL a session lock keeps
// instances starting together from migrating twice.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if len(results) > 0 {
		// Drop the pooled connections opened before the migrations: a
		// SQLite connection that prepares "SELECT k.*" against the schema
		// it read before a new column (0020 ip_allowlist) gets the column
		// names of the old one and the values of the new, re-prepared at
		// the first step, so every column after k.* is shifted (seen as
		// KeyByHash failing to scan secret_expires_at).
		db.sql.SetMaxIdleConns(0)
		db.sql.SetMaxIdleConns(8)
	}
	for _, r := range results {
		if log != nil {
			file := r.Source.Path
			if file == "" { // a Go migration (migrations.Go)
				file = fmt.Sprintf("%04d (Go)", r.Source.Version)
			}
			log.Info("migration applied", "file", file, "duration", r.Duration)
		}
	}
	return nil
}

// migrations returns the goose provider of every migration for the
// database's dialect; on PostgreSQL it takes goose's session lock, so two
// instances do not migrate together.
func (db *DB) migrations() (*goose.Provider, error) {
	opts := []goose.ProviderOption{goose.WithGoMigrations(migrations.Go(db.dialect == goose.DialectPostgres)...)}
	if db.dialect == goose.DialectPostgres {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("store: migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(db.dialect, db.sql, migrations.FS, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return p, nil
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }

func (db *DB) ctx(ctx context.Context) *gorm.DB { return db.gorm.WithContext(ctx) }
