package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"context"
	"encoding/json"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// The state is kept in the storage extension (for example file_storage):
// one JSON value per SLO under stateKeyPrefix + name, holding every group's
// non-empty buckets, cumulative counts and open episode. The storage API
// is the collector's own home for component state (the persistent sending
// queue and filelog's offsets live there), a local file that needs no
// network, and the evidence exporter's spool is a queue of bundle parts,
// not a key-value store.
//
// A window's saved buckets are restored only when its bucket width is
// unchanged (same duration, time_scale and buckets_per_window), so a
// changed configuration starts that window afresh instead of misreading
// it; buckets that have left the window during the downtime are dropped by
// the window itself. An episode restored open keeps its incident ID: if
// the condition still holds the incident stays open, else it resolves once
// resolve_after has passed since the condition stopped holding (the
// downtime counts).
const (
	stateKeyPrefix = "slo/"
	stateVersion   = 1
)

type windowState struct {
	Width   int64         `json:"width"`
	Buckets []bucketState `json:"buckets,omitempty"`
}

type groupState struct {
	Key     string        `json:"key"`
	Created time.Time     `json:"created"`
	Good    uint64        `json:"good"`
	Bad     uint64        `json:"bad"`
	Windows []windowState `json:"windows"`
	Episode *episode      `json:"episode,omitempty"`
}

type sloState struct {
	Version int          `json:"version"`
	Groups  []groupState `json:"groups"`
}

// save writes every SLO's state. Failures are logged and counted; the next
// interval tries again.
func (c *sloConnector) save(ctx context.Context) {
	for _, o := range c.slos {
		st := sloState{Version: stateVersion}
		for _, g := range o.snapshotGroups() {
			g.mu.Lock()
			gs := groupState{Key: g.key, Created: g.created, Good: g.goodTot, Bad: g.badTot}
			for _, w := range g.windows {
				gs.Windows = append(gs.Windows, windowState{Width: w.width, Buckets: w.export()})
			}
			if g.episode != nil {
				ep := *g.episode
				gs.Episode = &ep
			}
			g.mu.Unlock()
			st.Groups = append(st.Groups, gs)
		}
		b, err := json.Marshal(st)
		if err == nil {
			err = c.state.Set(ctx, stateKeyPrefix+o.cfg.Name, b)
		}
		if err != nil {
			c.stateError(ctx, "save", o.cfg.Name, err)
		}
	}
}

// load restores every SLO's saved state. A missing value is a first start;
// an unreadable one is logged, counted and ignored: the SLO starts empty.
func (c *sloConnector) load(ctx context.Context) {
	now := c.now()
	for _, o := range c.slos {
		b, err := c.state.Get(ctx, stateKeyPrefix+o.cfg.Name)
		if err != nil {
			c.stateError(ctx, "load", o.cfg.Name, err)
			continue
		}
		if b == nil {
			continue
		}
		var st sloState
		if err := json.Unmarshal(b, &st); err != nil {
			c.stateError(ctx, "load", o.cfg.Name, err)
			continue
		}
		if st.Version != stateVersion {
			c.logger.Warn("Ignoring SLO state of another version", zap.String("slo", o.cfg.Name), zap.Int("version", st.Version))
			continue
		}
		restored := 0
		for _, gs := range st.Groups {
			g := o.restoreGroup(&gs, now)
			if g == nil {
				continue
			}
			restored++
			c.tel.ConnectorSloGroups.Add(ctx, 1, o.attrSLO)
		}
		c.logger.Info("Restored SLO state", zap.String("slo", o.cfg.Name), zap.Int("groups", restored))
	}
}

func (c *sloConnector) stateError(ctx context.Context, op, name string, err error) {
	c.tel.ConnectorSloStateErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("operation", op)))
	c.logger.Warn("SLO state "+op+" failed", zap.String("slo", name), zap.Error(err))
}

// restoreGroup recreates a saved group, within max_groups.
func (o *slo) restoreGroup(gs *groupState, now time.Time) *group {
	var values []string
	if len(o.cfg.Selector.GroupBy) > 0 {
		values = splitKey(gs.Key)
		if len(values) != len(o.cfg.Selector.GroupBy) {
			return nil // group_by changed
		}
	} else if gs.Key != "" {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.groups[gs.Key] != nil || len(o.groups) >= o.maxGroups {
		return nil
	}
	g := newGroup(o, gs.Key, values, gs.Created)
	g.goodTot, g.badTot = gs.Good, gs.Bad
	for i, w := range g.windows {
		if i < len(gs.Windows) && gs.Windows[i].Width == w.width {
			w.restore(now.UnixNano(), gs.Windows[i].Buckets)
		}
	}
	if ep := gs.Episode; ep != nil && ep.ID != "" && ep.Level >= -1 && ep.Level < numLevels {
		g.episode = ep
	}
	o.groups[gs.Key] = g
	return g
}
