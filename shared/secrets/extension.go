package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

const (
	// extensionTimeout bounds one request to the extension, leaving the rest
	// of fetchTimeout for the SSM API should the extension hang.
	extensionTimeout = 3 * time.Second
	// probeTimeout bounds the check for a listening extension. On loopback
	// a connection is accepted or refused at once; this only matters if
	// packets are dropped.
	probeTimeout = 100 * time.Millisecond
	// maxExtensionAnswer caps what is read from the extension; an SSM
	// parameter holds at most 8 KB.
	maxExtensionAnswer = 64 << 10
	// tokenHeader carries AWS_SESSION_TOKEN, which the extension requires.
	tokenHeader = "X-Aws-Parameters-Secrets-Token"
)

// defaultExtensionClient talks to the extension on localhost. It does not
// follow redirects, so the session token in tokenHeader never goes anywhere
// else.
func defaultExtensionClient() *http.Client {
	return &http.Client{
		Timeout: extensionTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// probeResult remembers whether a listening extension was found.
type probeResult struct {
	done bool
	port string
}

// extensionPort returns the port of the extension to read through, or "" to
// use the SSM API. An unconfigured port is probed once: a refused connection
// means there is no extension for the life of the Provider, while a probe
// cut short by ctx decides nothing and is tried again on the next fetch.
func (p *Provider) extensionPort(ctx context.Context) string {
	switch {
	case p.cfg.SessionToken == "":
		return ""
	case p.cfg.ExtensionPort != "":
		return p.cfg.ExtensionPort
	case p.cfg.ProbePort == "" || p.probe.done:
		return p.probe.port
	}
	d := net.Dialer{Timeout: probeTimeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("localhost", p.cfg.ProbePort))
	if err == nil {
		conn.Close()
		p.probe = probeResult{done: true, port: p.cfg.ProbePort}
	} else if ctx.Err() == nil {
		p.probe = probeResult{done: true}
	}
	return p.probe.port
}

// fromExtension reads the parameter through the extension's HTTP interface,
// whose answer has the shape of GetParameter's output. Errors carry the status
// but never the body.
func (p *Provider) fromExtension(ctx context.Context, port string) (string, error) {
	query := url.Values{"name": {p.cfg.Parameter}, "withDecryption": {"true"}}
	u := "http://" + net.JoinHostPort("localhost", port) + "/systemsmanager/parameters/get?" + query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set(tokenHeader, p.cfg.SessionToken)
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var answer struct {
		Parameter struct {
			Type  string
			Value string
		}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxExtensionAnswer)).Decode(&answer); err != nil {
		return "", errors.New("malformed answer")
	}
	return accept(answer.Parameter.Type, answer.Parameter.Value)
}
