// Signing up, verifying the address with the emailed code (resend with its cooldown), logging
// in (password, then a second step when the account has a factor; or a passkey alone, from the
// button or the browser's autofill), and resetting a forgotten password. Every form shows the API's field errors at the
// fields and its `detail` above the button.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, must } from "../api/client";
import type { FullUser } from "../api/types";
import { Field, FormMessages, PageTitle, useSubmit } from "../components/ui";
import { Link, useRoute } from "../lib/router";
import { useSession } from "../lib/session";
import { assertionJSON, ceremonyMessage, getAssertion, isAbort, requestOptions, webauthnSupported } from "../lib/webauthn";

export function LoginPage() {
  const { setUser } = useSession();
  const { navigate, search } = useRoute();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [methods, setMethods] = useState<string[]>([]);
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState("");
  const form = useSubmit(["username", "email", "password"]);
  const second = useSubmit(["code", "recovery_code", "mfa_token"]);
  const secondPasskey = useSubmit(["passkey"]);
  const passkey = useSubmit(["credential"]);
  const notice = search.get("notice");

  const signedIn = (user: FullUser) => {
    setUser(user);
    if (!user.is_verified) navigate(`/verify?email=${encodeURIComponent(user.email)}`);
    else navigate(search.get("next") || `/u/${user.username}`);
  };

  const finishPasskey = async (credential: Credential | null) => {
    if (!credential) throw new Error("The browser returned no passkey.");
    const answer = await must(api.POST("/api/auth/passkeys/sign-in/finish/", { body: assertionJSON(credential as PublicKeyCredential) }));
    signedIn("access" in answer ? answer.user : answer);
  };
  // The effect below outlives renders: it calls the newest finishPasskey through this ref.
  const finishRef = useRef(finishPasskey);
  finishRef.current = finishPasskey;

  // Conditional UI: the browser offers the account's passkeys in the username field's
  // autofill, from a request that waits until one is picked. Only one WebAuthn request may be
  // pending, so the password form and the passkey button abort it first (and start it again
  // when they fail).
  const conditional = useRef<AbortController | null>(null);
  const stopConditional = () => {
    conditional.current?.abort();
    conditional.current = null;
  };
  const setPasskeyMessages = passkey.setMessages;
  const startConditional = useCallback(async () => {
    if (!webauthnSupported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
    const controller = new AbortController();
    conditional.current?.abort();
    conditional.current = controller;
    try {
      if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
      const begun = await must(api.POST("/api/auth/passkeys/sign-in/begin/"));
      if (controller.signal.aborted) return;
      const credential = await navigator.credentials.get({ publicKey: requestOptions(begun.publicKey as Record<string, unknown>), mediation: "conditional", signal: controller.signal });
      if (controller.signal.aborted) return;
      await finishRef.current(credential);
    } catch (e) {
      if (controller.signal.aborted || isAbort(e)) return;
      setPasskeyMessages([e instanceof ApiError ? [...(e.fields.credential ?? []), ...e.otherMessages(["credential"])].join(" ") : ceremonyMessage(e)]);
    }
  }, [setPasskeyMessages]);
  useEffect(() => {
    void startConditional();
    return () => conditional.current?.abort();
  }, [startConditional]);

  const onPasskey = passkey.submit(async () => {
    stopConditional();
    try {
      const begun = await must(api.POST("/api/auth/passkeys/sign-in/begin/"));
      let credential: Credential | null;
      try {
        credential = await navigator.credentials.get({ publicKey: requestOptions(begun.publicKey as Record<string, unknown>) });
      } catch (e) {
        throw new Error(ceremonyMessage(e));
      }
      await finishPasskey(credential);
    } catch (e) {
      void startConditional();
      throw e;
    }
  });

  const onSubmit = form.submit(async () => {
    stopConditional();
    const body = login.includes("@") ? { email: login, password } : { username: login, password };
    const answer = await must(api.POST("/api/auth/login/", { body })).catch((e: unknown) => {
      void startConditional();
      throw e;
    });
    if ("mfa_required" in answer) {
      // The account has a second factor: no session until the code (5 minutes).
      setMfaToken(answer.mfa_token);
      setMethods(answer.methods);
      return;
    }
    signedIn(answer);
  });

  const onSecond = second.submit(async () => {
    const proof = useRecovery || !(methods.length === 0 || methods.includes("totp")) ? { recovery_code: code.trim() } : { code: code.trim() };
    const answer = await must(api.POST("/api/auth/mfa/verify/", { body: { mfa_token: mfaToken, ...proof } }));
    signedIn("access" in answer ? answer.user : answer);
  });

  // The second step with a passkey: request options bound to this pending sign-in.
  const onSecondPasskey = secondPasskey.submit(async () => {
    const begun = await must(api.POST("/api/auth/mfa/verify/passkey/", { body: { mfa_token: mfaToken } }));
    const passkey = await getAssertion(begun.publicKey);
    const answer = await must(api.POST("/api/auth/mfa/verify/", { body: { mfa_token: mfaToken, passkey } }));
    signedIn("access" in answer ? answer.user : answer);
  });

  if (mfaToken) {
    // An account with passkeys and no app: the recovery code is the other way in.
    const hasTotp = methods.length === 0 || methods.includes("totp");
    const recovery = useRecovery || !hasTotp;
    const field = recovery ? "recovery_code" : "code";
    const withPasskey = methods.includes("webauthn") && webauthnSupported();
    return (
      <div className="narrow">
        <PageTitle>Two-step verification</PageTitle>
        {withPasskey && (
          <div className="passkey-step">
            <button className="button" type="button" onClick={(e) => void onSecondPasskey(e)} disabled={secondPasskey.busy}>
              {secondPasskey.busy ? "Waiting for your passkey…" : "Use your passkey"}
            </button>
            <FormMessages messages={[...secondPasskey.messages, ...(secondPasskey.errors.passkey ?? [])]} />
            <p>Or:</p>
          </div>
        )}
        <p>{recovery ? "Enter one of your recovery codes." : "Enter the 6-digit code from your authenticator app."}</p>
        <form onSubmit={onSecond} noValidate>
          <Field label={recovery ? "Recovery code" : "Code"} name={field} inputMode={recovery ? "text" : "numeric"} autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} errors={{ ...second.errors, [field]: [...(second.errors[field] ?? []), ...(second.errors.mfa_token ?? [])] }} />
          <FormMessages messages={second.messages} />
          <button className="button" type="submit" disabled={second.busy}>
            {second.busy ? "Checking…" : "Continue"}
          </button>
        </form>
        {hasTotp && (
          <p>
            <button className="button secondary" type="button" onClick={() => { setUseRecovery(!useRecovery); setCode(""); }}>
              {recovery ? "Use a code from your app" : "Use a recovery code"}
            </button>
          </p>
        )}
      </div>
    );
  }

  return (
    <div className="narrow">
      <PageTitle>Log in</PageTitle>
      {notice && (
        <p className="form-success" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={onSubmit} noValidate>
        <Field label="Username or email" name="username" autoComplete="username webauthn" required value={login} onChange={(e) => setLogin(e.target.value)} errors={{ ...form.errors, username: [...(form.errors.username ?? []), ...(form.errors.email ?? [])] }} />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} errors={form.errors} />
        <FormMessages messages={form.messages} />
        <button className="button" type="submit" disabled={form.busy}>
          {form.busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      {webauthnSupported() && (
        <div className="passkey-sign-in">
          <button className="button secondary" type="button" onClick={(e) => void onPasskey(e)} disabled={passkey.busy}>
            {passkey.busy ? "Waiting for your passkey…" : "Sign in with a passkey"}
          </button>
          <FormMessages messages={[...passkey.messages, ...(passkey.errors.credential ?? [])]} />
        </div>
      )}
      <p>
        <Link to="/forgot">Forgot your password?</Link> · <Link to="/signup">Create an account</Link>
      </p>
    </div>
  );
}

const SIGNUP_FIELDS = ["username", "email", "password", "first_name", "last_name"] as const;

export function SignupPage() {
  const { navigate } = useRoute();
  const [values, setValues] = useState({ username: "", email: "", password: "", first_name: "", last_name: "" });
  const form = useSubmit(SIGNUP_FIELDS);
  const set = (name: keyof typeof values) => (e: React.ChangeEvent<HTMLInputElement>) => setValues((v) => ({ ...v, [name]: e.target.value }));

  const onSubmit = form.submit(async () => {
    const created = await must(api.POST("/api/auth/register/", { body: values }));
    navigate(`/verify?email=${encodeURIComponent(created.email)}&new=1`);
  });

  return (
    <div className="narrow">
      <PageTitle>Create your account</PageTitle>
      <form onSubmit={onSubmit} noValidate>
        <Field label="Username" name="username" autoComplete="username" required hint="3–30 letters, digits, _ . -" value={values.username} onChange={set("username")} errors={form.errors} />
        <Field label="Email" name="email" type="email" autoComplete="email" required value={values.email} onChange={set("email")} errors={form.errors} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" required hint="At least 8 characters, not common, not like your name." value={values.password} onChange={set("password")} errors={form.errors} />
        <div className="row">
          <Field label="First name (optional)" name="first_name" autoComplete="given-name" value={values.first_name} onChange={set("first_name")} errors={form.errors} />
          <Field label="Last name (optional)" name="last_name" autoComplete="family-name" value={values.last_name} onChange={set("last_name")} errors={form.errors} />
        </div>
        <FormMessages messages={form.messages} />
        <button className="button" type="submit" disabled={form.busy}>
          {form.busy ? "Creating…" : "Sign up"}
        </button>
      </form>
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </div>
  );
}

/** Seconds left before another resend, counting down once a second. */
function useCooldown(): [number, (seconds: number) => void] {
  const [until, setUntil] = useState(0);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until <= now) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [until, now]);
  const left = Math.max(0, Math.ceil((until - now) / 1000));
  return [left, (seconds: number) => {
    setNow(Date.now());
    setUntil(Date.now() + seconds * 1000);
  }];
}

