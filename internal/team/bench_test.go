package team_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/store/storetest"
	"github.com/keyhold/keyhold/internal/team"
)

// BenchmarkMembers is the team page's read: 50 members and 10 pending
// invitations, two queries.
func BenchmarkMembers(b *testing.B) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, kind, false)
			ctx := context.Background()
			acct, a := e.owned("free")
			for i := range 49 {
				e.member(acct, e.user(fmt.Sprintf("m%02d@example.com", i)), team.Developer)
			}
			for i := range 10 {
				if _, _, _, err := e.svc.Invite(ctx, a, fmt.Sprintf("i%02d@example.com", i), "viewer"); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				ms, invs, err := e.svc.Members(ctx, a)
				if err != nil || len(ms) != 50 || len(invs) != 10 {
					b.Fatalf("%d members, %d invitations, %v", len(ms), len(invs), err)
				}
			}
		})
	}
}

// BenchmarkInvite is one invitation on a plan with a member limit (the
// seat count runs in the transaction), its mail queued in River's table.
func BenchmarkInvite(b *testing.B) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, kind, true)
			ctx := context.Background()
			_, a := e.owned("team")
			b.ResetTimer()
			for b.Loop() {
				// The same address each time: the earlier invitation is
				// replaced, so the plan's three seats never fill.
				if _, _, _, err := e.svc.Invite(ctx, a, "bob@example.com", "viewer"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccept is accepting an invitation: the lookup and the
// transaction that uses it and adds the member.
func BenchmarkAccept(b *testing.B) {
	for _, kind := range []string{storetest.SQLite, storetest.Postgres} {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, kind, false)
			ctx := context.Background()
			_, a := e.owned("free")
			for b.Loop() {
				b.StopTimer()
				email := keyhold.NewID() + "@example.com"
				user := e.user(email)
				token, _, _, err := e.svc.Invite(ctx, a, email, "viewer")
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := e.svc.Accept(ctx, audit.Actor{UserID: user}, email, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
