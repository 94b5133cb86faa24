package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/shared/settings"
)

// The static site's resources (issue 12): a private bucket read only by a
// CloudFront distribution through Origin Access Control, the API under /api/*
// on the same origin, and security headers.

const (
	siteCondition    = "SiteOn"
	siteBucketID     = "SiteBucket"
	siteDistID       = "SiteDistribution"
	siteHeadersID    = "SiteResponseHeadersPolicy"
	siteFunctionID   = "SiteApiPrefixFunction"
	siteOACID        = "SiteOriginAccessControl"
	apiOriginDomain  = "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
	cachingOptimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	// The managed CachingDisabled cache policy and AllViewerExceptHostHeader
	// origin request policy (CloudFront developer guide, "Use managed cache
	// policies" and "Use managed origin request policies").
	cachingDisabled           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerExceptHostHeader = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

func (s *stack) distributionConfig(t *testing.T) map[string]any {
	t.Helper()
	c, _ := lookup(s.resource(siteDistID), "Properties", "DistributionConfig").(map[string]any)
	if c == nil {
		t.Fatalf("template.yaml has no %s with a DistributionConfig", siteDistID)
	}
	return c
}

// behaviors are the distribution's cache behaviors by path pattern, the
// default one under "".
func (s *stack) behaviors(t *testing.T) map[string]map[string]any {
	t.Helper()
	c := s.distributionConfig(t)
	out := map[string]map[string]any{}
	out[""], _ = c["DefaultCacheBehavior"].(map[string]any)
	for _, b := range list(c["CacheBehaviors"]) {
		m, _ := b.(map[string]any)
		p, _ := m["PathPattern"].(string)
		out[p] = m
	}
	return out
}

func (s *stack) origin(t *testing.T, id string) map[string]any {
	t.Helper()
	for _, o := range list(s.distributionConfig(t)["Origins"]) {
		if lookup(o, "Id") == id {
			m, _ := o.(map[string]any)
			return m
		}
	}
	t.Fatalf("%s has no origin %q", siteDistID, id)
	return nil
}

// The site is on by default, and every one of its resources goes when
// SiteEnabled is "false".
func TestSiteIsOptional(t *testing.T) {
	t.Parallel()
	s := template(t)
	if got := render(lookup(s.raw, "Parameters", "SiteEnabled", "Default")); got != "true" {
		t.Errorf("parameter SiteEnabled defaults to %q, want \"true\"", got)
	}
	for params, want := range map[string]bool{"": true, "false": false} {
		o := map[string]string{}
		if params != "" {
			o["SiteEnabled"] = params
		}
		if on, err := with(s.raw, o).condition(siteCondition); err != nil || on != want {
			t.Errorf("SiteEnabled=%q: condition %s is %v (%v), want %v", params, siteCondition, on, err, want)
		}
	}
	n := 0
	for id, r := range s.raw["Resources"].(map[string]any) {
		typ, _ := lookup(r, "Type").(string)
		if !strings.HasPrefix(id, "Site") && !strings.HasPrefix(typ, "AWS::CloudFront::") {
			continue
		}
		n++
		if c := lookup(r, "Condition"); c != siteCondition {
			t.Errorf("%s (%s) has Condition %v, want %s: SiteEnabled=false must remove it", id, typ, c, siteCondition)
		}
	}
	if n < 6 {
		t.Errorf("found %d site resources, want the bucket, its policy, the OAC, the function, the headers policy and the distribution", n)
	}
}

// The bucket is private: no public access of any kind, objects owned by the
// bucket owner (ACLs off), encrypted, no website endpoint.
func TestSiteBucketIsPrivate(t *testing.T) {
	t.Parallel()
	s := template(t)
	b, err := s.typed.GetS3BucketWithName(siteBucketID)
	if err != nil {
		t.Fatalf("template.yaml has no S3 bucket %s: %v", siteBucketID, err)
	}
	pab := b.PublicAccessBlockConfiguration
	if pab == nil || pab.BlockPublicAcls == nil || !*pab.BlockPublicAcls || pab.BlockPublicPolicy == nil || !*pab.BlockPublicPolicy ||
		pab.IgnorePublicAcls == nil || !*pab.IgnorePublicAcls || pab.RestrictPublicBuckets == nil || !*pab.RestrictPublicBuckets {
		t.Errorf("%s must block all public access (the four PublicAccessBlockConfiguration settings true)", siteBucketID)
	}
	if oc := b.OwnershipControls; oc == nil || len(oc.Rules) != 1 || oc.Rules[0].ObjectOwnership == nil || *oc.Rules[0].ObjectOwnership != "BucketOwnerEnforced" {
		t.Errorf("%s must set ObjectOwnership BucketOwnerEnforced (no ACLs)", siteBucketID)
	}
	if enc := b.BucketEncryption; enc == nil || len(enc.ServerSideEncryptionConfiguration) == 0 ||
		enc.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault == nil ||
		enc.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm != "AES256" {
		t.Errorf("%s must be encrypted with AES256 by default", siteBucketID)
	}
	if b.WebsiteConfiguration != nil {
		t.Errorf("%s has a WebsiteConfiguration: the website endpoint is public HTTP; the distribution reads the bucket through OAC", siteBucketID)
	}
	if b.AccessControl != nil {
		t.Errorf("%s sets AccessControl %q: no ACLs", siteBucketID, *b.AccessControl)
	}
	for id, r := range s.raw["Resources"].(map[string]any) {
		if lookup(r, "Type") == "AWS::CloudFront::CloudFrontOriginAccessIdentity" {
			t.Errorf("%s is a legacy origin access identity: use Origin Access Control", id)
		}
	}
}

// Only the distribution may read the bucket's objects, and only over TLS.
func TestSiteBucketPolicy(t *testing.T) {
	t.Parallel()
	s := template(t)
	var policy map[string]any
	for id, r := range s.raw["Resources"].(map[string]any) {
		if lookup(r, "Type") == "AWS::S3::BucketPolicy" && render(lookup(r, "Properties", "Bucket")) == "${"+siteBucketID+"}" {
			if policy != nil {
				t.Errorf("%s is a second policy of %s", id, siteBucketID)
			}
			policy, _ = r.(map[string]any)
		}
	}
	if policy == nil {
		t.Fatalf("%s has no bucket policy", siteBucketID)
	}
	objects := "${" + siteBucketID + ".Arn}/*"
	wantSource := "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${" + siteDistID + "}"
	tlsOnly, reads := false, 0
	for _, st := range documentStatements(lookup(policy, "Properties", "PolicyDocument")) {
		switch st["Effect"] {
		case "Deny":
			if render(lookup(st, "Condition", "Bool", "aws:SecureTransport")) == "false" && render(st["Action"]) == "s3:*" {
				res := list(st["Resource"])
				if len(res) == 2 && getAttOf(res[0], "Arn") == siteBucketID && render(res[1]) == objects {
					tlsOnly = true
				}
			}
		case "Allow":
			reads++
			principal := lookup(st, "Principal")
			if render(lookup(principal, "Service")) != "cloudfront.amazonaws.com" || len(principal.(map[string]any)) != 1 {
				t.Errorf("%s allows the principal %s; only cloudfront.amazonaws.com may read the site", siteBucketID, render(principal))
			}
			if a := list(st["Action"]); len(a) != 1 || render(a[0]) != "s3:GetObject" {
				t.Errorf("%s allows %s; CloudFront needs only s3:GetObject", siteBucketID, render(st["Action"]))
			}
			if r := list(st["Resource"]); len(r) != 1 || render(r[0]) != objects {
				t.Errorf("%s allows reading %s, want the bucket's objects %s", siteBucketID, render(st["Resource"]), objects)
			}
			cond, _ := lookup(st, "Condition").(map[string]any)
			if got := render(lookup(cond, "StringEquals", "AWS:SourceArn")); got != wantSource || len(cond) != 1 {
				t.Errorf("%s: CloudFront's read is conditioned on %s, want StringEquals AWS:SourceArn %s (this distribution, not any)",
					siteBucketID, render(cond), wantSource)
			}
		}
	}
	if !tlsOnly {
		t.Errorf("%s's policy must deny s3:* on the bucket and its objects when aws:SecureTransport is false", siteBucketID)
	}
	if reads != 1 {
		t.Errorf("%s's policy has %d Allow statements, want 1 (the distribution's read)", siteBucketID, reads)
	}
}

// No Allow statement of any resource policy in the template names every
// principal: the only "*" principal is the TLS-only Deny.
func TestNoPublicPrincipals(t *testing.T) {
	t.Parallel()
	s := template(t)
	for id, r := range s.raw["Resources"].(map[string]any) {
		switch lookup(r, "Type") {
		case "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
		default:
			continue
		}
		for _, st := range documentStatements(lookup(r, "Properties", "PolicyDocument")) {
			if st["Effect"] != "Allow" {
				continue
			}
			p := lookup(st, "Principal")
			if render(p) == "*" || render(lookup(p, "AWS")) == "*" {
				t.Errorf("%s allows the principal *", id)
			}
			if _, ok := st["NotPrincipal"]; ok {
				t.Errorf("%s: an Allow statement with NotPrincipal", id)
			}
		}
	}
}

// The distribution reads the bucket through an always-signing SigV4 OAC.
func TestSiteOriginAccessControl(t *testing.T) {
	t.Parallel()
	s := template(t)
	cfg := lookup(s.resource(siteOACID), "Properties", "OriginAccessControlConfig")
	if lookup(s.resource(siteOACID), "Type") != "AWS::CloudFront::OriginAccessControl" || cfg == nil {
		t.Fatalf("template.yaml has no AWS::CloudFront::OriginAccessControl %s", siteOACID)
	}
	for k, want := range map[string]string{"OriginAccessControlOriginType": "s3", "SigningBehavior": "always", "SigningProtocol": "sigv4"} {
		if got := render(lookup(cfg, k)); got != want {
			t.Errorf("%s: %s is %q, want %q", siteOACID, k, got, want)
		}
	}
	o := s.origin(t, "site")
	if getAttOf(o["DomainName"], "RegionalDomainName") != siteBucketID {
		t.Errorf("the site origin is %s, want !GetAtt %s.RegionalDomainName (the REST endpoint, not the website one)", render(o["DomainName"]), siteBucketID)
	}
	if getAttOf(o["OriginAccessControlId"], "Id") != siteOACID {
		t.Errorf("the site origin's OriginAccessControlId is %s, want !GetAtt %s.Id", render(o["OriginAccessControlId"]), siteOACID)
	}
	if oai := lookup(o, "S3OriginConfig", "OriginAccessIdentity"); oai != "" {
		t.Errorf("the site origin names the origin access identity %s; leave it empty (OAC signs)", render(oai))
	}
}

func TestSiteDistribution(t *testing.T) {
	t.Parallel()
	s := template(t)
	c := s.distributionConfig(t)
	for k, want := range map[string]string{
		"Enabled": "true", "HttpVersion": "http2and3", "DefaultRootObject": "index.html", "PriceClass": "${SitePriceClass}",
	} {
		if got := render(c[k]); got != want {
			t.Errorf("%s: %s is %s, want %s", siteDistID, k, got, want)
		}
	}
	for path, b := range s.behaviors(t) {
		switch p := render(b["ViewerProtocolPolicy"]); {
		case path == "" && p != "redirect-to-https":
			t.Errorf("%s: the default behavior's ViewerProtocolPolicy is %s, want redirect-to-https", siteDistID, p)
		case p != "redirect-to-https" && p != "https-only":
			t.Errorf("%s: behavior %s answers plain HTTP (ViewerProtocolPolicy %s)", siteDistID, path, p)
		}
		if render(b["Compress"]) != "true" {
			t.Errorf("%s: behavior %q does not compress", siteDistID, path)
		}
		if getRef(b["ResponseHeadersPolicyId"]) != siteHeadersID {
			t.Errorf("%s: behavior %q has ResponseHeadersPolicyId %s, want !Ref %s", siteDistID, path, render(b["ResponseHeadersPolicyId"]), siteHeadersID)
		}
	}
	def := s.behaviors(t)[""]
	if render(def["TargetOriginId"]) != "site" || render(def["CachePolicyId"]) != cachingOptimized {
		t.Errorf("%s: the default behavior goes to %s with cache policy %s, want the site origin with CachingOptimized (%s)",
			siteDistID, render(def["TargetOriginId"]), render(def["CachePolicyId"]), cachingOptimized)
	}

	// A custom domain: aliases and the ACM certificate together, or the
	// CloudFront domain and its certificate.
	for _, domain := range []string{"", "app.example.com"} {
		o := map[string]string{"SiteDomainName": domain}
		if domain != "" {
			o["SiteCertificateArn"] = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
		}
		d := with(s.raw, o)
		aliases, err1 := d.value(c["Aliases"])
		cert, err2 := d.value(c["ViewerCertificate"])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: Aliases or ViewerCertificate: %v %v", siteDistID, err1, err2)
		}
		switch {
		case domain == "" && (aliases != noValue || render(lookup(cert, "CloudFrontDefaultCertificate")) != "true"):
			t.Errorf("without SiteDomainName: Aliases %s, ViewerCertificate %s; want no aliases and the CloudFront certificate", render(aliases), render(cert))
		case domain != "" && (len(list(aliases)) != 1 || getRef(list(aliases)[0]) != "SiteDomainName" || getRef(lookup(cert, "AcmCertificateArn")) != "SiteCertificateArn" ||
			render(lookup(cert, "SslSupportMethod")) != "sni-only"):
			t.Errorf("with SiteDomainName: Aliases %s, ViewerCertificate %s; want [!Ref SiteDomainName] and !Ref SiteCertificateArn, sni-only", render(aliases), render(cert))
		}
	}
	if p := lookup(s.raw, "Parameters", "SiteCertificateArn", "AllowedPattern"); !strings.Contains(render(p), ":acm:us-east-1:") {
		t.Errorf("parameter SiteCertificateArn's AllowedPattern %s must require us-east-1, the only region CloudFront takes certificates from", render(p))
	}
}

