// The forms' error handling: the API's field errors at their fields (aria-invalid and
// aria-describedby), its `detail` above the button, the resend cooldown, the CSRF header on
// unsafe requests, and badge criteria errors at the criteria path they name.
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { answer, seen } from "../test/fetch";
import { me, renderPage } from "../test/render";
import { ForgotPage, LoginPage, SignupPage, VerifyPage } from "./auth";
import { DefinitionEditor, defaultCriteria } from "./staff";

function describedText(input: HTMLElement): string {
  return (input.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

describe("sign up", () => {
  it("shows each field's errors at that field", async () => {
    answer("POST", "/api/auth/register/", 400, {
      username: ["A user with that username already exists."],
      password: ["This password is too common."],
    });
    renderPage(<SignupPage />, null, "/signup");
    await userEvent.type(screen.getByLabelText("Username"), "jane");
    await userEvent.type(screen.getByLabelText("Email"), "jane@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "password1");
    await userEvent.click(screen.getByRole("button", { name: "Sign up" }));

    const username = await screen.findByLabelText("Username");
    await waitFor(() => expect(username).toHaveAttribute("aria-invalid", "true"));
    expect(describedText(username)).toContain("A user with that username already exists.");
    expect(describedText(screen.getByLabelText("Password"))).toContain("This password is too common.");
    expect(screen.getByLabelText("Email")).not.toHaveAttribute("aria-invalid");
    expect(seen.at(-1)?.body).toMatchObject({ username: "jane", email: "jane@example.com", password: "password1" });
  });

  it("shows a detail and unknown fields above the button", async () => {
    answer("POST", "/api/auth/register/", 400, { detail: "Too many registrations from this address.", website: ["Leave this empty."] });
    renderPage(<SignupPage />, null, "/signup");
    await userEvent.click(screen.getByRole("button", { name: "Sign up" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Too many registrations from this address.");
    expect(alert).toHaveTextContent("website: Leave this empty.");
  });

  it("goes on to verification with the address", async () => {
    answer("POST", "/api/auth/register/", 201, { id: 3, username: "jo", email: "jo@example.com", first_name: "", last_name: "", is_verified: false, role: "normal", created_at: "2026-01-01T00:00:00Z" });
    renderPage(<SignupPage />, null, "/signup");
    await userEvent.click(screen.getByRole("button", { name: "Sign up" }));
    await waitFor(() => expect(window.location.pathname).toBe("/verify"));
    expect(window.location.search).toContain("email=jo%40example.com");
  });
});

describe("log in", () => {
  it("sends a username or an email and shows the API's message", async () => {
    answer("POST", "/api/auth/login/", 400, { non_field_errors: ["Unable to log in with provided credentials."] });
    renderPage(<LoginPage />, null, "/login");
    await userEvent.type(screen.getByLabelText("Username or email"), "jane@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "wrong-password");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Unable to log in with provided credentials.");
    expect(seen.at(-1)?.body).toEqual({ email: "jane@example.com", password: "wrong-password" });
  });
});

describe("verify", () => {
  it("shows a wrong code at the code field", async () => {
    answer("POST", "/api/auth/verify/", 400, { code: ["Invalid or expired code."] });
    renderPage(<VerifyPage />, null, "/verify?email=jane%40example.com");
    await userEvent.type(screen.getByLabelText("Code"), "000000");
    await userEvent.click(screen.getByRole("button", { name: "Verify" }));
    const code = screen.getByLabelText("Code");
    await waitFor(() => expect(code).toHaveAttribute("aria-invalid", "true"));
    expect(describedText(code)).toContain("Invalid or expired code.");
  });

  it("counts the resend cooldown down, from Retry-After on a 429", async () => {
    answer("POST", "/api/auth/resend-code/", 429, { detail: "Request was throttled." }, { "Retry-After": "42" });
    renderPage(<VerifyPage />, null, "/verify?email=jane%40example.com");
    await userEvent.click(screen.getByRole("button", { name: "Resend code" }));
    expect(await screen.findByRole("button", { name: /Resend code in 4[12] s/ })).toBeDisabled();
    expect(screen.getByRole("alert")).toHaveTextContent("Please wait 42 seconds");
  });

  it("starts a 60 s cooldown after a resend", async () => {
    answer("POST", "/api/auth/resend-code/", 200, { detail: "A new code is on its way." });
    renderPage(<VerifyPage />, null, "/verify?email=jane%40example.com");
    await userEvent.click(screen.getByRole("button", { name: "Resend code" }));
    expect(await screen.findByRole("button", { name: /Resend code in (60|59) s/ })).toBeDisabled();
    expect(screen.getByRole("status")).toHaveTextContent("A new code is on its way.");
  });
});

describe("password reset", () => {
  it("asks for the code and shows password errors at the field", async () => {
    answer("POST", "/api/auth/password/reset/", 200, { detail: "ok" });
    answer("POST", "/api/auth/password/reset/confirm/", 400, { new_password: ["This password is too short."] });
    renderPage(<ForgotPage />, null, "/forgot");
    await userEvent.type(screen.getByLabelText("Email"), "jane@example.com");
    await userEvent.click(screen.getByRole("button", { name: "Send code" }));
    await userEvent.type(await screen.findByLabelText("Code"), "123456");
    await userEvent.type(screen.getByLabelText("New password"), "short");
    await userEvent.click(screen.getByRole("button", { name: "Set new password" }));
    await waitFor(() => expect(describedText(screen.getByLabelText("New password"))).toContain("This password is too short."));
  });
});

describe("CSRF", () => {
  it("sends the csrftoken cookie as X-CSRFToken on unsafe requests only", async () => {
    document.cookie = "csrftoken=abc123";
    answer("POST", "/api/auth/login/", 400, { detail: "no" });
    renderPage(<LoginPage />, null, "/login");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    await screen.findByRole("alert");
    expect(seen.at(-1)?.headers.get("X-CSRFToken")).toBe("abc123");
    document.cookie = "csrftoken=; max-age=0";
  });
});

describe("badge definition", () => {
  it("shows criteria errors at the path they name", async () => {
    answer("POST", "/api/badges/", 400, {
      "criteria.requirements[1].operator": ['"=>" is not an operator.'],
      "criteria.extra": ["Unknown field."],
      name: ["A badge with that name already exists."],
    });
    const criteria = defaultCriteria("multi_criteria");
    criteria.requirements = [
      { field: "posts_count", operator: ">=", value: 1 },
      { field: "follower_count", operator: ">", value: 5 },
    ];
    renderPage(<DefinitionEditor initial={{ name: "First", description: "d", category: "achievement", icon: "star", color: "#123456", image: "", rarity: "common", points: 10, is_active: true, criteria }} onSaved={() => undefined} />, me({ role: "admin" }));
    await userEvent.click(screen.getByRole("button", { name: "Create badge" }));
    const operator = await screen.findByLabelText("Requirement 2 operator");
    await waitFor(() => expect(operator).toHaveAttribute("aria-invalid", "true"));
    expect(describedText(operator)).toContain('"=>" is not an operator.');
    expect(screen.getByLabelText("Requirement 1 operator")).not.toHaveAttribute("aria-invalid");
    expect(describedText(screen.getByLabelText("Name"))).toContain("A badge with that name already exists.");
    expect(screen.getByText("criteria.extra: Unknown field.")).toBeInTheDocument();
    expect(seen.at(-1)?.body).toMatchObject({ criteria: { type: "multi_criteria", requirements: [{ operator: ">=" }, { operator: ">" }] } });
  });
});
