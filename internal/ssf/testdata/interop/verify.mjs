// Verifies atoguard's SETs with jose: reads {"jwks_uri", "issuer",
// "audience", "tokens": [...]} on stdin, fetches the JWKS over HTTP and
// prints [{"header": ..., "payload": ...}] or exits 1 with the error.
import { createRemoteJWKSet, jwtVerify } from 'jose';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { jwks_uri, issuer, audience, tokens } = JSON.parse(input);
const jwks = createRemoteJWKSet(new URL(jwks_uri));
const out = [];
for (const token of tokens) {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer, audience, typ: 'secevent+jwt', algorithms: ['RS256'],
  });
  out.push({ header: protectedHeader, payload });
}
process.stdout.write(JSON.stringify(out));
