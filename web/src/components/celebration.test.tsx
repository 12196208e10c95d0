// Celebrating new badges: which badges qualify, the dialog's actions, and no burst animation
// for people who prefer reduced motion.
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { answer } from "../test/fetch";
import { badge, userBadge } from "../test/fixtures";
import { Celebration, toCelebrate } from "./celebration";

afterEach(() => vi.restoreAllMocks());

describe("toCelebrate", () => {
  it("takes badges earned since the account was created and not celebrated yet", () => {
    const old = userBadge(badge({ id: 1 }), { earned_at: "2025-12-31T00:00:00Z" });
    const fresh = userBadge(badge({ id: 2 }), { earned_at: "2026-02-01T00:00:00Z" });
    const seen = userBadge(badge({ id: 3 }), { earned_at: "2026-02-02T00:00:00Z" });
    expect(toCelebrate([seen, old, fresh], "2026-01-01T00:00:00Z", { ids: [3] }).map((b) => b.badge.id)).toEqual([2]);
  });
});

function mockMotion(reduce: boolean) {
  vi.spyOn(window, "matchMedia").mockImplementation((query: string) => ({ matches: reduce && query.includes("reduce"), media: query }) as MediaQueryList);
}

describe("Celebration", () => {
  it("animates, features the badge and closes with Escape", async () => {
    mockMotion(false);
    const b = userBadge(badge({ id: 5, name: "Rising Star" }));
    answer("PATCH", "/api/user-badges/7-5/", 200, { ...b, is_featured: true });
    const onClose = vi.fn();
    const onFeatured = vi.fn();
    render(<Celebration badge={b} username="jane" onClose={onClose} onFeatured={onFeatured} />);
    const dialog = screen.getByRole("dialog", { name: "New badge earned!" });
    expect(dialog.querySelector(".burst")).not.toBeNull();
    expect(screen.getByRole("button", { name: "Close" })).toHaveFocus();
    await userEvent.click(screen.getByRole("button", { name: "Feature on my profile" }));
    await waitFor(() => expect(onFeatured).toHaveBeenCalledWith(expect.objectContaining({ is_featured: true })));
    await userEvent.keyboard("{Escape}");
    expect(onClose).toHaveBeenCalled();
  });

  it("leaves the burst out when motion should be reduced", () => {
    mockMotion(true);
    render(<Celebration badge={userBadge(badge({ name: "Calm" }))} username="jane" onClose={() => undefined} onFeatured={() => undefined} />);
    const dialog = screen.getByRole("dialog");
    expect(dialog.querySelector(".burst")).toBeNull();
    expect(dialog).toHaveClass("reduced-motion");
  });

  it("copies the badge link where the Web Share API is missing", async () => {
    mockMotion(true);
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    render(<Celebration badge={userBadge(badge({ id: 9, name: "Sharer" }))} username="jane" onClose={() => undefined} onFeatured={() => undefined} />);
    await userEvent.click(screen.getByRole("button", { name: "Share" }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(`${window.location.origin}/u/jane/badges/9`));
    expect(await screen.findByText("Link copied.")).toBeInTheDocument();
  });
});
