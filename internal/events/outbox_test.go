package events_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
)

// recordingQueue is an event queue that counts what it is asked to queue
// and fails when told to.
type recordingQueue struct {
	fanOuts []string
	fail    error
}

func (r *recordingQueue) FanOutTx(_ context.Context, _ *sql.Tx, id string) error {
	if r.fail != nil {
		return r.fail
	}
	r.fanOuts = append(r.fanOuts, id)
	return nil
}

func (r *recordingQueue) DeliverTx(context.Context, *sql.Tx, string, int) error { return r.fail }

// TestChangeWritesOneEvent: each audited change that webhooks tell of
// writes exactly one event of its type, about its account, with the
// resource's fields read in its transaction and no secret, and queues
// its fan-out; a change of no event type writes none.
func TestChangeWritesOneEvent(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			db := storetest.New(t, kind)
			rq := &recordingQueue{}
			db.SetEventQueue(rq)
			ctx := context.Background()
			acct := user(t, db, "ada@example.com")
			owner := audit.Actor{UserID: acct, AccountID: acct, Role: "owner"}

			// account.created, as sign-up writes it (AppendAudit).
			if err := db.AppendAudit(ctx, owner.Entry(acct, audit.AccountCreated, audit.TargetAccount, acct, "Signed up", time.Now())); err != nil {
				t.Fatal(err)
			}
			// A log-in is audited but is no event.
			if err := db.AppendAudit(ctx, owner.Entry(acct, audit.LoggedIn, audit.TargetUser, acct, "Logged in", time.Now())); err != nil {
				t.Fatal(err)
			}
			k := createKey(t, db, acct, "production")
			k.Name = "prod"
			if err := db.UpdateKey(ctx, k, owner.Entry(acct, audit.KeyRenamed, audit.TargetKey, k.ID, "Renamed", time.Now())); err != nil {
				t.Fatal(err)
			}
			revokedAt := time.Now().UTC().Truncate(time.Second)
			if err := db.RevokeKey(ctx, acct, k.ID, revokedAt, owner.Entry(acct, audit.KeyRevoked, audit.TargetKey, k.ID, "Revoked", time.Now())); err != nil {
				t.Fatal(err)
			}

			rows := eventRows(t, db)
			wantTypes := []string{events.AccountCreated, events.KeyCreated, events.KeyUpdated, events.KeyRevoked}
			if len(rows) != len(wantTypes) {
				t.Fatalf("%d events, want %d: %+v", len(rows), len(wantTypes), rows)
			}
			for i, r := range rows {
				if r.Type != wantTypes[i] || r.AccountID != acct || !strings.HasPrefix(r.ID, events.IDPrefix) {
					t.Errorf("event %d: %s about %s (id %s), want %s about %s", i, r.Type, r.AccountID, r.ID, wantTypes[i], acct)
				}
				for _, bad := range []string{"hash", "secret", "kh_live_", "display"} {
					if strings.Contains(r.Data, bad) {
						t.Errorf("event %s data holds %q: %s", r.Type, bad, r.Data)
					}
				}
			}
			var acc struct {
				AccountID string `json:"account_id"`
				Name      string `json:"name"`
				PlanID    string `json:"plan_id"`
			}
			if err := json.Unmarshal([]byte(rows[0].Data), &acc); err != nil || acc.AccountID != acct || acc.Name != "ada@example.com" || acc.PlanID == "" {
				t.Errorf("account.created data %s (%v)", rows[0].Data, err)
			}
			var created, updated, revoked struct {
				KeyID     string     `json:"key_id"`
				AccountID string     `json:"account_id"`
				Name      string     `json:"name"`
				Scopes    []string   `json:"scopes"`
				RevokedAt *time.Time `json:"revoked_at"`
			}
			for i, v := range []any{&created, &updated, &revoked} {
				if err := json.Unmarshal([]byte(rows[i+1].Data), v); err != nil {
					t.Fatal(err)
				}
			}
			if created.KeyID != k.ID || created.Name != "production" || created.AccountID != acct || len(created.Scopes) != 1 || created.RevokedAt != nil {
				t.Errorf("key.created data %s", rows[1].Data)
			}
			if updated.Name != "prod" {
				t.Errorf("key.updated data %s: the name read in its transaction is the new one", rows[2].Data)
			}
			if revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(revokedAt) {
				t.Errorf("key.revoked data %s, want revoked_at %v", rows[3].Data, revokedAt)
			}
			// Each event's fan-out was queued with it, once.
			if len(rq.fanOuts) != len(rows) {
				t.Fatalf("%d fan-outs queued for %d events", len(rq.fanOuts), len(rows))
			}
			for i, r := range rows {
				if rq.fanOuts[i] != r.ID {
					t.Errorf("fan-out %d is of %s, want %s", i, rq.fanOuts[i], r.ID)
				}
			}
		})
	}
}

