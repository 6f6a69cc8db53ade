package main

import (
	"log/slog"

	"github.com/keyhold/keyhold/internal/config"
	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/jobs"
	"github.com/keyhold/keyhold/internal/store"
)

// addWebhooks adds the outbound webhooks' workers, their queue and their
// periodic sweep to jc, before the queue is built on it.
func addWebhooks(jc *jobs.Config, cfg *config.Config, db *store.DB, secret []byte, log *slog.Logger) error {
	d, err := events.NewDeliverer(events.DeliveryConfig{Store: db, Secret: secret,
		Sender: events.SenderConfig{AllowInsecure: cfg.WebhooksAllowInsecure}, Logger: log.With("component", "webhooks")})
	if err != nil {
		return err
	}
	sweep, workers := d.Register(jc.Workers)
	jc.PeriodicJobs = append(jc.PeriodicJobs, sweep)
	if jc.Queues == nil {
		jc.Queues = map[string]int{}
	}
	jc.Queues[events.Queue] = workers
	return nil
}
