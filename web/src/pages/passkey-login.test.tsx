// The login page with passkeys: the button's usernameless sign-in (begin, credentials.get,
// finish), the conditional request for the browser's autofill, aborted when the password form
// is sent, and a passkey as the second step of a password sign-in.
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { answer, seen } from "../test/fetch";
import { me, renderPage } from "../test/render";
import { LoginPage } from "./auth";

const assertion = {
  rawId: new Uint8Array([1, 2, 3]).buffer,
  response: { clientDataJSON: new Uint8Array([0x7b]).buffer, authenticatorData: new Uint8Array([0x49]).buffer, signature: new Uint8Array([0x30]).buffer, userHandle: new Uint8Array([7]).buffer },
};

function browserWithPasskeys(get: (options: CredentialRequestOptions) => Promise<unknown>, conditional: boolean) {
  const ctor = Object.assign(function PublicKeyCredential() {}, { isConditionalMediationAvailable: () => Promise.resolve(conditional) });
  vi.stubGlobal("PublicKeyCredential", ctor);
  Object.defineProperty(navigator, "credentials", { value: { get: vi.fn(get) }, configurable: true });
  return navigator.credentials.get as unknown as ReturnType<typeof vi.fn>;
}

afterEach(() => {
  vi.unstubAllGlobals();
  Object.defineProperty(navigator, "credentials", { value: undefined, configurable: true });
});

describe("passkey sign-in", () => {
  it("signs in with the button: usernameless options in, the assertion out as base64url", async () => {
    const get = browserWithPasskeys(() => Promise.resolve(assertion), false);
    answer("POST", "/api/auth/passkeys/sign-in/begin/", 200, { publicKey: { challenge: "AAEC", rpId: "localhost", userVerification: "required" } });
    answer("POST", "/api/auth/passkeys/sign-in/finish/", 200, me());
    renderPage(<LoginPage />, null, "/login");
    expect(screen.getByLabelText("Username or email")).toHaveAttribute("autocomplete", "username webauthn");
    await userEvent.click(screen.getByRole("button", { name: "Sign in with a passkey" }));
    await waitFor(() => expect(window.location.pathname).toBe("/u/jane"));
    expect(Array.from(new Uint8Array(get.mock.calls[0][0].publicKey.challenge))).toEqual([0, 1, 2]);
    expect(get.mock.calls[0][0].mediation).toBeUndefined();
    expect(seen.find((r) => r.path === "/api/auth/passkeys/sign-in/finish/")?.body).toEqual({
      rawId: "AQID",
      response: { clientDataJSON: "ew", authenticatorData: "SQ", signature: "MA", userHandle: "Bw" },
    });
  });

  it("shows the API's refusal of the passkey", async () => {
    browserWithPasskeys(() => Promise.resolve(assertion), false);
    answer("POST", "/api/auth/passkeys/sign-in/begin/", 200, { publicKey: { challenge: "AAEC" } });
    answer("POST", "/api/auth/passkeys/sign-in/finish/", 400, { credential: ["Unknown passkey."] });
    renderPage(<LoginPage />, null, "/login");
    await userEvent.click(screen.getByRole("button", { name: "Sign in with a passkey" }));
    expect(await screen.findByText("Unknown passkey.")).toBeInTheDocument();
  });

  it("waits in the autofill (conditional mediation) and stops when the password form is sent", async () => {
    let signal: AbortSignal | undefined;
    const get = browserWithPasskeys(
      (options) =>
        new Promise((_, reject) => {
          signal = options.signal ?? undefined;
          signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
      true,
    );
    answer("POST", "/api/auth/passkeys/sign-in/begin/", 200, { publicKey: { challenge: "AAEC" } });
    answer("POST", "/api/auth/login/", 200, me());
    renderPage(<LoginPage />, null, "/login");
    await waitFor(() => expect(get).toHaveBeenCalledTimes(1));
    expect(get.mock.calls[0][0].mediation).toBe("conditional");
    expect(signal?.aborted).toBe(false);
    await userEvent.type(screen.getByLabelText("Username or email"), "jane");
    await userEvent.type(screen.getByLabelText("Password"), "secret-password");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    await waitFor(() => expect(window.location.pathname).toBe("/u/jane"));
    expect(signal?.aborted).toBe(true);
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("completes a password sign-in's second step with a passkey when the account has one", async () => {
    const get = browserWithPasskeys(() => Promise.resolve(assertion), false);
    answer("POST", "/api/auth/login/", 202, { mfa_required: true, mfa_token: "tok", expires_at: "2026-01-01T00:05:00Z", methods: ["webauthn", "recovery_code"] });
    answer("POST", "/api/auth/mfa/verify/passkey/", 200, { publicKey: { challenge: "AAEC", allowCredentials: [{ type: "public-key", id: "AQID" }] } });
    answer("POST", "/api/auth/mfa/verify/", 200, me());
    renderPage(<LoginPage />, null, "/login");
    await userEvent.type(screen.getByLabelText("Username or email"), "jane");
    await userEvent.type(screen.getByLabelText("Password"), "secret-password");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    // No authenticator app on this account: the recovery code is the field, without a switch.
    expect(await screen.findByLabelText("Recovery code")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Use a code from your app" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Use your passkey" }));
    await waitFor(() => expect(window.location.pathname).toBe("/u/jane"));
    expect(seen.find((r) => r.path === "/api/auth/mfa/verify/passkey/")?.body).toEqual({ mfa_token: "tok" });
    expect(seen.find((r) => r.path === "/api/auth/mfa/verify/")?.body).toEqual({
      mfa_token: "tok",
      passkey: { rawId: "AQID", response: { clientDataJSON: "ew", authenticatorData: "SQ", signature: "MA", userHandle: "Bw" } },
    });
    expect(get.mock.calls[0][0].mediation).toBeUndefined();
  });
});
