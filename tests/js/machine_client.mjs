// A machine client built on panva's openid-client (over oauth4webapi): no person, no browser. It authenticates
// with a JWT (private_key_jwt with its own key, or client_secret_jwt), takes a client_credentials token for a
// resource server (RFC 8707 resource), then introspects and revokes it, authenticating the same way each time.
// tests/e2e/test_machine_clients.py drives it; it prints one JSON line per step.
import * as client from 'openid-client'

const { HOSPES_ISSUER, CLIENT_ID, CLIENT_SECRET, PRIVATE_JWK, RESOURCE, SCOPE } = process.env
const out = (step, value) => console.log(JSON.stringify({ step, ...value }))

let auth
if (PRIVATE_JWK) {
  const jwk = JSON.parse(PRIVATE_JWK)
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  auth = client.PrivateKeyJwt({ key, kid: jwk.kid })
} else {
  auth = client.ClientSecretJwt(CLIENT_SECRET)
}
const config = await client.discovery(new URL(HOSPES_ISSUER), CLIENT_ID, undefined, auth, {
  execute: HOSPES_ISSUER.startsWith('http:') ? [client.allowInsecureRequests] : [],
})
const tokens = await client.clientCredentialsGrant(config, { scope: SCOPE, resource: RESOURCE })
out('token', { token_type: tokens.token_type, scope: tokens.scope, refresh: 'refresh_token' in tokens,
  id_token: 'id_token' in tokens, access_token: tokens.access_token })
out('introspect', await client.tokenIntrospection(config, tokens.access_token))
await client.tokenRevocation(config, tokens.access_token)
out('revoked', await client.tokenIntrospection(config, tokens.access_token))
