package settings

import (
	"strings"
	"testing"
	"time"
)

const (
	paramName = "/clerk/secret-key"
	keyV1     = "sk_test_first0000000000000000000000000000000"
)

func TestReadSecretKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    SecretKey
		wantErr string
	}{
		{name: "nothing set", env: nil, wantErr: "CLERK_SECRET_KEY or CLERK_SECRET_KEY_PARAMETER must be set"},
		{name: "blank value and parameter", env: map[string]string{SecretKeyName: " ", SecretKeyParameterName: ""},
			wantErr: "CLERK_SECRET_KEY or CLERK_SECRET_KEY_PARAMETER must be set"},
		{name: "value only", env: map[string]string{SecretKeyName: " " + keyV1 + "\n"},
			want: SecretKey{Value: keyV1, TTL: DefaultSecretKeyTTL}},
		{name: "parameter in Lambda probes the default port",
			env:  map[string]string{SecretKeyParameterName: paramName, RuntimeAPIName: "127.0.0.1:9001", SessionTokenName: "tok", SecretKeyTTLName: "90s"},
			want: SecretKey{Parameter: paramName, TTL: 90 * time.Second, ProbePort: "2773", SessionToken: "tok"}},
		{name: "explicit extension port is not probed",
			env:  map[string]string{SecretKeyParameterName: paramName, RuntimeAPIName: "127.0.0.1:9001", ExtensionPortName: "2800"},
			want: SecretKey{Parameter: paramName, TTL: DefaultSecretKeyTTL, ExtensionPort: "2800"}},
		{name: "outside Lambda nothing is probed", env: map[string]string{SecretKeyParameterName: paramName},
			want: SecretKey{Parameter: paramName, TTL: DefaultSecretKeyTTL}},
		{name: "plain name", env: map[string]string{SecretKeyParameterName: "clerk-secret-key"},
			want: SecretKey{Parameter: "clerk-secret-key", TTL: DefaultSecretKeyTTL}},
		{name: "ARN with a version", env: map[string]string{SecretKeyParameterName: "arn:aws:ssm:eu-west-1:123456789012:parameter/clerk/secret-key:3"},
			want: SecretKey{Parameter: "arn:aws:ssm:eu-west-1:123456789012:parameter/clerk/secret-key:3", TTL: DefaultSecretKeyTTL}},
		{name: "path without leading slash", env: map[string]string{SecretKeyParameterName: "clerk/secret-key"},
			wantErr: "CLERK_SECRET_KEY_PARAMETER: not a valid SSM parameter name"},
		{name: "space in name", env: map[string]string{SecretKeyParameterName: "/clerk/secret key"},
			wantErr: "CLERK_SECRET_KEY_PARAMETER: not a valid SSM parameter name"},
		{name: "empty path segment", env: map[string]string{SecretKeyParameterName: "/clerk//secret-key"},
			wantErr: "CLERK_SECRET_KEY_PARAMETER: not a valid SSM parameter name"},
		{name: "too long", env: map[string]string{SecretKeyParameterName: "/" + strings.Repeat("a", 2048)},
			wantErr: "CLERK_SECRET_KEY_PARAMETER: not a valid SSM parameter name"},
		{name: "secret key in place of the name", env: map[string]string{SecretKeyParameterName: keyV1},
			wantErr: "CLERK_SECRET_KEY_PARAMETER: holds a secret key, not a parameter name"},
		{name: "invalid parameter even when the value wins", env: map[string]string{SecretKeyName: keyV1, SecretKeyParameterName: "no spaces allowed"},
			wantErr: "CLERK_SECRET_KEY_PARAMETER: not a valid SSM parameter name"},
		{name: "zero TTL", env: map[string]string{SecretKeyName: keyV1, SecretKeyTTLName: "0s"}, wantErr: "CLERK_SECRET_KEY_TTL: must be greater than zero"},
		{name: "malformed TTL", env: map[string]string{SecretKeyName: keyV1, SecretKeyTTLName: "soon"}, wantErr: "CLERK_SECRET_KEY_TTL: not a duration"},
		{name: "port not a number", env: map[string]string{SecretKeyParameterName: paramName, ExtensionPortName: "http"},
			wantErr: "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: not a port number"},
		{name: "port zero", env: map[string]string{SecretKeyParameterName: paramName, ExtensionPortName: "0"},
			wantErr: "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: not a port number"},
		{name: "port too large", env: map[string]string{SecretKeyParameterName: paramName, ExtensionPortName: "65536"},
			wantErr: "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadSecretKey(Map(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to start with %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), keyV1) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %q: must be one line without the secret key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
