package testserver_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/atoguard/atoguard/internal/testserver"
)

func TestPostgresStopStart(t *testing.T) {
	pg := testserver.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	pgPing(ctx, t, pg.URL())
	pg.Stop()
	if c, err := pgx.Connect(ctx, pg.URL()); err == nil {
		c.Close(ctx)
		t.Fatal("connected to a stopped server")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connecting to a stopped server: got %v, want connection refused", err)
	}
	pg.Start()
	pgPing(ctx, t, pg.URL())
}

func pgPing(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT 1: got %d, %v", n, err)
	}
}

func TestRedisStopStart(t *testing.T) {
	r := testserver.Redis(t)
	if err := testserver.Ping(r.Addr()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if got, want := r.URL(), "redis://"+r.Addr()+"/0"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	r.Stop()
	if err := testserver.Ping(r.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("ping a stopped server: got %v, want connection refused", err)
	}
	r.Start()
	if err := testserver.Ping(r.Addr()); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}
