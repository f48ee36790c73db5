// A public client built on panva's oauth4webapi (a certified OAuth 2 / OpenID Connect client library) using
// DPoP (RFC 9449) as an integrator would: discovery, the code flow with PKCE and dpop_jkt, DPoP-bound tokens,
// userinfo with a proof, refresh with the same key; every request retried once when the server asks for a nonce
// (isDPoPNonceError). tests/e2e/test_oauth4webapi_dpop.py drives it: it prints the authorization URL, reads back
// the address the browser was sent to, then one JSON line per step.
import * as oauth from 'oauth4webapi'
import * as readline from 'node:readline/promises'

const { HOSPES_ISSUER, CLIENT_ID, REDIRECT_URI, SCOPE } = process.env
const out = (step, value) => console.log(JSON.stringify({ step, ...value }))
const insecure = { [oauth.allowInsecureRequests]: HOSPES_ISSUER.startsWith('http:') }

const issuer = new URL(HOSPES_ISSUER)
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure))
const client = { client_id: CLIENT_ID }
const auth = oauth.None()
const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
const verifier = oauth.generateRandomCodeVerifier()
const state = oauth.generateRandomState()
const url = new URL(as.authorization_endpoint)
url.search = new URLSearchParams({
  client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: SCOPE, state,
  code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  dpop_jkt: await DPoP.calculateThumbprint(),
}).toString()
console.log(url.href)
const rl = readline.createInterface({ input: process.stdin })
const callback = (await rl[Symbol.asyncIterator]().next()).value
rl.close()

let nonceRetries = 0
// RFC 9449 §8/§9: a server that wants a nonce answers use_dpop_nonce with one; the DPoP handle keeps it.
async function retrying (request) {
  try {
    return await request()
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    nonceRetries += 1
    return await request()
  }
}

const params = oauth.validateAuthResponse(as, client, new URL(callback), state)
const tokens = await retrying(async () => oauth.processAuthorizationCodeResponse(as, client,
  await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, verifier, { DPoP, ...insecure })))
const sub = oauth.getValidatedIdTokenClaims(tokens).sub
out('code', { token_type: tokens.token_type, refresh: !!tokens.refresh_token, sub })
const info = await retrying(async () => oauth.processUserInfoResponse(as, client, sub,
  await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP, ...insecure })))
out('userinfo', { sub: info.sub, email: info.email })
// The same token as a bearer token: refused (RFC 9449 §7.2).
const bearer = await fetch(as.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })
out('bearer', { status: bearer.status })
const refreshed = await retrying(async () => oauth.processRefreshTokenResponse(as, client,
  await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, { DPoP, ...insecure })))
out('refresh', { token_type: refreshed.token_type, rotated: refreshed.refresh_token !== tokens.refresh_token })
// The refresh token is bound to this key: another key cannot use it (RFC 9449 §5).
const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
let stolen = 'refused'
try {
  await retrying(async () => oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token, { DPoP: thief, ...insecure })))
  stolen = 'accepted'
} catch (err) {
  stolen = err.error ?? String(err)
}
out('stolen', { result: stolen })
const again = await retrying(async () => oauth.processUserInfoResponse(as, client, sub,
  await oauth.userInfoRequest(as, client, refreshed.access_token, { DPoP, ...insecure })))
out('userinfo2', { sub: again.sub, nonceRetries })
