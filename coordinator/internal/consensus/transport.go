package consensus

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer is Raft's stream layer over a plain TCP listener. It is ours
// rather than raft's TCPStreamLayer so that TLS or fault-injecting wrappers
// can be put around the listener and dialer in one place.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	dial      func(network, address string, timeout time.Duration) (net.Conn, error)
}

func newStreamLayer(bind, advertise string) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft listen %s: %w", bind, err)
	}
	s := &streamLayer{ln: ln, advertise: ln.Addr(), dial: net.DialTimeout}
	if advertise != "" {
		host, port, err := net.SplitHostPort(advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("raft advertise address %q: %w", advertise, err)
		}
		if port == "0" || port == "" {
			_, port, _ = net.SplitHostPort(ln.Addr().String())
		}
		addr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, port))
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("raft advertise address %q: %w", advertise, err)
		}
		s.advertise = addr
	}
	if ta, ok := s.advertise.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("raft bind address %s is unspecified: set an advertise address", bind)
	}
	return s, nil
}

func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *streamLayer) Close() error              { return s.ln.Close() }
func (s *streamLayer) Addr() net.Addr            { return s.advertise }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial("tcp", string(address), timeout)
}
