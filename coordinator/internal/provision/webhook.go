package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// postWebhook POSTs the request once. Network errors, 408, 429 and 5xx are
// failed attempts; other non-2xx statuses are rejections.
func (c *Client) postWebhook(ctx context.Context, req Request) (Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Webhook, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Idempotency-Key", req.ID)
	if c.cfg.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		return Response{}, fmt.Errorf("webhook: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return Response{}, fmt.Errorf("webhook: read answer: %w", err)
	}
	switch s := res.StatusCode; {
	case s >= 200 && s < 300:
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return Response{}, fmt.Errorf("webhook: %s: %s", res.Status, snippet(data))
	default:
		return Response{}, fmt.Errorf("%w %s: webhook: %s: %s", ErrRejected, req.ID, res.Status, snippet(data))
	}
	if len(data) > maxAnswer {
		return Response{}, fmt.Errorf("webhook: answer longer than %d bytes", maxAnswer)
	}
	var resp Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return Response{}, fmt.Errorf("webhook: answer is not JSON: %w", err)
	}
	return resp, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
