package apispec

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// SecurityHeaders reads the security headers of the template's
// AWS::CloudFront::ResponseHeadersPolicy (the first by logical id, when
// there are several) as the HTTP headers CloudFront adds: header name to
// value. A template without such a policy gives none, and no error.
//
// Fn::Sub in the policy is resolved with vars first (a parameter, a
// resource's logical id or a pseudo parameter such as AWS::Region, by
// name), then a parameter's default; a variable that neither names is an
// error, so that a header never carries a half-resolved value.
func SecurityHeaders(file string, vars map[string]string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	sub := func(_ string, input any, template any) any {
		src, ok := input.(string)
		if !ok {
			return nil
		}
		return subVariable.ReplaceAllStringFunc(src, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := vars[name]; ok {
				return v
			}
			root, _ := template.(map[string]any)
			if params, ok := root["Parameters"].(map[string]any); ok {
				if p, ok := params[name].(map[string]any); ok {
					if def, ok := p["Default"].(string); ok {
						return def
					}
				}
			}
			return m // left for the check below, if it is in the policy
		})
	}
	processing.Lock()
	resolved, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":        resolveRef,
			"Fn::GetAtt": resolveGetAtt,
			"Fn::Sub":    sub,
		},
	})
	processing.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid template: %w", file, err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				ResponseHeadersPolicyConfig struct {
					SecurityHeadersConfig *securityHeadersConfig
				}
			}
		}
	}
	if err := json.Unmarshal(resolved, &tmpl); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	names := make([]string, 0, len(tmpl.Resources))
	for name, r := range tmpl.Resources {
		if r.Type == "AWS::CloudFront::ResponseHeadersPolicy" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	sort.Strings(names)
	config := tmpl.Resources[names[0]].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig
	if config == nil {
		return map[string]string{}, nil
	}
	headers := config.headers()
	for _, name := range sortedKeys(headers) {
		if m := subVariable.FindString(headers[name]); m != "" {
			return nil, fmt.Errorf("%s: %s's %s names %s, which is neither given nor a parameter with a default", file, names[0], name, m)
		}
	}
	return headers, nil
}

// subVariable is a ${Name} of Fn::Sub; ${!Literal} is not one.
var subVariable = regexp.MustCompile(`\$\{[A-Za-z0-9_:.]+\}`)

// securityHeadersConfig is the SecurityHeadersConfig of a response headers
// policy, as CloudFormation documents it.
type securityHeadersConfig struct {
	ContentSecurityPolicy *struct {
		ContentSecurityPolicy string
	}
	ContentTypeOptions *struct{}
	FrameOptions       *struct {
		FrameOption string
	}
	ReferrerPolicy *struct {
		ReferrerPolicy string
	}
	StrictTransportSecurity *struct {
		AccessControlMaxAgeSec int
		IncludeSubdomains      bool
		Preload                bool
	}
	XSSProtection *struct {
		Protection bool
		ModeBlock  bool
		ReportUri  string
	}
}

// headers are the headers CloudFront sends for c.
func (c *securityHeadersConfig) headers() map[string]string {
	h := map[string]string{}
	if p := c.ContentSecurityPolicy; p != nil {
		h["Content-Security-Policy"] = strings.Join(strings.Fields(p.ContentSecurityPolicy), " ")
	}
	if c.ContentTypeOptions != nil {
		h["X-Content-Type-Options"] = "nosniff"
	}
	if p := c.FrameOptions; p != nil {
		h["X-Frame-Options"] = p.FrameOption
	}
	if p := c.ReferrerPolicy; p != nil {
		h["Referrer-Policy"] = p.ReferrerPolicy
	}
	if p := c.StrictTransportSecurity; p != nil {
		v := "max-age=" + strconv.Itoa(p.AccessControlMaxAgeSec)
		if p.IncludeSubdomains {
			v += "; includeSubDomains"
		}
		if p.Preload {
			v += "; preload"
		}
		h["Strict-Transport-Security"] = v
	}
	if p := c.XSSProtection; p != nil {
		v := "0"
		if p.Protection {
			v = "1"
			if p.ModeBlock {
				v += "; mode=block"
			} else if p.ReportUri != "" {
				v += "; report=" + p.ReportUri
			}
		}
		h["X-XSS-Protection"] = v
	}
	return h
}
