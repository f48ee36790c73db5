// Hospes end-to-end check with panva's openid-client (v6), an OpenID-Certified relying-party library.
//
// Runs: discovery, authorization code flow with PKCE (S256), state and nonce, ID token validation
// (signature against the JWKS, iss, aud, azp, exp, iat, nonce, at_hash), userinfo, refresh token
// rotation and reuse detection, revocation, introspection and RP-initiated logout.
//
// Configuration (environment variables, or --name=value arguments with the same lower-case names
// without the prefix, e.g. --client-id=...):
//   HOSPES_ISSUER               issuer URL                       (default http://127.0.0.1:8000)
//   RP_CLIENT_ID                client identifier                (required)
//   RP_CLIENT_SECRET            client secret (empty: public client, auth method "none")
//   RP_AUTH_METHOD              client_secret_basic | client_secret_post | none
//                               (default: client_secret_basic with a secret, none without)
//   RP_REDIRECT_URI             registered redirect URI          (default http://127.0.0.1:9/cb)
//   RP_POST_LOGOUT_REDIRECT_URI registered post-logout URI       (optional: skips logout when unset)
//   RP_SCOPE                    default "openid profile email offline_access"
//   RP_USERNAME, RP_PASSWORD    the person who logs in (email and password of a Hospes user)
//   RP_VERBOSE=1                print every HTTP exchange
//
// Exits 0 when every step passed without a single complaint, 1 otherwise.

import * as client from 'openid-client'
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'

// ---------------------------------------------------------------- configuration
const argv = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => {
  const i = a.indexOf('=')
  return i < 0 ? [a.slice(2), '1'] : [a.slice(2, i), a.slice(i + 1)]
}))
const opt = (name, env, dflt) => argv[name] ?? process.env[env] ?? dflt

const issuer = opt('issuer', 'HOSPES_ISSUER', 'http://127.0.0.1:8000')
const clientId = opt('client-id', 'RP_CLIENT_ID')
const clientSecret = opt('client-secret', 'RP_CLIENT_SECRET', '')
const authMethod = opt('auth-method', 'RP_AUTH_METHOD', clientSecret ? 'client_secret_basic' : 'none')
const redirectUri = opt('redirect-uri', 'RP_REDIRECT_URI', 'http://127.0.0.1:9/cb')
const postLogoutUri = opt('post-logout-redirect-uri', 'RP_POST_LOGOUT_REDIRECT_URI', '')
const scope = opt('scope', 'RP_SCOPE', 'openid profile email offline_access')
const username = opt('username', 'RP_USERNAME')
const password = opt('password', 'RP_PASSWORD')
const verbose = opt('verbose', 'RP_VERBOSE', '') !== ''

if (!clientId || !username || !password) {
  console.error('RP_CLIENT_ID, RP_USERNAME and RP_PASSWORD are required (see the top of check.mjs).')
  process.exit(2)
}

// ---------------------------------------------------------------- reporting
const complaints = []
process.on('warning', (w) => complaints.push(`process warning: ${w.name}: ${w.message}`))
for (const level of ['warn', 'error']) {
  const orig = console[level].bind(console)
  console[level] = (...args) => { complaints.push(`console.${level}: ${args.join(' ')}`); orig(...args) }
}
const log = (...a) => process.stdout.write(a.join(' ') + '\n')

function describe(err) {
  const parts = [`${err?.name ?? 'Error'}: ${err?.message ?? err}`]
  if (err?.code) parts.push(`code=${err.code}`)
  if (err?.error) parts.push(`error=${err.error}`)
  if (err?.error_description) parts.push(`error_description=${err.error_description}`)
  if (err?.status) parts.push(`status=${err.status}`)
  let cause = err?.cause
  while (cause) {
    parts.push(`cause: ${cause instanceof Error ? `${cause.name}: ${cause.message}${cause.code ? ` (${cause.code})` : ''}`
      : JSON.stringify(cause)}`)
    cause = cause instanceof Error ? cause.cause : undefined
  }
  return parts.join('\n    ')
}

async function step(name, fn) {
  try {
    const out = await fn()
    log(`ok   ${name}`)
    return out
  } catch (err) {
    complaints.push(`${name}: ${describe(err)}`)
    log(`FAIL ${name}\n    ${describe(err)}`)
    throw err
  }
}
function assert(cond, message) { if (!cond) throw new Error(message) }

