// Vitest setup: jest-dom matchers, a clean DOM after each test, and `fetch` routed through a
// replaceable handler (the API client keeps the fetch it was created with, so the stub must be
// in place before any test imports it). Tests answer requests with `answer(...)` from ./fetch.
import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";
import { handle, reset } from "./fetch";

// Generous waits: the test command shares two cores with cargo builds.
configure({ asyncUtilTimeout: 5000 });

globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => handle(input instanceof Request ? input : new Request(input, init));

window.scrollTo = () => undefined;

if (!window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({ matches: false, media: query, onchange: null, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {}, dispatchEvent: () => false }) as MediaQueryList;
}

afterEach(() => {
  cleanup();
  reset();
});
