package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"clerk-lambda/dev/statemachine"
	"clerk-lambda/internal/versity"
)

// s3Folder, in the cache folder, holds the local S3's buckets, one folder
// each, so that exports outlive a run of make dev.
const s3Folder = "s3"

// localAWS is this machine's part of AWS for the functions that use the
// export: Versity's S3 gateway in front of a folder and, when the template
// has a state machine, the Step Functions API that runs it. All are on loopback, and all take
// the root credentials made for this run, which reach the functions'
// environment only, never a file or the log.
type localAWS struct {
	s3        *versity.Server
	s3Dir     string
	accessKey string

	machine *statemachine.Machine // nil when the template has none
	sfn     *stepFunctions
	sfnLn   net.Listener
	sfnHTTP *http.Server
}

// startAWS starts the local S3 and opens the Step Functions API's port;
// serve serves it once the functions run. Without the versitygw binary it starts
// nothing, and says in one line that the export is unavailable.
func startAWS(cfg serveConfig, out func(string)) (*localAWS, error) {
	if _, err := os.Stat(cfg.VersityGW); err != nil {
		out(fmt.Sprintf("exports: no local S3 (Versity's versitygw is not at %s: make dev builds it, or set VERSITYGW_BIN), so POST /admin/exports answers 503", cfg.VersityGW))
		return nil, nil
	}
	machine, err := statemachine.Load(cfg.Template)
	if err != nil && !errors.Is(err, statemachine.ErrNone) {
		return nil, err
	}
	a := &localAWS{s3Dir: filepath.Join(cfg.CacheDir, s3Folder), machine: machine}
	// The exports hold users' e-mail addresses: this user's alone.
	if err := os.MkdirAll(a.s3Dir, 0o700); err != nil {
		return nil, err
	}
	creds := versity.Options{Bin: cfg.VersityGW, Dir: a.s3Dir, AccessKey: "LOCAL" + randomHex(8), SecretKey: randomHex(20)}
	a.accessKey = creds.AccessKey
	if a.s3, err = versity.StartWith(creds); err != nil {
		return nil, fmt.Errorf("start the local S3: %w", err)
	}
	if machine == nil {
		return a, nil
	}
	if a.sfnLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		a.Close()
		return nil, fmt.Errorf("the local Step Functions API: %w", err)
	}
	return a, nil
}

// randomHex is n random bytes, in upper-case hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// sfnURL is the local Step Functions API's endpoint.
func (a *localAWS) sfnURL() string { return "http://" + a.sfnLn.Addr().String() }

// addEnv gives a function that declares EXPORT_BUCKET what Lambda and its
// role give it in AWS, for the local S3: an endpoint, credentials and a
// region (shared/export addresses such an endpoint path-style), and no
// shared AWS files, so that the developer's own profiles play no part. One
// that also declares EXPORT_STATE_MACHINE starts the template's state
// machine, by its local ARN, through the local Step Functions API.
func (a *localAWS) addEnv(env map[string]string) {
	if _, ok := env["EXPORT_BUCKET"]; !ok {
		return
	}
	maps.Copy(env, a.s3.Env())
	if _, ok := env["EXPORT_STATE_MACHINE"]; ok && a.machine != nil {
		env["AWS_ENDPOINT_URL_SFN"] = a.sfnURL()
		env["EXPORT_STATE_MACHINE"] = stateMachineARN(a.machine.Name)
	}
}

// checkMachine refuses a state machine that invokes a function the
// template does not have.
func (a *localAWS) checkMachine(fns map[string]*builtFunction) error {
	if a.machine == nil {
		return nil
	}
	for _, name := range a.machine.Functions() {
		if fns[name] == nil {
			return fmt.Errorf("%s invokes %s, which is not an AWS::Serverless::Function of the template", a.machine.Name, name)
		}
	}
	return nil
}

// createBuckets makes each bucket the functions name in EXPORT_BUCKET,
// unless it is there from an earlier run.
func (a *localAWS) createBuckets(ctx context.Context, fns map[string]*builtFunction) error {
	for _, bucket := range exportBuckets(fns) {
		_, err := a.s3.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		// An earlier run's bucket belongs to that run's root account.
		var mine *s3types.BucketAlreadyOwnedByYou
		var theirs *s3types.BucketAlreadyExists
		if err != nil && !errors.As(err, &mine) && !errors.As(err, &theirs) {
			return fmt.Errorf("create the bucket %s in the local S3: %w", bucket, err)
		}
	}
	return nil
}

// exportBuckets lists the values of EXPORT_BUCKET in the functions'
// environments, once each.
func exportBuckets(fns map[string]*builtFunction) []string {
	seen := map[string]bool{}
	for _, f := range fns {
		if b := f.env["EXPORT_BUCKET"]; b != "" {
			seen[b] = true
		}
	}
	buckets := make([]string, 0, len(seen))
	for b := range seen {
		buckets = append(buckets, b)
	}
	sort.Strings(buckets)
	return buckets
}

// serve answers the Step Functions API, when there is a state machine,
// with the functions fns runs.
func (a *localAWS) serve(fns functions, log func(string)) {
	if a.machine != nil {
		a.sfn = newStepFunctions(a.machine, fns, a.accessKey, log)
		a.sfnHTTP = &http.Server{Handler: a.sfn, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = a.sfnHTTP.Serve(a.sfnLn) }()
	}
}

// Close stops serving, waits for the executions in the background to end
// (the caller then stops the functions), and stops the local S3.
func (a *localAWS) Close() {
	if a.sfnHTTP != nil {
		_ = a.sfnHTTP.Close()
		a.sfn.Close()
	} else if a.sfnLn != nil {
		_ = a.sfnLn.Close()
	}
	a.s3.Close()
}
