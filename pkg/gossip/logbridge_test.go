package gossip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMemberlistLoggerMapsLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := newMemberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Printf("[DEBUG] memberlist: Stream connection from=127.0.0.1:1")
	l.Printf("[INFO] memberlist: Marking n1 as failed")
	l.Printf("[WARN] memberlist: Refuting a suspect message")
	l.Printf("[ERR] memberlist: Failed to send ping")
	l.Printf("no prefix")
	out := buf.String()
	for _, want := range []string{
		`level=INFO msg="Marking n1 as failed" component=memberlist`,
		`level=WARN msg="Refuting a suspect message"`,
		`level=ERROR msg="Failed to send ping"`,
		`level=INFO msg="no prefix"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Stream connection") {
		t.Errorf("debug line logged at info level:\n%s", out)
	}
	newMemberlistLogger(nil).Printf("[ERR] discarded") // a nil logger discards
}
