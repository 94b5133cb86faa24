// The example site: it gets a Clerk session token and calls the API with it,
// as any static site on S3/CloudFront would:
//
//   const token = await clerk.session?.getToken();
//   fetch(API + "/private", { headers: { Authorization: "Bearer " + token } });
//
// Settings come from config.json beside this file:
//   { "apiUrl": "/api",                       // the API on this site's origin
//     "publishableKey": "pk_live_..." }       // sign in with Clerk for real
// "/api" is the API behind the same CloudFront distribution (and behind
// make dev's site server): no CORS, no preflight. A site hosted elsewhere
// names the API's own URL instead, such as
// "https://abc123.execute-api.eu-west-1.amazonaws.com", and the API answers
// with CORS. With a publishable key the page loads Clerk's JS from the
// instance's Frontend API. make dev serves its own config.json: with the
// Clerk stand-in it names a loopback dev-token endpoint instead of a key,
//   { "apiUrl": "/api",
//     "devTokenUrl": "http://127.0.0.1:41234/dev-token" }
// and the page asks it for a token: GET devTokenUrl?as=user|admin answers
// {"token": "..."} to this page's origin only.

const $ = (id) => document.getElementById(id);

async function loadConfig() {
  const res = await fetch("config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const cfg = await res.json();
  if (!cfg.apiUrl) throw new Error("config.json: apiUrl is missing");
  cfg.apiUrl = cfg.apiUrl.replace(/\/+$/, "");
  return cfg;
}

// frontendApi decodes a publishable key: "pk_test_" or "pk_live_" followed by
// the base64 of the Frontend API host and a "$".
function frontendApi(publishableKey) {
  const host = atob(publishableKey.split("_")[2] || "");
  if (!host.endsWith("$")) throw new Error("not a Clerk publishable key");
  return host.slice(0, -1);
}

function loadScript(src, attrs) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.async = true;
    s.crossOrigin = "anonymous";
    for (const [k, v] of Object.entries(attrs)) s.setAttribute(k, v);
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

// clerkSession signs in with Clerk's own JS and returns a token getter.
async function clerkSession(cfg) {
  const host = frontendApi(cfg.publishableKey);
  await loadScript(`https://${host}/npm/@clerk/clerk-js@5/dist/clerk.browser.js`, {
    "data-clerk-publishable-key": cfg.publishableKey,
  });
  const clerk = window.Clerk;
  await clerk.load();
  $("mode").textContent = `Signing in with Clerk (${host}).`;
  $("clerk-controls").hidden = false;
  $("sign-in").onclick = () => clerk.openSignIn();
  $("sign-out").onclick = () => clerk.signOut();
  const show = () => {
    $("who").textContent = clerk.user ? `Signed in as ${clerk.user.primaryEmailAddress?.emailAddress ?? clerk.user.id}.` : "Signed out.";
  };
  clerk.addListener(show);
  show();
  return async () => (clerk.session ? clerk.session.getToken() : null);
}

// devSession asks the local API's stand-in for a token for the chosen user.
function devSession(cfg) {
  $("mode").textContent = `Development mode (make dev): calling ${cfg.apiUrl} with tokens from the local Clerk stand-in.`;
  $("dev-controls").hidden = false;
  return async () => {
    const who = $("dev-user").value;
    if (!who) return null;
    const res = await fetch(`${cfg.devTokenUrl}?as=${encodeURIComponent(who)}`, { cache: "no-store" });
    if (!res.ok) throw new Error(`dev token: HTTP ${res.status}`);
    return (await res.json()).token;
  };
}

function show(status, body) {
  $("status").textContent = status;
  $("body").textContent = body;
}

async function call(cfg, getToken, path) {
  show("…", "");
  let token;
  try {
    token = await getToken();
  } catch (err) {
    show("no token", `Could not get a session token: ${err.message}`);
    return;
  }
  let res, text;
  try {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    res = await fetch(cfg.apiUrl + path, { headers });
    text = await res.text();
  } catch (err) {
    // A CORS refusal and a network failure look the same to a page.
    show("blocked", `The request did not complete (CORS or network): ${err.message}`);
    return;
  }
  let body = text;
  try {
    body = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON: show it as it came.
  }
  show(`${res.status} ${res.statusText}`.trim(), body);
}

async function main() {
  let cfg;
  let getToken = async () => null;
  try {
    cfg = await loadConfig();
    if (cfg.publishableKey) {
      getToken = await clerkSession(cfg);
    } else if (cfg.devTokenUrl) {
      getToken = devSession(cfg);
    } else {
      $("mode").textContent = "No publishable key in config.json: only /public will work.";
    }
  } catch (err) {
    $("mode").textContent = `Setup failed: ${err.message}`;
    if (!cfg) return;
  }
  for (const button of document.querySelectorAll("button[data-path]")) {
    button.addEventListener("click", () => call(cfg, getToken, button.dataset.path));
  }
  document.body.dataset.ready = "true";
}

main();