export function VerifyPage() {
  const { search, navigate } = useRoute();
  const { user, refresh } = useSession();
  const [email, setEmail] = useState(search.get("email") ?? user?.email ?? "");
  const [code, setCode] = useState("");
  const form = useSubmit(["email", "code"]);
  const resend = useSubmit(["email"]);
  const [cooldown, startCooldown] = useCooldown();

  const onSubmit = form.submit(async () => {
    await must(api.POST("/api/auth/verify/", { body: { email, code: code.trim() } }));
    const me = await refresh();
    if (me) navigate(`/u/${me.username}`);
    else navigate(`/login?notice=${encodeURIComponent("Your address is verified. Log in to continue.")}`);
  });

  const onResend = resend.submit(async () => {
    try {
      const answer = await must(api.POST("/api/auth/resend-code/", { body: { email } }));
      startCooldown(60);
      return answer.detail;
    } catch (e) {
      if (e instanceof ApiError && e.status === 429) {
        startCooldown(e.retryAfter ?? 60);
        throw new ApiError(429, { detail: `Please wait ${e.retryAfter ?? 60} seconds before asking for another code.` });
      }
      throw e;
    }
  });

  return (
    <div className="narrow">
      <PageTitle>Verify your email</PageTitle>
      <p>We sent a 6-digit code to {email ? <strong>{email}</strong> : "your address"}. It is valid for 15 minutes.</p>
      <form onSubmit={onSubmit} noValidate>
        <Field label="Email" name="email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} errors={form.errors} />
        <Field label="Code" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required value={code} onChange={(e) => setCode(e.target.value)} errors={form.errors} />
        <FormMessages messages={form.messages} />
        <button className="button" type="submit" disabled={form.busy}>
          {form.busy ? "Verifying…" : "Verify"}
        </button>
      </form>
      <form onSubmit={onResend} className="inline-form">
        <button className="button secondary" type="submit" disabled={resend.busy || cooldown > 0 || !email}>
          {cooldown > 0 ? `Resend code in ${cooldown} s` : "Resend code"}
        </button>
        <FormMessages messages={resend.messages} success={resend.success} />
      </form>
    </div>
  );
}

