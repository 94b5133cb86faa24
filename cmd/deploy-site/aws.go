package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"clerk-lambda/shared/export"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// clients are the AWS APIs the publisher calls.
type clients struct {
	S3             *s3.Client
	CloudFront     *cloudfront.Client
	CloudFormation *cloudformation.Client
}

// credentialsTimeout bounds the search for credentials, which may ask the
// instance metadata service and wait for it.
const credentialsTimeout = 20 * time.Second

// awsClients builds the clients from the default AWS configuration
// (environment, shared files, SSO, an instance role), after checking that it
// has credentials and a region. An S3 endpoint given by AWS_ENDPOINT_URL_S3
// or AWS_ENDPOINT_URL (a local S3 server) is addressed path-style
// (export.S3FromConfig); AWS_ENDPOINT_URL_CLOUDFRONT and
// AWS_ENDPOINT_URL_CLOUDFORMATION are honoured by the SDK itself.
func awsClients(ctx context.Context) (*clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	_, credErr := cfg.Credentials.Retrieve(cctx)
	switch {
	case credErr != nil && cfg.Region == "":
		return nil, fmt.Errorf("no AWS credentials and no AWS region: set AWS_PROFILE (a profile with a region), or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION (%v)", credErr)
	case credErr != nil:
		return nil, fmt.Errorf("no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run aws configure (%v)", credErr)
	case cfg.Region == "":
		return nil, errors.New("no AWS region: set AWS_REGION, or a region in your AWS profile")
	}
	return &clients{
		S3:             export.S3FromConfig(cfg),
		CloudFront:     cloudfront.NewFromConfig(cfg),
		CloudFormation: cloudformation.NewFromConfig(cfg),
	}, nil
}

// The stack outputs read, by name.
const (
	outputBucket         = "SiteBucketName"
	outputDistribution   = "SiteDistributionId"
	outputSiteURL        = "SiteUrl"
	outputAPIBase        = "ApiBase"
	outputPublishableKey = "PublishableKey"
	outputAPIURL         = "ApiUrl" // the API base when ApiBase is empty
)

// stackOutputs returns the outputs of the stack, by key.
func stackOutputs(ctx context.Context, cfn *cloudformation.Client, stack string) (map[string]string, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return nil, fmt.Errorf("read the outputs of stack %s: %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %s does not exist", stack)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs, nil
}

// maxInvalidationPaths is how many paths are invalidated one by one; past
// it, one "/*" (CloudFront charges per path, and a wildcard counts as one).
const maxInvalidationPaths = 15

// invalidationPaths are the CloudFront paths for the changed and deleted
// keys: "/" as well when the root page changed, "/*" past
// maxInvalidationPaths.
func invalidationPaths(keys []string) []string {
	var paths []string
	for _, k := range keys {
		segs := strings.Split(k, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		paths = append(paths, "/"+strings.Join(segs, "/"))
		if k == "index.html" {
			paths = append(paths, "/")
		}
	}
	if len(paths) > maxInvalidationPaths {
		return []string{"/*"}
	}
	return paths
}

// invalidate creates one invalidation of paths in distribution and returns
// its id.
func invalidate(ctx context.Context, cf *cloudfront.Client, distribution string, paths []string) (string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	out, err := cf.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(distribution),
		InvalidationBatch: &cftypes.InvalidationBatch{
			CallerReference: aws.String("deploy-site-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])),
			Paths:           &cftypes.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	})
	if err != nil {
		return "", fmt.Errorf("invalidate %d paths in CloudFront distribution %s: %w", len(paths), distribution, err)
	}
	if out.Invalidation == nil {
		return "", nil
	}
	return aws.ToString(out.Invalidation.Id), nil
}
