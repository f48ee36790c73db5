// A device with no browser (RFC 8628) built on panva's oauth4webapi (a certified OAuth 2 / OpenID Connect client
// library): discovery, the device authorization request, then polling the token endpoint as the library's
// documentation shows (authorization_pending: wait the interval; slow_down: five seconds more), the ID token
// checked by the library, userinfo. tests/e2e/test_device_flow.py drives it: it prints the device authorization
// response as one JSON line, a person approves on the device page meanwhile, then one JSON line per step.
import * as oauth from 'oauth4webapi'

const { HOSPES_ISSUER, CLIENT_ID, CLIENT_SECRET, SCOPE } = process.env
const out = (step, value) => console.log(JSON.stringify({ step, ...value }))
const insecure = HOSPES_ISSUER.startsWith('http:') ? { [oauth.allowInsecureRequests]: true } : {}

const issuer = new URL(HOSPES_ISSUER)
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure))
const client = { client_id: CLIENT_ID }
const auth = CLIENT_SECRET ? oauth.ClientSecretBasic(CLIENT_SECRET) : oauth.None()

const started = await oauth.processDeviceAuthorizationResponse(as, client,
  await oauth.deviceAuthorizationRequest(as, client, auth, { scope: SCOPE }, insecure))
out('device', started)

let interval = started.interval ?? 5
const polls = []
let result
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, interval * 1000))
  const response = await oauth.deviceCodeGrantRequest(as, client, auth, started.device_code, insecure)
  try {
    result = await oauth.processDeviceCodeResponse(as, client, response)
    break
  } catch (err) {
    if (!(err instanceof oauth.ResponseBodyError)) throw err
    polls.push(err.error)
    if (err.error === 'slow_down') interval += 5
    else if (err.error !== 'authorization_pending') { out('refused', { error: err.error, polls }); process.exit(0) }
  }
}
const claims = oauth.getValidatedIdTokenClaims(result)
out('tokens', { polls, sub: claims.sub, iss: claims.iss, aud: claims.aud, scope: result.scope,
  token_type: result.token_type, refresh: !!result.refresh_token })
const info = await oauth.processUserInfoResponse(as, client, claims.sub,
  await oauth.userInfoRequest(as, client, result.access_token, insecure))
out('userinfo', { sub: info.sub, email: info.email })