export function ForgotPage() {
  const [step, setStep] = useState<"ask" | "reset" | "done">("ask");
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const ask = useSubmit(["email"]);
  const reset = useSubmit(["email", "code", "new_password"]);

  const onAsk = ask.submit(async () => {
    await must(api.POST("/api/auth/password/reset/", { body: { email } }));
    setStep("reset");
  });
  const onReset = reset.submit(async () => {
    await must(api.POST("/api/auth/password/reset/confirm/", { body: { email, code: code.trim(), new_password: password } }));
    setStep("done");
  });

  return (
    <div className="narrow">
      <PageTitle>Reset your password</PageTitle>
      {step === "ask" && (
        <form onSubmit={onAsk} noValidate>
          <p>Enter your address and we will mail you a reset code.</p>
          <Field label="Email" name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} errors={ask.errors} />
          <FormMessages messages={ask.messages} />
          <button className="button" type="submit" disabled={ask.busy}>
            Send code
          </button>
        </form>
      )}
      {step === "reset" && (
        <form onSubmit={onReset} noValidate>
          <p role="status">If this address belongs to an account, a reset code is on its way.</p>
          <Field label="Code" name="code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} required value={code} onChange={(e) => setCode(e.target.value)} errors={reset.errors} />
          <Field label="New password" name="new_password" type="password" autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.target.value)} errors={reset.errors} />
          <FormMessages messages={reset.messages} />
          <button className="button" type="submit" disabled={reset.busy}>
            Set new password
          </button>
        </form>
      )}
      {step === "done" && (
        <p className="form-success" role="status">
          Your password is changed. <Link to="/login">Log in</Link>
        </p>
      )}
    </div>
  );
}
