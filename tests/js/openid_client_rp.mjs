// A relying party built on panva's openid-client (a certified OpenID Connect RP library), as an integrator
// would write it: discovery, authorization code with PKCE, state and nonce, the ID token checked by the
// library, userinfo, refresh, introspection, revocation. tests/e2e/test_openid_client.py drives it: it prints
// the authorization URL, reads back the address the browser was sent to, then one JSON line per step.
import * as client from 'openid-client'
import * as readline from 'node:readline/promises'

const { HOSPES_ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, SCOPE } = process.env
const out = (step, value) => console.log(JSON.stringify({ step, ...value }))

const config = await client.discovery(new URL(HOSPES_ISSUER), CLIENT_ID, CLIENT_SECRET, undefined, {
  execute: HOSPES_ISSUER.startsWith('http:') ? [client.allowInsecureRequests] : [],
})
const verifier = client.randomPKCECodeVerifier()
const state = client.randomState()
const nonce = client.randomNonce()
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI, scope: SCOPE, state, nonce,
  code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
})
console.log(url.href)
const rl = readline.createInterface({ input: process.stdin })
const callback = (await rl[Symbol.asyncIterator]().next()).value
rl.close()

const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
})
const claims = tokens.claims()
out('code', { sub: claims.sub, iss: claims.iss, aud: claims.aud, scope: tokens.scope, refresh: !!tokens.refresh_token })
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
out('userinfo', { sub: info.sub, email: info.email })
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
out('refresh', { sub: refreshed.claims()?.sub ?? null, rotated: refreshed.refresh_token !== tokens.refresh_token })
out('introspect', await client.tokenIntrospection(config, refreshed.access_token))
await client.tokenRevocation(config, refreshed.access_token)
out('revoked', await client.tokenIntrospection(config, refreshed.access_token))
