// A relying party built only from tongban's discovery document, with the certified openid-client package.
// argv: issuer client_id client_secret redirect_uri post_logout_redirect_uri
// stdout line 1: {"authorization_url": ...}; stdin: the callback URL the browser landed on;
// stdout line 2: what the RP learnt (ID token claims, userinfo, refresh, end-session URL) or {"error": ...}.
import * as client from 'openid-client';
import readline from 'node:readline';

const [issuer, clientId, clientSecret, redirectUri, postLogout, alg = 'ES256'] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

try {
  const config = await client.discovery(
    new URL(issuer), clientId, { client_secret: clientSecret, id_token_signed_response_alg: alg },
    client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid realname idcard_masked', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    acr_values: 'urn:tongban:acr:l1 urn:tongban:acr:l2',
  });
  out({ authorization_url: url.href });
  const rl = readline.createInterface({ input: process.stdin });
  const callback = await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  let reuse = 'accepted';
  try { await client.refreshTokenGrant(config, tokens.refresh_token); } catch (e) { reuse = e.error || e.code || String(e); }
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: postLogout, state: 'bye' });
  out({ claims, userinfo, refreshed_sub: refreshed.claims()?.sub, rotated: refreshed.refresh_token !== tokens.refresh_token,
        reuse, end_session_url: endSession.href });
} catch (e) {
  out({ error: String(e), code: e.code, cause: e.cause ? String(e.cause) : undefined });
  process.exitCode = 1;
}
