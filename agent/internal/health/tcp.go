package health

import (
	"context"
	"fmt"
	"net"
)

func newTCPProbe(addr string) probeFunc {
	var d net.Dialer
	return func(ctx context.Context) result {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return result{Critical, fmt.Sprintf("TCP connect %s: %v", addr, err)}
		}
		conn.Close()
		return result{Passing, fmt.Sprintf("TCP connect %s: success", addr)}
	}
}
