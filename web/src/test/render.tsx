// Renders a page inside the providers the app gives it (route, session), with a chosen user.
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import type { FullUser } from "../api/types";
import { RouterProvider } from "../lib/router";
import { SessionProvider } from "../lib/session";

export function me(over: Partial<FullUser> = {}): FullUser {
  return { id: 7, username: "jane", email: "jane@example.com", display_name: "jane", is_private: false, is_verified: true, role: "normal", created_at: "2026-01-01T00:00:00Z", follower_count: 0, following_count: 0, posts_count: 0 , ...over } as FullUser;
}

export function renderPage(ui: ReactNode, user: FullUser | null = null, path = "/") {
  window.history.replaceState(null, "", path);
  return render(
    <RouterProvider>
      <SessionProvider initial={user}>{ui}</SessionProvider>
    </RouterProvider>,
  );
}
