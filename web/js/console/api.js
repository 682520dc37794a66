// @ts-check
/**
 * The staff login and the API behind it. The access token lives only in this
 * module's memory; the one-use refresh token in sessionStorage (this tab only),
 * so a reload keeps the login and no other tab ever spends the same refresh
 * token (a second use ends the whole login on the server).
 */

const REFRESH_KEY = 'telepractice.console.refresh';

/** An RFC 9457 problem from the API, or a network failure (status 0). */
export class ApiProblem extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} detail
   * @param {{retryAfter?: number|null, field?: string|null}} [extra]
   */
  constructor(status, code, detail, extra = {}) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = extra.retryAfter ?? null;
    this.field = extra.field ?? null;
  }
}

/**
 * When to refresh an access token that lasts `expiresInSeconds`: a minute early,
 * or at half its life when it is shorter than two minutes; never sooner than 1 s.
 * @param {number} expiresInSeconds
 * @returns {number} milliseconds from now
 */
export function refreshDelayMs(expiresInSeconds) {
  const seconds = expiresInSeconds >= 120 ? expiresInSeconds - 60 : expiresInSeconds / 2;
  return Math.max(1, seconds) * 1000;
}

/**
 * Seconds to wait from a Retry-After header (seconds or an HTTP date); null when absent or unreadable.
 * @param {string|null} header
 * @param {number} [now] ms since the epoch
 */
export function retryAfterSeconds(header, now = Date.now()) {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const when = Date.parse(header);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - now) / 1000));
}

/**
 * @typedef {{access_token: string, refresh_token: string, expires_in: number}} TokenPair
 * @typedef {{id: string, username: string, display_name: string, role: 'worker'|'supervisor'|'admin'}} Me
 */

export class StaffLogin {
  /** @param {{onEnded: (reason: 'expired'|'logout') => void, fetch?: typeof fetch, storage?: Storage}} options */
  constructor(options) {
    this.onEnded = options.onEnded;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.storage = options.storage ?? sessionStorage;
    /** @type {string|null} */
    this.accessToken = null;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.timer = null;
    /** @type {Promise<void>|null} */
    this.refreshing = null;
  }

  /** @returns {boolean} whether this tab holds a refresh token (a login to resume after a reload) */
  canResume() {
    return Boolean(this.storage.getItem(REFRESH_KEY));
  }

  /** @param {string} username @param {string} password */
  async logIn(username, password) {
    const pair = /** @type {TokenPair} */ (await this.request('POST', '/api/auth/login', { username, password },
      { authorised: false }));
    this.keep(pair);
  }

  /** Trade the stored refresh token for a new pair; ends the login (and throws) when refused. */
  async refresh() {
    if (this.refreshing) return this.refreshing;
    const token = this.storage.getItem(REFRESH_KEY);
    if (!token) throw new ApiProblem(401, 'not-authenticated', 'No login to resume.');
    this.refreshing = (async () => {
      try {
        // Forgotten before the call: whatever happens, this token is spent.
        this.storage.removeItem(REFRESH_KEY);
        const pair = /** @type {TokenPair} */ (await this.request('POST', '/api/auth/refresh',
          { refresh_token: token }, { authorised: false }));
        this.keep(pair);
      } catch (error) {
        // Nothing left to refresh with: the timer of the spent pair must not try again.
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        throw error;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** @param {TokenPair} pair */
  keep(pair) {
    this.accessToken = pair.access_token;
    this.storage.setItem(REFRESH_KEY, pair.refresh_token);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh().catch(() => this.end('expired'));
    }, refreshDelayMs(pair.expires_in));
  }

  async logOut() {
    try {
      if (this.accessToken) await this.request('POST', '/api/auth/logout');
    } finally {
      this.forget();
      this.onEnded('logout');
    }
  }

  forget() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.accessToken = null;
    this.storage.removeItem(REFRESH_KEY);
  }

  /** @param {'expired'|'logout'} reason */
  end(reason) {
    this.forget();
    this.onEnded(reason);
  }

  /**
   * One API call; a problem becomes an ApiProblem. A 401 on an authorised call ends the login.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {{authorised?: boolean}} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, body, options = {}) {
    const authorised = options.authorised ?? true;
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (authorised && this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    let response;
    try {
      response = await this.fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
      });
    } catch {
      throw new ApiProblem(0, 'network', 'The server could not be reached.');
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (response.ok) return data;
    const problem = new ApiProblem(response.status, data?.code ?? 'http-error', data?.detail ?? response.statusText,
      { retryAfter: retryAfterSeconds(response.headers.get('Retry-After')), field: data?.field ?? null });
    if (authorised && response.status === 401) this.end('expired');
    throw problem;
  }
}