func getRef(v any) string {
	r, _ := lookup(v, "Ref").(string)
	return r
}

// /api/* goes to the HTTP API uncached, with every viewer header but Host
// (so Authorization too), every method, and the /api prefix stripped.
func TestSiteAPIBehavior(t *testing.T) {
	t.Parallel()
	s := template(t)
	b := s.behaviors(t)["/api/*"]
	if b == nil {
		t.Fatalf("%s has no /api/* cache behavior", siteDistID)
	}
	o := s.origin(t, render(b["TargetOriginId"]))
	if got := render(o["DomainName"]); got != apiOriginDomain {
		t.Errorf("/api/* goes to %s, want the HTTP API's execute-api domain %s", got, apiOriginDomain)
	}
	if p := render(lookup(o, "CustomOriginConfig", "OriginProtocolPolicy")); p != "https-only" {
		t.Errorf("the API origin's OriginProtocolPolicy is %s, want https-only", p)
	}
	if got := render(b["CachePolicyId"]); got != cachingDisabled {
		t.Errorf("/api/*: CachePolicyId is %s, want the managed CachingDisabled %s: an API answer is per caller", got, cachingDisabled)
	}
	if got := render(b["OriginRequestPolicyId"]); got != allViewerExceptHostHeader {
		t.Errorf("/api/*: OriginRequestPolicyId is %s, want the managed AllViewerExceptHostHeader %s "+
			"(forwards Authorization when caching is disabled; API Gateway needs its own Host)", got, allViewerExceptHostHeader)
	}
	var methods []string
	for _, m := range list(b["AllowedMethods"]) {
		methods = append(methods, render(m))
	}
	slices.Sort(methods)
	if want := []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}; !slices.Equal(methods, want) {
		t.Errorf("/api/*: AllowedMethods are %v, want all of %v", methods, want)
	}
	assoc := list(b["FunctionAssociations"])
	if len(assoc) != 1 || render(lookup(assoc[0], "EventType")) != "viewer-request" || getAttOf(lookup(assoc[0], "FunctionARN"), "FunctionARN") != siteFunctionID {
		t.Errorf("/api/*: FunctionAssociations are %s, want viewer-request with !GetAtt %s.FunctionARN", render(b["FunctionAssociations"]), siteFunctionID)
	}
	fn := s.resource(siteFunctionID)
	if lookup(fn, "Type") != "AWS::CloudFront::Function" || render(lookup(fn, "Properties", "AutoPublish")) != "true" ||
		render(lookup(fn, "Properties", "FunctionConfig", "Runtime")) != "cloudfront-js-2.0" {
		t.Errorf("%s must be an AWS::CloudFront::Function, AutoPublish true, runtime cloudfront-js-2.0", siteFunctionID)
	}
	if code, _ := lookup(fn, "Properties", "FunctionCode").(string); !strings.Contains(code, "function handler(event)") {
		t.Errorf("%s: FunctionCode must be the function's JavaScript, inline (testdata/api-prefix.test.mjs reads it from there)", siteFunctionID)
	}
}

