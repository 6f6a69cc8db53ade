package auth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// TestSuccessRefundsTheAttempt: a right password takes its attempt back
// from the account's ceiling and from the address's limit, so the owner
// logging in (or changing the password) never uses up either. Each case
// puts a limit one short of full, lets the owner succeed, and then expects
// exactly one more failure before the limit refuses: without the refund
// the success would have filled it.
func TestSuccessRefundsTheAttempt(t *testing.T) {
	type succeed func(ctx context.Context, svc *auth.Service, a *auth.User, address string) error
	login := func(ctx context.Context, svc *auth.Service, _ *auth.User, address string) error {
		_, err := svc.Login(ctx, "ada@example.com", adaPassword, address)
		return err
	}
	changePassword := func(ctx context.Context, svc *auth.Service, a *auth.User, address string) error {
		return svc.ChangePassword(ctx, audit.Actor{UserID: a.ID, AccountID: a.ID, IP: address}, adaPassword, "a brand new password")
	}
	tests := []struct {
		name string
		opts func(*auth.Config)
		// fail is the i-th failed log-in that counts against the limit.
		fail func(i int) (email, address string)
		// succeedFrom is the address the right password comes from.
		succeedFrom string
	}{
		{
			name: "address limit",
			opts: func(c *auth.Config) { c.AddressFailures = 3 },
			fail: func(i int) (string, string) {
				return fmt.Sprintf("user%d@example.com", i), "192.0.2.1"
			},
			succeedFrom: "192.0.2.1",
		},
		{
			name: "account ceiling",
			opts: func(c *auth.Config) { c.AccountFailures = 3 },
			fail: func(i int) (string, string) {
				return "ada@example.com", fmt.Sprintf("203.0.113.%d", i)
			},
			succeedFrom: "198.51.100.20",
		},
	}
	for _, tt := range tests {
		for name, ok := range map[string]succeed{"log-in": login, "password change": changePassword} {
			t.Run(tt.name+", "+name, func(t *testing.T) {
				svc, _ := MustService(t, nil, tt.opts)
				ctx := context.Background()
				a := mustAda(t, svc)
				for i := range 2 {
					email, address := tt.fail(i)
					if _, err := svc.Login(ctx, email, "wrong password!", address); code(err) != keyhold.EUNAUTHORIZED {
						t.Fatalf("failure %d: %v", i+1, err)
					}
				}
				if err := ok(ctx, svc, a, tt.succeedFrom); err != nil {
					t.Fatalf("the right password: %v", err)
				}
				email, address := tt.fail(2)
				if _, err := svc.Login(ctx, email, "wrong password!", address); code(err) != keyhold.EUNAUTHORIZED {
					t.Errorf("the 3rd failure, after a success: %v, want EUNAUTHORIZED (the success was refunded)", err)
				}
				email, address = tt.fail(3)
				if _, err := svc.Login(ctx, email, "wrong password!", address); code(err) != keyhold.ETOOMANY {
					t.Errorf("the 4th failure: %v, want ETOOMANY (limit 3)", err)
				}
			})
		}
	}
}
