// The seed's badge components: BadgeProgressCard for every criteria type, BadgeShowcase's
// featured limit and counts, and the criteria descriptions.
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { badge, progress, userBadge } from "../test/fixtures";
import { BadgeProgressCard, BadgeShowcase, describeCriteria } from "./badges";
import type { Badge } from "../api/types";

const CRITERIA: Record<string, Badge["criteria"]> = {
  counter: { type: "counter", field: "posts_count", threshold: 10 } as Badge["criteria"],
  consecutive_days: { type: "consecutive_days", action: "login", days: 7 } as Badge["criteria"],
  multi_criteria: { type: "multi_criteria", logic: "AND", requirements: [{ field: "posts_count", operator: ">=", value: 50 }, { field: "follower_count", operator: ">=", value: 100 }] } as Badge["criteria"],
  event_based: { type: "event_based", event_type: "review_create", count: 5, quality_threshold: 4 } as Badge["criteria"],
  social_interaction: { type: "social_interaction", interactions: ["like", "comment"], min_count: 20, timeframe: "30d" } as Badge["criteria"],
};

describe("BadgeProgressCard", () => {
  it.each(Object.entries(CRITERIA))("shows the progress of a %s badge", (type, criteria) => {
    const b = badge({ name: `The ${type} badge`, criteria });
    render(<BadgeProgressCard progress={progress(b, 42.6, { next_milestone: "Need 3 more", total_requirements: type === "multi_criteria" ? 2 : 1, requirements_met: 1 })} />);
    const card = screen.getByRole("article", { name: `The ${type} badge` });
    expect(within(card).getByText("43% complete")).toBeInTheDocument();
    expect(within(card).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "43");
    expect(within(card).getByText("Next: Need 3 more")).toBeInTheDocument();
    expect(within(card).getByText(describeCriteria(criteria as never))).toBeInTheDocument();
    if (type === "multi_criteria") expect(within(card).getByText(/1 of 2 requirements met/)).toBeInTheDocument();
  });

  it("says Earned! at 100% and hides the milestone", () => {
    render(<BadgeProgressCard progress={progress(badge({ name: "Done" }), 100, { next_milestone: "nothing" })} />);
    expect(screen.getByText("Earned!")).toBeInTheDocument();
    expect(screen.queryByText(/Next:/)).not.toBeInTheDocument();
    expect(screen.getByRole("article", { name: "Done" })).toHaveClass("earned");
  });

  it("clamps progress into 0..100", () => {
    render(<BadgeProgressCard progress={progress(badge(), -5)} />);
    expect(screen.getByText("0% complete")).toBeInTheDocument();
  });
});

describe("describeCriteria", () => {
  it("puts each type in words", () => {
    expect(describeCriteria(CRITERIA.counter as never)).toBe("Reach 10 posts");
    expect(describeCriteria(CRITERIA.consecutive_days as never)).toBe("login 7 days in a row");
    expect(describeCriteria(CRITERIA.multi_criteria as never)).toBe("posts >= 50 and followers >= 100");
    expect(describeCriteria(CRITERIA.event_based as never)).toBe("5 × review create of quality 4+");
    expect(describeCriteria(CRITERIA.social_interaction as never)).toBe("20 interactions (like, comment) in 30 days");
    expect(describeCriteria({ type: "counter", description: "Custom words" } as never)).toBe("Custom words");
  });
});

describe("BadgeShowcase", () => {
  const all = Array.from({ length: 9 }, (_, i) => userBadge(badge({ name: `Held ${i + 1}` }), { is_featured: i < 7 }));

  it("shows at most six featured badges and the counts", async () => {
    render(<BadgeShowcase badges={all} />);
    expect(screen.getByRole("heading", { name: "Achievements (9)" })).toBeInTheDocument();
    expect(screen.getAllByRole("article")).toHaveLength(6);
    expect(screen.queryByRole("article", { name: "Held 7" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "View all badges (9)" }));
    expect(screen.getAllByRole("article")).toHaveLength(9);
    await userEvent.click(screen.getByRole("button", { name: "Show featured only" }));
    expect(screen.getAllByRole("article")).toHaveLength(6);
  });

  it("counts from the API's total and says when there is nothing", () => {
    render(<BadgeShowcase badges={[]} total={0} />);
    expect(screen.getByRole("heading", { name: "Achievements (0)" })).toBeInTheDocument();
    expect(screen.getByText("No badges yet.")).toBeInTheDocument();
    expect(screen.queryByRole("button")).not.toBeInTheDocument();
  });

  it("offers all badges when none is featured", () => {
    render(<BadgeShowcase badges={all.map((b) => ({ ...b, is_featured: false }))} />);
    expect(screen.getByText("No featured badges.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "View all badges (9)" })).toBeInTheDocument();
  });
});
