package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/team"
)

// writePlans writes the benchmark's catalog: one free plan with limits so
// large that a valid key always has room left (1 000 000 calls per second,
// a burst of 10 000 000, a quota of 10^15), within the bounds plans.New
// accepts, and room for maxKeys keys per account.
func writePlans(path string, maxKeys int) error {
	catalog := []plans.Plan{{
		ID: "free", Name: "Bench", Price: "$0",
		RatePerSecond: 1_000_000, Burst: 10_000_000,
		MonthlyQuota: 1_000_000_000_000_000, MaxKeys: maxKeys,
	}}
	b, err := json.MarshalIndent(catalog, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

type seedStats struct {
	Accounts     int           `json:"accounts"`
	Keys         int           `json:"keys"`
	Workers      int           `json:"workers"`
	SignupTime   time.Duration `json:"signup_ns"`
	KeysTime     time.Duration `json:"keys_ns"`
	TotalTime    time.Duration `json:"total_ns"`
	PerKey       time.Duration `json:"per_key_ns"`
	MigrateTime  time.Duration `json:"migrate_ns"`
	DatabaseSize int64         `json:"database_bytes"`
}

// seed migrates the database and creates accounts and n keys through the
// real services (auth.Service.Signup, keys.Service.Create), as the portal
// would. It returns the keys' plaintext, which stays in this process's
// memory only.
func seed(ctx context.Context, dbURL, plansPath string, n, perAccount, workers int, progress io.Writer) ([]string, seedStats, error) {
	var st seedStats
	t0 := time.Now()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, st, err
	}
	defer db.Close()
	authSvc, keySvc, err := seedServices(ctx, db, plansPath)
	if err != nil {
		return nil, st, err
	}
	st.MigrateTime = time.Since(t0)
	if perAccount <= 0 {
		perAccount = n
	}
	nAccounts := (n + perAccount - 1) / perAccount
	st.Accounts, st.Keys, st.Workers = nAccounts, n, workers

	t1 := time.Now()
	accountIDs, err := signupAccounts(ctx, authSvc, nAccounts)
	if err != nil {
		return nil, st, err
	}
	st.SignupTime = time.Since(t1)

	t2 := time.Now()
	secrets, err := createKeys(ctx, keySvc, accountIDs, n, perAccount, workers, progress)
	if err != nil {
		return nil, st, err
	}
	st.KeysTime = time.Since(t2)
	st.TotalTime = time.Since(t0)
	st.PerKey = st.KeysTime / time.Duration(max(n, 1))
	return secrets, st, nil
}

// markEventsFannedOut marks the events seeding wrote (a key.created per
// key, unqueued: seeding runs without the server's job queue) as queued,
// and returns how many. The bench's database has no webhook endpoint, so
// fanning them out would deliver nothing; left to the server under test,
// it would run one job per event for its first minutes (100 000 jobs at
// -keys 100000, ~5 MB/s allocated), and what the memory readings see
// would be that backlog draining, not a server holding its keys.
func markEventsFannedOut(ctx context.Context, dbURL string) (int64, error) {
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var endpoints int
	if err := db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM webhook_endpoints").Scan(&endpoints); err != nil {
		return 0, fmt.Errorf("webhook endpoints: %w", err)
	}
	if endpoints != 0 {
		return 0, nil // events would be delivered: leave them to the server
	}
	res, err := db.SQL().ExecContext(ctx, "UPDATE events SET queued = TRUE WHERE queued = FALSE")
	if err != nil {
		return 0, fmt.Errorf("mark seeding's events fanned out: %w", err)
	}
	return res.RowsAffected()
}

// seedServices migrates db and builds the services seeding goes through.
func seedServices(ctx context.Context, db *store.DB, plansPath string) (*auth.Service, *keys.Service, error) {
	if err := db.Migrate(ctx, nil); err != nil {
		return nil, nil, err
	}
	sec, err := db.Secret(ctx)
	if err != nil {
		return nil, nil, err
	}
	authSvc, err := auth.NewService(auth.Config{Store: db, Secret: sec})
	if err != nil {
		return nil, nil, err
	}
	catalog, err := plans.Load(plansPath)
	if err != nil {
		return nil, nil, err
	}
	keySvc, err := keys.NewService(keys.Config{Store: db, Plans: catalog})
	if err != nil {
		return nil, nil, err
	}
	return authSvc, keySvc, nil
}

// signupAccounts signs up n accounts and returns their ids. argon2id makes
// each sign-up cost tens of milliseconds; the service hashes at most
// NumCPU at once, so two goroutines suffice.
func signupAccounts(ctx context.Context, authSvc *auth.Service, n int) ([]string, error) {
	ids := make([]string, n)
	err := parallel(ctx, n, 2, func(i int) error {
		a, err := authSvc.Signup(ctx, fmt.Sprintf("bench-%d@example.com", i), "bench-password-not-secret", false)
		if err != nil {
			return fmt.Errorf("sign up account %d: %w", i, err)
		}
		ids[i] = a.ID
		return nil
	})
	return ids, err
}

// createKeys creates n keys, perAccount to an account, on workers
// goroutines, saying every 5 seconds how far it got.
func createKeys(ctx context.Context, keySvc *keys.Service, accountIDs []string, n, perAccount, workers int, progress io.Writer) ([]string, error) {
	t0 := time.Now()
	secrets := make([]string, n)
	var done atomic.Int64
	stopProgress := make(chan struct{})
	var pw sync.WaitGroup
	pw.Go(func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-tick.C:
				d, el := done.Load(), time.Since(t0)
				fmt.Fprintf(progress, "  seeding: %d/%d keys in %s (%.0f keys/s)\n", d, n, el.Round(time.Second), float64(d)/el.Seconds())
			}
		}
	})
	defer func() {
		close(stopProgress)
		pw.Wait()
	}()
	err := parallel(ctx, n, workers, func(i int) error {
		acct := accountIDs[i/perAccount]
		_, s, err := keySvc.Create(ctx, audit.Actor{AccountID: acct, Role: string(team.Owner), IP: "127.0.0.1"}, acct, keys.Settings{
			Name:   fmt.Sprintf("bench key %d", i),
			Scopes: []string{"read", "write"},
			Meta:   map[string]any{"bench": true},
		})
		if err != nil {
			return fmt.Errorf("create key %d: %w", i, err)
		}
		secrets[i] = s.Reveal()
		done.Add(1)
		return nil
	})
	return secrets, err
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first
// error; after an error or a cancelled ctx no new call starts.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		failed   atomic.Bool
	)
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