// The function strips /api under Node, against CloudFront's event shape.
func TestCloudFrontFunctionUnderNode(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the CloudFront Function is not run")
	}
	cmd := exec.Command(node, "--test", filepath.Join("testdata", "api-prefix.test.mjs"))
	cmd.Env = append(os.Environ(), "TEMPLATE_YAML="+filepath.Join(repoRoot(t), "template.yaml"), "NODE_OPTIONS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("node --test testdata/api-prefix.test.mjs: %v\n%s", err, out)
	}
}

// csp is the Content-Security-Policy of the headers policy as written (with
// ${...} for the parameters and the API), by directive.
func (s *stack) csp(t *testing.T) map[string][]string {
	t.Helper()
	v := lookup(s.resource(siteHeadersID), "Properties", "ResponseHeadersPolicyConfig", "SecurityHeadersConfig", "ContentSecurityPolicy", "ContentSecurityPolicy")
	text := render(v)
	if text == "" || text == "null" {
		t.Fatalf("%s has no ContentSecurityPolicy", siteHeadersID)
	}
	out := map[string][]string{}
	for _, d := range strings.Split(text, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		if _, dup := out[f[0]]; dup {
			t.Errorf("the CSP names %s twice (browsers ignore the second)", f[0])
		}
		out[f[0]] = f[1:]
	}
	return out
}

func TestSiteSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := template(t)
	h := lookup(s.resource(siteHeadersID), "Properties", "ResponseHeadersPolicyConfig", "SecurityHeadersConfig")
	if h == nil {
		t.Fatalf("template.yaml has no response headers policy %s with SecurityHeadersConfig", siteHeadersID)
	}
	if age, _ := lookup(h, "StrictTransportSecurity", "AccessControlMaxAgeSec").(float64); age < 31536000 ||
		render(lookup(h, "StrictTransportSecurity", "IncludeSubdomains")) != "true" {
		t.Errorf("HSTS is %s, want at least a year (31536000 s) with IncludeSubdomains", render(lookup(h, "StrictTransportSecurity")))
	}
	if lookup(h, "ContentTypeOptions") == nil {
		t.Error("no X-Content-Type-Options: nosniff (ContentTypeOptions)")
	}
	if got := render(lookup(h, "FrameOptions", "FrameOption")); got != "DENY" {
		t.Errorf("FrameOptions is %s, want DENY", got)
	}
	if got := render(lookup(h, "ReferrerPolicy", "ReferrerPolicy")); got != "strict-origin-when-cross-origin" {
		t.Errorf("ReferrerPolicy is %s, want strict-origin-when-cross-origin", got)
	}
	for _, k := range []string{"StrictTransportSecurity", "ContentTypeOptions", "FrameOptions", "ReferrerPolicy", "ContentSecurityPolicy"} {
		if render(lookup(h, k, "Override")) != "true" {
			t.Errorf("%s: Override must be true, so the headers are the policy's whatever the origin sends", k)
		}
	}

	const clerk = "https://${ClerkFrontendApiHost}"
	csp := s.csp(t)
	allowed := map[string]bool{
		"'self'": true, clerk: true, "https://img.clerk.com": true, "https://" + apiOriginDomain: true,
		"'none'": true, "blob:": true, "'unsafe-inline'": true,
	}
	for d, sources := range csp {
		for _, src := range sources {
			if !allowed[src] {
				t.Errorf("CSP %s allows %s, which the page does not need", d, src)
			}
			if src == "'unsafe-inline'" && d != "style-src" {
				t.Errorf("CSP %s allows 'unsafe-inline': only styles may be inline (Clerk's components insert <style>)", d)
			}
		}
	}
	for d, want := range map[string][]string{
		"default-src":     {"'self'"},
		"script-src":      {"'self'", clerk},
		"connect-src":     {"'self'", clerk, "https://" + apiOriginDomain},
		"img-src":         {"'self'", "https://img.clerk.com"},
		"frame-ancestors": {"'none'"},
		"object-src":      {"'none'"},
	} {
		for _, src := range want {
			if !slices.Contains(csp[d], src) {
				t.Errorf("CSP %s is %v; it must allow %s", d, csp[d], src)
			}
		}
	}
	for _, d := range []string{"script-src", "default-src"} {
		for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "https:", "data:"} {
			if slices.Contains(csp[d], bad) {
				t.Errorf("CSP %s allows %s", d, bad)
			}
		}
	}
	if p := lookup(s.raw, "Parameters", "ClerkFrontendApiHost"); !strings.Contains(render(lookup(p, "Description")), "publishable key") {
		t.Error("parameter ClerkFrontendApiHost must say it is the host in the publishable key")
	}
	// The page loads Clerk's script from the Frontend API host it finds in the
	// publishable key, which is the host the CSP names.
	app, err := os.ReadFile(filepath.Join(repoRoot(t), "web", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(app), "loadScript(`https://${host}/npm/@clerk/clerk-js") {
		t.Error("web/app.js no longer loads Clerk's JavaScript from the Frontend API host: check the CSP's script-src against what it loads")
	}
}

