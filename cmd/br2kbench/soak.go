package main

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The soak (-soak D): full load for D while every etcd member's database
// size is sampled, to see whether it stays bounded.
const (
	soakClients  = 64
	soakMode     = "leader"
	soakInterval = 10 * time.Second // at most; D/30 when that is shorter
	soakSamples  = 30
)

// SoakResult is the soak's load and its etcd database size curve.
type SoakResult struct {
	Duration string       `json:"duration"`
	Interval string       `json:"interval"`
	Load     LoadPoint    `json:"load"`
	NoSpace  int          `json:"nospace_errors"` // writes refused because etcd's space quota was exhausted
	Members  []string     `json:"members"`        // the replicas whose etcd members were sampled, in sample order
	Samples  []SoakSample `json:"samples"`
	// Third is the index in Samples of the sample nearest a third of the
	// run; Growth is the highest ratio, over members, of the last sample's
	// database size to that one's.
	Third  int     `json:"third"`
	Growth float64 `json:"growth"`
}

// SoakSample is one sample: the leader's log head and, per member, etcd's
// database size and the part of it in use (Maintenance.Status: DbSize,
// DbSizeInUse), in MB; -1 when the member did not answer.
type SoakSample struct {
	AtS     float64   `json:"at_s"`
	Head    uint64    `json:"head"`
	DBMB    []float64 `json:"db_mb"`
	InUseMB []float64 `json:"in_use_mb"`
}

// isNoSpace reports whether a refused write's answer says etcd's space
// quota was exhausted: br2k's 507 BR2K_STORAGE_FULL, or an etcd error
// passed on.
func isNoSpace(status int, body []byte) bool {
	if status == http.StatusInsufficientStorage {
		return true
	}
	for _, s := range []string{"NOSPACE", "STORAGE_FULL", "space quota", "database space exceeded"} {
		if bytes.Contains(body, []byte(s)) {
			return true
		}
	}
	return false
}

// soak runs soakClients clients sending body's transfers to the leader for
// d, sampling the etcd members every interval.
func (b *bench) soak(ctx context.Context, cli *clientv3.Client, d time.Duration, body func(client int, seq uint64) []byte) (*SoakResult, error) {
	interval := min(soakInterval, (d / soakSamples).Round(time.Millisecond))
	if interval <= 0 {
		interval = d
	}
	res := &SoakResult{Duration: d.String(), Interval: interval.String()}
	for _, n := range b.c.Nodes {
		res.Members = append(res.Members, n.ID)
	}
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var head uint64
	sample := func() {
		s := SoakSample{AtS: time.Since(start).Seconds()}
		if st, err := b.c.Status(ctx, leader); err == nil {
			head = st.Head
		}
		s.Head = head
		for _, n := range b.c.Nodes {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := cli.Status(sctx, n.ClientURL)
			cancel()
			if err != nil {
				s.DBMB, s.InUseMB = append(s.DBMB, -1), append(s.InUseMB, -1)
				continue
			}
			s.DBMB, s.InUseMB = append(s.DBMB, mb(float64(st.DbSize))), append(s.InUseMB, mb(float64(st.DbSizeInUse)))
		}
		res.Samples = append(res.Samples, s)
	}
	sample()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if time.Since(start) < d-interval/2 { // else the last sample, after the load, is as near
					sample()
				}
			}
		}
	})
	var noSpace atomic.Int64
	res.Load, err = b.transfers(ctx, soakMode, soakClients, d, body, func(status int, body []byte) {
		if isNoSpace(status, body) {
			noSpace.Add(1)
		}
	})
	close(done)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	sample()
	res.NoSpace = int(noSpace.Load())
	res.Third, res.Growth = growth(res.Samples, d)
	return res, nil
}

// growth returns the sample nearest a third of a run of d (not the first,
// taken before the load) and the highest ratio, over members, of the last
// sample's database size to its.
func growth(samples []SoakSample, d time.Duration) (third int, ratio float64) {
	if len(samples) < 3 {
		return 0, 0
	}
	at := d.Seconds() / 3
	third = 1
	for i := 1; i < len(samples)-1; i++ {
		if abs(samples[i].AtS-at) < abs(samples[third].AtS-at) {
			third = i
		}
	}
	last := samples[len(samples)-1]
	for m, size := range last.DBMB {
		if base := samples[third].DBMB[m]; base > 0 && size >= 0 {
			ratio = max(ratio, size/base)
		}
	}
	return third, ratio
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