// Expect the library to refuse: returns the error, fails when the call succeeds.
async function refused(fn, check) {
  try { await fn() } catch (err) { if (check) check(err); return err }
  throw new Error('the server accepted it')
}

// ---------------------------------------------------------------- HTTP with a cookie jar
const jar = new Map()
function storeCookies(res) {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';')
    const i = pair.indexOf('=')
    const name = pair.slice(0, i).trim()
    const value = pair.slice(i + 1).trim()
    const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) ||
      attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=').slice(1).join('=')) < Date.now())
    if (expired || value === '') jar.delete(name); else jar.set(name, value)
  }
}
async function browser(url, init = {}) {
  const headers = new Headers(init.headers)
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
  const res = await fetch(url, { ...init, headers, redirect: 'manual' })
  storeCookies(res)
  if (verbose) log(`  browser ${init.method ?? 'GET'} ${url} -> ${res.status} ${res.headers.get('location') ?? ''}`)
  return res
}

const decode = (s) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
  .replace(/&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
function hiddenFields(formHtml) {
  const fields = {}
  for (const m of formHtml.matchAll(/<input\b[^>]*>/gi)) {
    const tag = m[0]
    if (!/type="hidden"/i.test(tag)) continue
    const name = /name="([^"]*)"/i.exec(tag)?.[1]
    const value = /value="([^"]*)"/i.exec(tag)?.[1] ?? ''
    if (name) fields[name] = decode(value)
  }
  return fields
}
// The first <form> whose body matches `marker` (a field name or button value).
function findForm(html, marker) {
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    if (marker.test(m[2])) {
      const action = /action="([^"]*)"/i.exec(m[1])?.[1] ?? ''
      return { action: decode(action), fields: hiddenFields(m[2]), body: m[2] }
    }
  }
  return null
}

// Plays the person: logs in and approves until the OP redirects to the redirect URI.
async function actAsPerson(authorizationUrl) {
  let res = await browser(authorizationUrl)
  let pageUrl = authorizationUrl
  for (let hop = 0; hop < 10; hop++) {
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      const location = new URL(res.headers.get('location'), pageUrl)
      if (location.href.startsWith(redirectUri)) return location
      pageUrl = location
      res = await browser(location)
      continue
    }
    const html = await res.text()
    assert(res.status === 200, `unexpected ${res.status} from ${pageUrl}: ${html.slice(0, 300)}`)
    const login = findForm(html, /name="password"/)
    const consent = findForm(html, /name="userAuthorization"\s+value="yes"|value="yes"[^>]*name="userAuthorization"/)
    let form, extra
    if (login) {
      assert('token' in login.fields && 'request_hash' in login.fields, 'login form lacks token/request_hash')
      form = login
      extra = { username, password }
    } else if (consent) {
      form = consent
      extra = { userAuthorization: 'yes' }
    } else {
      throw new Error(`neither a login nor a consent page at ${pageUrl}: ${html.slice(0, 300)}`)
    }
    const action = new URL(form.action || pageUrl, pageUrl)
    res = await browser(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, ...extra }),
    })
    pageUrl = action
  }
  throw new Error('too many hops before reaching the redirect URI')
}

