package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// defaultSSMClient builds a client from the usual AWS sources: the
// environment (credentials, AWS_REGION, AWS_ENDPOINT_URL_SSM), shared files,
// the Lambda role.
func defaultSSMClient(ctx context.Context) (*ssm.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return ssm.NewFromConfig(cfg), nil
}

// fromSSM reads the parameter with GetParameter, decrypted. The client is
// built on the first call; a failure to build it is retried on the next.
func (p *Provider) fromSSM(ctx context.Context) (string, error) {
	if p.client == nil {
		c, err := p.cfg.SSMClient(ctx)
		if err != nil {
			return "", fmt.Errorf("load AWS configuration: %w", err)
		}
		p.client = c
	}
	out, err := p.client.GetParameter(ctx, &ssm.GetParameterInput{
		Name:           aws.String(p.cfg.Parameter),
		WithDecryption: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", reason(err), err)
	}
	if out.Parameter == nil {
		return "", errors.New("answer holds no parameter")
	}
	return accept(string(out.Parameter.Type), aws.ToString(out.Parameter.Value))
}

// reason says in a few words why GetParameter failed, for the start of the
// error message; the SDK's own error follows it.
func reason(err error) string {
	var (
		notFound  *types.ParameterNotFound
		noVersion *types.ParameterVersionNotFound
		badKey    *types.InvalidKeyId
		apiErr    smithy.APIError
	)
	switch {
	case errors.As(err, &notFound):
		return "parameter not found"
	case errors.As(err, &noVersion):
		return "parameter version not found"
	case errors.As(err, &badKey):
		return "KMS key not usable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException":
		return "access denied"
	case errors.As(err, &apiErr) && isThrottle(apiErr.ErrorCode()):
		return "throttled"
	}
	return "request failed"
}

// isThrottle reports whether an error code is one the SDK treats as throttling.
func isThrottle(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}
