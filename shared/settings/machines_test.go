package settings

import (
	"clerk-lambda/shared/identity"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMachineSettings(t *testing.T) {
	t.Parallel()
	if got, err := AcceptedTokens(Map(nil)); err != nil || !slices.Equal(got, []identity.TokenType{identity.SessionToken}) {
		t.Errorf("default accepted tokens: %v, %v", got, err)
	}
	if got, err := AcceptedTokens(Map(map[string]string{AcceptedTokensName: "session_token, m2m_token,api_key"})); err != nil || len(got) != 3 {
		t.Errorf("three types: %v, %v", got, err)
	}
	if _, err := AcceptedTokens(Map(map[string]string{AcceptedTokensName: "session_token,machine_token"})); err == nil || !strings.Contains(err.Error(), `"machine_token"`) {
		t.Errorf("an unknown type: %v", err)
	}
	if d, err := MachineTokenCacheTTL(Map(nil)); err != nil || d != time.Minute {
		t.Errorf("default cache TTL: %v, %v", d, err)
	}
	if _, err := MachineTokenCacheTTL(Map(map[string]string{MachineTokenCacheTTLName: "1h"})); err == nil {
		t.Error("an hour's cache TTL accepted")
	}
	if ids, err := AdminMachines(Map(map[string]string{AdminMachinesName: "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"})); err != nil || len(ids) != 1 {
		t.Errorf("one machine: %v, %v", ids, err)
	}
	if _, err := AdminMachines(Map(map[string]string{AdminMachinesName: "user_2xhFjEI5X2qWRvtV13BzSj8H6Dk"})); err == nil || !strings.Contains(err.Error(), AdminMachinesName) {
		t.Errorf("a user id as a machine: %v", err)
	}
}

func TestAPIMachine(t *testing.T) {
	t.Parallel()
	if id, err := APIMachine(Map(nil)); err != nil || id != "" {
		t.Errorf("unset: %q, %v", id, err)
	}
	if id, err := APIMachine(Map(map[string]string{APIMachineName: "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"})); err != nil || id == "" {
		t.Errorf("a machine: %q, %v", id, err)
	}
	if _, err := APIMachine(Map(map[string]string{APIMachineName: "mch_a,mch_b"})); err == nil || !strings.Contains(err.Error(), APIMachineName) {
		t.Errorf("two machines: %v", err)
	}
}