// ---------------------------------------------------------------- independent ID token checks
const b64u = (s) => Buffer.from(s, 'base64url')
async function independentIdTokenChecks(config, idToken, accessToken, expected) {
  const [h, p, sig] = idToken.split('.')
  const header = JSON.parse(b64u(h))
  const claims = JSON.parse(b64u(p))
  const meta = config.serverMetadata()
  // Signature against the published JWKS.
  const jwks = await (await fetch(meta.jwks_uri)).json()
  const candidates = jwks.keys.filter((k) => (!header.kid || k.kid === header.kid) && (!k.use || k.use === 'sig'))
  assert(candidates.length === 1, `JWKS has ${candidates.length} keys for kid ${header.kid}`)
  const jwk = candidates[0]
  assert(!jwk.alg || jwk.alg === header.alg, `JWK alg ${jwk.alg} does not match the token's ${header.alg}`)
  const algs = { RS256: ['sha256', {}], ES256: ['sha256', { dsaEncoding: 'ieee-p1363' }] }
  assert(header.alg in algs, `unexpected alg ${header.alg}`)
  assert((meta.id_token_signing_alg_values_supported ?? []).includes(header.alg), 'alg not in discovery')
  const [hash, extra] = algs[header.alg]
  const ok = cryptoVerify(hash, Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), ...extra }, b64u(sig))
  assert(ok, 'ID token signature does not verify against the JWKS')
  // Claims (OIDC Core 3.1.3.7).
  const now = Math.floor(Date.now() / 1000)
  assert(claims.iss === meta.issuer, `iss ${claims.iss} != ${meta.issuer}`)
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  assert(aud.includes(clientId), `aud ${claims.aud} lacks ${clientId}`)
  if (aud.length > 1 || claims.azp !== undefined) assert(claims.azp === clientId, `azp ${claims.azp} != ${clientId}`)
  assert(Number.isInteger(claims.exp) && claims.exp > now, `exp ${claims.exp} is not in the future`)
  assert(Number.isInteger(claims.iat) && Math.abs(claims.iat - now) < 300, `iat ${claims.iat} is not now`)
  assert(typeof claims.sub === 'string' && claims.sub.length > 0 && claims.sub.length <= 255, 'bad sub')
  if (expected.nonce !== undefined) assert(claims.nonce === expected.nonce, `nonce ${claims.nonce} != ${expected.nonce}`)
  if (claims.auth_time !== undefined) assert(Number.isInteger(claims.auth_time) && claims.auth_time <= now + 5, 'bad auth_time')
  // at_hash (OIDC Core 3.1.3.8 / 3.3.2.11): left half of the hash of the access token.
  if (claims.at_hash !== undefined || expected.atHashRequired) {
    const digest = createHash(hash).update(accessToken, 'ascii').digest()
    const want = digest.subarray(0, digest.length / 2).toString('base64url')
    assert(claims.at_hash === want, `at_hash ${claims.at_hash} != ${want}`)
  }
  return { header, claims }
}

// ---------------------------------------------------------------- the flow
const authFor = {
  client_secret_basic: () => client.ClientSecretBasic(clientSecret),
  client_secret_post: () => client.ClientSecretPost(clientSecret),
  none: () => client.None(),
}
assert(authMethod in authFor, `unknown RP_AUTH_METHOD ${authMethod}`)
const isPublic = authMethod === 'none'

const customFetch = async (url, options) => {
  const res = await fetch(url, options)
  if (verbose) {
    log(`  rp ${options.method} ${url} -> ${res.status}`)
    log(`     ${(await res.clone().text()).slice(0, 400)}`)
  }
  return res
}

async function login(config, extra = {}, checks = {}) {
  const codeVerifier = client.randomPKCECodeVerifier()
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
  const nonce = client.randomNonce()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope, code_challenge: codeChallenge, code_challenge_method: 'S256',
    nonce, state, ...extra,
  })
  const callback = await actAsPerson(url)
  assert(callback.searchParams.get('iss') === config.serverMetadata().issuer, 'callback lacks the iss parameter')
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true, ...checks,
  })
  return { tokens, nonce, callback, codeVerifier }
}

