// API clients generated from the OpenAPI documents (cloud.gen.ts, edge.gen.ts).
// Every call goes through openapi-fetch, so paths, params and bodies are
// type-checked against what the Go servers actually serve.
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components as CloudComponents, paths as CloudPaths } from './cloud.gen';
import type { components as EdgeComponents, paths as EdgePaths } from './edge.gen';

export type CloudSchemas = CloudComponents['schemas'];
export type EdgeSchemas = EdgeComponents['schemas'];
export type CloudClient = Client<CloudPaths>;
export type EdgeClient = Client<EdgePaths>;

/** Problem is an RFC 9457 problem document as both servers send it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  problems?: { field?: string; message?: string; pointer?: string; [k: string]: unknown }[];
}

/** ApiError carries the HTTP status and the server's problem document. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | undefined;
  constructor(status: number, problem: Problem | undefined, fallback: string) {
    super(problem?.detail || problem?.title || fallback);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

/** unwrap turns an openapi-fetch result into its data or throws ApiError. */
export async function unwrap<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let res: { data?: T; error?: unknown; response: Response };
  try {
    res = await p;
  } catch (e) {
    throw new ApiError(0, undefined, e instanceof Error ? e.message : String(e));
  }
  if (res.error !== undefined || !res.response.ok) {
    const problem = typeof res.error === 'object' && res.error !== null ? (res.error as Problem) : undefined;
    throw new ApiError(res.response.status, problem, `${res.response.status} ${res.response.statusText}`);
  }
  return res.data as T;
}

let bearer: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** setBearer sets the token sent to the cloud API (null: none). */
export function setBearer(token: string | null, unauthorized?: () => void): void {
  bearer = token;
  onUnauthorized = unauthorized ?? null;
}
export function currentBearer(): string | null {
  return bearer;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (bearer) request.headers.set('Authorization', `Bearer ${bearer}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && bearer && onUnauthorized) onUnauthorized();
    return response;
  },
};

/** cloud is the client of the cloud API, served from the same origin as the UI. */
export const cloud: CloudClient = createClient<CloudPaths>({ baseUrl: '' });
cloud.use(auth);

/** newEdgeClient talks to an edge agent's local API (no authentication; loopback). */
export function newEdgeClient(baseUrl: string): EdgeClient {
  return createClient<EdgePaths>({ baseUrl: baseUrl.replace(/\/$/, '') });
}

/** authedFetch fetches a same-origin API URL with the bearer token (for blobs). */
export function authedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const sameOrigin = url.startsWith('/') || url.startsWith(window.location.origin);
  if (bearer && sameOrigin) headers.set('Authorization', `Bearer ${bearer}`);
  return fetch(url, { ...init, headers });
}
