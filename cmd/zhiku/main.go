// Command zhiku is Zhiku's single binary: the HTTP server and the operators' CLI.
// It owns configuration, the database pool and the wiring of every other package.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd(os.Getenv, os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		fmt.Fprintln(os.Stderr, "zhiku:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a code after the command has already said why.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// app is what every command shares: the environment, configuration and output streams.
type app struct {
	getenv func(string) string
	out    io.Writer
	errOut io.Writer
	cfg    config.Config
	log    *slog.Logger
}

func newRootCmd(getenv func(string) string, out, errOut io.Writer) *cobra.Command {
	a := &app{getenv: getenv, out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "zhiku",
		Short:         "Zhiku (知库): knowledge base and RAG service for customer-service bots",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(a.getenv)
			if err != nil {
				return err
			}
			a.cfg = cfg
			a.log = newLogger(cfg, a.errOut)
			return nil
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(a.serveCmd(), a.workerCmd(), a.migrateCmd(), a.kbCmd(), a.keyCmd(), a.ingestCmd(), a.parseCmd(), a.askCmd(), a.evalCmd(), a.benchCmd(), a.reembedCmd(), a.reindexCmd(), a.userCmd())
	return root
}

// newLogger logs JSON (production) or text (development) to w at the configured level.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
