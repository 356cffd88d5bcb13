package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// runCommand runs the hook command once: the request as JSON on stdin, the
// answer as JSON on stdout. A non-zero exit, a timeout or an unreadable
// answer is a failed attempt.
func (c *Client) runCommand(ctx context.Context, req Request) (Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	cmd := exec.CommandContext(ctx, c.cfg.Command[0], c.cfg.Command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	stdout := &capped{max: maxAnswer}
	stderr := &capped{max: 4096}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "UNDERSTUDY_REQUEST_ID="+req.ID, "UNDERSTUDY_REQUEST_KIND="+string(req.Kind))
	// A hook that leaves children holding its pipes must not hang us.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Response{}, fmt.Errorf("command %s: %w", c.cfg.Command[0], ctx.Err())
		}
		return Response{}, fmt.Errorf("command %s: %w: %s", c.cfg.Command[0], err, strings.TrimSpace(stderr.String()))
	}
	if stdout.truncated {
		return Response{}, fmt.Errorf("command %s: answer longer than %d bytes", c.cfg.Command[0], maxAnswer)
	}
	var resp Response
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return Response{}, fmt.Errorf("command %s: answer is not JSON: %w", c.cfg.Command[0], err)
	}
	return resp, nil
}

// capped keeps the first max bytes written to it and discards the rest.
type capped struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *capped) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.truncated = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
