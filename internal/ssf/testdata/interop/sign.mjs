// Signs SETs with jose, RS256 and ES256: reads {"issuer", "audience",
// "claims": {...}} on stdin and prints {"jwks": {...}, "tokens": [...]}:
// one SET per algorithm, each with the given claims, a fresh jti and iat.
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { randomUUID } from 'node:crypto';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { issuer, audience, claims } = JSON.parse(input);
const keys = [];
const tokens = [];
for (const alg of ['RS256', 'ES256']) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { modulusLength: 2048, extractable: true });
  const kid = 'jose-' + alg.toLowerCase();
  keys.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
  tokens.push(await new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: 'secevent+jwt' })
    .setIssuer(issuer).setAudience(audience).setIssuedAt().setJti(randomUUID())
    .sign(privateKey));
}
process.stdout.write(JSON.stringify({ jwks: { keys }, tokens }));
