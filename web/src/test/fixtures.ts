// Badge definitions and user badges shaped as the API answers them.
import type { Badge, Progress, UserBadge } from "../api/types";

let next = 1;
export function badge(over: Partial<Badge> = {}): Badge {
  const id = over.id ?? next++;
  return {
    id,
    name: `Badge ${id}`,
    description: "A badge for testing",
    category: "achievement",
    icon: "star",
    color: "#FFD700",
    image: null,
    criteria: { type: "counter", field: "posts_count", threshold: 10 } as Badge["criteria"],
    points: 10,
    rarity: "common",
    is_active: true,
    earned_count: 0,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    ...over,
  };
}

export function userBadge(b: Badge, over: Partial<UserBadge> = {}): UserBadge {
  return { id: `7-${b.id}`, user: 7, badge: b, earned_at: "2026-02-01T00:00:00Z", progress_data: {}, is_featured: false, awarded_by: "system", notes: "", points: b.points, ...over } as UserBadge;
}

export function progress(b: Badge, percent: number, over: Partial<Progress> = {}): Progress {
  return { badge: b, progress: percent, requirements_met: 0, total_requirements: 1, next_milestone: null, ...over } as Progress;
}
