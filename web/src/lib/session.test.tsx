// The session as the console keeps it: a 401 from any request (the session ended elsewhere)
// reads /me again, and a signed-out visitor of a member page is sent to the login page.
import { render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { api } from "../api/client";
import { answer, seen } from "../test/fetch";
import { me } from "../test/render";
import { SessionProvider, useSession } from "./session";

function Who() {
  const { user } = useSession();
  return <p>{user ? `signed in as ${user.username}` : "signed out"}</p>;
}

describe("session", () => {
  it("reads /me again when a request answers 401", async () => {
    answer("GET", "/api/settings/", 401, { detail: "Authentication credentials were not provided." });
    answer("GET", "/api/auth/me/", 401, { detail: "Authentication credentials were not provided." });
    render(
      <SessionProvider initial={me()}>
        <Who />
      </SessionProvider>,
    );
    expect(screen.getByText("signed in as jane")).toBeInTheDocument();
    await api.GET("/api/settings/");
    await waitFor(() => expect(screen.getByText("signed out")).toBeInTheDocument());
    expect(seen.map((r) => r.path)).toEqual(["/api/settings/", "/api/auth/me/"]);
  });
});
