// A real OpenID Connect provider for the tests: panva's oidc-provider on loopback.
//
// Usage: node oidc_provider.mjs CONFIG.json
// CONFIG: {host, port, issuer, clients: [...], accounts: {sub: {password, disabled, claims}},
//          jwks: {keys: [private JWKs]}, cookie_keys: [...], control_token, parent_pid}
// tests/support/oidc.py writes CONFIG, starts this script and drives it.
//
// What a test sees:
// - the provider's own endpoints under the issuer (discovery, /auth, /token, /jwks, /me...),
//   authorization code flow only, PKCE (S256) required for every client;
// - a login page at /interaction/UID (a form: `login` = sub or email, `password`;
//   "Cancel" answers the client with error=access_denied). Consent is given automatically
//   (a district's own app); a disabled account is refused at the form (403), and tokens
//   and refresh tokens already issued to it stop working (findAccount finds nobody);
// - PUT /__control/state (Bearer control_token) replaces accounts and signing keys: the
//   provider is rebuilt with them while sessions and grants (module-level memory) survive,
//   which is how a test rotates keys or disables an account. `next_id_token` (a JWT the
//   test minted) replaces the id_token of the next token endpoint response, once: how a
//   test hands the relying party a forged or broken ID token through the real flow.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuerPath = new URL(config.issuer).pathname.replace(/\/$/, '');
const BASE_CLAIMS = {
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale'],
};
let provider;
let handler; // provider.callback() of the current provider

function claimsConfig(accounts) {
  // Claims outside email/profile (hd, tid, oid...) ride with `openid`, as Google and Entra
  // put them in every ID token.
  const named = new Set(Object.values(BASE_CLAIMS).flat());
  const extra = new Set();
  for (const account of Object.values(accounts)) {
    for (const name of Object.keys(account.claims)) if (!named.has(name)) extra.add(name);
  }
  extra.delete('sub');
  return { openid: ['sub', ...extra], ...BASE_CLAIMS };
}

function build(state) {
  const { accounts } = state;
  const next = new Provider(config.issuer, {
    clients: config.clients,
    jwks: state.jwks,
    cookies: { keys: config.cookie_keys },
    claims: claimsConfig(accounts),
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    conformIdTokenClaims: false, // email, name, hd... in the ID token itself, like Google's
    pkce: { methods: ['S256'], required: () => true },
    interactions: { url: (ctx, interaction) => `${issuerPath}/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      Grant: 14 * 86400,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 14 * 86400,
      Session: 14 * 86400,
    },
    async findAccount(ctx, sub) {
      const account = accounts[sub];
      if (!account || account.disabled) return undefined;
      return { accountId: sub, claims: async () => ({ ...account.claims, sub }) };
    },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  next.on('server_error', (ctx, err) => console.error('server_error', err));
  return next;
}

function page(uid, message = '') {
  const alert = message ? `<p role="alert">${message}</p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in to the test provider</h1>${alert}
<form method="post" action="${issuerPath}/interaction/${uid}/login">
<label>Email or account <input name="login" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>
<form method="post" action="${issuerPath}/interaction/${uid}/abort">
<button type="submit">Cancel</button></form></main></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function findLogin(state, login) {
  const wanted = (login ?? '').trim().toLowerCase();
  return Object.entries(state.accounts).find(
    ([sub, account]) => sub.toLowerCase() === wanted
      || (account.claims.email ?? '').toLowerCase() === wanted,
  );
}

async function consent(req, res, details) {
  // Grants exactly what the client asked for, as an admin-approved first-party app.
  const { Grant } = provider;
  const grant = details.grantId
    ? await Grant.find(details.grantId)
    : new Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, state, path) {
  const [, uid, action] = path.split('/').slice(1); // interaction/UID[/action]
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch');
  if (req.method === 'GET' && details.prompt.name === 'consent') return consent(req, res, details);
  if (req.method === 'GET') return send(res, 200, 'text/html', page(uid));
  const form = await readForm(req);
  if (action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const found = findLogin(state, form.get('login'));
  if (!found || (found[1].password ?? '') !== (form.get('password') ?? '')) {
    return send(res, 401, 'text/html', page(uid, 'Wrong account or password.'));
  }
  if (found[1].disabled) return send(res, 403, 'text/html', page(uid, 'This account is disabled.'));
  const result = { login: { accountId: found[0] } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function control(req, res, state) {
  if (req.headers.authorization !== `Bearer ${config.control_token}`) {
    return send(res, 401, 'text/plain', 'control token required');
  }
  let body = '';
  for await (const chunk of req) body += chunk;
  const update = JSON.parse(body);
  Object.assign(state, update);
  provider = build(state);
  handler = provider.callback();
  return send(res, 200, 'application/json', JSON.stringify({ ok: true }));
}

function replaceIdToken(res, forged) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    const body = JSON.parse(chunk);
    if (body.id_token) body.id_token = forged;
    const text = JSON.stringify(body);
    res.setHeader('content-length', Buffer.byteLength(text));
    return end(text, ...rest);
  };
}

const state = { accounts: config.accounts, jwks: config.jwks };
provider = build(state);
handler = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, config.issuer);
    if (url.pathname === '/__control/state' && req.method === 'PUT') {
      return await control(req, res, state);
    }
    if (!url.pathname.startsWith(`${issuerPath}/`)) return send(res, 404, 'text/plain', 'not here');
    const path = url.pathname.slice(issuerPath.length);
    if (path.startsWith('/interaction/')) return await interaction(req, res, state, path);
    if (path === '/token' && req.method === 'POST' && state.next_id_token) {
      replaceIdToken(res, state.next_id_token);
      state.next_id_token = null;
    }
    req.originalUrl = req.url; // mounted under the issuer's path, as Koa's mount does
    req.url = req.url.slice(issuerPath.length);
    return handler(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, err.statusCode ?? 500, 'text/plain', String(err.message));
  }
});
server.listen(config.port, config.host, () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
// Never outlive the test run that started it (a killed pytest leaves no orphan behind).
setInterval(() => {
  try {
    process.kill(config.parent_pid, 0);
  } catch {
    process.exit(0);
  }
}, 1000).unref();
