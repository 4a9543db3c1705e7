package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure the in-process NATS server.
type EmbeddedOptions struct {
	// Host to listen on; default 127.0.0.1 (never all interfaces by default).
	Host string
	// Port to listen on; 0 picks a free port.
	Port int
	// StoreDir enables JetStream with its files there; empty leaves
	// JetStream off (progress events do not need it).
	StoreDir string
}

// EmbeddedServer is a nats-server running inside this process.
type EmbeddedServer struct {
	srv    *server.Server
	logger *slog.Logger
	once   sync.Once
}

// StartEmbedded starts a NATS server in this process and waits until it
// accepts connections or ctx is done.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions, logger *slog.Logger) (*EmbeddedServer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "nats-server")
	so := &server.Options{
		ServerName: "ifc-embedded",
		Host:       opts.Host,
		Port:       opts.Port,
		NoSigs:     true,
		MaxPayload: 1 << 20,
	}
	if so.Host == "" {
		so.Host = "127.0.0.1"
	}
	if so.Port == 0 {
		so.Port = server.RANDOM_PORT // 0 would mean 4222 to nats-server
	}
	if opts.StoreDir != "" {
		so.JetStream = true
		so.StoreDir = opts.StoreDir
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natsbus: configure embedded server: %w", err)
	}
	srv.SetLogger(slogAdapter{logger}, false, false)
	srv.Start()
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		if err := ctx.Err(); err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("natsbus: embedded server not ready: %w", err)
		}
	}
	logger.Info("embedded nats server ready", "url", srv.ClientURL(), "jetstream", so.JetStream)
	return &EmbeddedServer{srv: srv, logger: logger}, nil
}

// ClientURL is the nats:// URL other processes can connect to.
func (e *EmbeddedServer) ClientURL() string { return e.srv.ClientURL() }

// Server exposes the underlying nats-server (monitoring, tests).
func (e *EmbeddedServer) Server() *server.Server { return e.srv }

// Connect returns a Bus over an in-process connection (no TCP socket).
func (e *EmbeddedServer) Connect(logger *slog.Logger) (*Bus, error) {
	if logger == nil {
		logger = e.logger
	}
	logger = logger.With("component", "events.nats")
	nc, err := nats.Connect("", append(connOptions(logger), nats.InProcessServer(e.srv))...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect in process: %w", err)
	}
	return newBus(nc, logger), nil
}

// Close shuts the server down and waits for it; it is idempotent. Close
// the buses connected to it first.
func (e *EmbeddedServer) Close() error {
	e.once.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
	return nil
}

// slogAdapter routes nats-server logs to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), "fatal", true)
}
func (a slogAdapter) Errorf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
