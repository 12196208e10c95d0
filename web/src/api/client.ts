// The typed API client: openapi-fetch over the paths generated from the served OpenAPI
// document (schema.d.ts, `npm run gen:api`). Same origin as the API, authenticated by the
// `sessionid` cookie; every unsafe request carries the double-submit CSRF header
// (`X-CSRFToken` = the `csrftoken` cookie, docs/auth.md). No token is ever stored by the page.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The value of a cookie the page may read (csrftoken is not HttpOnly; sessionid is). */
export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (UNSAFE.has(request.method)) {
      const token = readCookie("csrftoken");
      if (token) request.headers.set("X-CSRFToken", token);
    }
    return request;
  },
};

export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "" : window.location.origin,
  credentials: "same-origin",
});
/** Fired on `window` when a request other than `/me` answers 401: the session has ended. */
export const UNAUTHORIZED_EVENT = "accounts:unauthorized";

const sessionEnded: Middleware = {
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.endsWith("/api/auth/me/")) {
      window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
    }
    return response;
  },
};

api.use(csrf, sessionEnded);

/**
 * An API answer that was not a success: the status, the DRF `detail` when there is one, and
 * the field errors (`{"field": ["message"]}`, nested paths such as
 * `criteria.requirements[1].operator` kept as they come).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string | null;
  readonly fields: Record<string, string[]>;
  readonly retryAfter: number | null;

  constructor(status: number, body: unknown, retryAfter: number | null = null) {
    const fields: Record<string, string[]> = {};
    let detail: string | null = null;
    if (body && typeof body === "object" && !Array.isArray(body)) {
      for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
        if (key === "detail" && typeof value === "string") detail = value;
        else if (Array.isArray(value)) fields[key] = value.map(String);
        else if (typeof value === "string") fields[key] = [value];
      }
    }
    if (!detail && Object.keys(fields).length === 0) {
      detail = status === 0 ? "The service cannot be reached." : `The service answered ${status}.`;
    }
    super(detail ?? Object.values(fields)[0]?.[0] ?? `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }

  /** Errors for fields the form does not show, as sentences for the form's summary. */
  otherMessages(shown: Iterable<string>): string[] {
    const known = new Set(shown);
    const messages: string[] = [];
    if (this.detail) messages.push(this.detail);
    for (const [field, list] of Object.entries(this.fields)) {
      if (!known.has(field)) messages.push(...list.map((m) => (field === "non_field_errors" ? m : `${field}: ${m}`)));
    }
    return messages;
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful answer, or an ApiError thrown with what the API said. */
export async function must<T>(call: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await call;
  } catch {
    throw new ApiError(0, null);
  }
  const { data, error, response } = answer;
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After"));
    throw new ApiError(response.status, error, Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return data as T;
}
