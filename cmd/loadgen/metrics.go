package main

import (
	"context"
	"fmt"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metrics is one scrape of a server's /metrics: metric families by name.
type metrics map[string]*dto.MetricFamily

// scrape reads the server's /metrics (the Prometheus text format, which
// is what a client that asks for nothing in particular gets).
func (s *server) scrape(ctx context.Context, client *http.Client) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	return metrics(mf), nil
}

// sum adds the values of every series of the counter, gauge or untyped
// metric name; 0 when there is none.
func (m metrics) sum(name string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	total := 0.0
	for _, s := range f.GetMetric() {
		switch {
		case s.Counter != nil:
			total += s.GetCounter().GetValue()
		case s.Gauge != nil:
			total += s.GetGauge().GetValue()
		case s.Untyped != nil:
			total += s.GetUntyped().GetValue()
		}
	}
	return total
}

// summary returns the sample count and sum of the summary name over its
// series, and the largest value its quantile q takes in any of them.
func (m metrics) summary(name string, q float64) (count uint64, sum, quantile float64) {
	f := m[name]
	if f == nil {
		return 0, 0, 0
	}
	for _, s := range f.GetMetric() {
		sm := s.GetSummary()
		if sm == nil {
			continue
		}
		count += sm.GetSampleCount()
		sum += sm.GetSampleSum()
		for _, x := range sm.GetQuantile() {
			if x.GetQuantile() == q {
				quantile = max(quantile, x.GetValue())
			}
		}
	}
	return count, sum, quantile
}