async function main() {
  log(`Hospes check with openid-client: issuer ${issuer}, client ${clientId}, auth ${authMethod}`)

  const config = await step('discovery', async () => {
    const c = await client.discovery(new URL(issuer), clientId,
      { redirect_uris: [redirectUri], response_types: ['code'], token_endpoint_auth_method: authMethod },
      authFor[authMethod](), {
        execute: [
          ...(new URL(issuer).protocol === 'http:' ? [client.allowInsecureRequests] : []),
          client.enableNonRepudiationChecks, // verify every ID token's signature against the JWKS
        ],
        [client.customFetch]: customFetch,
      })
    const m = c.serverMetadata()
    assert(m.issuer === issuer, `issuer ${m.issuer} != ${issuer}`)
    for (const k of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri',
      'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint']) assert(m[k], `discovery lacks ${k}`)
    assert(m.code_challenge_methods_supported?.includes('S256'), 'S256 not advertised')
    assert(m.token_endpoint_auth_methods_supported?.includes(authMethod), `${authMethod} not advertised`)
    assert(c.serverMetadata().supportsPKCE(), 'supportsPKCE() is false')
    return c
  })

  await step('a wrong client secret is refused', async () => {
    if (isPublic) return
    const wrongAuth = authMethod === 'client_secret_post' ? client.ClientSecretPost('wrong') : client.ClientSecretBasic('wrong')
    const wrong = await client.discovery(new URL(issuer), clientId, undefined, wrongAuth,
      { execute: new URL(issuer).protocol === 'http:' ? [client.allowInsecureRequests] : [] })
    const err = await refused(() => client.refreshTokenGrant(wrong, 'whatever'))
    if (err instanceof client.WWWAuthenticateChallengeError) {
      // RFC 6749 5.2: with HTTP Basic, a 401 and a WWW-Authenticate challenge.
      assert(err.status === 401 && err.cause?.[0]?.scheme === 'basic', `unexpected challenge ${JSON.stringify(err.cause)}`)
      assert((await err.response.json()).error === 'invalid_client', 'the 401 body is not invalid_client')
    } else {
      assert(err.error === 'invalid_client', `expected invalid_client, got ${err.error ?? err.message}`)
    }
  })

  // max_age makes the library require auth_time and check it.
  const first = await step('authorization code flow (PKCE S256, state, nonce, iss, max_age)',
    () => login(config, { max_age: '600' }, { maxAge: 600 }))
  let { tokens } = first
  const idToken = tokens.id_token

  const idClaims = await step('ID token validation', async () => {
    const claims = tokens.claims()
    assert(claims, 'no ID token claims')
    assert(tokens.token_type.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`)
    assert(typeof tokens.expires_in === 'number' && tokens.expires_in > 0, 'expires_in missing')
    assert(tokens.refresh_token, 'no refresh token despite offline_access')
    const granted = (tokens.scope ?? scope).split(' ')
    for (const s of scope.split(' ')) assert(granted.includes(s), `scope ${s} not granted (${tokens.scope})`)
    await independentIdTokenChecks(config, idToken, tokens.access_token, { nonce: first.nonce, atHashRequired: true })
    return claims
  })

  await step('userinfo (expectedSubject = ID token sub)', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)
    assert(info.sub === idClaims.sub, 'sub mismatch')
    assert(info.email === username, `email ${info.email} != ${username}`)
    assert(typeof info.email_verified === 'boolean', 'email_verified missing')
    assert(info.name && info.given_name && info.family_name, 'profile claims missing')
    // A wrong subject must be caught by the library.
    await refused(() => client.fetchUserInfo(config, tokens.access_token, 'someone-else'))
  })

  const rt0 = tokens.refresh_token
  const r1 = await step('refresh #1 (rotation)', async () => {
    const r = await client.refreshTokenGrant(config, rt0)
    assert(r.access_token && r.access_token !== tokens.access_token, 'no new access token')
    assert(r.refresh_token && r.refresh_token !== rt0, 'refresh token not rotated')
    if (r.id_token) {
      const c = r.claims()
      // OIDC Core 12.2: same iss, sub, aud, auth_time; a nonce, if any, that of the original.
      assert(c.sub === idClaims.sub, 'refreshed ID token has another sub')
      assert(c.auth_time === idClaims.auth_time, 'refreshed ID token has another auth_time')
      assert(c.nonce === undefined || c.nonce === idClaims.nonce, 'refreshed ID token has another nonce')
      await independentIdTokenChecks(config, r.id_token, r.access_token, {})
    }
    return r
  })
  const r2 = await step('refresh #2 (rotation)', async () => {
    const r = await client.refreshTokenGrant(config, r1.refresh_token)
    assert(r.refresh_token && ![rt0, r1.refresh_token].includes(r.refresh_token), 'refresh token not rotated')
    await client.fetchUserInfo(config, r.access_token, idClaims.sub)
    return r
  })
  await step('reuse of the first refresh token is refused', async () => {
    const err = await refused(() => client.refreshTokenGrant(config, rt0))
    assert(err.error === 'invalid_grant', `expected invalid_grant, got ${err.error ?? err.message}`)
  })
  await step('reuse detection revoked the whole grant (RFC 9700 4.14.2)', async () => {
    if (!isPublic) {
      const i = await client.tokenIntrospection(config, r2.refresh_token)
      assert(i.active === false, 'the latest refresh token is still active after reuse')
    }
    const err = await refused(() => client.refreshTokenGrant(config, r2.refresh_token))
    assert(err.error === 'invalid_grant', `expected invalid_grant, got ${err.error ?? err.message}`)
  })

  // A second login (the person's session lets it through) for revocation and introspection.
  const second = await step('second authorization (existing session)', () => login(config))
  tokens = second.tokens
  const at = tokens.access_token
  const rt = tokens.refresh_token

  if (!isPublic) {
    await step('introspection before revocation', async () => {
      const a = await client.tokenIntrospection(config, at, { token_type_hint: 'access_token' })
      assert(a.active === true, 'access token inactive')
      assert(a.client_id === clientId, `client_id ${a.client_id}`)
      assert(a.sub === idClaims.sub, `sub ${a.sub}`)
      assert(a.iss === issuer, `iss ${a.iss}`)
      assert(typeof a.exp === 'number' && a.exp * 1000 > Date.now(), 'exp missing or past')
      assert(a.scope && a.scope.split(' ').includes('openid'), `scope ${a.scope}`)
      const r = await client.tokenIntrospection(config, rt, { token_type_hint: 'refresh_token' })
      assert(r.active === true, 'refresh token inactive')
      const u = await client.tokenIntrospection(config, 'no-such-token')
      assert(u.active === false, 'unknown token reported active')
    })
  } else {
    await step('introspection refused to a public client', async () => {
      await refused(() => client.tokenIntrospection(config, at))
    })
  }

  await step('revoke the access token', async () => {
    await client.tokenRevocation(config, at, { token_type_hint: 'access_token' })
    await refused(() => client.fetchUserInfo(config, at, idClaims.sub))
    await client.tokenRevocation(config, 'no-such-token') // RFC 7009 2.2: 200 all the same
  })
  if (!isPublic) {
    await step('introspection after revoking the access token', async () => {
      const a = await client.tokenIntrospection(config, at)
      assert(a.active === false, 'revoked access token still active')
      const r = await client.tokenIntrospection(config, rt)
      assert(r.active === true, 'refresh token should survive revoking an access token')
    })
  }
  await step('revoke the refresh token', async () => {
    await client.tokenRevocation(config, rt, { token_type_hint: 'refresh_token' })
    const err = await refused(() => client.refreshTokenGrant(config, rt))
    assert(err.error === 'invalid_grant', `expected invalid_grant, got ${err.error ?? err.message}`)
  })
  if (!isPublic) {
    await step('introspection after revoking the refresh token', async () => {
      const r = await client.tokenIntrospection(config, rt)
      assert(r.active === false, 'revoked refresh token still active')
    })
  }

  // RFC 6749 4.1.2: a code used twice is refused, and what it gave is revoked.
  await step('authorization code replay is refused and revokes its tokens', async () => {
    const third = await login(config)
    const err = await refused(() => client.authorizationCodeGrant(config, third.callback, {
      pkceCodeVerifier: third.codeVerifier, expectedNonce: third.nonce,
      expectedState: third.callback.searchParams.get('state'),
    }))
    assert(err.error === 'invalid_grant', `expected invalid_grant, got ${err.error ?? err.message}`)
    await refused(() => client.fetchUserInfo(config, third.tokens.access_token, idClaims.sub))
    await refused(() => client.refreshTokenGrant(config, third.tokens.refresh_token))
    return third
  })

  if (postLogoutUri) {
    await step('RP-initiated logout', async () => {
      const state = client.randomState()
      const url = client.buildEndSessionUrl(config, {
        id_token_hint: second.tokens.id_token, post_logout_redirect_uri: postLogoutUri, state,
      })
      const res = await browser(url)
      assert(res.status === 303, `expected 303, got ${res.status}: ${(await res.text()).slice(0, 300)}`)
      const loc = new URL(res.headers.get('location'))
      assert(loc.href.split('?')[0] === postLogoutUri, `redirected to ${loc.href}`)
      assert(loc.searchParams.get('state') === state, 'state not returned')
      // The session is over: a new authorization asks the person to log in again.
      const again = await browser(client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri, scope: 'openid', nonce: client.randomNonce(), state: client.randomState(),
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }))
      const html = again.status === 200 ? await again.text() : ''
      assert(/name="password"/.test(html), `after logout the OP did not ask for a login (status ${again.status})`)
    })
  }
}

try {
  await main()
} catch {
  // already reported by step()
}
if (complaints.length) {
  log(`\n${complaints.length} complaint(s):`)
  for (const c of complaints) log(`- ${c}`)
  process.exit(1)
}
log('\nAll steps passed without a single complaint.')
