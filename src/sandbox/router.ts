/** Matches a method and a path to a route: literal segments and `:param` segments, first match wins. */
import type { Protocol, Route } from './kit/protocol.js';

export interface CompiledRoute {
  route: Route;
  /** The protocol that declared it (undefined: a built-in route). */
  protocol: Protocol | undefined;
  segments: string[];
  methods: string[];
}

export type RouteMatch = { hit: CompiledRoute; params: Record<string, string> } | { methodNotAllowed: true } | undefined;

export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(route: Route, protocol?: Protocol): void {
    const methods = (typeof route.method === 'string' ? [route.method] : [...route.method]).map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    this.routes.push({ route, protocol, segments: route.path.split('/').filter(Boolean), methods });
  }

  match(method: string, pathname: string): RouteMatch {
    const parts = pathname.split('/').filter(Boolean);
    let wrongMethod = false;
    for (const c of this.routes) {
      if (c.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = c.segments[i]!;
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(parts[i]!);
          } catch {
            ok = false;
          }
        } else if (seg !== parts[i]) {
          ok = false;
        }
      }
      if (!ok) continue;
      if (!c.methods.includes(method)) {
        wrongMethod = true;
        continue;
      }
      return { hit: c, params };
    }
    return wrongMethod ? { methodNotAllowed: true } : undefined;
  }
}
