// The OpenID Connect provider that the OIDC tests sign in at: oidc-provider on loopback, with two
// confidential clients, three users whose passwords it checks, and login and consent pages of its
// own (plain HTML forms). Test-only: every secret below is public, every key is made at start.
//
//   OIDC_PORT   port on 127.0.0.1 (default 4011); the issuer is http://127.0.0.1:$OIDC_PORT
//
// tests/oidc/start-oidc.sh runs it; tests/src/oidc.rs drives its pages.

import { generateKeyPairSync, randomUUID } from 'node:crypto';

import Provider from 'oidc-provider';

const HOST = '127.0.0.1';
const PORT = Number(process.env.OIDC_PORT || 4011);
const ISSUER = `http://${HOST}:${PORT}`;

// Known to tests/src/oidc.rs and start-oidc.sh, which exports them.
const CLIENTS = [
  { client_id: 'app-a', client_secret: 'app-a-secret' },
  { client_id: 'app-b', client_secret: 'app-b-secret' },
];

// Subjects are fixed so that a test can expect `alice-sub` across restarts of the provider.
const USERS = {
  alice: { sub: 'alice-sub', password: 'alice-password', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' },
  bob: { sub: 'bob-sub', password: 'bob-password', email: 'bob@example.com', email_verified: false, name: 'Bob Unverified' },
  carol: { sub: 'carol-sub', password: 'carol-password', email: 'carol@example.com', email_verified: true, name: 'Carol Third' },
};
const USERNAME_BY_SUB = Object.fromEntries(
  Object.entries(USERS).map(([username, user]) => [user.sub, username]),
);

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

const configuration = {
  clients: CLIENTS.map((client) => ({
    ...client,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
    // Registration needs one valid URI; the check that matters is redirectUriAllowed below.
    redirect_uris: [`http://${HOST}/callback`],
  })),
  jwks: { keys: [signingKey()] },
  // Signs the provider's own session and interaction cookies; nothing outside reads them.
  cookies: { keys: ['axum-login-oidc-test-cookie-key'] },
  responseTypes: ['code'],
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // The claims of the granted scopes go into the ID token as well as to userinfo, as the
  // large providers do, so that a relying party that reads only the ID token sees them.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    // The built-in development pages sign in any username with any password; the pages below
    // check it.
    devInteractions: { enabled: false },
    // Only the code flow is in use; no refresh tokens, no other grants.
    revocation: { enabled: false },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const username = USERNAME_BY_SUB[sub];
    if (!username) return undefined;
    const user = USERS[username];
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: user.email,
          email_verified: user.email_verified,
          name: user.name,
          preferred_username: username,
        };
      },
    };
  },
};

const provider = new Provider(ISSUER, configuration);

// The tests run their apps on ephemeral ports and choose their own callback paths, so no fixed
// list of redirect URIs can be registered. Any http URI on a loopback host is allowed for every
// client instead, and nothing else: oidc-provider's own loopback relaxation (RFC 8252, 7.3)
// covers the port alone and only for native clients, and these are confidential web clients.
// Overriding the Client's check is the extension point oidc-provider's maintainer documents for
// redirect URI patterns; the authorization endpoint and the token endpoint both go through it.
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'http:'
    && (url.hostname === '127.0.0.1' || url.hostname === 'localhost')
    && url.username === '' && url.password === '' && url.hash === '';
};

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1>
${body}
</body></html>
`;
}

function loginPage(uid, clientId, error) {
  return page('Sign in', `${error ? `<p class="error" role="alert">${escape(error)}</p>\n` : ''}<p>to continue to ${escape(clientId)}</p>
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>`);
}

function consentPage(uid, clientId, scopes) {
  return page('Allow access', `<p>${escape(clientId)} asks for: ${escape(scopes.join(' '))}</p>
<form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Deny</button></form>`);
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 16384) throw new Error('form too large');
  }
  return new URLSearchParams(raw);
}

// Sends the browser back to the authorization endpoint with the interaction's result.
async function finish(ctx, result) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function consent(ctx, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  await finish(ctx, { consent: { grantId: await grant.save() } });
}

const INTERACTION = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/;

provider.use(async (ctx, next) => {
  const match = INTERACTION.exec(ctx.path);
  if (!match) return next();
  const [, , action] = match;
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';

  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const clientId = details.params.client_id;
  const promptName = details.prompt.name;

  if (ctx.method === 'GET' && !action) {
    ctx.body = promptName === 'login'
      ? loginPage(details.uid, clientId)
      : consentPage(details.uid, clientId, String(details.params.scope || '').split(' '));
    return undefined;
  }
  if (ctx.method !== 'POST' || !action) {
    ctx.status = 405;
    ctx.body = page('Method not allowed', '');
    return undefined;
  }

  if (action === 'abort') {
    await finish(ctx, { error: 'access_denied', error_description: 'the user denied the request' });
  } else if (action === 'login' && promptName === 'login') {
    const form = await formBody(ctx.req);
    const user = USERS[form.get('username')];
    // 401 with the form again: tests/src/oidc.rs tells a refused login by it.
    if (!user || user.password !== form.get('password')) {
      ctx.status = 401;
      ctx.body = loginPage(details.uid, clientId, 'Wrong username or password.');
      return undefined;
    }
    await finish(ctx, { login: { accountId: user.sub } });
  } else if (action === 'confirm' && promptName === 'consent') {
    await consent(ctx, details);
  } else {
    ctx.status = 400;
    ctx.body = page('Unexpected step', `<p>${escape(action)} does not answer the ${escape(promptName)} prompt</p>`);
  }
  return undefined;
});

provider.listen(PORT, HOST, () => {
  console.log(`oidc-provider ${ISSUER} listening; discovery at ${ISSUER}/.well-known/openid-configuration`);
});
