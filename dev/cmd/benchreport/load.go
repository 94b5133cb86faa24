package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// load is a bounded run of GET requests from concurrent clients: it stops
// after Duration or MaxRequests, whichever comes first.
type load struct {
	URL         string
	Clients     int
	Duration    time.Duration
	MaxRequests int
	// Token gives the i-th request's bearer token.
	Token func(i int) string
}

// loadResult is what a load run measured.
type loadResult struct {
	Requests int
	Failed   int
	PerSec   float64 // successful requests per second
	P50, P99 float64 // seconds, of successful requests
	// FirstFailure describes the first request that did not answer 200.
	FirstFailure string
}

// run sends the requests and measures each.
func (l load) run(ctx context.Context) loadResult {
	ctx, cancel := context.WithTimeout(ctx, l.Duration+time.Minute)
	defer cancel()
	client := &http.Client{
		Timeout:   35 * time.Second, // past API Gateway's 30 s integration timeout
		Transport: &http.Transport{MaxIdleConnsPerHost: l.Clients, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		failed   int
		firstErr string
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(l.Duration)
	start := time.Now()
	for range l.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= l.MaxRequests || time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := l.get(ctx, client, l.Token(i))
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == "" {
						firstErr = err.Error()
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	secs := durations(lat)
	return loadResult{
		Requests:     len(lat) + failed,
		Failed:       failed,
		PerSec:       float64(len(lat)) / elapsed.Seconds(),
		P50:          percentile(secs, 50),
		P99:          percentile(secs, 99),
		FirstFailure: firstErr,
	}
}

// get sends one request and reads the whole answer, which must be a 200.
func (l load) get(ctx context.Context, client *http.Client, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	return nil
}