// The authorizer accepts as azp the site's CloudFront domain and its custom
// domain, as well as AllowedOrigins; CORS stays AllowedOrigins alone.
func TestSiteAuthorizedParties(t *testing.T) {
	t.Parallel()
	s := template(t)
	v := s.env(authorizerID)[settings.AuthorizedPartiesName]
	const distribution = "d111111abcdef8.cloudfront.net"
	cf := "https://" + distribution
	cases := []struct {
		params map[string]string
		want   []string
	}{
		{map[string]string{}, []string{"http://localhost:5173", cf}},
		{map[string]string{"SiteDomainName": "app.example.com", "AllowedOrigins": "https://a.example.com,https://b.example.com"},
			[]string{"https://a.example.com", "https://b.example.com", cf, "https://app.example.com"}},
		{map[string]string{"SiteDomainName": "app.example.com", "SiteEnabled": "false"}, []string{"http://localhost:5173"}},
		{map[string]string{"AllowedOrigins": ""}, []string{cf}},
		{map[string]string{"AllowedOrigins": "", "SiteEnabled": "false"}, nil},
	}
	for _, c := range cases {
		got, err := evalJoin(with(s.raw, c.params), v)
		if err != nil {
			t.Fatalf("%s: %v", settings.AuthorizedPartiesName, err)
		}
		got = strings.ReplaceAll(got, "${SiteDistribution.DomainName}", distribution)
		parties, err := settings.AuthorizedParties(func(string) (string, bool) { return got, true })
		if err != nil || !slices.Equal(parties, c.want) {
			t.Errorf("with %v, %s is %q = %v (%v), want %v", c.params, settings.AuthorizedPartiesName, got, parties, err, c.want)
		}
	}
	// A route function naming the distribution would close a circle: the
	// distribution needs the API, the API its functions.
	for _, id := range s.functionIDs() {
		if _, ok := s.env(id)[settings.AuthorizedPartiesName]; ok && id != authorizerID {
			t.Errorf("%s is given %s: only the authorizer checks azp", id, settings.AuthorizedPartiesName)
		}
	}
	// The local API reads the same list from the template (an unresolved
	// value would be dropped, and the local authorizer would accept any azp).
	api, err := apispec.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	local := api.Functions[authorizerID].Env[settings.AuthorizedPartiesName]
	if parties, _ := settings.AuthorizedParties(func(string) (string, bool) { return local, true }); !slices.Equal(parties, []string{"http://localhost:5173"}) {
		t.Errorf("the local API gives the authorizer %s=%q, want the AllowedOrigins default", settings.AuthorizedPartiesName, local)
	}
}

