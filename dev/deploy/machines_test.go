package deploy

import (
	"strings"
	"testing"

	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/settings"
)

// The machine-token parameters: session tokens alone by default, the types
// the authorizer may name, and each value reaching the functions that read it.
func TestMachineParameters(t *testing.T) {
	t.Parallel()
	s := template(t)
	params, _ := s.raw["Parameters"].(map[string]any)
	accepted := params["AcceptedTokens"]
	if render(lookup(accepted, "Default")) != "session_token" {
		t.Errorf("AcceptedTokens defaults to %s, want session_token: a stack that does not opt in must not verify machine tokens", render(lookup(accepted, "Default")))
	}
	var allowed []string
	for _, v := range list(lookup(accepted, "AllowedValues")) {
		allowed = append(allowed, render(v))
	}
	if strings.Join(allowed, ",") != identity.TokenTypeList() {
		t.Errorf("AcceptedTokens allows %v, want exactly %s", allowed, identity.TokenTypeList())
	}
	env := s.env(authorizerID)
	for _, c := range []struct{ params, want string }{
		{"", "session_token"},
		{"session_token,m2m_token", "session_token,m2m_token"},
	} {
		overrides := map[string]string{}
		if c.params != "" {
			overrides["AcceptedTokens"] = c.params
		}
		got, err := with(s.raw, overrides).value(env[settings.AcceptedTokensName])
		if err != nil || render(got) != c.want {
			t.Errorf("with AcceptedTokens=%q, the authorizer's %s is %s (%v), want %s", c.params, settings.AcceptedTokensName, render(got), err, c.want)
		}
	}
	if got := render(env[settings.MachineTokenCacheTTLName]); got != "${MachineTokenCacheTtl}s" {
		t.Errorf("the authorizer's %s is %s, want !Sub ${MachineTokenCacheTtl}s", settings.MachineTokenCacheTTLName, got)
	}
	if max := render(lookup(params["MachineTokenCacheTtl"], "MaxValue")); max != "600" {
		t.Errorf("MachineTokenCacheTtl's MaxValue is %s, want 600 (CLERK_MACHINE_TOKEN_CACHE_TTL allows at most 10m)", max)
	}
	for _, id := range s.functionIDs() {
		v, ok := s.env(id)[settings.AdminMachinesName]
		if ok && render(v) != "${AdminMachines}" {
			t.Errorf("%s's %s is %s, want !Ref AdminMachines", id, settings.AdminMachinesName, render(v))
		}
		if _, accepts := s.env(id)[settings.AcceptedTokensName]; accepts && id != authorizerID {
			t.Errorf("%s is given %s: only the authorizer verifies tokens; a route names what it takes in code", id, settings.AcceptedTokensName)
		}
	}
	if render(lookup(params["AdminMachines"], "Default")) != "" {
		t.Errorf("AdminMachines defaults to %s, want empty: no machine is an admin unless named", render(lookup(params["AdminMachines"], "Default")))
	}
}
