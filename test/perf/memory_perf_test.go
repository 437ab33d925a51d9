//go:build perf

package perf

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rssHeadroom is the memory target's allowance above buffer.max_bytes.
const rssHeadroom = 150 << 20

// baselineMemoryRun bounds the baseline's run, which only gives context.
const baselineMemoryRun = time.Minute

// Freezing memory run: the case is a 256 MiB ring while an incident
// window freezes everything it holds, within ring bytes + 128 MiB.
const (
	freezingRingBytes   = 256 << 20
	freezingHeadroom    = 128 << 20
	freezingFillStep    = 15 * time.Second
	freezingFillTimeout = 8 * time.Minute // the incident window ends 10 minutes after it opens
)

// TestPerfMemory sends the fixed load to the full pipeline for
// PERF_SUSTAINED (default 2m) with a small buffer.max_bytes, so that the
// ring fills and evicts, and samples the collector's VmRSS every second.
// The baseline configuration runs the same load for at most a minute, for
// context. A third run, "freezing", sends the same load for PERF_SUSTAINED
// to the full pipeline with a 256 MiB ring while an incident window is open
// from the start, so that the exporter freezes what arrives into parts
// every flush; it first sends until the ring is full (it evicts), and its
// peak covers both phases.
func TestPerfMemory(t *testing.T) {
	page := startPerf(t)
	rate := envFloat(t, EnvRate, 20000)
	dur := envDuration(t, EnvSustained, 2*time.Minute)
	maxBytes := int64(envFloat(t, EnvMaxBytes, 64<<20))

	now := time.Now()
	batches, err := BuildBatches(cpuBatches, 1000, 1, func(b, i int) time.Time {
		return now.Add(time.Duration(b*1000+i) * time.Millisecond / 20)
	})
	require.NoError(t, err)

	type memRun struct {
		peak, hwm, ringBytes int64
		samples              []int64
		evicted, held        float64
		frozen               float64
		frozenOK             bool
		fill                 time.Duration // the freezing run's fill phase, before dur
		spans                int
		rate                 float64
		late                 int
		dur                  time.Duration
	}
	run := func(t *testing.T, v Variant, ring int64, dur time.Duration) memRun {
		p := newPorts(t)
		opts := ConfigOptions{}
		if v.HasEvidence() {
			opts.Evidence = map[string]any{"buffer": map[string]any{"max_bytes": ring, "max_age": "35m"}}
		}
		cfg, err := CollectorConfig(v, p, opts)
		require.NoError(t, err)
		c := startCollector(t, p, cfg)
		sampler := SampleRSS(c.pid, time.Second)
		postFixtures(c, true)
		if v == VariantFreezing {
			// The window [now-30m, now+10m] covers everything sent.
			c.post("/v1/incidents", `{"id":"INC-PERF-MEMORY","title":"perf memory while freezing","severity":"critical"}`)
		}
		s := c.dial()
		var fill time.Duration
		if v == VariantFreezing {
			// Fill the ring first (until it evicts), so that the
			// measured run freezes with a full ring.
			for begin := time.Now(); ; {
				f, err := s.SendAtRate(context.Background(), batches, RateOptions{SpansPerSecond: rate, Duration: freezingFillStep})
				require.NoError(t, err)
				require.Zerof(t, f.Errors, "export errors: %v", f.FirstError)
				if ev, _ := c.metric("otelcol_exporter_evidence_buffer_evicted_items", map[string]string{"signal": "traces"}); ev > 0 {
					fill = time.Since(begin)
					break
				}
				require.Lessf(t, time.Since(begin), freezingFillTimeout, "the %s ring did not fill in %s", mib(ring), freezingFillTimeout)
			}
		}
		st, err := s.SendAtRate(context.Background(), batches, RateOptions{SpansPerSecond: rate, Duration: dur})
		require.NoError(t, err)
		require.Zerof(t, st.Errors, "export errors: %v", st.FirstError)
		samples, err := sampler.Stop()
		require.NoError(t, err)
		r := memRun{peak: maxOf(samples), hwm: c.memory().HWM, samples: samples, spans: st.Spans, rate: st.Rate(), late: st.Late, dur: dur, fill: fill}
		if v.HasEvidence() {
			b, _ := c.metric("otelcol_exporter_evidence_buffer_bytes", map[string]string{"signal": "traces"})
			r.ringBytes = int64(b)
			r.evicted, _ = c.metric("otelcol_exporter_evidence_buffer_evicted_items", map[string]string{"signal": "traces"})
			r.held, _ = c.metric("otelcol_exporter_evidence_buffer_items", map[string]string{"signal": "traces"})
			r.frozen, r.frozenOK = c.metric("otelcol_exporter_evidence_items_frozen", map[string]string{"signal": "traces"})
		}
		return r
	}

	var full, base, freezing memRun
	var cs cases
	fullOK := cs.run(t, "full", func(t *testing.T) { full = run(t, VariantFull, maxBytes, dur) })
	baseOK := cs.run(t, "baseline", func(t *testing.T) { base = run(t, VariantBaseline, 0, min(dur, baselineMemoryRun)) })
	freezingOK := cs.run(t, "freezing", func(t *testing.T) {
		freezing = run(t, VariantFreezing, freezingRingBytes, dur)
		require.True(t, freezing.frozenOK, "the evidence exporter reports no frozen spans")
		require.Positive(t, freezing.frozen, "the incident window froze nothing")
	})

	limit := maxBytes + rssHeadroom
	res := Result{
		Section: "3-memory",
		Title:   "Resident memory under sustained load",
		Params: map[string]string{
			"duration": fmt.Sprintf("%s (%s; the issue's full run is PERF_SUSTAINED=10m)", dur, EnvSustained),
			"load":     fmt.Sprintf("%.0f spans/s offered, pre-built 1,000-span batches", rate),
			"pipeline": VariantFull.Describe(),
			"buffer":   fmt.Sprintf("buffer.max_bytes %d (%s), memory ring, s2", maxBytes, mib(maxBytes)),
			"sampling": "VmRSS from /proc/<pid>/status every second from start-up; VmHWM at the end",
			"baseline": fmt.Sprintf("%s for %s at the same load", VariantBaseline.Describe(), min(dur, baselineMemoryRun)),
			"freezing": fmt.Sprintf("%s, buffer.max_bytes %s, an incident window open from the start (everything sent is in it); at the same load until the ring evicts, then for %s",
				VariantFreezing.Describe(), mib(freezingRingBytes), dur),
		},
		Failed: cs.failed,
	}
	// A failed case's figures would be those of a half-run collector (or
	// zero): its row and figure are left out, and Failed names it.
	table := Table{
		Title:  "Resident memory",
		Header: []string{"config", "run", "spans sent", "achieved rate", "peak VmRSS (1 s samples)", "VmHWM", "ring bytes at end", "spans in ring", "evicted spans", "spans frozen"},
	}
	if fullOK {
		table.Rows = append(table.Rows, []string{"full", full.dur.String(), strconv.Itoa(full.spans), fmt.Sprintf("%.0f spans/s", full.rate), mib(full.peak), mib(full.hwm),
			mib(full.ringBytes), fmt.Sprintf("%.0f", full.held), fmt.Sprintf("%.0f", full.evicted), "-"})
		if full.evicted == 0 {
			table.Notes = append(table.Notes, "The ring never filled (no eviction): the run was too short or the rate too low to show the bound; lengthen PERF_SUSTAINED or lower PERF_MAX_BYTES.")
		}
		table.Notes = append(table.Notes, "VmRSS every 10 s of the full run: "+everyTenth(full.samples))
		peak := max(full.peak, full.hwm)
		basePeak := "failed"
		if baseOK {
			basePeak = mib(max(base.peak, base.hwm))
		}
		res.Figures = append(res.Figures, Figure{
			Name:  "Peak RSS, full pipeline, sustained load",
			Value: float64(peak) / (1 << 20), Unit: "MiB",
			Peer: "buffer.max_bytes", PeerValue: float64(maxBytes) / (1 << 20), Ratio: float64(peak) / float64(maxBytes),
			Target: fmt.Sprintf("< max_bytes + 150 MiB = %s", mib(limit)), Met: Met(peak < limit),
			Note: fmt.Sprintf("%s run; baseline peak %s; headroom above max_bytes %s", dur, basePeak, mib(peak-maxBytes)),
		})
	}
	if baseOK {
		table.Rows = append(table.Rows, []string{"baseline", base.dur.String(), strconv.Itoa(base.spans), fmt.Sprintf("%.0f spans/s", base.rate), mib(base.peak), mib(base.hwm), "-", "-", "-", "-"})
	}
	if freezingOK {
		table.Rows = append(table.Rows, []string{"freezing", (freezing.fill + freezing.dur).Round(time.Second).String(), strconv.Itoa(freezing.spans), fmt.Sprintf("%.0f spans/s", freezing.rate), mib(freezing.peak), mib(freezing.hwm),
			mib(freezing.ringBytes), fmt.Sprintf("%.0f", freezing.held), fmt.Sprintf("%.0f", freezing.evicted), fmt.Sprintf("%.0f", freezing.frozen)})
		table.Notes = append(table.Notes, fmt.Sprintf("The freezing run sent for %s until its %s ring evicted, then for %s; spans sent and the rate are those of the second phase.",
			freezing.fill.Round(time.Second), mib(freezingRingBytes), dur))
		freezePeak := max(freezing.peak, freezing.hwm)
		freezeLimit := int64(freezingRingBytes + freezingHeadroom)
		res.Figures = append(res.Figures, Figure{
			Name:  "Peak RSS while freezing, 256 MiB ring",
			Value: float64(freezePeak) / (1 << 20), Unit: "MiB",
			Peer: "buffer.max_bytes", PeerValue: float64(freezingRingBytes) / (1 << 20), Ratio: float64(freezePeak) / float64(freezingRingBytes),
			Target: fmt.Sprintf("<= ring + 128 MiB = %s", mib(freezeLimit)), Met: Met(freezePeak <= freezeLimit),
			Note: fmt.Sprintf("%s to fill the ring, then %s; %.0f spans frozen, ring %s at the end, %.0f spans evicted",
				freezing.fill.Round(time.Second), dur, freezing.frozen, mib(freezing.ringBytes), freezing.evicted),
		})
	}
	res.Tables = append(res.Tables, table)
	page.write(res)
}

func everyTenth(samples []int64) string {
	s := ""
	for i := 0; i < len(samples); i += 10 {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%.0f", float64(samples[i])/(1<<20))
	}
	return s + " MiB"
}
