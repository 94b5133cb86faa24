package exportrun

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Source is the source of the event POST /admin/exports invokes the export
// with.
const Source = "clerk-lambda.admin-exports"

// Event is the on-demand event: the export's invocation by POST
// /admin/exports, for the run whose lease it took.
type Event struct {
	Source   string `json:"source"`
	RunID    string `json:"runId"`
	OnDemand bool   `json:"onDemand"`
}

// NewEvent is the on-demand event of the run runID, as JSON.
func NewEvent(runID string) []byte {
	b, _ := json.Marshal(Event{Source: Source, RunID: runID, OnDemand: true}) // strings and a bool always encode
	return b
}

// ParseEvent reads an invocation's event. It reports ok false for an event
// that is not an on-demand one (it has none of Event's fields: the
// schedule's, or {} from an invocation by hand). An event that has any of
// them must be exactly an Event, with the names spelled as here, no other
// field, Source, a run id of NewRunID's form and onDemand true; the error
// says what is wrong in one line.
func ParseEvent(raw []byte) (ev Event, ok bool, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Event{}, false, errors.New("the event is not a JSON object")
	}
	var source string
	_ = json.Unmarshal(fields["source"], &source) // another type is not Source
	_, hasRun := fields["runId"]
	_, hasOnDemand := fields["onDemand"]
	if source != Source && !hasRun && !hasOnDemand {
		return Event{}, false, nil
	}
	for name := range fields {
		switch name {
		case "source", "runId", "onDemand":
		default:
			return Event{}, true, fmt.Errorf("on-demand event: unknown field %q", name)
		}
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Event{}, true, errors.New("on-demand event: source and runId must be strings, onDemand a boolean")
	}
	switch {
	case ev.Source != Source:
		return Event{}, true, fmt.Errorf("on-demand event: source must be %q", Source)
	case !ValidRunID(ev.RunID):
		return Event{}, true, errors.New("on-demand event: runId is not a run id")
	case !ev.OnDemand:
		return Event{}, true, errors.New("on-demand event: onDemand must be true")
	}
	return ev, true, nil
}
