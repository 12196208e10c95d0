// The seed's badge components: BadgeCard (one badge, earned), BadgeShowcase (a profile's
// featured badges, at most `limit`, with "Achievements (N)" and "View all badges (N)") and
// BadgeProgressCard (an unearned badge with its progress bar, "N% complete" or "Earned!", and
// the next milestone, for every criteria type). Icons are drawn, not fetched: a medal in the
// badge's colour with its initial, so a profile needs no icon font.
import { useState } from "react";
import type { Badge, BadgeCriteria, Progress, UserBadge } from "../api/types";
import { formatDate, formatNumber } from "../lib/format";

export function BadgeIcon({ badge, size = 48 }: { badge: Pick<Badge, "name" | "color" | "rarity">; size?: number }) {
  const initial = badge.name.trim().charAt(0).toUpperCase() || "?";
  return (
    <svg className={`badge-icon rarity-${badge.rarity}`} width={size} height={size} viewBox="0 0 48 48" aria-hidden="true" focusable="false">
      <path d="M24 2l19 11v22L24 46 5 35V13z" fill={badge.color} />
      <path d="M24 7l15 8.7v17.6L24 42 9 33.3V15.7z" fill="rgba(255,255,255,.22)" />
      <text x="24" y="30" textAnchor="middle" fontSize="17" fontWeight="700" fill="#111">
        {initial}
      </text>
    </svg>
  );
}

const CRITERIA_LABEL: Record<string, string> = {
  counter: "Counter",
  consecutive_days: "Streak",
  multi_criteria: "Several goals",
  event_based: "Events",
  social_interaction: "Social",
};

const FIELD_LABEL: Record<string, string> = {
  posts_count: "posts",
  follower_count: "followers",
  following_count: "accounts followed",
  engagement_score: "engagement score",
  content_quality_score: "content quality score",
  interaction_frequency: "interaction frequency",
  badge_points: "badge points",
  comments_count: "comments",
  likes_given: "likes given",
  likes_received: "likes received",
  shares_count: "shares",
  reviews_count: "reviews",
  bug_reports_verified: "verified bug reports",
  helpful_votes_received: "helpful votes received",
  max_post_likes: "likes on one post",
  badges_count: "badges",
  user_id: "user number",
  is_staff: "staff",
};

const field = (name: unknown) => FIELD_LABEL[String(name)] ?? String(name).replace(/_/g, " ");

/** What a criteria document asks for, in words (its own `description` when it has one). */
export function describeCriteria(criteria: BadgeCriteria): string {
  if (typeof criteria.description === "string" && criteria.description) return criteria.description;
  const c = criteria as Record<string, unknown>;
  switch (criteria.type) {
    case "counter":
      return `Reach ${formatNumber(Number(c.threshold))} ${field(c.field)}`;
    case "consecutive_days":
      return `${String(c.action ?? "Be active")} ${formatNumber(Number(c.days))} days in a row`;
    case "multi_criteria": {
      const reqs = Array.isArray(c.requirements) ? (c.requirements as Record<string, unknown>[]) : [];
      const joiner = c.logic === "OR" ? " or " : " and ";
      return reqs.map((r) => `${field(r.field)} ${String(r.operator)} ${String(r.value)}`).join(joiner) || "Several goals";
    }
    case "event_based": {
      const quality = c.quality_threshold != null ? ` of quality ${String(c.quality_threshold)}+` : "";
      return `${formatNumber(Number(c.count))} × ${String(c.event_type).replace(/_/g, " ")}${quality}`;
    }
    case "social_interaction": {
      const list = Array.isArray(c.interactions) ? (c.interactions as string[]).join(", ") : "";
      const window = c.timeframe === "30d" ? " in 30 days" : c.timeframe === "7d" ? " in 7 days" : "";
      return `${formatNumber(Number(c.min_count))} interactions (${list})${window}`;
    }
    default:
      return "";
  }
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const clamped = Math.max(0, Math.min(100, value));
  return (
    <div className="progress-bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(clamped)} aria-label={label}>
      <div className="progress-fill" style={{ width: `${clamped}%` }} />
    </div>
  );
}

export function BadgeCard({ badge, earnedAt, featured, children }: { badge: Badge; earnedAt?: string; featured?: boolean; children?: React.ReactNode }) {
  return (
    <article className={`badge-card earned rarity-${badge.rarity}`} aria-label={badge.name}>
      <BadgeIcon badge={badge} />
      <div className="badge-info">
        <h4>
          {badge.name}
          {featured && <span className="pill">Featured</span>}
        </h4>
        <p>{badge.description}</p>
        <p className="meta">
          <span className={`rarity rarity-${badge.rarity}`}>{badge.rarity}</span> · {formatNumber(badge.points)} points
          {earnedAt && <> · earned {formatDate(earnedAt)}</>}
        </p>
        {children}
      </div>
    </article>
  );
}

/**
 * A profile's featured badges (at most `limit`), the count of all badges held, and a button
 * that shows them all. `badges` is the user's whole list (from /api/user-badges/?user=).
 */
export function BadgeShowcase({ badges, total, limit = 6, renderActions }: { badges: UserBadge[]; total?: number; limit?: number; renderActions?: (badge: UserBadge) => React.ReactNode }) {
  const [showAll, setShowAll] = useState(false);
  const count = total ?? badges.length;
  const featured = badges.filter((b) => b.is_featured).slice(0, limit);
  const shown = showAll ? badges : featured;
  return (
    <section className="badge-showcase" aria-labelledby="achievements-heading">
      <h3 id="achievements-heading">Achievements ({formatNumber(count)})</h3>
      {shown.length === 0 ? (
        <p className="muted">{count === 0 ? "No badges yet." : "No featured badges."}</p>
      ) : (
        <div className="badge-grid">
          {shown.map((userBadge) => (
            <BadgeCard key={userBadge.id} badge={userBadge.badge} earnedAt={userBadge.earned_at} featured={showAll && userBadge.is_featured}>
              {renderActions?.(userBadge)}
            </BadgeCard>
          ))}
        </div>
      )}
      {!showAll && count > featured.length && (
        <button type="button" className="button secondary" onClick={() => setShowAll(true)}>
          View all badges ({formatNumber(count)})
        </button>
      )}
      {showAll && featured.length > 0 && (
        <button type="button" className="button secondary" onClick={() => setShowAll(false)}>
          Show featured only
        </button>
      )}
    </section>
  );
}

/** An unearned (or just earned) badge and how far the user is towards it. */
export function BadgeProgressCard({ progress }: { progress: Progress }) {
  const { badge } = progress;
  const percent = Math.max(0, Math.min(100, progress.progress));
  const earned = percent >= 100;
  const criteria = badge.criteria as BadgeCriteria;
  return (
    <article className={`badge-card ${earned ? "earned" : "in-progress"}`} aria-label={badge.name}>
      <BadgeIcon badge={badge} />
      <div className="badge-info">
        <h4>{badge.name}</h4>
        <p>{badge.description}</p>
        <p className="meta">
          <span className="pill">{CRITERIA_LABEL[criteria.type] ?? criteria.type}</span> {describeCriteria(criteria)}
        </p>
        <ProgressBar value={percent} label={`${badge.name} progress`} />
        <p className="progress-text">
          <strong>{earned ? "Earned!" : `${Math.round(percent)}% complete`}</strong>
          {progress.total_requirements > 1 && (
            <>
              {" "}
              · {progress.requirements_met} of {progress.total_requirements} requirements met
            </>
          )}
        </p>
        {!earned && progress.next_milestone && <p className="milestone">Next: {progress.next_milestone}</p>}
      </div>
    </article>
  );
}
