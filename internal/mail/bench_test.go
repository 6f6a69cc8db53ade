package mail_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/mail"
	"github.com/keyhold/keyhold/internal/testenv"
)

// BenchmarkQueueMail is the cost a request pays to mail a link: its token
// saved and its mail job inserted in one transaction (what the forgot
// password page does), with the queue's worker running on the same
// database, sending to mailpit.
func BenchmarkQueueMail(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			db := openB(b, kind)
			mp := testenv.SharedMailpit(b)
			q := instanceB(b, db, mail.Server{Host: "127.0.0.1", Port: mp.SMTPPort, Security: mail.Plain})
			o, err := mail.NewOutbox(q, secret)
			if err != nil {
				b.Fatal(err)
			}
			db.SetOutbox(o)
			a := accountB(b, db, fmt.Sprintf("bench-%s-%d@example.com", kind, b.N))
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				now := time.Now().UTC()
				token := fmt.Sprintf("bench-token-%d-0000000000000000000000000", i)
				tok := &auth.EmailToken{Hash: auth.TokenHash(token), UserID: a.ID, Purpose: auth.PurposePasswordReset, Email: a.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := db.SaveEmailToken(ctx, tok, &auth.Mail{Kind: auth.PurposePasswordReset, To: a.Email, Token: token, ExpiresAt: tok.ExpiresAt}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
