// My badges: the badges held (choose up to 6 to feature, share each), the seed's
// BadgeProgressCard for every active badge not held yet (from /api/users/{id}/badge-progress/),
// and the leaderboard, all time or the last 30 days.
import { useState } from "react";
import { api, must } from "../api/client";
import type { UserBadge } from "../api/types";
import { BadgeCard, BadgeProgressCard } from "../components/badges";
import { useCelebrations } from "../components/celebration";
import { ShareButton, badgeUrl } from "../components/share";
import { Empty, Load, PageTitle } from "../components/ui";
import { formatNumber } from "../lib/format";
import { Link } from "../lib/router";
import { useSession } from "../lib/session";
import { useApi } from "../lib/useApi";
import { Avatar } from "./profile";

const MAX_FEATURED = 6;

function FeatureToggle({ badge, featuredCount, onChange }: { badge: UserBadge; featuredCount: number; onChange: (b: UserBadge) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const full = !badge.is_featured && featuredCount >= MAX_FEATURED;
  async function toggle() {
    setBusy(true);
    setError(null);
    try {
      const updated = await must(api.PATCH("/api/user-badges/{id}/", { params: { path: { id: badge.id } }, body: { is_featured: !badge.is_featured } }));
      onChange(updated as unknown as UserBadge);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }
  const id = `feature-${badge.id}`;
  return (
    <div className="feature-toggle">
      <input type="checkbox" id={id} checked={badge.is_featured} disabled={busy} onChange={() => void toggle()} aria-describedby={full ? `${id}-full` : undefined} />
      <label htmlFor={id}>Featured on my profile</label>
      {full && (
        <span id={`${id}-full`} className="hint">
          {" "}
          (6 already featured)
        </span>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function EarnedBadges({ userId, username }: { userId: number; username: string }) {
  const state = useApi(() => must(api.GET("/api/user-badges/", { params: { query: { user: userId, page_size: 100 } } })), [userId]);
  return (
    <section aria-labelledby="earned-heading">
      <h2 id="earned-heading">Earned</h2>
      <Load state={state}>
        {(page) => {
          const list = page.results as unknown as UserBadge[];
          const featured = list.filter((b) => b.is_featured).length;
          if (list.length === 0) return <Empty>No badges yet: the progress below shows what is closest.</Empty>;
          return (
            <>
              <p className="muted">
                {formatNumber(page.count)} {page.count === 1 ? "badge" : "badges"} · {featured} of{" "}
                {MAX_FEATURED} featured
              </p>
              <div className="badge-grid">
                {list.map((b) => (
                  <BadgeCard key={b.id} badge={b.badge} earnedAt={b.earned_at} featured={b.is_featured}>
                    <FeatureToggle badge={b} featuredCount={featured} onChange={(updated) => state.set({ ...page, results: list.map((x) => (x.id === updated.id ? updated : x)) as never })} />
                    <ShareButton url={badgeUrl(username, b.badge.id)} title={b.badge.name} text={`I earned the ${b.badge.name} badge`} />
                  </BadgeCard>
                ))}
              </div>
            </>
          );
        }}
      </Load>
    </section>
  );
}

function ProgressList({ userId }: { userId: number }) {
  const state = useApi(() => must(api.GET("/api/users/{id}/badge-progress/", { params: { path: { id: userId } } })), [userId]);
  return (
    <section aria-labelledby="progress-heading">
      <h2 id="progress-heading">In progress</h2>
      <Load state={state}>
        {(data) =>
          data.eligible_badges.length === 0 ? (
            <Empty>You hold every active badge.</Empty>
          ) : (
            <div className="badge-grid">
              {[...data.eligible_badges]
                .sort((a, b) => b.progress - a.progress)
                .map((p) => (
                  <BadgeProgressCard key={p.badge.id} progress={p} />
                ))}
            </div>
          )
        }
      </Load>
    </section>
  );
}

function LeaderboardSection() {
  const [timeframe, setTimeframe] = useState<"all_time" | "30d">("all_time");
  const state = useApi(() => must(api.GET("/api/badges/leaderboard/", { params: { query: { timeframe } } })), [timeframe]);
  return (
    <section aria-labelledby="leaderboard-heading">
      <h2 id="leaderboard-heading">Leaderboard</h2>
      <div className="tabs" role="group" aria-label="Timeframe">
        {(
          [
            ["all_time", "All time"],
            ["30d", "Last 30 days"],
          ] as const
        ).map(([value, label]) => (
          <button key={value} type="button" className={`tab${timeframe === value ? " active" : ""}`} aria-pressed={timeframe === value} onClick={() => setTimeframe(value)}>
            {label}
          </button>
        ))}
      </div>
      <Load state={state}>
        {(board) =>
          board.results.length === 0 ? (
            <Empty>Nobody has earned a badge {timeframe === "30d" ? "in the last 30 days" : "yet"}.</Empty>
          ) : (
            <table className="table">
              <caption className="visually-hidden">Leaderboard, {timeframe === "30d" ? "last 30 days" : "all time"}</caption>
              <thead>
                <tr>
                  <th scope="col">Rank</th>
                  <th scope="col">User</th>
                  <th scope="col">Points</th>
                  <th scope="col">Badges</th>
                  <th scope="col">Recent</th>
                </tr>
              </thead>
              <tbody>
                {board.results.map((row) => (
                  <tr key={row.rank}>
                    <td>{row.rank}</td>
                    <td className="cell-user">
                      {row.user ? (
                        <>
                          <Avatar user={row.user} size={24} /> <Link to={`/u/${row.user.username}`}>{row.user.display_name}</Link>
                        </>
                      ) : (
                        <span className="muted">A private account</span>
                      )}
                    </td>
                    <td>{formatNumber(row.badge_points)}</td>
                    <td>{formatNumber(row.total_badges)}</td>
                    <td>{formatNumber(row.recent_badges)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Load>
    </section>
  );
}

export function MyBadgesPage() {
  const { user } = useSession();
  const { check } = useCelebrations();
  if (!user) return null;
  return (
    <div>
      <PageTitle
        actions={
          <button type="button" className="button secondary" onClick={check}>
            Check for new badges
          </button>
        }
      >
        My badges
      </PageTitle>
      <EarnedBadges userId={user.id} username={user.username} />
      <ProgressList userId={user.id} />
      <LeaderboardSection />
    </div>
  );
}
