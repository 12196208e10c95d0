// Second factors (part of the Security chunk, loaded on demand): authenticator apps (TOTP:
// enrol with the QR code or the secret, confirm with a code, the recovery codes shown once),
// recovery codes (how many are left, regenerate), and passkeys (add with
// navigator.credentials.create, rename, remove). Sensitive actions answer 403
// `step_up_required`: the page then asks for the proof the API names in `methods`, posts it to
// /api/auth/mfa/step-up/ and runs the action again.
import { useCallback, useEffect, useId, useRef, useState } from "react";
import { api, ApiError, must } from "../api/client";
import type { components } from "../api/schema";
import { Empty, Field, FormMessages, Load, useSubmit } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { useApi, type Loaded } from "../lib/useApi";
import { attestationJSON, ceremonyMessage, creationOptions, getAssertion, webauthnSupported } from "../lib/webauthn";

type Factor = components["schemas"]["MfaFactor"];
type Passkey = components["schemas"]["Passkey"];

interface StepUpNeed {
  methods: string[];
  retry: () => Promise<void>;
}

/** The `code` and `methods` of a 403 that asks for a recent strong authentication. */
export function stepUpOf(e: unknown): { code: string; methods: string[]; detail: string } | null {
  if (!(e instanceof ApiError) || e.status !== 403) return null;
  const code = e.fields.code?.[0];
  if (code !== "step_up_required" && code !== "mfa_enrolment_required") return null;
  return { code, methods: e.fields.methods ?? [], detail: e.detail ?? "" };
}

/**
 * `guard(action)` runs the action; when the API asks for a step-up it keeps the action for
 * the step-up form to run again once the proof is accepted, instead of failing.
 */
export function useStepUp() {
  const [need, setNeed] = useState<StepUpNeed | null>(null);
  const guard = useCallback(async (action: () => Promise<void>) => {
    try {
      await action();
    } catch (e) {
      const wanted = stepUpOf(e);
      if (!wanted) throw e;
      // Enrolment required (staff without a factor) cannot be satisfied here: say what to do.
      if (wanted.code === "mfa_enrolment_required") throw new ApiError(403, { detail: "Add an authenticator app first: your role needs a second factor for this." });
      setNeed({ methods: wanted.methods, retry: action });
    }
  }, []);
  return { need, guard, close: () => setNeed(null) };
}

type Proof = "password" | "code" | "recovery_code";
const PROOFS: Record<string, Proof> = { password: "password", totp: "code", recovery_code: "recovery_code" };

export function StepUpForm({ need, onClose }: { need: StepUpNeed; onClose: () => void }) {
  const offered = need.methods.map((m) => PROOFS[m]).filter(Boolean);
  const [proof, setProof] = useState<Proof>(offered[0] ?? "password");
  const [value, setValue] = useState("");
  const form = useSubmit(["password", "code", "recovery_code"]);
  const titleId = useId();
  const first = useRef<HTMLElement>(null);
  useEffect(() => {
    // The form appears in place of what the person clicked: take the focus there.
    const box = first.current;
    (box?.querySelector("input") ?? box?.querySelector("button"))?.focus();
  }, [proof]);

  const onSubmit = form.submit(async () => {
    const body = proof === "password" ? { password: value } : proof === "code" ? { code: value.trim() } : { recovery_code: value.trim() };
    await must(api.POST("/api/auth/mfa/step-up/", { body }));
    setValue("");
    await need.retry();
    onClose();
  });
  // A passkey as the proof: the options bound to this session, the browser's assertion.
  const viaPasskey = useSubmit(["passkey"]);
  const passkeyOffered = need.methods.includes("webauthn") && webauthnSupported();
  const onPasskey = viaPasskey.submit(async () => {
    const begun = await must(api.POST("/api/auth/mfa/step-up/passkey/"));
    const passkey = await getAssertion(begun.publicKey);
    await must(api.POST("/api/auth/mfa/step-up/", { body: { passkey } }));
    await need.retry();
    onClose();
  });

  const label = proof === "password" ? "Password" : proof === "code" ? "Authenticator code" : "Recovery code";
  return (
    <section className="notice step-up" aria-labelledby={titleId} ref={first}>
      <h2 id={titleId}>Confirm it is you</h2>
      {passkeyOffered && (
        <div className="passkey-step">
          <button className="button" type="button" onClick={(e) => void onPasskey(e)} disabled={viaPasskey.busy}>
            {viaPasskey.busy ? "Waiting for your passkey…" : "Use a passkey"}
          </button>
          <FormMessages messages={[...viaPasskey.messages, ...(viaPasskey.errors.passkey ?? [])]} />
        </div>
      )}
      {offered.length === 0 ? (
        <button className="button ghost" type="button" onClick={onClose}>
          Cancel
        </button>
      ) : (
        <>
          <p>
            {passkeyOffered && "Or: "}
            {proof === "password" ? "Enter your password to continue." : proof === "code" ? "Enter the 6-digit code from your authenticator app to continue." : "Enter one of your recovery codes to continue."}
          </p>
          <form onSubmit={onSubmit} noValidate>
            <Field
              label={label}
              name={proof}
              type={proof === "password" ? "password" : "text"}
              inputMode={proof === "code" ? "numeric" : undefined}
              autoComplete={proof === "password" ? "current-password" : "one-time-code"}
              required
              value={value}
              onChange={(e) => setValue(e.target.value)}
              errors={form.errors}
            />
            <FormMessages messages={form.messages} />
            <div className="inline-form">
              <button className="button" type="submit" disabled={form.busy}>
                {form.busy ? "Checking…" : "Confirm"}
              </button>
              {offered
                .filter((p) => p !== proof)
                .map((p) => (
                  <button key={p} className="button secondary" type="button" onClick={() => { setProof(p); setValue(""); }}>
                    {p === "password" ? "Use your password" : p === "code" ? "Use a code from your app" : "Use a recovery code"}
                  </button>
                ))}
              <button className="button ghost" type="button" onClick={onClose}>
                Cancel
              </button>
            </div>
          </form>
        </>
      )}
    </section>
  );
}

