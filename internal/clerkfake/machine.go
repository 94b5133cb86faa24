package clerkfake

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Machine is a machine of the instance, as AddMachine and POST /v1/machines
// create it: a service that authenticates with its own secret key and
// creates M2M tokens, which the machines in its ScopedMachines accept.
type Machine struct {
	ID             string // "mch_" + 27 base62 characters
	Name           string
	SecretKey      string // "ak_" + random, as Clerk's machine secret keys begin
	ScopedMachines []string
	// DefaultTokenTTL is how long its M2M tokens live when their creation
	// does not say (Clerk's default is one hour).
	DefaultTokenTTL time.Duration
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// The limits the specification sets on a machine.
const (
	maxMachineName  = 255
	maxScopes       = 150
	defaultTokenTTL = 3600      // seconds
	maxTokenTTL     = 315360000 // seconds: ten years
)

// AddMachine creates a machine named name that may reach the scoped
// machines (their ids), with the default token TTL of one hour, and returns
// it with its id and secret key. It fails, as POST /v1/machines does, for an
// empty or overlong name, too many scopes, or a scoped machine that does not
// exist.
func (s *Server) AddMachine(name string, scopedMachines ...string) (Machine, error) {
	m, perr := s.addMachine(name, scopedMachines, defaultTokenTTL)
	if perr != nil {
		return Machine{}, fmt.Errorf("clerkfake: add machine: %s", perr.long)
	}
	return m, nil
}

// addMachine checks and stores a new machine.
func (s *Server) addMachine(name string, scoped []string, ttlSeconds int64) (Machine, *paramError) {
	switch {
	case name == "" || len(name) > maxMachineName:
		return Machine{}, valueError("name", "must be 1 to %d characters", maxMachineName)
	case len(scoped) > maxScopes:
		return Machine{}, valueError("scoped_machines", "may list at most %d machines", maxScopes)
	case ttlSeconds < 1 || ttlSeconds > maxTokenTTL:
		return Machine{}, valueError("default_token_ttl", "must be from 1 to %d seconds", maxTokenTTL)
	}
	now := toMillis(s.now())
	m := Machine{
		ID: newID("mch_"), Name: name, SecretKey: "ak_" + randomString(32),
		ScopedMachines: slices.Clone(scoped), DefaultTokenTTL: time.Duration(ttlSeconds) * time.Second,
		CreatedAt: now, UpdatedAt: now,
	}
	s.authMu.Lock()
	defer s.authMu.Unlock()
	for _, id := range m.ScopedMachines {
		if _, ok := s.machines[id]; !ok {
			return Machine{}, valueError("scoped_machines", "names %s, which is no machine of this instance", strconv.Quote(id))
		}
	}
	s.machines[m.ID] = &m
	return m.clone(), nil
}

func (m Machine) clone() Machine {
	m.ScopedMachines = slices.Clone(m.ScopedMachines)
	return m
}

// machineByKey is the machine whose secret key is key, or nil. Every key is
// compared in constant time, as the instance's is.
func (s *Server) machineByKey(key string) *Machine {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	var found *Machine
	for _, m := range s.machines {
		if subtle.ConstantTimeCompare([]byte(key), []byte(m.SecretKey)) == 1 {
			found = m
		}
	}
	if found == nil {
		return nil
	}
	m := found.clone()
	return &m
}

// machine is a copy of the machine with id.
func (s *Server) machine(id string) (Machine, bool) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	m, ok := s.machines[id]
	if !ok {
		return Machine{}, false
	}
	return m.clone(), true
}

// wireMachine is a machine as the specification's Machine schema has it,
// without its secret key. Timestamps are in milliseconds, like every other
// created_at Clerk serves (the schema says only "Unix timestamp").
type wireMachine struct {
	Object          string         `json:"object"`
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	InstanceID      string         `json:"instance_id"`
	CreatedAt       int64          `json:"created_at"`
	UpdatedAt       int64          `json:"updated_at"`
	DefaultTokenTTL int64          `json:"default_token_ttl"`
	ScopedMachines  *[]wireMachine `json:"scoped_machines,omitempty"`
	SecretKey       string         `json:"secret_key,omitempty"`
}

// wire is m as served: scoped machines are served without their own scopes,
// as the schema's MachineWithoutScopedMachines.
func (s *Server) wire(m Machine) wireMachine {
	w := s.wireWithoutScopes(m)
	scoped := []wireMachine{}
	for _, id := range m.ScopedMachines {
		if other, ok := s.machine(id); ok {
			scoped = append(scoped, s.wireWithoutScopes(other))
		}
	}
	w.ScopedMachines = &scoped
	return w
}

func (s *Server) wireWithoutScopes(m Machine) wireMachine {
	return wireMachine{
		Object: "machine", ID: m.ID, Name: m.Name, InstanceID: s.instanceID,
		CreatedAt: m.CreatedAt.UnixMilli(), UpdatedAt: m.UpdatedAt.UnixMilli(),
		DefaultTokenTTL: int64(m.DefaultTokenTTL / time.Second),
	}
}

func (s *Server) serveCreateMachine(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name            string   `json:"name"`
		ScopedMachines  []string `json:"scoped_machines"`
		DefaultTokenTTL *int64   `json:"default_token_ttl"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	ttl := int64(defaultTokenTTL)
	if body.DefaultTokenTTL != nil {
		ttl = *body.DefaultTokenTTL
	}
	m, perr := s.addMachine(body.Name, body.ScopedMachines, ttl)
	if perr != nil {
		writeParamError(w, perr)
		return
	}
	created := s.wire(m)
	created.SecretKey = m.SecretKey
	writeJSON(w, http.StatusOK, created)
}

func (s *Server) serveMachine(w http.ResponseWriter, r *http.Request) {
	if m, ok := s.requestedMachine(w, r); ok {
		writeJSON(w, http.StatusOK, s.wire(m))
	}
}

func (s *Server) serveMachineSecretKey(w http.ResponseWriter, r *http.Request) {
	if m, ok := s.requestedMachine(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]string{"object": "machine_secret_key", "secret": m.SecretKey})
	}
}

// requestedMachine is the machine the path names, or false after a 404.
func (s *Server) requestedMachine(w http.ResponseWriter, r *http.Request) (Machine, bool) {
	id := r.PathValue("machine_id")
	m, ok := s.machine(id)
	if !ok {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found", "No machine was found with id "+strconv.Quote(id))
	}
	return m, ok
}
