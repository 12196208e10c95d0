// Security, loaded on demand: change the password, second factors and passkeys (factors.tsx),
// sessions and devices (the current one marked, end one, end all others), API tokens (the key shown once at creation, revoke), the
// account's own event log, follow requests to approve or reject, and blocks.
import { useState } from "react";
import { api, ApiError, must } from "../api/client";
import type { Block, CreatedApiToken, Follow, Session, UserCard, UserEvent } from "../api/types";
import { Empty, ErrorState, Field, FormMessages, Load, Loading, PageTitle, Select, useSubmit } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { FactorsPage } from "./factors";
import { PersonRow } from "./profile";

function SecurityNav() {
  return (
    <nav aria-label="Security" className="subnav">
      <Link to="/security">Password</Link>
      <Link to="/security/factors">Second factors</Link>
      <Link to="/security/sessions">Sessions</Link>
      <Link to="/security/tokens">API tokens</Link>
      <Link to="/security/events">My events</Link>
      <Link to="/security/requests">Follow requests</Link>
      <Link to="/security/blocks">Blocks</Link>
    </nav>
  );
}

function PasswordPage() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const form = useSubmit(["current_password", "new_password"]);
  const onSubmit = form.submit(async () => {
    const answer = await must(api.POST("/api/auth/password/change/", { body: { current_password: current, new_password: next } }));
    setCurrent("");
    setNext("");
    const ended = (answer as { other_sessions_ended?: number }).other_sessions_ended ?? 0;
    return `Password changed. ${ended} other session${ended === 1 ? "" : "s"} ended.`;
  });
  return (
    <form onSubmit={onSubmit} noValidate className="narrow">
      <Field label="Current password" name="current_password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} errors={form.errors} />
      <Field label="New password" name="new_password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} errors={form.errors} />
      <FormMessages messages={form.messages} success={form.success} />
      <button className="button" type="submit" disabled={form.busy}>
        Change password
      </button>
    </form>
  );
}

function describeDevice(s: Session): string {
  const d = (s.device_info ?? {}) as Record<string, unknown>;
  const parts = [d.browser, d.os, d.device_type].filter(Boolean).map(String);
  return parts.join(" · ") || s.user_agent || "Unknown device";
}