// TestRolledBackChangeWritesNoEvent: a change whose transaction rolls
// back (here, because its fan-out job cannot be queued) leaves no event,
// no job and no change; a change that fails before its audit entry writes
// no event either.
func TestRolledBackChangeWritesNoEvent(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			db := storetest.New(t, kind)
			acct := user(t, db, "ada@example.com")
			boom := errors.New("queue down")
			db.SetEventQueue(&recordingQueue{fail: boom})
			if _, err := tryCreateKey(db, acct, "doomed"); !errors.Is(err, boom) {
				t.Fatalf("create key: %v, want %v", err, boom)
			}
			if n := count(t, db, "SELECT count(*) FROM api_keys"); n != 0 {
				t.Errorf("%d keys after the rollback", n)
			}
			if n := count(t, db, "SELECT count(*) FROM events"); n != 0 {
				t.Errorf("%d events after the rollback", n)
			}
			if n := count(t, db, "SELECT count(*) FROM audit_log WHERE action = 'key.created'"); n != 0 {
				t.Errorf("%d audit entries after the rollback", n)
			}

			// With a real queue: a revoke of a key that does not exist
			// fails, and queues no job.
			instanceQueue(t, db)
			owner := audit.Actor{UserID: acct, AccountID: acct}
			err := db.RevokeKey(context.Background(), acct, keyhold.NewID(), time.Now(), owner.Entry(acct, audit.KeyRevoked, audit.TargetKey, "x", "", time.Now()))
			if err == nil {
				t.Fatal("revoking no key succeeded")
			}
			if n := count(t, db, "SELECT count(*) FROM events"); n != 0 {
				t.Errorf("%d events after a failed change", n)
			}
			if n := count(t, db, "SELECT count(*) FROM river_job WHERE kind LIKE 'webhook.%'"); n != 0 {
				t.Errorf("%d webhook jobs after a failed change", n)
			}
			// The same store, a change that commits: one event, one job.
			createKey(t, db, acct, "kept")
			if n := count(t, db, "SELECT count(*) FROM river_job WHERE kind = 'webhook.fanout'"); n != 1 {
				t.Errorf("%d fan-out jobs after one change, want 1", n)
			}
		})
	}
}

// instanceQueue sets db's event queue to a real River queue that only
// inserts (as the command line's does).
func instanceQueue(t testing.TB, db *store.DB) {
	t.Helper()
	qu, err := newInsertOnlyQueue(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = qu.Stop(context.Background()) })
	db.SetEventQueue(events.NewJobs(qu))
}

// TestAccountAndMemberEvents: provisioning an account with an existing
// owner, a plan assigned, a suspension and a member's removal each write
// their event, with the account's or member's fields as they are after
// the change.
func TestAccountAndMemberEvents(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			db := storetest.New(t, kind)
			db.SetEventQueue(&recordingQueue{})
			ctx := context.Background()
			owner := user(t, db, "owner@example.com")
			now := time.Now().UTC()
			acct := keyhold.NewID()
			sys := audit.Actor{}
			p := &team.Provision{Account: &team.Account{ID: acct, Name: "Acme", ExternalID: "crm-42", PlanID: "free", CreatedAt: now, UpdatedAt: now},
				Entries:    []audit.Entry{sys.Entry(acct, audit.AccountCreated, audit.TargetAccount, acct, "Created Acme", now)},
				OwnerEmail: "owner@example.com", OwnerEntry: sys.Entry(acct, audit.MemberAdded, audit.TargetMember, "", "Made the owner", now)}
			if _, err := db.ProvisionAccount(ctx, p); err != nil {
				t.Fatal(err)
			}
			if err := db.AssignPlan(ctx, acct, "pro", sys.Entry(acct, audit.PlanAssigned, audit.TargetAccount, acct, "Comped", now)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetSuspended(ctx, acct, true, sys.Entry(acct, audit.Suspended, audit.TargetAccount, acct, "Suspended", now)); err != nil {
				t.Fatal(err)
			}
			dev := user(t, db, "dev@example.com")
			if _, err := db.SQL().Exec(q(db, "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, 'developer', ?)"), acct, dev, now); err != nil {
				t.Fatal(err)
			}
			if err := db.RemoveMember(ctx, acct, dev, team.Developer, sys.Entry(acct, audit.MemberRemoved, audit.TargetMember, dev, "Removed", now)); err != nil {
				t.Fatal(err)
			}
			rows := eventRows(t, db)
			want := []struct{ typ, data string }{
				{events.AccountCreated, `"external_id":"crm-42"`},
				{events.MemberAdded, `"role":"owner"`},
				{events.AccountPlanChanged, `"plan_id":"pro"`},
				{events.AccountSuspended, `"suspended":true`},
				{events.MemberRemoved, `"email":"dev@example.com","role":""`},
			}
			if len(rows) != len(want) {
				t.Fatalf("%d events, want %d: %+v", len(rows), len(want), rows)
			}
			for i, w := range want {
				if rows[i].Type != w.typ || rows[i].AccountID != acct || !strings.Contains(rows[i].Data, w.data) {
					t.Errorf("event %d: %s %s, want %s with %s", i, rows[i].Type, rows[i].Data, w.typ, w.data)
				}
			}
			if !strings.Contains(rows[1].Data, `"user_id":"`+owner+`"`) || !strings.Contains(rows[1].Data, "owner@example.com") {
				t.Errorf("member.added data %s", rows[1].Data)
			}
		})
	}
}
