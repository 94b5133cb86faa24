package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"clerk-lambda/shared/settings"
)

// grant is one action allowed on one resource, with the resource rendered
// (see render) so that it compares as text.
type grant struct {
	action, resource string
}

// samPolicyTemplates are the statements of the SAM policy templates a
// function here might plausibly use, as SAM expands them (the parameter
// appears as ${Param}). A template not listed cannot be checked, so it fails.
var samPolicyTemplates = map[string][]map[string]any{
	"SSMParameterReadPolicy": {
		{"Effect": "Allow", "Action": []any{"ssm:DescribeParameters"}, "Resource": "*"},
		{"Effect": "Allow", "Action": []any{"ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"},
			"Resource": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${ParameterName}"},
	},
	"SSMParameterWithSlashPrefixReadPolicy": {
		{"Effect": "Allow", "Action": []any{"ssm:DescribeParameters"}, "Resource": "*"},
		{"Effect": "Allow", "Action": []any{"ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"},
			"Resource": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ParameterName}"},
	},
	"S3ReadPolicy": {
		{"Effect": "Allow", "Action": []any{"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:GetLifecycleConfiguration"},
			"Resource": []any{"arn:${AWS::Partition}:s3:::${BucketName}", "arn:${AWS::Partition}:s3:::${BucketName}/*"}},
	},
	"S3WritePolicy": {
		{"Effect": "Allow", "Action": []any{"s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"},
			"Resource": []any{"arn:${AWS::Partition}:s3:::${BucketName}", "arn:${AWS::Partition}:s3:::${BucketName}/*"}},
	},
	"S3CrudPolicy": {
		{"Effect": "Allow", "Action": []any{"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
			"s3:PutObject", "s3:PutObjectAcl", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:DeleteObject"},
			"Resource": []any{"arn:${AWS::Partition}:s3:::${BucketName}", "arn:${AWS::Partition}:s3:::${BucketName}/*"}},
	},
}

// statements are the policy statements a function's Policies grant: inline
// documents, SAM policy templates (expanded from samPolicyTemplates) and
// !Ref to an AWS::IAM::ManagedPolicy of the template.
func (s *stack) statements(id string) ([]map[string]any, error) {
	props, _ := lookup(s.resource(id), "Properties").(map[string]any)
	if role, ok := props["Role"]; ok {
		return nil, fmt.Errorf("%s uses its own Role (%s), whose policies this check cannot see; give it Policies instead", id, render(role))
	}
	var out []map[string]any
	var policies []any
	for _, p := range list(props["Policies"]) {
		policies = append(policies, conditionalPolicies(p)...)
	}
	for _, p := range policies {
		switch p := p.(type) {
		case string:
			return nil, fmt.Errorf("%s is granted the AWS managed policy %q, whose statements are not in the template; write the statements it needs instead", id, p)
		case map[string]any:
			if ref, ok := p["Ref"].(string); ok {
				if lookup(s.resource(ref), "Type") != "AWS::IAM::ManagedPolicy" {
					return nil, fmt.Errorf("%s is granted !Ref %s, which is not an AWS::IAM::ManagedPolicy of the template", id, ref)
				}
				out = append(out, documentStatements(lookup(s.resource(ref), "Properties", "PolicyDocument"))...)
				continue
			}
			if _, ok := p["Statement"]; ok {
				out = append(out, documentStatements(p)...)
				continue
			}
			sts, err := expandSAMPolicy(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			out = append(out, sts...)
		default:
			return nil, fmt.Errorf("%s has a policy this check cannot read: %s", id, render(p))
		}
	}
	return out, nil
}

// conditionalPolicies are the policies an entry of Policies may attach: both
// branches of an !If (a deployment may take either), without AWS::NoValue.
func conditionalPolicies(p any) []any {
	if args, ok := lookup(p, "Fn::If").([]any); ok && len(args) == 3 {
		return append(conditionalPolicies(args[1]), conditionalPolicies(args[2])...)
	}
	if lookup(p, "Ref") == "AWS::NoValue" {
		return nil
	}
	return []any{p}
}

func documentStatements(doc any) []map[string]any {
	var out []map[string]any
	for _, st := range list(lookup(doc, "Statement")) {
		if m, ok := st.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func expandSAMPolicy(p map[string]any) ([]map[string]any, error) {
	if len(p) != 1 {
		return nil, fmt.Errorf("a policy with keys %v is neither a document nor a SAM policy template", render(p))
	}
	for name, args := range p {
		tmpl, ok := samPolicyTemplates[name]
		if !ok {
			return nil, fmt.Errorf("SAM policy template %s is unknown to this check: add its statements to samPolicyTemplates or write the statements inline", name)
		}
		vars, _ := args.(map[string]any)
		var out []map[string]any
		for _, st := range tmpl {
			var res []any
			for _, r := range list(st["Resource"]) {
				r := r.(string)
				for k, v := range vars {
					r = strings.ReplaceAll(r, "${"+k+"}", render(v))
				}
				res = append(res, r)
			}
			out = append(out, map[string]any{"Effect": st["Effect"], "Action": st["Action"], "Resource": res})
		}
		return out, nil
	}
	return nil, nil
}

// grants flattens a function's Allow statements into single grants.
func (s *stack) grants(t *testing.T, id string) []grant {
	t.Helper()
	sts, err := s.statements(id)
	if err != nil {
		t.Error(err)
		return nil
	}
	var out []grant
	for _, st := range sts {
		if st["Effect"] != "Allow" {
			continue
		}
		for _, a := range list(st["Action"]) {
			for _, r := range list(st["Resource"]) {
				out = append(out, grant{action: render(a), resource: render(r)})
			}
		}
	}
	return out
}

// No Allow statement anywhere in the template (function and state machine
// policies, managed policies, roles, bucket policies) grants every action,
// every action of a service, or every resource.
func TestNoWildcardGrants(t *testing.T) {
	t.Parallel()
	s := template(t)
	check := func(where string, sts []map[string]any) {
		for _, st := range sts {
			if st["Effect"] != "Allow" {
				continue
			}
			for _, key := range []string{"NotAction", "NotResource"} {
				if _, ok := st[key]; ok {
					t.Errorf("%s: an Allow statement with %s grants almost everything", where, key)
				}
			}
			for _, a := range list(st["Action"]) {
				if a := render(a); a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s grants the wildcard action %q; name the actions it needs", where, a)
				}
			}
			for _, r := range list(st["Resource"]) {
				if r := render(r); r == "*" || strings.HasSuffix(r, ":*") {
					t.Errorf("%s grants on the wildcard resource %q; name the resource", where, r)
				}
			}
		}
	}
	for _, id := range append(s.functionIDs(), stateMachineID) {
		sts, err := s.statements(id)
		if err != nil {
			t.Error(err)
		}
		check(id, sts)
	}
	for id, r := range s.raw["Resources"].(map[string]any) {
		switch lookup(r, "Type") {
		case "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
			check(id, documentStatements(lookup(r, "Properties", "PolicyDocument")))
		case "AWS::IAM::Role":
			for _, p := range list(lookup(r, "Properties", "Policies")) {
				check(id, documentStatements(lookup(p, "PolicyDocument")))
			}
		}
	}
}

// Exactly the functions that read the Clerk secret may read its one SSM
// parameter, and with nothing more than ssm:GetParameter.
func TestSecretAccess(t *testing.T) {
	t.Parallel()
	s := template(t)
	for _, l := range functionsOf(t) {
		reads := false
		for _, g := range s.grants(t, l.id) {
			if !strings.HasPrefix(g.action, "ssm:") {
				continue
			}
			switch {
			case !l.secret:
				t.Errorf("%s does not need the Clerk secret but is granted %s on %s", l.id, g.action, g.resource)
			case g.action != "ssm:GetParameter":
				t.Errorf("%s is granted %s; reading the secret needs only ssm:GetParameter", l.id, g.action)
			case g.resource != secretARN:
				t.Errorf("%s may read SSM %s; it may read only the secret key's parameter, %s", l.id, g.resource, secretARN)
			default:
				reads = true
			}
		}
		if l.secret && !reads {
			t.Errorf("%s reads the Clerk secret key but is not granted ssm:GetParameter on %s", l.id, secretARN)
		}
	}
}

// The exporter may write to the export bucket and nowhere else, and read and
// delete the run lease; POST /admin/exports may read, write and delete the
// lease alone and start exactly the export's state machine; no other
// function touches S3, Lambda or Step Functions; no function is granted
// anything else.
func TestS3AndOtherAccess(t *testing.T) {
	t.Parallel()
	s := template(t)
	// ListMultipartUploadParts: a run's last slice completes the upload its
	// earlier slices added parts to, from S3's list of them.
	objects := map[string]bool{"s3:PutObject": true, "s3:AbortMultipartUpload": true, "s3:ListMultipartUploadParts": true}
	bucketARNs := []string{"${" + exportBucketID + ".Arn}", "arn:${AWS::Partition}:s3:::${" + exportBucketID + "}"}
	lease := leaseARN(t, s)
	// The export's objects: those under its prefix, where the lease is too.
	exports := strings.TrimSuffix(lease, leaseName) + "*"
	leaseActions := map[string][]string{
		exporterID:     {"s3:GetObject", "s3:DeleteObject"},
		adminExportsID: {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
	}
	for _, l := range functionsOf(t) {
		puts, starts := false, false
		leased := map[string]bool{}
		for _, g := range s.grants(t, l.id) {
			switch {
			case strings.HasPrefix(g.action, "ssm:"):
				// TestSecretAccess
			case g.action == "states:StartExecution" && l.id == adminExportsID:
				if g.resource != "${"+stateMachineID+"}" {
					t.Errorf("%s may start %s; it may start only the export, !Ref %s", l.id, g.resource, stateMachineID)
				}
				starts = true
			case !strings.HasPrefix(g.action, "s3:"):
				t.Errorf("%s is granted %s on %s, which it does not need", l.id, g.action, g.resource)
			case g.resource == lease && slices.Contains(leaseActions[l.id], g.action):
				leased[g.action] = true
			case l.id != exporterID:
				t.Errorf("%s is granted %s on %s; only %s writes to S3, and %s touches only the lease %s", l.id, g.action, g.resource, exporterID, adminExportsID, lease)
			case objects[g.action]:
				if g.resource != exports {
					t.Errorf("%s may %s on %s; it may write only the export bucket's objects under its prefix (%s)", l.id, g.action, g.resource, exports)
				}
				puts = puts || g.action == "s3:PutObject"
			case g.action == "s3:ListBucketMultipartUploads":
				if !slices.Contains(bucketARNs, g.resource) {
					t.Errorf("%s may %s on %s; only on the export bucket itself", l.id, g.action, g.resource)
				}
			default:
				t.Errorf("%s is granted %s on %s; the export needs only s3:PutObject, s3:AbortMultipartUpload and s3:ListMultipartUploadParts on its objects, "+
					"and s3:GetObject and s3:DeleteObject on the lease %s", l.id, g.action, g.resource, lease)
			}
		}
		if l.id == exporterID && !puts {
			t.Errorf("%s is not granted s3:PutObject on the export bucket: the export could not be written", l.id)
		}
		if l.id == adminExportsID && !starts {
			t.Errorf("%s is not granted states:StartExecution on %s: it could not start the export", l.id, stateMachineID)
		}
		for _, a := range leaseActions[l.id] {
			if !leased[a] {
				t.Errorf("%s is not granted %s on the lease %s: it could not keep the export to one run", l.id, a, lease)
			}
		}
	}
}

// leaseName is the run lease's name under the export prefix
// (exportrun.LockName; this module does not link the S3 client it uses).
const leaseName = "run.lock"

// leaseARN is the run lease's object (shared/exportrun) as the policies
// must name it: under the export's EXPORT_PREFIX, which POST /admin/exports
// must share with the export.
func leaseARN(t *testing.T, s *stack) string {
	t.Helper()
	prefix, err := settings.CleanPrefix(render(s.env(exporterID)["EXPORT_PREFIX"]))
	if err != nil {
		t.Fatalf("%s: EXPORT_PREFIX: %v", exporterID, err)
	}
	if got, _ := settings.CleanPrefix(render(s.env(adminExportsID)["EXPORT_PREFIX"])); got != prefix {
		t.Errorf("%s's EXPORT_PREFIX is %q, the export's %q: it would take a lease the export never sees", adminExportsID, got, prefix)
	}
	return "${" + exportBucketID + ".Arn}/" + prefix + "/" + leaseName
}

// The authorizer reads the secret key to fetch the JWKS, which it never does
// when ClerkJwtKey is set, and to verify opaque machine tokens, which it
// never does with session tokens alone: with both, it may not read the
// secret at all.
func TestAuthorizerSecretOnlyWithoutJwtKey(t *testing.T) {
	t.Parallel()
	s := template(t)
	const pem = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
	if !authorizerReadsSecret(t, s, map[string]string{"ClerkJwtKey": pem, "AcceptedTokens": "session_token,m2m_token"}) {
		t.Errorf("with AcceptedTokens naming m2m_token, %s verifies opaque tokens with the secret key but is not granted ClerkSecretReadPolicy", authorizerID)
	}
	if !authorizerReadsSecret(t, s, map[string]string{"ClerkJwtKey": ""}) {
		t.Errorf("with ClerkJwtKey empty, %s fetches the JWKS with the secret key but is not granted ClerkSecretReadPolicy", authorizerID)
	}
	if authorizerReadsSecret(t, s, map[string]string{"ClerkJwtKey": pem}) {
		t.Errorf("with ClerkJwtKey set, %s never reads the secret key but is still granted ClerkSecretReadPolicy: "+
			"attach it with !If [<ClerkJwtKey is empty>, !Ref ClerkSecretReadPolicy, !Ref AWS::NoValue]", authorizerID)
	}
}

// authorizerReadsSecret reports whether the authorizer is granted
// ClerkSecretReadPolicy with params.
func authorizerReadsSecret(t *testing.T, s *stack, params map[string]string) bool {
	t.Helper()
	d := with(s.raw, params)
	for _, p := range list(lookup(s.resource(authorizerID), "Properties", "Policies")) {
		v, err := d.value(p)
		if err != nil {
			t.Fatalf("%s: Policies: %v", authorizerID, err)
		}
		if render(v) == "${ClerkSecretReadPolicy}" {
			return true
		}
	}
	return false
}