function SessionsPage() {
  const state = useApi(() => must(api.GET("/api/sessions/", { params: { query: { page_size: 50 } } })), []);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const act = (call: () => Promise<unknown>) => async () => {
    setBusy(true);
    setError(null);
    try {
      await call();
      state.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div>
      <div className="toolbar">
        <button type="button" className="button danger" disabled={busy} onClick={() => void act(() => must(api.DELETE("/api/sessions/")))()}>
          End all other sessions
        </button>
      </div>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <Load state={state}>
        {(page) => {
          const live = (page.results as Session[]).filter((s) => s.is_active);
          if (live.length === 0) return <Empty>No active sessions.</Empty>;
          return (
            <ul className="list">
              {live.map((s) => (
                <li key={s.session_id} className={`list-item${s.is_current ? " current" : ""}`}>
                  <div>
                    <strong>{describeDevice(s)}</strong> {s.is_current && <span className="pill pill-ok">This device</span>}
                    <p className="muted">
                      {s.ip_address ?? "unknown address"} · started {formatDateTime(s.started_at)} · last active {formatDateTime(s.last_activity)}
                    </p>
                  </div>
                  {!s.is_current && (
                    <button type="button" className="button secondary" disabled={busy} onClick={() => void act(() => must(api.DELETE("/api/sessions/{id}/", { params: { path: { id: s.session_id } } })))()} aria-label={`End session on ${describeDevice(s)}`}>
                      End session
                    </button>
                  )}
                </li>
              ))}
            </ul>
          );
        }}
      </Load>
    </div>
  );
}

function TokensPage() {
  const state = useApi(() => must(api.GET("/api/auth/tokens/")), []);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<CreatedApiToken | null>(null);
  const form = useSubmit(["name"]);
  const [error, setError] = useState<string | null>(null);
  const onCreate = form.submit(async () => {
    const token = await must(api.POST("/api/auth/tokens/", { body: { name } }));
    setCreated(token);
    setName("");
    state.reload();
  });
  async function revoke(id: string) {
    setError(null);
    try {
      await must(api.DELETE("/api/auth/tokens/{id}/", { params: { path: { id } } }));
      if (created?.id === id) setCreated(null);
      state.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }
  return (
    <div>
      <form onSubmit={onCreate} noValidate className="inline-form">
        <Field label="New token name" name="name" value={name} onChange={(e) => setName(e.target.value)} errors={form.errors} />
        <button className="button" type="submit" disabled={form.busy}>
          Create token
        </button>
      </form>
      <FormMessages messages={form.messages} />
      {created && (
        <div className="notice" role="status">
          <p>
            Your new token <strong>{created.name}</strong>. Copy it now: it is shown this once. Send it as <code>Authorization: Token &lt;key&gt;</code>.
          </p>
          <input className="token-key" readOnly value={created.key} aria-label="New token key" onFocus={(e) => e.currentTarget.select()} />
        </div>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <Load state={state}>
        {(tokens) => {
          const list = Array.isArray(tokens) ? tokens : ((tokens as { results?: unknown[] }).results ?? []);
          const rows = list as { id: string; name: string; prefix: string; created_at: string; last_used_at: string | null }[];
          return rows.length === 0 ? (
            <Empty>No API tokens.</Empty>
          ) : (
            <table className="table">
              <caption className="visually-hidden">API tokens</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((t) => (
                  <tr key={t.id}>
                    <td>{t.name}</td>
                    <td>
                      <code>{t.prefix}…</code>
                    </td>
                    <td>{formatDateTime(t.created_at)}</td>
                    <td>{t.last_used_at ? formatDateTime(t.last_used_at) : "never"}</td>
                    <td>
                      <button type="button" className="button secondary" onClick={() => void revoke(t.id)} aria-label={`Revoke token ${t.name}`}>
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </Load>
    </div>
  );
}

export function EventTable({ events, children }: { events: UserEvent[]; children?: (e: UserEvent) => React.ReactNode }) {
  return (
    <table className="table">
      <caption className="visually-hidden">Events</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Event</th>
          <th scope="col">Severity</th>
          <th scope="col">Outcome</th>
          <th scope="col">Risk</th>
          <th scope="col">From</th>
          {children && (
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id}>
            <td>{formatDateTime(e.created_at)}</td>
            <td>
              {e.event_type.replace(/_/g, " ")}
              {e.user != null && children && <span className="muted"> · user {e.user}</span>}
              <div className="muted small">{e.description}</div>
            </td>
            <td>
              <span className={`severity severity-${e.severity}`}>{e.severity}</span>
            </td>
            <td>{e.success ? "ok" : "failed"}</td>
            <td>{e.risk_score}</td>
            <td>{e.ip_address ?? "—"}</td>
            {children && <td>{children(e)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EventsPage() {
  const [severity, setSeverity] = useState("");
  const [items, setItems] = useState<UserEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const state = useApi(async () => {
    const page = await must(api.GET("/api/events/", { params: { query: { page_size: 25, ...(severity ? { severity: severity as "low" } : {}) } } }));
    setItems(page.results);
    setCursor(page.next ?? null);
    return page;
  }, [severity]);
  const [more, setMore] = useState(false);
  async function loadMore() {
    if (!cursor) return;
    setMore(true);
    try {
      const page = await must(api.GET("/api/events/", { params: { query: { page_size: 25, cursor, ...(severity ? { severity: severity as "low" } : {}) } } }));
      setItems((old) => [...old, ...page.results]);
      setCursor(page.next ?? null);
    } finally {
      setMore(false);
    }
  }
  return (
    <div>
      <div className="toolbar">
        <Select
          label="Severity"
          name="severity"
          value={severity}
          onChange={(e) => setSeverity(e.target.value)}
          options={[
            ["", "All"],
            ["low", "Low"],
            ["medium", "Medium"],
            ["high", "High"],
            ["critical", "Critical"],
          ]}
        />
      </div>
      {state.error ? (
        <ErrorState error={state.error} retry={state.reload} />
      ) : state.loading ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty>No events.</Empty>
      ) : (
        <>
          <EventTable events={items} />
          {cursor && (
            <button type="button" className="button secondary" disabled={more} onClick={() => void loadMore()}>
              Load more
            </button>
          )}
        </>
      )}
    </div>
  );
}

function RequestsPage() {
  const state = useApi(() => must(api.GET("/api/follows/", { params: { query: { status: "pending", page_size: 100 } } })), []);
  const [error, setError] = useState<string | null>(null);
  async function answer(id: string, approve: boolean) {
    setError(null);
    try {
      if (approve) await must(api.POST("/api/follows/{id}/approve/", { params: { path: { id } } }));
      else await must(api.POST("/api/follows/{id}/reject/", { params: { path: { id } } }));
      state.reload();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }
  return (
    <div>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <Load state={state}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>No follow requests.</Empty>
          ) : (
            <ul className="people">
              {(page.results as Follow[]).map((f) =>
                f.user ? (
                  <PersonRow key={f.id} card={f.user as UserCard}>
                    <button type="button" className="button" onClick={() => void answer(f.id, true)} aria-label={`Approve @${(f.user as UserCard).username}`}>
                      Approve
                    </button>
                    <button type="button" className="button secondary" onClick={() => void answer(f.id, false)} aria-label={`Reject @${(f.user as UserCard).username}`}>
                      Reject
                    </button>
                  </PersonRow>
                ) : null,
              )}
            </ul>
          )
        }
      </Load>
    </div>
  );
}

function BlocksPage() {
  const state = useApi(() => must(api.GET("/api/blocks/", { params: { query: { page_size: 100 } } })), []);
  const [error, setError] = useState<string | null>(null);
  async function unblock(id: string) {
    setError(null);
    try {
      await must(api.DELETE("/api/blocks/{id}/", { params: { path: { id } } }));
      state.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }
  return (
    <div>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <Load state={state}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>You have not blocked anyone.</Empty>
          ) : (
            <ul className="people">
              {(page.results as Block[]).map((b) =>
                b.user ? (
                  <PersonRow key={b.id} card={b.user as UserCard}>
                    {b.reason && <span className="muted">{b.reason}</span>}
                    <button type="button" className="button secondary" onClick={() => void unblock(b.id)} aria-label={`Unblock @${(b.user as UserCard).username}`}>
                      Unblock
                    </button>
                  </PersonRow>
                ) : null,
              )}
            </ul>
          )
        }
      </Load>
    </div>
  );
}

const TITLES = { password: "Change password", factors: "Second factors and passkeys", sessions: "Sessions and devices", tokens: "API tokens", events: "My events", requests: "Follow requests", blocks: "Blocks" } as const;

export default function Security({ page }: { page: keyof typeof TITLES }) {
  return (
    <div>
      <SecurityNav />
      <PageTitle>{TITLES[page]}</PageTitle>
      {page === "password" && <PasswordPage />}
      {page === "factors" && <FactorsPage />}
      {page === "sessions" && <SessionsPage />}
      {page === "tokens" && <TokensPage />}
      {page === "events" && <EventsPage />}
      {page === "requests" && <RequestsPage />}
      {page === "blocks" && <BlocksPage />}
    </div>
  );
}
