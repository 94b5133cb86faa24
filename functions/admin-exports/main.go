// Command admin-exports answers POST /admin/exports: it starts the user
// export now, for administrators (the same sessions as GET /admin/users)
// and for the machines ADMIN_MACHINES names, calling with their M2M tokens.
//
// It takes the export's lease (shared/exportrun), then starts an execution
// of the export's state machine for that run, named by the run's id, with
// the on-demand event as its input, and answers 202 with the run's id;
// while another run holds the lease it answers 409 export_in_progress
// naming that run. A start that fails gives the lease back and answers 502.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"clerk-lambda/shared/export"
	"clerk-lambda/shared/exportrun"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
	"clerk-lambda/shared/startup"
)

// route is the route key of the HTTP API.
const route = "POST /admin/exports"

const (
	// callTimeout bounds the lease and the start of one request, well
	// inside the function's 10-second timeout.
	callTimeout = 5 * time.Second
	// releaseTimeout bounds giving the lease back after a failed start, on
	// a fresh context so that it happens also when the request's ran out.
	releaseTimeout = 2 * time.Second
)

func main() {
	h := startup.Init("admin-exports", newHandler)
	lambda.Start(h.handle)
}

// Starter starts a state machine's execution; *sfn.Client is one.
type Starter interface {
	StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// config is what the function reads from its environment at start.
type config struct {
	skew     time.Duration
	admins   identity.AdminPolicy
	machines []string
	export   settings.Export
	machine  string
}

// configFromEnv reads and checks every setting: CLERK_CLOCK_SKEW,
// ADMIN_ORG_ID and ADMIN_ORG_ROLE, ADMIN_MACHINES, EXPORT_BUCKET and
// EXPORT_PREFIX (where the lease is), EXPORT_STATE_MACHINE.
func configFromEnv(get settings.Lookup) (config, error) {
	var c config
	var err error
	if c.skew, err = settings.ClockSkew(get); err != nil {
		return config{}, err
	}
	a, err := settings.ReadAdmins(get)
	if err != nil {
		return config{}, err
	}
	c.admins = identity.AdminPolicy{OrgID: a.OrgID, OrgRole: a.OrgRole}
	if c.machines, err = settings.AdminMachines(get); err != nil {
		return config{}, err
	}
	if c.export, err = settings.ReadExport(get); err != nil {
		return config{}, err
	}
	if c.machine, err = settings.ExportStateMachine(get); err != nil {
		return config{}, err
	}
	return c, nil
}

// newHandler is the function's setup: its settings, and the S3 and Step
// Functions clients from the default AWS configuration (the function's role in
// Lambda). It makes no network call.
func newHandler(get settings.Lookup, logger *slog.Logger) (*handler, error) {
	c, err := configFromEnv(get)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	logger.Debug("export settings", "bucket", c.export.Bucket, "prefix", c.export.Prefix, "stateMachine", c.machine)
	return handlerFor(c, export.S3FromConfig(cfg), sfn.NewFromConfig(cfg), logger), nil
}

type handler struct {
	ids      identity.Reader
	admins   identity.AdminPolicy
	machines []string
	leases   *exportrun.Store
	starter  Starter
	machine  string
	log      *slog.Logger
}

func handlerFor(c config, client exportrun.S3, starter Starter, logger *slog.Logger) *handler {
	return &handler{
		// API keys are not taken: an admin user's key is /admin/users's
		// business, which looks the user up; here only a session or a
		// listed machine's own M2M token says who calls.
		ids:      identity.Reader{Leeway: c.skew, Accepts: []identity.TokenType{identity.SessionToken, identity.M2MToken}},
		admins:   c.admins,
		machines: c.machines,
		leases:   exportrun.New(client, c.export.Bucket, c.export.Prefix),
		starter:  starter,
		machine:  c.machine,
		log:      logger,
	}
}

// started is the body of a 202.
type started struct {
	RunID     string    `json:"runId"`
	StartedAt time.Time `json:"startedAt"`
}

// errNotAllowed is the log's reason for a 403.
var errNotAllowed = errors.New("caller is neither an administrator nor an allowed machine")

func (h *handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id, err := h.ids.HTTP(req)
	var res events.APIGatewayV2HTTPResponse
	var runID string
	switch {
	case err != nil:
		res = respond.IdentityRefused(err)
	case !id.IsAdmin(h.admins) && !id.CallsAs(h.machines):
		res, err = respond.Error(http.StatusForbidden, "forbidden", "this route is for administrators and allowed machines only"), errNotAllowed
	default:
		res, runID, err = h.start(ctx)
	}
	h.finish(ctx, res, id, runID, err)
	return res, nil
}

// start takes the lease and starts the state machine's execution for it.
// It returns the answer, the run's id when it has one, and why it failed.
func (h *handler) start(ctx context.Context) (events.APIGatewayV2HTTPResponse, string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	held, err := h.leases.Take(ctx, exportrun.OnDemand)
	var busy *exportrun.BusyError
	switch {
	case errors.As(err, &busy):
		return inProgress(busy), busy.Lease.RunID, err
	case err != nil:
		return respond.Error(http.StatusServiceUnavailable, "export_unavailable",
			"the export's run lock could not be read or written; try again shortly"), "", err
	}
	_, err = h.starter.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(h.machine),
		Name:            aws.String(held.RunID),
		Input:           aws.String(string(exportrun.NewEvent(held.RunID))),
	})
	// An execution of that name is this run, started already (the SDK
	// retried a start whose answer was lost): the lease is that run's and
	// stays.
	var exists *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return inProgress(&exportrun.BusyError{Lease: held.Lease}), held.RunID, fmt.Errorf("start the export: %w", err)
	}
	if err != nil {
		err = fmt.Errorf("start the export: %w", err)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if rerr := h.leases.Release(rctx, held); rerr != nil {
			err = fmt.Errorf("%w; %w (it expires at %s)", err, rerr, held.ExpiresAt.Format(time.RFC3339))
		}
		return respond.Error(http.StatusBadGateway, "export_not_started",
			"the export's state machine could not be started; try again shortly"), held.RunID, err
	}
	return respond.JSON(http.StatusAccepted, started{RunID: held.RunID, StartedAt: held.StartedAt}), held.RunID, nil
}

// inProgress is the 409 for the run busy names.
func inProgress(busy *exportrun.BusyError) events.APIGatewayV2HTTPResponse {
	return respond.Error(http.StatusConflict, "export_in_progress", busy.Error()+"; try again when it has finished")
}

// finish writes the request's one log line: the route, the status, who
// called (a user's id, or a machine's), the run started or in progress, and
// why the request failed when it did. A 5xx is logged at ERROR level.
func (h *handler) finish(ctx context.Context, res events.APIGatewayV2HTTPResponse, caller *identity.Identity, runID string, err error) {
	attrs := []any{"status", res.StatusCode}
	if caller != nil {
		attrs = append(attrs, "tokenType", caller.Type())
		if m := caller.Machine(); m != "" {
			attrs = append(attrs, "machine", m)
		} else {
			attrs = append(attrs, "userId", caller.UserID)
		}
	}
	if runID != "" {
		attrs = append(attrs, "runId", runID)
	}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	level := slog.LevelInfo
	if res.StatusCode >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	h.log.Log(ctx, level, route, attrs...)
}
