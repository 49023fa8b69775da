package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// asynqQueue is an asynq client and server on one Redis database, which it
// flushes when opened.
type asynqQueue struct {
	opt     asynq.RedisClientOpt
	client  *asynq.Client
	inspect *asynq.Inspector
	srv     *asynq.Server
	worked  atomic.Pointer[func()]
	pool    int
}

func openAsynq(ctx context.Context, cfg *config, _ int) (queue, error) {
	opt := asynq.RedisClientOpt{Addr: cfg.redisAddr, DB: cfg.redisDB, PoolSize: cfg.pool}
	rdb := redis.NewClient(&redis.Options{Addr: cfg.redisAddr, DB: cfg.redisDB})
	err := rdb.FlushDB(ctx).Err()
	rdb.Close()
	if err != nil {
		return nil, fmt.Errorf("asynq: flush Redis database %d at %s (-redis, -redis-db): %w", cfg.redisDB, cfg.redisAddr, err)
	}
	return &asynqQueue{opt: opt, client: asynq.NewClient(opt), inspect: asynq.NewInspector(opt), pool: cfg.pool}, nil
}

func noopTask() *asynq.Task { return asynq.NewTask("noop", nil) }

// insertMany enqueues n tasks from as many goroutines as the pool has
// connections: asynq has no batch insert.
func (q *asynqQueue) insertMany(ctx context.Context, n, _ int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, q.pool)
	for range q.pool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := q.client.EnqueueContext(ctx, noopTask()); err != nil {
					errs <- fmt.Errorf("asynq: enqueue: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (q *asynqQueue) insertOne(ctx context.Context) error {
	_, err := q.client.EnqueueContext(ctx, noopTask())
	return err
}

func (q *asynqQueue) start(_ context.Context, workers int, worked func()) error {
	q.worked.Store(&worked)
	q.srv = asynq.NewServer(q.opt, asynq.Config{Concurrency: workers, LogLevel: asynq.ErrorLevel})
	h := asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		if f := q.worked.Load(); f != nil {
			(*f)()
		}
		return nil
	})
	if err := q.srv.Start(h); err != nil {
		return fmt.Errorf("asynq: start: %w", err)
	}
	return nil
}

func (q *asynqQueue) stop(context.Context) error {
	if q.srv != nil {
		q.srv.Shutdown()
		q.srv = nil
	}
	return nil
}

// counts: a completed asynq task is deleted (no Retention is set) and
// counted in the queue's processed total; a failed one is counted in both
// the processed and failed totals.
func (q *asynqQueue) counts(context.Context) (total, completed int64, err error) {
	info, err := q.inspect.GetQueueInfo("default")
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0, 0, nil // nothing enqueued yet
	}
	if err != nil {
		return 0, 0, fmt.Errorf("asynq: queue info: %w", err)
	}
	done := int64(info.ProcessedTotal - info.FailedTotal)
	return int64(info.Size) + done, done, nil
}

func (q *asynqQueue) close() {
	_ = q.stop(context.Background())
	q.client.Close()
	q.inspect.Close()
}
