package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ssmEndpoint answers SSM's GetParameter (AWS JSON 1.1) on loopback with
// one parameter, so the functions read their secret key as they do in AWS,
// with the AWS SDK pointed at it by AWS_ENDPOINT_URL_SSM.
type ssmEndpoint struct {
	name, value string
	srv         *http.Server
	url         string
	calls       atomic.Int64
}

func startSSM(name, value string) (*ssmEndpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("SSM endpoint: %w", err)
	}
	e := &ssmEndpoint{name: name, value: value, url: "http://" + ln.Addr().String()}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

func (e *ssmEndpoint) close() { _ = e.srv.Close() }

func (e *ssmEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(status int, kind, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": kind, "message": msg})
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" {
		fail(http.StatusBadRequest, "UnknownOperationException", "only GetParameter is served here")
		return
	}
	var in struct {
		Name           string
		WithDecryption bool
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		fail(http.StatusBadRequest, "ValidationException", "the body is not a GetParameter input")
		return
	}
	if in.Name != e.name {
		fail(http.StatusBadRequest, "ParameterNotFound", "no parameter "+in.Name)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
		"Name": e.name, "Type": "SecureString", "Value": e.value, "Version": 1, "DataType": "text",
		"ARN":              "arn:aws:ssm:us-east-1:123456789012:parameter" + e.name,
		"LastModifiedDate": float64(time.Now().Unix()),
	}})
}
