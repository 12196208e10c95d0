// Staff pages, loaded on demand: the seed's badge analytics dashboard (totals, by category,
// rarity distribution, the 10 most earned, the 20 most recent awards), badge definitions
// (create and edit with a structured criteria editor whose inputs are named by the API's error
// paths, so `criteria.requirements[1].operator` shows at that operator), the event review
// queue, users (search, role, suspend and unsuspend) and task runs with the daily reports.
import { useState } from "react";
import { api, ApiError, must } from "../api/client";
import type { Badge, TaskRun, UserEvent } from "../api/types";
import { BadgeIcon, describeCriteria } from "../components/badges";
import { BarChart, LineChart } from "../components/charts";
import { Checkbox, Empty, ErrorState, Field, FormMessages, Load, Loading, PageTitle, Select, TextArea, useSubmit, type FieldErrors } from "../components/ui";
import { formatDateTime, formatNumber } from "../lib/format";
import { Link, useRoute } from "../lib/router";
import { isAdmin, useSession } from "../lib/session";
import { useApi } from "../lib/useApi";
import { EventTable } from "./security";

function Stat({ label, value }: { label: string; value: number }) {
  return (
    <div className="stat">
      <span className="stat-value">{formatNumber(value)}</span>
      <span className="stat-label">{label}</span>
    </div>
  );
}

