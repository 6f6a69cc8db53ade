package main

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/jobs"
	"github.com/keyhold/keyhold/internal/mail"
	"github.com/keyhold/keyhold/internal/notices"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/tokens"
)

// newQueue builds the job queue on the database and the store's outbox on
// it. It always works the periodic rotation of the token signing keys and
// the hourly check of expiring keys (notices), and the outbound webhooks
// (the store queues their jobs on it); with KEYHOLD_SMTP_URL it works mail
// jobs too, and without, nothing queues mail (auth's email is off).
func newQueue(ctx context.Context, cfg *config.Config, db *store.DB, secret []byte, tokenSvc *tokens.Service, noticeSvc *notices.Service, log *slog.Logger) (*jobs.Queue, error) {
	jc := jobs.Config{DB: db.SQL(), Logger: log.With("component", "jobs"), Workers: river.NewWorkers()}
	jc.PeriodicJobs = append(jc.PeriodicJobs, tokens.Register(jc.Workers, tokenSvc), notices.Register(jc.Workers, noticeSvc))
	if db.Postgres() {
		jc.PostgresURL = cfg.DatabaseURL
	}
	if err := addWebhooks(&jc, cfg, db, secret, log); err != nil {
		return nil, err
	}
	if cfg.SMTP != nil {
		w, err := mail.NewWorker(mail.NewSMTP(mail.Server(*cfg.SMTP), cfg.EmailFrom), secret, cfg.BaseURL, log.With("component", "mail"))
		if err != nil {
			return nil, err
		}
		mail.Register(jc.Workers, w)
		log.Info("email on", "smtp", cfg.SMTP.String(), "from", cfg.EmailFrom.String())
	}
	q, err := jobs.New(ctx, jc)
	if err != nil {
		return nil, err
	}
	o, err := mail.NewOutbox(q, secret)
	if err != nil {
		return nil, err
	}
	db.SetOutbox(o)
	db.SetEventQueue(events.NewJobs(q))
	return q, nil
}
