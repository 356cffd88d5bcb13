package consensus

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger bridges Raft's hclog output into slog. hclog writes lines like
// "2024-01-02T15:04:05.000Z [INFO]  raft: entering follower state: ...";
// each becomes one slog record at the matching level.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:            "raft",
		Level:           hclog.Debug,
		Output:          slogWriter{l},
		DisableTime:     true,
		IncludeLocation: false,
	})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, m := range []struct {
		tag   string
		level slog.Level
	}{
		{"[TRACE]", slog.LevelDebug - 4},
		{"[DEBUG]", slog.LevelDebug},
		{"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn},
		{"[ERROR]", slog.LevelError},
	} {
		if i := bytes.Index(line, []byte(m.tag)); i >= 0 {
			level = m.level
			line = bytes.TrimSpace(line[i+len(m.tag):])
			break
		}
	}
	w.l.Log(context.Background(), level, string(line))
	return len(p), nil
}