function AnalyticsPage() {
  const state = useApi(() => must(api.GET("/api/badges/analytics/")), []);
  return (
    <div>
      <PageTitle>Badge analytics</PageTitle>
      <Load state={state}>
        {(a) => (
          <>
            <div className="stats">
              <Stat label="Badges defined" value={a.total_badges_defined} />
              <Stat label="Active badges" value={a.active_badges} />
              <Stat label="Awards" value={a.total_awards} />
              <Stat label="Badge holders" value={a.unique_badge_holders} />
            </div>
            <div className="charts">
              <BarChart title="Badges by category" data={a.badges_by_category.map((c) => ({ label: c.category, value: c.count }))} />
              <BarChart title="Rarity distribution" data={a.rarity_distribution.map((r) => ({ label: r.rarity, value: r.count }))} />
              <BarChart title="Most earned badges" valueLabel="Awards" data={a.popular_badges.slice(0, 10).map((p) => ({ label: p.name, value: p.earned_count }))} />
            </div>
            <section aria-labelledby="recent-heading">
              <h2 id="recent-heading">Recent awards</h2>
              {a.recent_awards.length === 0 ? (
                <Empty>No awards yet.</Empty>
              ) : (
                <table className="table">
                  <caption className="visually-hidden">The 20 most recent awards</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">User</th>
                      <th scope="col">Badge</th>
                      <th scope="col">Points</th>
                      <th scope="col">By</th>
                    </tr>
                  </thead>
                  <tbody>
                    {a.recent_awards.slice(0, 20).map((r) => (
                      <tr key={`${r.id}-${r.earned_at}`}>
                        <td>{formatDateTime(r.earned_at)}</td>
                        <td>{r.user.username ? <Link to={`/u/${r.user.username}`}>@{r.user.username}</Link> : `#${r.user.id}`}</td>
                        <td>{r.badge.name ?? `#${r.badge.id}`}</td>
                        <td>{formatNumber(r.points)}</td>
                        <td>{r.awarded_by}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </>
        )}
      </Load>
    </div>
  );
}

function DefinitionsPage() {
  const state = useApi(() => must(api.GET("/api/badges/", { params: { query: { page_size: 100 } } })), []);
  return (
    <div>
      <PageTitle
        actions={
          <Link className="button" to="/staff/badges/new">
            New badge
          </Link>
        }
      >
        Badge definitions
      </PageTitle>
      <Load state={state}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>No badges defined. Create one, or run accounts-admin install-badges for the seed's catalogue.</Empty>
          ) : (
            <table className="table">
              <caption className="visually-hidden">Badge definitions</caption>
              <thead>
                <tr>
                  <th scope="col">Badge</th>
                  <th scope="col">Category</th>
                  <th scope="col">Rarity</th>
                  <th scope="col">Points</th>
                  <th scope="col">Criteria</th>
                  <th scope="col">Earned</th>
                  <th scope="col">Active</th>
                </tr>
              </thead>
              <tbody>
                {(page.results as Badge[]).map((b) => (
                  <tr key={b.id}>
                    <td className="cell-user">
                      <BadgeIcon badge={b} size={24} /> <Link to={`/staff/badges/${b.id}`}>{b.name}</Link>
                    </td>
                    <td>{b.category}</td>
                    <td>
                      <span className={`rarity rarity-${b.rarity}`}>{b.rarity}</span>
                    </td>
                    <td>{formatNumber(b.points)}</td>
                    <td>{describeCriteria(b.criteria)}</td>
                    <td>{formatNumber(b.earned_count)}</td>
                    <td>{b.is_active ? "yes" : "no"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Load>
    </div>
  );
}

export const COUNTER_FIELDS = ["posts_count", "follower_count", "following_count", "engagement_score", "content_quality_score", "interaction_frequency", "badge_points", "comments_count", "likes_given", "likes_received", "shares_count", "reviews_count", "bug_reports_verified", "helpful_votes_received", "max_post_likes", "badges_count", "user_id", "is_staff"];
const ACTIONS = ["login", "post", "comment", "like"];
const OPERATORS = [">=", "<=", "==", ">", "<", "!="];
const INTERACTIONS = ["like", "comment", "share", "review", "helpful_vote", "follow"];
const EVENT_TYPES = ["post_create", "comment_create", "like_given", "share", "review_create", "helpful_vote", "bug_report_verified"];
const BAND: Record<string, number> = { common: 10, rare: 50, epic: 150, legendary: 500 };

export type Criteria = Record<string, unknown> & { type: string };

export function defaultCriteria(type: string): Criteria {
  switch (type) {
    case "consecutive_days":
      return { type, action: "login", days: 7 };
    case "multi_criteria":
      return { type, logic: "AND", requirements: [{ field: "posts_count", operator: ">=", value: 10 }] };
    case "event_based":
      return { type, event_type: "review_create", count: 5 };
    case "social_interaction":
      return { type, interactions: ["like", "comment"], min_count: 10, timeframe: "all_time" };
    default:
      return { type: "counter", field: "posts_count", threshold: 1 };
  }
}

/**
 * The criteria document as inputs, each named by its path in the API's errors
 * (`criteria.threshold`, `criteria.requirements[1].operator`); errors on paths no input shows
 * (`criteria.extra`) are listed under the editor.
 */
export function CriteriaEditor({ value, onChange, errors }: { value: Criteria; onChange: (c: Criteria) => void; errors: FieldErrors }) {
  const set = (key: string, v: unknown) => onChange({ ...value, [key]: v });
  const num = (key: string) => ({
    name: `criteria.${key}`,
    type: "number",
    value: value[key] == null ? "" : String(value[key]),
    errors,
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => set(key, e.target.value === "" ? undefined : Number(e.target.value)),
  });
  const choice = (key: string, options: readonly (string | [string, string])[]) => ({
    name: `criteria.${key}`,
    value: String(value[key] ?? ""),
    options,
    errors,
    onChange: (e: React.ChangeEvent<HTMLSelectElement>) => set(key, e.target.value),
  });
  const requirements = (Array.isArray(value.requirements) ? value.requirements : []) as { field: string; operator: string; value: number }[];
  const setRequirement = (i: number, patch: Partial<{ field: string; operator: string; value: number }>) => set("requirements", requirements.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const shown = new Set<string>(["criteria.type", "criteria.description", "criteria.field", "criteria.threshold", "criteria.action", "criteria.days", "criteria.logic", "criteria.requirements", "criteria.event_type", "criteria.count", "criteria.quality_threshold", "criteria.interactions", "criteria.min_count", "criteria.timeframe", "criteria"]);
  requirements.forEach((_, i) => ["field", "operator", "value"].forEach((k) => shown.add(`criteria.requirements[${i}].${k}`)));
  const rest = Object.entries(errors).filter(([k]) => k.startsWith("criteria") && !shown.has(k));
  const interactions = Array.isArray(value.interactions) ? (value.interactions as string[]) : [];

  return (
    <fieldset className="criteria-editor">
      <legend>Criteria</legend>
      {errors.criteria && (
        <p className="field-error" role="alert">
          {errors.criteria.join(" ")}
        </p>
      )}
      <Select label="Type" name="criteria.type" value={value.type} errors={errors} options={["counter", "consecutive_days", "multi_criteria", "event_based", "social_interaction"]} onChange={(e) => onChange(defaultCriteria(e.target.value))} />
      {value.type === "counter" && (
        <div className="row">
          <Select label="Counter" {...choice("field", COUNTER_FIELDS)} />
          <Field label="Threshold" min={1} {...num("threshold")} />
        </div>
      )}
      {value.type === "consecutive_days" && (
        <div className="row">
          <Select label="Daily action" {...choice("action", ACTIONS)} />
          <Field label="Days in a row" min={1} {...num("days")} />
        </div>
      )}
      {value.type === "multi_criteria" && (
        <>
          <Select label="Logic" {...choice("logic", [["AND", "All of them (AND)"], ["OR", "Any of them (OR)"]])} />
          {errors["criteria.requirements"] && <p className="field-error">{errors["criteria.requirements"].join(" ")}</p>}
          {requirements.map((r, i) => (
            <div className="row requirement" key={i} role="group" aria-label={`Requirement ${i + 1}`}>
              <Select label={`Requirement ${i + 1} counter`} name={`criteria.requirements[${i}].field`} value={r.field} errors={errors} options={COUNTER_FIELDS} onChange={(e) => setRequirement(i, { field: e.target.value })} />
              <Select label={`Requirement ${i + 1} operator`} name={`criteria.requirements[${i}].operator`} value={r.operator} errors={errors} options={OPERATORS} onChange={(e) => setRequirement(i, { operator: e.target.value })} />
              <Field label={`Requirement ${i + 1} value`} name={`criteria.requirements[${i}].value`} type="number" value={String(r.value ?? "")} errors={errors} onChange={(e) => setRequirement(i, { value: Number(e.target.value) })} />
              <button type="button" className="button ghost" onClick={() => set("requirements", requirements.filter((_, j) => j !== i))} aria-label={`Remove requirement ${i + 1}`}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" className="button secondary" onClick={() => set("requirements", [...requirements, { field: "follower_count", operator: ">=", value: 1 }])}>
            Add requirement
          </button>
        </>
      )}
      {value.type === "event_based" && (
        <div className="row">
          <Field label="Event type" name="criteria.event_type" list="event-types" value={String(value.event_type ?? "")} errors={errors} onChange={(e) => set("event_type", e.target.value)} />
          <datalist id="event-types">
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
          <Field label="Count" min={1} {...num("count")} />
          <Field label="Quality at least (optional, 0–5)" step={0.5} min={0} max={5} {...num("quality_threshold")} />
        </div>
      )}
      {value.type === "social_interaction" && (
        <>
          <fieldset className="checks">
            <legend>Interactions</legend>
            {INTERACTIONS.map((i) => (
              <Checkbox key={i} label={i.replace("_", " ")} name={`interaction-${i}`} checked={interactions.includes(i)} onChange={(e) => set("interactions", e.target.checked ? [...interactions, i] : interactions.filter((x) => x !== i))} />
            ))}
            {errors["criteria.interactions"] && <p className="field-error">{errors["criteria.interactions"].join(" ")}</p>}
          </fieldset>
          <div className="row">
            <Field label="At least" min={1} {...num("min_count")} />
            <Select label="Within" {...choice("timeframe", [["all_time", "All time"], ["30d", "30 days"], ["7d", "7 days"]])} />
          </div>
        </>
      )}
      <Field label="Criteria description (optional)" name="criteria.description" value={String(value.description ?? "")} errors={errors} onChange={(e) => set("description", e.target.value || undefined)} />
      {rest.length > 0 && (
        <div className="field-error" role="alert">
          {rest.map(([k, list]) => (
            <p key={k}>
              {k}: {list.join(" ")}
            </p>
          ))}
        </div>
      )}
    </fieldset>
  );
}

type DefinitionForm = { name: string; description: string; category: string; icon: string; color: string; image: string; rarity: string; points: number; is_active: boolean; criteria: Criteria };

const EMPTY_DEFINITION: DefinitionForm = { name: "", description: "", category: "achievement", icon: "star", color: "#3B5BDB", image: "", rarity: "common", points: 10, is_active: true, criteria: defaultCriteria("counter") };

export function DefinitionEditor({ initial, id, onSaved }: { initial: DefinitionForm; id?: number; onSaved: (b: Badge) => void }) {
  const [values, setValues] = useState(initial);
  const form = useSubmit(["name", "description", "category", "icon", "color", "image", "rarity", "points", "is_active", "criteria"]);
  const bind = (name: "name" | "description" | "icon" | "color" | "image") => ({ name, value: values[name], errors: form.errors, onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => setValues((v) => ({ ...v, [name]: e.target.value })) });
  const criteriaErrors = Object.fromEntries(Object.entries(form.errors).filter(([k]) => k === "criteria" || k.startsWith("criteria.")));

  const onSubmit = form.submit(async () => {
    const body = { ...values, image: values.image.trim() === "" ? null : values.image, criteria: Object.fromEntries(Object.entries(values.criteria).filter(([, v]) => v !== undefined)) };
    const saved = id ? await must(api.PUT("/api/badges/{id}/", { params: { path: { id } }, body: body as never })) : await must(api.POST("/api/badges/", { body: body as never }));
    onSaved(saved as Badge);
    return id ? "Badge saved." : "Badge created.";
  });

  return (
    <form onSubmit={onSubmit} noValidate>
      <div className="row">
        <Field label="Name" required {...bind("name")} />
        <Select label="Category" name="category" value={values.category} errors={form.errors} options={["achievement", "activity", "special"]} onChange={(e) => setValues((v) => ({ ...v, category: e.target.value }))} />
      </div>
      <TextArea label="Description" rows={2} required {...bind("description")} />
      <div className="row">
        <Field label="Icon" {...bind("icon")} />
        <Field label="Colour (#RRGGBB)" {...bind("color")} />
        <Field label="Image URL (optional)" type="url" {...bind("image")} />
      </div>
      <div className="row">
        <Select label="Rarity" name="rarity" value={values.rarity} errors={form.errors} options={["common", "rare", "epic", "legendary"]} hint="Points: common 10–25, rare 50–100, epic 150–300, legendary 500+." onChange={(e) => setValues((v) => ({ ...v, rarity: e.target.value, points: BAND[e.target.value] ?? v.points }))} />
        <Field label="Points" name="points" type="number" value={String(values.points)} errors={form.errors} onChange={(e) => setValues((v) => ({ ...v, points: Number(e.target.value) }))} />
      </div>
      <Checkbox label="Active (can be earned)" name="is_active" checked={values.is_active} errors={form.errors} onChange={(e) => setValues((v) => ({ ...v, is_active: e.target.checked }))} />
      <CriteriaEditor value={values.criteria} errors={criteriaErrors} onChange={(criteria) => setValues((v) => ({ ...v, criteria }))} />
      <FormMessages messages={form.messages.filter((m) => !m.startsWith("criteria"))} success={form.success} />
      <button className="button" type="submit" disabled={form.busy}>
        {id ? "Save badge" : "Create badge"}
      </button>
    </form>
  );
}

function DefinitionPage({ id }: { id?: number }) {
  const { navigate } = useRoute();
  const state = useApi(async () => {
    if (!id) return EMPTY_DEFINITION;
    const b = (await must(api.GET("/api/badges/{id}/", { params: { path: { id } } }))) as Badge;
    return { name: b.name, description: b.description, category: b.category, icon: b.icon, color: b.color, image: b.image ?? "", rarity: b.rarity, points: b.points, is_active: b.is_active, criteria: b.criteria as Criteria };
  }, [id]);
  return (
    <div>
      <PageTitle>{id ? "Edit badge" : "New badge"}</PageTitle>
      <p>
        <Link to="/staff/badges">All definitions</Link>
      </p>
      <Load state={state}>{(initial) => <DefinitionEditor initial={initial} id={id} onSaved={(b) => !id && navigate(`/staff/badges/${b.id}`)} />}</Load>
    </div>
  );
}

function ReviewPage() {
  const state = useApi(() => must(api.GET("/api/events/", { params: { query: { requires_review: "true", page_size: 50 } } })), []);
  const [error, setError] = useState<string | null>(null);
  async function review(event: UserEvent) {
    setError(null);
    try {
      await must(api.POST("/api/events/{id}/review/", { params: { path: { id: event.id } }, body: { notes: "Reviewed in the console" } }));
      state.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }
  return (
    <div>
      <PageTitle>Event review queue</PageTitle>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <Load state={state}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>Nothing waits for review.</Empty>
          ) : (
            <EventTable events={page.results}>
              {(e) => (
                <button type="button" className="button secondary" onClick={() => void review(e)} aria-label={`Mark reviewed: ${e.event_type} of user ${e.user ?? ""}`}>
                  Mark reviewed
                </button>
              )}
            </EventTable>
          )
        }
      </Load>
    </div>
  );
}

const ROLES = ["normal", "professional", "data_provider", "moderator", "admin", "owner"];

type ListedUser = { id: number; username: string; email?: string; role?: string; is_verified?: boolean; is_suspended?: boolean; display_name?: string };

function UserRow({ user, admin, onChange }: { user: ListedUser; admin: boolean; onChange: () => void }) {
  const [reason, setReason] = useState("");
  const [suspending, setSuspending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (call: () => Promise<unknown>) => {
    setError(null);
    try {
      await call();
      setSuspending(false);
      onChange();
    } catch (e) {
      setError(e instanceof ApiError ? Object.values(e.fields).flat()[0] ?? e.message : String(e));
    }
  };
  return (
    <tr>
      <td>
        <Link to={`/u/${user.username}`}>@{user.username}</Link>
        <div className="muted small">{user.email}</div>
      </td>
      <td>
        {admin ? (
          <>
            <label className="visually-hidden" htmlFor={`role-${user.id}`}>
              Role of @{user.username}
            </label>
            <select id={`role-${user.id}`} value={user.role} onChange={(e) => void act(() => must(api.PATCH("/api/users/{id}/", { params: { path: { id: user.id } }, body: { role: e.target.value } as never })))}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </>
        ) : (
          user.role
        )}
      </td>
      <td>{user.is_verified ? "yes" : "no"}</td>
      <td>
        {user.is_suspended ? (
          <button type="button" className="button secondary" onClick={() => void act(() => must(api.POST("/api/users/{id}/unsuspend/", { params: { path: { id: user.id } } })))}>
            Unsuspend
          </button>
        ) : suspending ? (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act(() => must(api.POST("/api/users/{id}/suspend/", { params: { path: { id: user.id } }, body: { reason } })));
            }}
          >
            <label className="visually-hidden" htmlFor={`reason-${user.id}`}>
              Reason for suspending @{user.username}
            </label>
            <input id={`reason-${user.id}`} placeholder="Reason" value={reason} onChange={(e) => setReason(e.target.value)} />
            <button type="submit" className="button danger">
              Suspend
            </button>
            <button type="button" className="button ghost" onClick={() => setSuspending(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <button type="button" className="button secondary" onClick={() => setSuspending(true)} aria-label={`Suspend @${user.username}`}>
            Suspend
          </button>
        )}
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
      </td>
    </tr>
  );
}

function UsersPage() {
  const { user: me } = useSession();
  const admin = isAdmin(me);
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [role, setRole] = useState("");
  const state = useApi(() => must(api.GET("/api/users/", { params: { query: { page_size: 50, ...(query ? { search: query } : {}), ...(role && admin ? { role: role as "normal" } : {}) } } })), [query, role, admin]);
  return (
    <div>
      <PageTitle>Users</PageTitle>
      <form
        role="search"
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(search.trim());
        }}
      >
        <label htmlFor="user-search">Username starts with</label>
        <input id="user-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        {admin && (
          <>
            <label htmlFor="role-filter">Role</label>
            <select id="role-filter" value={role} onChange={(e) => setRole(e.target.value)}>
              <option value="">Any</option>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </>
        )}
        <button className="button" type="submit">
          Search
        </button>
      </form>
      <Load state={state}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>No users match.</Empty>
          ) : (
            <table className="table">
              <caption className="visually-hidden">Users</caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">Verified</th>
                  <th scope="col">Suspension</th>
                </tr>
              </thead>
              <tbody>
                {(page.results as ListedUser[]).map((u) => (
                  <UserRow key={u.id} user={u} admin={admin && u.id !== me?.id} onChange={state.reload} />
                ))}
              </tbody>
            </table>
          )
        }
      </Load>
    </div>
  );
}

type Report = { date: string; new_users?: number; logins?: number; follows?: number; badges_awarded?: number; active_users?: number };

function TasksPage() {
  const runs = useApi(() => must(api.GET("/api/tasks/runs/", { params: { query: { page_size: 50 } } })), []);
  const reports = useApi(() => must(api.GET("/api/reports/", { params: { query: { page_size: 30 } } })), []);
  const reportList = (): Report[] => {
    const data = reports.data as { results?: Report[] } | Report | undefined;
    if (!data) return [];
    const list = "results" in data && Array.isArray(data.results) ? data.results : [data as Report];
    return [...list].sort((a, b) => a.date.localeCompare(b.date));
  };
  return (
    <div>
      <PageTitle>Tasks and reports</PageTitle>
      <section aria-labelledby="reports-heading">
        <h2 id="reports-heading">Daily reports</h2>
        {reports.error ? (
          <ErrorState error={reports.error} retry={reports.reload} />
        ) : reports.loading ? (
          <Loading />
        ) : (
          (() => {
            const list = reportList();
            return (
              <LineChart
                title="Activity per day"
                days={list.map((r) => r.date)}
                series={[
                  { name: "New users", values: list.map((r) => r.new_users ?? 0) },
                  { name: "Active users", values: list.map((r) => r.active_users ?? 0) },
                  { name: "Logins", values: list.map((r) => r.logins ?? 0) },
                  { name: "Badges awarded", values: list.map((r) => r.badges_awarded ?? 0) },
                ]}
              />
            );
          })()
        )}
      </section>
      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Task runs</h2>
        <Load state={runs}>
          {(page) =>
            page.results.length === 0 ? (
              <Empty>No task has run yet.</Empty>
            ) : (
              <table className="table">
                <caption className="visually-hidden">Task runs, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Task</th>
                    <th scope="col">Status</th>
                    <th scope="col">Started</th>
                    <th scope="col">Took</th>
                    <th scope="col">Read</th>
                    <th scope="col">Written</th>
                    <th scope="col">Fixed</th>
                  </tr>
                </thead>
                <tbody>
                  {(page.results as TaskRun[]).map((r) => (
                    <tr key={r.run_id}>
                      <td>{r.task}</td>
                      <td>
                        <span className={`status status-${r.status}`}>{r.status}</span>
                        {r.error && <div className="muted small">{r.error}</div>}
                      </td>
                      <td>{formatDateTime(r.started_at)}</td>
                      <td>{formatNumber(r.duration_ms)} ms</td>
                      <td>{formatNumber(r.items_read)}</td>
                      <td>{formatNumber(r.items_written)}</td>
                      <td>{formatNumber(r.items_fixed)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Load>
      </section>
    </div>
  );
}

export default function Staff({ page, id }: { page: "analytics" | "definitions" | "definition" | "review" | "users" | "tasks"; id?: number }) {
  const { user } = useSession();
  const admin = isAdmin(user);
  if (!admin && (page === "analytics" || page === "definitions" || page === "definition" || page === "tasks")) return <ReviewPage />;
  switch (page) {
    case "analytics":
      return <AnalyticsPage />;
    case "definitions":
      return <DefinitionsPage />;
    case "definition":
      return <DefinitionPage id={id} />;
    case "review":
      return <ReviewPage />;
    case "users":
      return <UsersPage />;
    case "tasks":
      return <TasksPage />;
  }
}
