// The CloudFront Function of the /api/* behavior (SiteApiPrefixFunction in
// template.yaml), run against CloudFront's viewer-request event shape. Its code
// lives only in template.yaml (CloudFormation needs it inline); this test reads
// it from there. Run with `node --test dev/deploy/testdata/` (the Go test
// TestCloudFrontFunctionUnderNode does, so `make test` runs it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const templatePath =
  process.env.TEMPLATE_YAML ?? fileURLToPath(new URL("../../../template.yaml", import.meta.url));

// functionCode is the literal block under SiteApiPrefixFunction's
// "FunctionCode: |", without its indentation.
function functionCode(yaml) {
  const lines = yaml.split("\n");
  const start = lines.findIndex((l) => /^  SiteApiPrefixFunction:\s*$/.test(l));
  assert.ok(start >= 0, "template.yaml has no SiteApiPrefixFunction resource");
  let i = start + 1;
  while (i < lines.length && !/^\s+FunctionCode: \|\s*$/.test(lines[i])) {
    assert.ok(!/^  \S/.test(lines[i]), "SiteApiPrefixFunction has no FunctionCode: | block");
    i++;
  }
  const keyIndent = lines[i].search(/\S/);
  const body = [];
  for (i++; i < lines.length; i++) {
    const l = lines[i];
    if (l.trim() !== "" && l.search(/\S/) <= keyIndent) break;
    body.push(l);
  }
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.search(/\S/)));
  return body.map((l) => l.slice(indent)).join("\n");
}

const code = functionCode(readFileSync(templatePath, "utf8"));
// CloudFront calls the top-level function named handler.
const handler = new Function(`${code}\nreturn handler;`)();

// event is a viewer-request event as CloudFront Functions receive it.
function event(uri, querystring = {}) {
  return {
    version: "1.0",
    context: { distributionDomainName: "d111111abcdef8.cloudfront.net", eventType: "viewer-request", requestId: "x" },
    viewer: { ip: "198.51.100.11" },
    request: {
      method: "GET",
      uri,
      querystring,
      headers: { host: { value: "d111111abcdef8.cloudfront.net" }, authorization: { value: "Bearer t" } },
      cookies: {},
    },
  };
}

for (const [uri, want] of [
  ["/api/private", "/private"],
  ["/api/me", "/me"],
  ["/api/admin/users/user_123", "/admin/users/user_123"],
  ["/api/", "/"],
  ["/api", "/"],
  ["/apiary", "/apiary"],
  ["/index.html", "/index.html"],
  ["/", "/"],
  ["/app/api/private", "/app/api/private"],
]) {
  test(`${uri} reaches the origin as ${want}`, () => {
    const out = handler(event(uri));
    assert.equal(out.uri, want);
  });
}

test("the query string and headers are untouched", () => {
  const qs = { x: { value: "1" }, query: { value: "a@example.com", multiValue: [{ value: "a@example.com" }, { value: "b" }] } };
  const ev = event("/api/admin/users", structuredClone(qs));
  const out = handler(ev);
  assert.equal(out.uri, "/admin/users");
  assert.deepEqual(out.querystring, qs);
  assert.equal(out.headers.authorization.value, "Bearer t");
  assert.equal(out.method, "GET");
});

test("the function returns the request (CloudFront forwards it), not a response", () => {
  const out = handler(event("/api/private"));
  assert.equal(out.statusCode, undefined);
  assert.ok("headers" in out && "querystring" in out);
});
