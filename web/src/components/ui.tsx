// The console's building blocks: loading, empty and error states, form fields that show the
// API's field errors at the field (label, aria-invalid, aria-describedby), and a form hook that
// turns an ApiError into those errors.
import { useCallback, useId, useState, type FormEvent, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";
import { ApiError } from "../api/client";
import type { Loaded } from "../lib/useApi";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: ApiError | Error; retry?: () => void }) {
  const message = error instanceof ApiError && error.status === 404 ? "Not found." : error.message;
  return (
    <div className="state state-error" role="alert">
      <p>{message}</p>
      {retry && (
        <button type="button" className="button secondary" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

/** Loading, then error, then the children with the data (empty handled by the caller). */
export function Load<T>({ state, children, label }: { state: Loaded<T>; children: (data: T) => ReactNode; label?: string }) {
  if (state.error) return <ErrorState error={state.error} retry={state.reload} />;
  if (state.data === undefined) return <Loading label={label} />;
  return <>{children(state.data)}</>;
}

export type FieldErrors = Record<string, string[]>;

function FieldShell({ label, name, errors, hint, children }: { label: string; name: string; errors?: FieldErrors; hint?: string; children: (ids: { id: string; describedBy?: string; invalid: boolean }) => ReactNode }) {
  const id = useId();
  const list = errors?.[name] ?? [];
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [list.length ? errorId : "", hint ? hintId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${list.length ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, describedBy, invalid: list.length > 0 })}
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      {list.length > 0 && (
        <p className="field-error" id={errorId}>
          {list.join(" ")}
        </p>
      )}
    </div>
  );
}

type InputProps = { label: string; name: string; errors?: FieldErrors; hint?: string } & InputHTMLAttributes<HTMLInputElement>;

export function Field({ label, name, errors, hint, ...input }: InputProps) {
  return (
    <FieldShell label={label} name={name} errors={errors} hint={hint}>
      {({ id, describedBy, invalid }) => <input id={id} name={name} aria-invalid={invalid || undefined} aria-describedby={describedBy} {...input} />}
    </FieldShell>
  );
}

export function TextArea({ label, name, errors, hint, ...input }: { label: string; name: string; errors?: FieldErrors; hint?: string } & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return (
    <FieldShell label={label} name={name} errors={errors} hint={hint}>
      {({ id, describedBy, invalid }) => <textarea id={id} name={name} aria-invalid={invalid || undefined} aria-describedby={describedBy} {...input} />}
    </FieldShell>
  );
}

export function Select({ label, name, errors, hint, options, ...input }: { label: string; name: string; errors?: FieldErrors; hint?: string; options: readonly (string | [string, string])[] } & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <FieldShell label={label} name={name} errors={errors} hint={hint}>
      {({ id, describedBy, invalid }) => (
        <select id={id} name={name} aria-invalid={invalid || undefined} aria-describedby={describedBy} {...input}>
          {options.map((option) => {
            const [value, text] = typeof option === "string" ? [option, option] : option;
            return (
              <option key={value} value={value}>
                {text}
              </option>
            );
          })}
        </select>
      )}
    </FieldShell>
  );
}

export function Checkbox({ label, name, errors, ...input }: { label: string; name: string; errors?: FieldErrors } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const list = errors?.[name] ?? [];
  return (
    <div className="field field-check">
      <input type="checkbox" id={id} name={name} aria-invalid={list.length > 0 || undefined} aria-describedby={list.length ? `${id}-error` : undefined} {...input} />
      <label htmlFor={id}>{label}</label>
      {list.length > 0 && (
        <p className="field-error" id={`${id}-error`}>
          {list.join(" ")}
        </p>
      )}
    </div>
  );
}

/** Messages that belong to no shown field (the API's `detail`, unknown fields). */
export function FormMessages({ messages, success }: { messages: string[]; success?: string | null }) {
  return (
    <>
      {messages.length > 0 && (
        <div className="form-errors" role="alert">
          {messages.map((m) => (
            <p key={m}>{m}</p>
          ))}
        </div>
      )}
      {success && (
        <p className="form-success" role="status">
          {success}
        </p>
      )}
    </>
  );
}

/**
 * A form's submission: `busy` while the request runs, the field errors of an ApiError kept by
 * field name, and messages for what no field shows. `fields` are the names the form shows.
 */
export function useSubmit(fields: readonly string[]) {
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [messages, setMessages] = useState<string[]>([]);
  const [success, setSuccess] = useState<string | null>(null);

  const submit = useCallback(
    (action: () => Promise<string | null | void>) => async (event?: FormEvent) => {
      event?.preventDefault();
      setBusy(true);
      setErrors({});
      setMessages([]);
      setSuccess(null);
      try {
        const done = await action();
        if (done) setSuccess(done);
      } catch (e) {
        if (e instanceof ApiError) {
          setErrors(e.fields);
          setMessages(e.otherMessages(fields));
        } else {
          setMessages([e instanceof Error ? e.message : String(e)]);
        }
      } finally {
        setBusy(false);
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [fields.join(",")],
  );
  return { busy, errors, messages, success, submit, setSuccess, setMessages };
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-title">
      <h1>{children}</h1>
      {actions && <div className="actions">{actions}</div>}
    </div>
  );
}