// evalJoin evaluates an Fn::Join whose parts are parameters, lists, Fn::If
// and Fn::Sub of parameters, as CloudFormation would for d.
func evalJoin(d deployment, v any) (string, error) {
	args, _ := lookup(v, "Fn::Join").([]any)
	if len(args) != 2 {
		return "", nil
	}
	sep, _ := args[0].(string)
	parts, err := d.value(args[1])
	if err != nil {
		return "", err
	}
	if s, ok := parts.(string); ok { // a CommaDelimitedList parameter
		return s, nil
	}
	var out []string
	for _, p := range list(parts) {
		p, err := d.value(p)
		if err != nil {
			return "", err
		}
		switch {
		case p == noValue:
			continue
		case lookup(p, "Fn::Join") != nil:
			s, err := evalJoin(d, p)
			if err != nil {
				return "", err
			}
			out = append(out, s)
		default:
			s := render(p)
			for name, val := range d.params {
				s = strings.ReplaceAll(s, "${"+name+"}", val)
			}
			out = append(out, s)
		}
	}
	return strings.Join(out, sep), nil
}

// The outputs cmd/deploy-site reads.
func TestSiteOutputs(t *testing.T) {
	t.Parallel()
	s := template(t)
	outputs, _ := s.raw["Outputs"].(map[string]any)
	for _, name := range []string{"SiteBucketName", "SiteDistributionId", "SiteUrl", "ApiBase", "PublishableKey"} {
		o, ok := outputs[name]
		if !ok {
			t.Errorf("template.yaml has no output %s (make deploy-site reads it)", name)
			continue
		}
		if lookup(o, "Condition") != nil {
			t.Errorf("output %s has a Condition, which the local API's template reader cannot read: use !If", name)
		}
	}
	if got := render(lookup(outputs, "PublishableKey", "Value")); got != "${ClerkPublishableKey}" {
		t.Errorf("output PublishableKey is %s, want !Ref ClerkPublishableKey", got)
	}
	d := with(s.raw, nil)
	for name, want := range map[string]string{"ApiBase": "/api", "SiteBucketName": "${SiteBucket}", "SiteDistributionId": "${SiteDistribution}"} {
		v, err := d.value(lookup(outputs, name, "Value"))
		if got := render(v); err != nil || got != want {
			t.Errorf("output %s is %s (%v), want %s", name, got, err, want)
		}
	}
	url, _ := d.value(lookup(outputs, "SiteUrl", "Value"))
	if got := render(url); got != "https://${SiteDistribution.DomainName}" {
		t.Errorf("output SiteUrl is %s without a custom domain, want https://${SiteDistribution.DomainName}", got)
	}
	off := with(s.raw, map[string]string{"SiteEnabled": "false"})
	for _, name := range []string{"SiteBucketName", "SiteDistributionId", "SiteUrl", "ApiBase"} {
		if v, err := off.value(lookup(outputs, name, "Value")); err != nil || v != "" {
			t.Errorf("with SiteEnabled=false, output %s is %s (%v), want empty", name, render(v), err)
		}
	}
	d = with(s.raw, map[string]string{"SiteDomainName": "app.example.com"})
	if url, _ := d.value(lookup(outputs, "SiteUrl", "Value")); render(url) != "https://${SiteDomainName}" {
		t.Errorf("output SiteUrl is %s with a custom domain, want https://${SiteDomainName}", render(url))
	}
}

