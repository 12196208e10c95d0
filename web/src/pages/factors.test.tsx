// The Second factors page: a 403 step_up_required turns into a step-up form that retries the
// action, a confirmed first factor shows its recovery codes, and a passkey is registered with
// the bytes navigator.credentials.create gave, as base64url.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { answer, seen } from "../test/fetch";
import { me, renderPage } from "../test/render";
import { FactorsPage } from "./factors";

const factor = { id: "f1", name: "Phone", type: "totp", status: "pending", created_at: "2026-01-01T00:00:00Z", activated_at: null, last_used_at: null };
const empty = { count: 0, next: null, previous: null, results: [] };

function emptyLists() {
  answer("GET", "/api/auth/mfa/factors/", 200, { ...empty, recovery_codes_remaining: 0 });
  answer("GET", "/api/auth/passkeys/", 200, empty);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("second factors", () => {
  it("asks for the password when the API wants a step-up, then adds the factor", async () => {
    emptyLists();
    answer("POST", "/api/auth/mfa/factors/", 403, { detail: "Confirm it is you.", code: "step_up_required", methods: ["password"] });
    renderPage(<FactorsPage />, me(), "/security/factors");
    await userEvent.click(await screen.findByRole("button", { name: "Add an authenticator app" }));

    const stepUp = await screen.findByRole("region", { name: "Confirm it is you" });
    const password = within(stepUp).getByLabelText("Password");
    await waitFor(() => expect(password).toHaveFocus());
    answer("POST", "/api/auth/mfa/step-up/", 400, { password: ["Invalid password."] });
    await userEvent.type(password, "wrong");
    await userEvent.click(within(stepUp).getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(password).toHaveAttribute("aria-invalid", "true"));

    answer("POST", "/api/auth/mfa/step-up/", 200, { aal: 1, amr: ["pwd"], password_at: null, second_factor_at: null, valid_for_seconds: 600 });
    answer("POST", "/api/auth/mfa/factors/", 201, { factor, secret: "JBSWY3DPEHPK3PXP", otpauth_uri: "otpauth://totp/x", qr_svg: "<svg xmlns='http://www.w3.org/2000/svg'/>" });
    await userEvent.clear(password);
    await userEvent.type(password, "right");
    await userEvent.click(within(stepUp).getByRole("button", { name: "Confirm" }));

    expect(await screen.findByRole("img", { name: "QR code to add Phone to an authenticator app" })).toBeInTheDocument();
    expect(screen.getByLabelText("Secret key")).toHaveValue("JBSWY3DPEHPK3PXP");
    expect(screen.queryByRole("region", { name: "Confirm it is you" })).not.toBeInTheDocument();
    const posts = seen.filter((r) => r.method === "POST").map((r) => [r.path, r.body]);
    expect(posts).toEqual([
      ["/api/auth/mfa/factors/", { name: null }],
      ["/api/auth/mfa/step-up/", { password: "wrong" }],
      ["/api/auth/mfa/step-up/", { password: "right" }],
      ["/api/auth/mfa/factors/", { name: null }],
    ]);
  });

  it("offers the code and a recovery code when the account has a factor", async () => {
    emptyLists();
    answer("POST", "/api/auth/mfa/recovery-codes/", 403, { detail: "Confirm it is you.", code: "step_up_required", methods: ["totp", "recovery_code"] });
    answer("GET", "/api/auth/mfa/factors/", 200, { count: 1, next: null, previous: null, results: [{ ...factor, status: "active" }], recovery_codes_remaining: 3 });
    renderPage(<FactorsPage />, me(), "/security/factors");
    expect(await screen.findByText("3 recovery codes left.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Regenerate recovery codes" }));
    const stepUp = await screen.findByRole("region", { name: "Confirm it is you" });
    expect(within(stepUp).getByLabelText("Authenticator code")).toBeInTheDocument();
    await userEvent.click(within(stepUp).getByRole("button", { name: "Use a recovery code" }));
    answer("POST", "/api/auth/mfa/step-up/", 200, { aal: 2, amr: ["pwd", "recovery"], password_at: null, second_factor_at: null, valid_for_seconds: 600 });
    answer("POST", "/api/auth/mfa/recovery-codes/", 200, { recovery_codes: ["aaaa-bbbb", "cccc-dddd"] });
    await userEvent.type(within(stepUp).getByLabelText("Recovery code"), " 1111-2222 ");
    await userEvent.click(within(stepUp).getByRole("button", { name: "Confirm" }));
    const codes = await screen.findByRole("list", { name: "Recovery codes" });
    expect(within(codes).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["aaaa-bbbb", "cccc-dddd"]);
    expect(screen.getByText(/shown this once/)).toBeInTheDocument();
    expect(seen.find((r) => r.path === "/api/auth/mfa/step-up/")?.body).toEqual({ recovery_code: "1111-2222" });
  });

  it("confirms a factor with a code and shows the first recovery codes once", async () => {
    emptyLists();
    answer("POST", "/api/auth/mfa/factors/", 201, { factor, secret: "JBSWY3DPEHPK3PXP", otpauth_uri: "otpauth://totp/x", qr_svg: "<svg/>" });
    answer("POST", "/api/auth/mfa/factors/f1/confirm/", 400, { code: ["Invalid code."] });
    renderPage(<FactorsPage />, me(), "/security/factors");
    await userEvent.type(await screen.findByLabelText("Authenticator app name (optional)"), "Phone");
    await userEvent.click(screen.getByRole("button", { name: "Add an authenticator app" }));
    const code = await screen.findByLabelText("Code from the app");
    await userEvent.type(code, "000000");
    await userEvent.click(screen.getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(code).toHaveAttribute("aria-invalid", "true"));

    answer("POST", "/api/auth/mfa/factors/f1/confirm/", 200, { factor: { ...factor, status: "active" }, recovery_codes: Array.from({ length: 10 }, (_, i) => `code-${i}`) });
    await userEvent.clear(code);
    await userEvent.type(code, "123456");
    await userEvent.click(screen.getByRole("button", { name: "Confirm" }));
    expect(await screen.findByRole("heading", { name: "Save your recovery codes" })).toBeInTheDocument();
    expect(within(screen.getByRole("list", { name: "Recovery codes" })).getAllByRole("listitem")).toHaveLength(10);
    await userEvent.click(screen.getByRole("button", { name: "I have saved them" }));
    expect(screen.queryByRole("list", { name: "Recovery codes" })).not.toBeInTheDocument();
    expect(seen.find((r) => r.method === "POST" && r.path === "/api/auth/mfa/factors/")?.body).toEqual({ name: "Phone" });
  });

  it("registers a passkey with the authenticator's bytes as base64url", async () => {
    emptyLists();
    const create = vi.fn().mockResolvedValue({
      rawId: new Uint8Array([1, 2, 3]).buffer,
      response: { clientDataJSON: new Uint8Array([0x7b]).buffer, attestationObject: new Uint8Array([0xa3]).buffer, getTransports: () => ["internal"] },
    });
    vi.stubGlobal("PublicKeyCredential", function PublicKeyCredential() {});
    Object.defineProperty(navigator, "credentials", { value: { create }, configurable: true });
    answer("POST", "/api/auth/passkeys/register/begin/", 200, {
      publicKey: { challenge: "AAEC", rp: { id: "localhost", name: "Accounts" }, user: { id: "BwA", name: "jane", displayName: "jane" }, pubKeyCredParams: [{ type: "public-key", alg: -7 }], excludeCredentials: [] },
    });
    answer("POST", "/api/auth/passkeys/register/finish/", 201, { id: "ab", name: "Laptop", type: "webauthn", algorithm: "ES256", credential_id: "AQID", created_at: "2026-01-01T00:00:00Z", last_used_at: null });
    renderPage(<FactorsPage />, me(), "/security/factors");
    await userEvent.type(await screen.findByLabelText("Passkey name (optional)"), "Laptop");
    await userEvent.click(screen.getByRole("button", { name: "Add a passkey" }));
    expect(await screen.findByText("Added the passkey “Laptop”.")).toBeInTheDocument();
    const options = create.mock.calls[0][0].publicKey;
    expect(Array.from(new Uint8Array(options.challenge))).toEqual([0, 1, 2]);
    expect(Array.from(new Uint8Array(options.user.id))).toEqual([7, 0]);
    expect(seen.find((r) => r.path === "/api/auth/passkeys/register/finish/")?.body).toEqual({
      rawId: "AQID",
      response: { clientDataJSON: "ew", attestationObject: "ow", transports: ["internal"] },
      name: "Laptop",
    });
    Object.defineProperty(navigator, "credentials", { value: undefined, configurable: true });
  });

  it("steps up with a passkey when the API offers one, then retries", async () => {
    emptyLists();
    const get = vi.fn().mockResolvedValue({
      rawId: new Uint8Array([1, 2, 3]).buffer,
      response: { clientDataJSON: new Uint8Array([0x7b]).buffer, authenticatorData: new Uint8Array([0x49]).buffer, signature: new Uint8Array([0x30]).buffer, userHandle: null },
    });
    vi.stubGlobal("PublicKeyCredential", function PublicKeyCredential() {});
    Object.defineProperty(navigator, "credentials", { value: { get }, configurable: true });
    answer("POST", "/api/auth/mfa/factors/", 403, { detail: "Confirm it is you.", code: "step_up_required", methods: ["webauthn", "recovery_code"] });
    renderPage(<FactorsPage />, me(), "/security/factors");
    await userEvent.click(await screen.findByRole("button", { name: "Add an authenticator app" }));
    const stepUp = await screen.findByRole("region", { name: "Confirm it is you" });
    expect(within(stepUp).getByLabelText("Recovery code")).toBeInTheDocument();

    answer("POST", "/api/auth/mfa/step-up/passkey/", 200, { publicKey: { challenge: "AAEC", allowCredentials: [{ type: "public-key", id: "AQID" }] } });
    answer("POST", "/api/auth/mfa/step-up/", 200, { aal: 2, amr: ["pwd", "webauthn"], password_at: null, second_factor_at: null, valid_for_seconds: 600 });
    answer("POST", "/api/auth/mfa/factors/", 201, { factor, secret: "JBSWY3DPEHPK3PXP", otpauth_uri: "otpauth://totp/x", qr_svg: "<svg/>" });
    await userEvent.click(within(stepUp).getByRole("button", { name: "Use a passkey" }));
    expect(await screen.findByLabelText("Secret key")).toBeInTheDocument();
    expect(Array.from(new Uint8Array(get.mock.calls[0][0].publicKey.allowCredentials[0].id))).toEqual([1, 2, 3]);
    expect(seen.find((r) => r.path === "/api/auth/mfa/step-up/")?.body).toEqual({
      passkey: { rawId: "AQID", response: { clientDataJSON: "ew", authenticatorData: "SQ", signature: "MA", userHandle: null } },
    });
    Object.defineProperty(navigator, "credentials", { value: undefined, configurable: true });
  });

  it("shows the recovery codes that come with the account's first passkey", async () => {
    emptyLists();
    const create = vi.fn().mockResolvedValue({
      rawId: new Uint8Array([1, 2, 3]).buffer,
      response: { clientDataJSON: new Uint8Array([0x7b]).buffer, attestationObject: new Uint8Array([0xa3]).buffer },
    });
    vi.stubGlobal("PublicKeyCredential", function PublicKeyCredential() {});
    Object.defineProperty(navigator, "credentials", { value: { create }, configurable: true });
    answer("POST", "/api/auth/passkeys/register/begin/", 200, { publicKey: { challenge: "AAEC", user: { id: "BwA", name: "jane", displayName: "jane" } } });
    answer("POST", "/api/auth/passkeys/register/finish/", 201, {
      id: "ab", name: "Passkey", type: "webauthn", algorithm: "ES256", credential_id: "AQID", created_at: "2026-01-01T00:00:00Z", last_used_at: null,
      recovery_codes: ["aaaa-bbbb", "cccc-dddd"],
    });
    renderPage(<FactorsPage />, me(), "/security/factors");
    await userEvent.click(await screen.findByRole("button", { name: "Add a passkey" }));
    const codes = await screen.findByRole("list", { name: "Recovery codes" });
    expect(within(codes).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["aaaa-bbbb", "cccc-dddd"]);
    expect(seen.find((r) => r.path === "/api/auth/passkeys/register/finish/")?.body).toMatchObject({ response: { transports: [] }, name: null });
    Object.defineProperty(navigator, "credentials", { value: undefined, configurable: true });
  });
});
