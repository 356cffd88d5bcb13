package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// maxRedirects is the number of redirects an HTTP check follows. The answer
// to the next one is the result, and a 3xx is critical.
const maxRedirects = 3

func newHTTPProbe(target string) probeFunc {
	client := &http.Client{
		Transport: &http.Transport{
			// A check dials the service itself, never a proxy from the
			// agent's environment.
			Proxy:       nil,
			DialContext: (&net.Dialer{}).DialContext,
			// Each probe opens a new connection: the check then tells
			// whether the service accepts connections, and holds no idle
			// one open on it between probes.
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return func(ctx context.Context) result {
		return httpProbe(ctx, client, target)
	}
}

func httpProbe(ctx context.Context, client *http.Client, target string) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return result{Critical, fmt.Sprintf("HTTP GET %s: %v", target, err)}
	}
	req.Header.Set("User-Agent", "Understudy health check")
	req.Header.Set("Accept", "text/plain, text/*, */*")
	resp, err := client.Do(req)
	if err != nil {
		// The *url.Error repeats the method and URL the output starts with.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return result{Critical, fmt.Sprintf("HTTP GET %s: %v", target, err)}
	}
	defer resp.Body.Close()

	var body boundedBuffer
	// Read one byte more than is kept, so the output shows it was cut.
	_, err = io.Copy(&body, io.LimitReader(resp.Body, maxOutput+1))
	if err != nil {
		return result{Critical, fmt.Sprintf("HTTP GET %s: %s: reading body: %v", target, resp.Status, err)}
	}
	out := fmt.Sprintf("HTTP GET %s: %s", target, resp.Status)
	if s := body.String(); s != "" {
		out += "\n" + s
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return result{Passing, out}
	case resp.StatusCode == http.StatusTooManyRequests:
		return result{Warning, out}
	default:
		return result{Critical, out}
	}
}
