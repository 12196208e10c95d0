// A fake API for component tests: routes by method and path to JSON answers, and remembers the
// requests it saw (with their bodies) so a test can check what the page sent.
type Route = { method: string; path: string | RegExp; status: number; body: unknown; headers?: Record<string, string> };

let routes: Route[] = [];
export const seen: { method: string; path: string; body: unknown; headers: Headers }[] = [];

export function answer(method: string, path: string | RegExp, status: number, body: unknown, headers?: Record<string, string>) {
  routes.unshift({ method, path, status, body, headers });
}

export function reset() {
  routes = [];
  seen.length = 0;
}

export async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const text = await request.text();
  seen.push({ method: request.method, path: url.pathname + url.search, body: text ? JSON.parse(text) : null, headers: request.headers });
  const route = routes.find((r) => r.method === request.method && (typeof r.path === "string" ? r.path === url.pathname : r.path.test(url.pathname + url.search)));
  if (!route) return new Response(JSON.stringify({ detail: "Not found." }), { status: 404, headers: { "Content-Type": "application/json" } });
  return new Response(route.status === 204 ? null : JSON.stringify(route.body), { status: route.status, headers: { "Content-Type": "application/json", ...route.headers } });
}
