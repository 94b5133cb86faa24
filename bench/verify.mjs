// Times Clerk's JavaScript verifier, verifyToken from @clerk/backend, with
// the instance's PEM public key (jwtKey: no network), on the key and tokens
// that cmd/benchreport mints, and prints the figures as JSON on stdout.
//
//   node bench/verify.mjs input.json
//
// input.json: {"jwtKey": PEM, "tokens": [...], "issuer": "...",
// "authorizedParties": [...], "subject": "user_...", "warmup": N,
// "batches": N, "batchSize": N}. The tokens are used in turn; each call is a
// full verification, as the SDK keeps no memo of verified tokens.
import { readFileSync } from 'node:fs';
import { verifyToken } from '@clerk/backend';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const pkg = JSON.parse(readFileSync(new URL('./node_modules/@clerk/backend/package.json', import.meta.url), 'utf8'));

// The checks this project makes, where the SDK's options allow: the exact
// issuer, the authorized parties and a 5 s clock skew.
const options = {
  jwtKey: input.jwtKey,
  issuer: input.issuer,
  authorizedParties: input.authorizedParties,
  clockSkewInMs: 5000,
};

let next = 0;
async function verifyOne() {
  const token = input.tokens[next];
  next = (next + 1) % input.tokens.length;
  const claims = await verifyToken(token, options);
  if (claims.sub !== input.subject) {
    throw new Error(`verifyToken returned sub ${claims.sub}, want ${input.subject}`);
  }
}

for (let i = 0; i < input.warmup; i++) {
  await verifyOne();
}

const batchNs = [];
for (let b = 0; b < input.batches; b++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < input.batchSize; i++) {
    await verifyOne();
  }
  batchNs.push(Number(process.hrtime.bigint() - start));
}

const perToken = batchNs.map((ns) => ns / input.batchSize).sort((a, b) => a - b);
// The p-th percentile, interpolated between the closest ranks.
function percentile(p) {
  const rank = (p / 100) * (perToken.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return perToken[lo] + (perToken[hi] - perToken[lo]) * (rank - lo);
}

process.stdout.write(JSON.stringify({
  sdk: pkg.name,
  version: pkg.version,
  node: process.version,
  nsPerToken: percentile(50),
  q1NsPerToken: percentile(25),
  q3NsPerToken: percentile(75),
  batches: input.batches,
  batchSize: input.batchSize,
  warmup: input.warmup,
}) + '\n');
