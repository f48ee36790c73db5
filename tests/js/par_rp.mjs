// Pushed authorization requests (RFC 9126) and request objects (RFC 9101) as panva's certified libraries send
// them: openid-client (buildAuthorizationUrlWithPAR, buildAuthorizationUrlWithJAR) or oauth4webapi
// (pushedAuthorizationRequest, issueRequestObject), then the code exchanged with PKCE, state and nonce, and
// the ID token checked by the library. tests/e2e/test_par_jar.py drives it: it prints the authorization URL,
// reads back the address the browser was sent to, then prints one JSON line.
//   LIB   openid-client | oauth4webapi
//   MODE  par (the request pushed) | jar (a request object in the URL) | par+jar (a request object pushed)
//   PRIVATE_JWK  the client's private key (a JWK, JSON) for jar and par+jar
import * as client from 'openid-client'
import * as oauth from 'oauth4webapi'
import * as readline from 'node:readline/promises'

const { HOSPES_ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, SCOPE, LIB, MODE, PRIVATE_JWK } = process.env
const insecure = HOSPES_ISSUER.startsWith('http:')
const verifier = client.randomPKCECodeVerifier()
const state = client.randomState()
const nonce = client.randomNonce()
const params = {
  redirect_uri: REDIRECT_URI, scope: SCOPE, state, nonce, response_type: 'code',
  code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
}
let signingKey
if (PRIVATE_JWK) {
  const jwk = JSON.parse(PRIVATE_JWK)
  const alg = jwk.kty === 'EC' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  signingKey = { kid: jwk.kid, key: await crypto.subtle.importKey('jwk', jwk, alg, false, ['sign']) }
}

async function callback () {
  const rl = readline.createInterface({ input: process.stdin })
  const line = (await rl[Symbol.asyncIterator]().next()).value
  rl.close()
  return new URL(line)
}

if (LIB === 'openid-client') {
  const config = await client.discovery(new URL(HOSPES_ISSUER), CLIENT_ID, CLIENT_SECRET, undefined, {
    execute: insecure ? [client.allowInsecureRequests] : [],
  })
  const url = MODE === 'par'
    ? await client.buildAuthorizationUrlWithPAR(config, params)
    : await client.buildAuthorizationUrlWithJAR(config, params, signingKey)
  console.log(url.href)
  const tokens = await client.authorizationCodeGrant(config, await callback(), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  })
  const claims = tokens.claims()
  console.log(JSON.stringify({ sub: claims.sub, aud: claims.aud, scope: tokens.scope, url: url.href }))
} else {
  const options = insecure ? { [oauth.allowInsecureRequests]: true } : {}
  const as = await oauth.processDiscoveryResponse(new URL(HOSPES_ISSUER),
    await oauth.discoveryRequest(new URL(HOSPES_ISSUER), options))
  const c = { client_id: CLIENT_ID }
  const auth = oauth.ClientSecretBasic(CLIENT_SECRET)
  const url = new URL(as.authorization_endpoint)
  url.searchParams.set('client_id', CLIENT_ID)
  if (MODE === 'jar') {
    url.searchParams.set('request', await oauth.issueRequestObject(as, c, params, signingKey))
  } else {
    const pushed = MODE === 'par+jar' ? { request: await oauth.issueRequestObject(as, c, params, signingKey) } : params
    const response = await oauth.pushedAuthorizationRequest(as, c, auth, pushed, options)
    const result = await oauth.processPushedAuthorizationResponse(as, c, response)
    url.searchParams.set('request_uri', result.request_uri)
  }
  console.log(url.href)
  const back = oauth.validateAuthResponse(as, c, await callback(), state)
  const response = await oauth.authorizationCodeGrantRequest(as, c, auth, back, REDIRECT_URI, verifier, options)
  const tokens = await oauth.processAuthorizationCodeResponse(as, c, response, { expectedNonce: nonce, requireIdToken: true })
  const claims = oauth.getValidatedIdTokenClaims(tokens)
  console.log(JSON.stringify({ sub: claims.sub, aud: claims.aud, scope: tokens.scope, url: url.href }))
}