// SAM passes the site's resources through to CloudFormation unchanged.
func TestTranslatedSite(t *testing.T) {
	t.Parallel()
	tr := translated(t)
	for _, typ := range []string{"AWS::CloudFront::Distribution", "AWS::CloudFront::OriginAccessControl", "AWS::CloudFront::Function", "AWS::CloudFront::ResponseHeadersPolicy"} {
		if n := len(resourcesOfType(tr, typ)); n != 1 {
			t.Errorf("the translation has %d %s, want 1", n, typ)
		}
	}
}

// The site's parameters check what CloudFront will refuse, before a deploy.
func TestSiteParameters(t *testing.T) {
	t.Parallel()
	s := template(t)
	params := s.typed.Parameters
	for _, c := range []struct {
		param      string
		good, bads []string
	}{
		{"ClerkFrontendApiHost", []string{"", "clerk.example.com", "abc-12.clerk.accounts.dev"}, []string{"https://clerk.example.com", "clerk.example.com/", "clerk example.com", "clerk.example.com$"}},
		{"SiteDomainName", []string{"", "app.example.com", "www.example.co.uk"}, []string{"https://app.example.com", "app", "*.example.com"}},
		{"SiteCertificateArn", []string{"", "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"},
			[]string{"arn:aws:acm:eu-west-1:123456789012:certificate/0a1b", "0a1b2c3d"}},
	} {
		p, ok := params[c.param]
		if !ok || p.AllowedPattern == nil || p.Description == nil {
			t.Errorf("parameter %s needs an AllowedPattern and a Description", c.param)
			continue
		}
		re := regexp.MustCompile(*p.AllowedPattern)
		for _, v := range c.good {
			if !re.MatchString(v) {
				t.Errorf("parameter %s rejects the valid %q", c.param, v)
			}
		}
		for _, v := range c.bads {
			if re.MatchString(v) {
				t.Errorf("parameter %s accepts the invalid %q", c.param, v)
			}
		}
	}
	if p := params["SitePriceClass"]; !slices.Equal(p.AllowedValues, []any{"PriceClass_100", "PriceClass_200", "PriceClass_All"}) {
		t.Errorf("parameter SitePriceClass allows %v, want the three CloudFront price classes", p.AllowedValues)
	}
	// A deploy with the site and no Clerk host would serve a page whose CSP
	// blocks Clerk; a domain without a certificate (or the reverse) fails in
	// CloudFront, late. The Rules refuse both up front.
	rules := render(s.raw["Rules"])
	for _, want := range []string{`"ClerkFrontendApiHost"`, `"SiteCertificateArn"`} {
		if !strings.Contains(rules, want) {
			t.Errorf("template.yaml's Rules do not check %s", want)
		}
	}
}