/** A row's inline rename: the API's error on `name` shown at the field. */
function RenameForm({ what, current, save, onDone }: { what: string; current: string; save: (name: string) => Promise<unknown>; onDone: () => void }) {
  const [name, setName] = useState(current);
  const form = useSubmit(["name"]);
  const onSubmit = form.submit(async () => {
    await save(name);
    onDone();
  });
  return (
    <form onSubmit={onSubmit} noValidate className="inline-form">
      <Field label={`New name for ${what} ${current}`} name="name" value={name} onChange={(e) => setName(e.target.value)} errors={form.errors} autoFocus />
      <button className="button" type="submit" disabled={form.busy}>
        Save
      </button>
      <button className="button ghost" type="button" onClick={onDone}>
        Cancel
      </button>
      <FormMessages messages={form.messages} />
    </form>
  );
}

interface Row {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  status?: string;
}

/** Factors or passkeys as a table with rename and remove per row. */
function CredentialTable({ what, rows, rename, remove }: { what: string; rows: Row[]; rename: (id: string, name: string) => Promise<unknown>; remove: (id: string) => Promise<void> }) {
  const [renaming, setRenaming] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function onRemove(id: string) {
    setBusy(true);
    setError(null);
    try {
      await remove(id);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <table className="table">
        <caption className="visually-hidden">{what === "passkey" ? "Passkeys" : "Authenticator apps"}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.id}>
              <td>
                {renaming === row.id ? (
                  <RenameForm what={what} current={row.name} save={(name) => rename(row.id, name)} onDone={() => setRenaming(null)} />
                ) : (
                  <>
                    {row.name} {row.status === "pending" && <span className="pill">not confirmed</span>}
                  </>
                )}
              </td>
              <td>{formatDateTime(row.created_at)}</td>
              <td>{row.last_used_at ? formatDateTime(row.last_used_at) : "never"}</td>
              <td className="actions">
                {renaming !== row.id && (
                  <button type="button" className="button secondary" onClick={() => setRenaming(row.id)} aria-label={`Rename ${what} ${row.name}`}>
                    Rename
                  </button>
                )}{" "}
                <button type="button" className="button danger" disabled={busy} onClick={() => void onRemove(row.id)} aria-label={`Remove ${what} ${row.name}`}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  // Shown at the top of the page whichever form brought them: take the focus (and the eye) there.
  useEffect(() => box.current?.focus(), [codes]);
  return (
    <div className="notice recovery-codes" role="status" tabIndex={-1} ref={box}>
      <h2>Save your recovery codes</h2>
      <p>
        <strong>Save these codes somewhere safe now: they are shown this once.</strong> Each one works once in place of your authenticator app or passkey, if you lose it. Any earlier codes no longer work.
      </p>
      <ul className="codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <button type="button" className="button secondary" onClick={onDone}>
        I have saved them
      </button>
    </div>
  );
}

interface Enrolment {
  factor: Factor;
  secret: string;
  qr_svg: string;
}

type Guard = (action: () => Promise<void>) => Promise<void>;
type FactorList = Awaited<ReturnType<typeof loadFactors>>;
type PasskeyList = Awaited<ReturnType<typeof loadPasskeys>>;
const loadFactors = () => must(api.GET("/api/auth/mfa/factors/"));
const loadPasskeys = () => must(api.GET("/api/auth/passkeys/"));

function AuthenticatorApps({ state, guard, showCodes, changed }: { state: Loaded<FactorList>; guard: Guard; showCodes: (codes: string[]) => void; changed: () => void }) {
  const [name, setName] = useState("");
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [code, setCode] = useState("");
  const add = useSubmit(["name"]);
  const confirm = useSubmit(["code"]);

  const onAdd = add.submit(() =>
    guard(async () => {
      const started = await must(api.POST("/api/auth/mfa/factors/", { body: { name: name.trim() || null } }));
      setEnrolment(started);
      setName("");
      changed();
    }),
  );
  const onConfirm = confirm.submit(async () => {
    if (!enrolment) return;
    const done = await must(api.POST("/api/auth/mfa/factors/{id}/confirm/", { params: { path: { id: enrolment.factor.id } }, body: { code: code.trim() } }));
    setEnrolment(null);
    setCode("");
    if (done.recovery_codes) showCodes(done.recovery_codes);
    changed();
    return `${done.factor.name} is set up: sign-ins now ask for its code.`;
  });

  return (
    <section aria-labelledby="apps-title">
      <h2 id="apps-title">Authenticator apps</h2>
      <Load state={state}>
        {(list) =>
          list.results.length === 0 ? (
            <Empty>No authenticator app yet. Add one and sign-ins will ask for its 6-digit code after your password.</Empty>
          ) : (
            <CredentialTable
              what="authenticator app"
              rows={list.results}
              rename={async (id, newName) => {
                await must(api.PATCH("/api/auth/mfa/factors/{id}/", { params: { path: { id } }, body: { name: newName } }));
                changed();
              }}
              remove={(id) =>
                guard(async () => {
                  await must(api.DELETE("/api/auth/mfa/factors/{id}/", { params: { path: { id } } }));
                  if (enrolment?.factor.id === id) setEnrolment(null);
                  changed();
                })
              }
            />
          )
        }
      </Load>
      {enrolment ? (
        <div className="enrolment">
          <h3>Scan the code with your authenticator app</h3>
          <img className="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`} alt={`QR code to add ${enrolment.factor.name} to an authenticator app`} width={200} height={200} />
          <p>Or enter this key by hand (time-based, 6 digits, 30 seconds):</p>
          <input className="token-key" readOnly value={enrolment.secret} aria-label="Secret key" onFocus={(e) => e.currentTarget.select()} />
          <form onSubmit={onConfirm} noValidate className="inline-form">
            <Field label="Code from the app" name="code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} required value={code} onChange={(e) => setCode(e.target.value)} errors={confirm.errors} />
            <button className="button" type="submit" disabled={confirm.busy}>
              Confirm
            </button>
            <button className="button ghost" type="button" onClick={() => setEnrolment(null)}>
              Cancel
            </button>
          </form>
          <FormMessages messages={confirm.messages} />
        </div>
      ) : (
        <form onSubmit={onAdd} noValidate className="inline-form">
          <Field label="Authenticator app name (optional)" name="name" placeholder="Phone" value={name} onChange={(e) => setName(e.target.value)} errors={add.errors} />
          <button className="button" type="submit" disabled={add.busy}>
            Add an authenticator app
          </button>
        </form>
      )}
      <FormMessages messages={add.messages} success={confirm.success} />
    </section>
  );
}

/** How many recovery codes are left and a new set, once the account has a second factor. */
function Recovery({ factors, passkeys, guard, showCodes, changed }: { factors: FactorList; passkeys: PasskeyList; guard: Guard; showCodes: (codes: string[]) => void; changed: () => void }) {
  const regenerate = useSubmit([]);
  const onRegenerate = regenerate.submit(() =>
    guard(async () => {
      const answer = await must(api.POST("/api/auth/mfa/recovery-codes/"));
      showCodes(answer.recovery_codes);
      changed();
    }),
  );
  // Recovery codes exist while the account has a second factor: an active app or a passkey.
  if (!factors.results.some((f) => f.status === "active") && passkeys.results.length === 0) return null;
  const left = factors.recovery_codes_remaining;
  return (
    <section aria-labelledby="recovery-title">
      <h2 id="recovery-title">Recovery codes</h2>
      <div className="toolbar recovery">
        <p>
          {left} recovery code{left === 1 ? "" : "s"} left.
        </p>
        <form onSubmit={onRegenerate}>
          <button type="submit" className="button secondary" disabled={regenerate.busy}>
            Regenerate recovery codes
          </button>
        </form>
      </div>
      <FormMessages messages={regenerate.messages} />
    </section>
  );
}

function Passkeys({ state, guard, showCodes, changed }: { state: Loaded<PasskeyList>; guard: Guard; showCodes: (codes: string[]) => void; changed: () => void }) {
  const [name, setName] = useState("");
  const add = useSubmit(["name", "credential"]);
  const supported = webauthnSupported();

  const onAdd = add.submit(async () => {
    const result: { added?: Passkey } = {};
    await guard(async () => {
      const begun = await must(api.POST("/api/auth/passkeys/register/begin/"));
      let credential: Credential | null;
      try {
        credential = await navigator.credentials.create({ publicKey: creationOptions(begun.publicKey as Record<string, unknown>) });
      } catch (e) {
        throw new Error(ceremonyMessage(e));
      }
      if (!credential) throw new Error("The browser returned no passkey.");
      const added = await must(api.POST("/api/auth/passkeys/register/finish/", { body: { ...attestationJSON(credential as PublicKeyCredential), name: name.trim() || null } }));
      result.added = added;
      setName("");
      // The account's first second factor brings the recovery codes, shown this once.
      if (added.recovery_codes?.length) showCodes(added.recovery_codes);
      changed();
    });
    // After a step-up the action runs from the step-up form: the list shows the new passkey.
    return result.added ? `Added the passkey “${result.added.name}”.` : null;
  });

  return (
    <section aria-labelledby="passkeys-title">
      <h2 id="passkeys-title">Passkeys</h2>
      <p className="muted">A passkey signs you in without a password, with your device's screen lock or a security key, and is a second factor after your password.</p>
      <Load state={state}>
        {(list) =>
          list.results.length === 0 ? (
            <Empty>No passkeys yet.</Empty>
          ) : (
            <CredentialTable
              what="passkey"
              rows={list.results}
              rename={async (id, newName) => {
                await must(api.PATCH("/api/auth/passkeys/{id}/", { params: { path: { id } }, body: { name: newName } }));
                changed();
              }}
              remove={(id) =>
                guard(async () => {
                  await must(api.DELETE("/api/auth/passkeys/{id}/", { params: { path: { id } } }));
                  changed();
                })
              }
            />
          )
        }
      </Load>
      {supported ? (
        <form onSubmit={onAdd} noValidate className="inline-form">
          <Field label="Passkey name (optional)" name="name" placeholder="Laptop" value={name} onChange={(e) => setName(e.target.value)} errors={add.errors} />
          <button className="button" type="submit" disabled={add.busy}>
            Add a passkey
          </button>
        </form>
      ) : (
        <p className="muted">This browser cannot make passkeys.</p>
      )}
      <FormMessages messages={[...add.messages, ...(add.errors.credential ?? [])]} success={add.success} />
    </section>
  );
}

export function FactorsPage() {
  const stepUp = useStepUp();
  // One version for both lists: a factor or passkey added or removed changes the recovery
  // codes' count and whether there are any.
  const [version, setVersion] = useState(0);
  const changed = useCallback(() => setVersion((v) => v + 1), []);
  const factors = useApi(loadFactors, [version]);
  const passkeys = useApi(loadPasskeys, [version]);
  const [codes, setCodes] = useState<string[] | null>(null);
  return (
    <div className="factors">
      {stepUp.need && <StepUpForm need={stepUp.need} onClose={stepUp.close} />}
      {codes && <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />}
      <AuthenticatorApps state={factors} guard={stepUp.guard} showCodes={setCodes} changed={changed} />
      {factors.data && passkeys.data && <Recovery factors={factors.data} passkeys={passkeys.data} guard={stepUp.guard} showCodes={setCodes} changed={changed} />}
      <Passkeys state={passkeys} guard={stepUp.guard} showCodes={setCodes} changed={changed} />
    </div>
  );
}
