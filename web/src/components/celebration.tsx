// Celebrating a newly earned badge, once: the console remembers in this browser which badges
// of which user it has celebrated (a list of badge ids, not a credential), and shows a dialog
// for each badge earned since the account was created that it has not celebrated yet. It
// looks when the user signs in, when the window regains focus, when the route changes (at most
// every 10 s) and when a page asks (`useCelebrations().check()`). The burst animation is left
// out for people who prefer reduced motion (the media query, checked in CSS and here).
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, must } from "../api/client";
import type { UserBadge } from "../api/types";
import { useRoute } from "../lib/router";
import { useSession } from "../lib/session";
import { BadgeCard, BadgeIcon } from "./badges";
import { ShareButton, badgeUrl } from "./share";

interface Seen {
  ids: number[];
}

const storageKey = (userId: number) => `celebrated:${userId}`;

function readSeen(userId: number): Seen {
  try {
    const raw = localStorage.getItem(storageKey(userId));
    if (raw) {
      const parsed = JSON.parse(raw) as Seen;
      if (Array.isArray(parsed.ids)) return parsed;
    }
  } catch {
    // unreadable: start over
  }
  return { ids: [] };
}

function remember(userId: number, badgeId: number) {
  const seen = readSeen(userId);
  if (!seen.ids.includes(badgeId)) seen.ids.push(badgeId);
  try {
    localStorage.setItem(storageKey(userId), JSON.stringify(seen));
  } catch {
    // storage refused: it may be celebrated again next time
  }
}

/** The badges to celebrate: earned after the account was created, not celebrated before. */
export function toCelebrate(badges: UserBadge[], createdAt: string, seen: Seen): UserBadge[] {
  const since = Date.parse(createdAt);
  return badges.filter((b) => Date.parse(b.earned_at) >= since && !seen.ids.includes(b.badge.id)).sort((a, b) => a.earned_at.localeCompare(b.earned_at));
}

export function prefersReducedMotion(): boolean {
  return !!window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
}

const CelebrationContext = createContext<{ check: () => void }>({ check: () => undefined });
export const useCelebrations = () => useContext(CelebrationContext);

export function CelebrationProvider({ children }: { children: ReactNode }) {
  const { user } = useSession();
  const { path } = useRoute();
  const [queue, setQueue] = useState<UserBadge[]>([]);
  const lastCheck = useRef(0);
  const userId = user?.id;
  const createdAt = user?.created_at;
  const verified = user?.is_verified;

  const check = useCallback(() => {
    if (!userId || !createdAt || !verified) return;
    lastCheck.current = Date.now();
    must(api.GET("/api/user-badges/", { params: { query: { user: userId, page_size: 100 } } }))
      .then((page) => {
        const fresh = toCelebrate(page.results as unknown as UserBadge[], createdAt, readSeen(userId));
        if (fresh.length) setQueue((q) => [...q, ...fresh.filter((f) => !q.some((x) => x.id === f.id))]);
        // Says that a look has been taken (the end-to-end tests wait for it).
        document.documentElement.dataset.celebrations = "checked";
      })
      .catch(() => undefined);
  }, [userId, createdAt, verified]);

  useEffect(() => {
    if (!userId || !verified) {
      document.documentElement.dataset.celebrations = "off";
      return;
    }
    // The first look waits until the page's own requests are answered (it is not urgent).
    const first = window.setTimeout(check, 1200);
    const onFocus = () => check();
    window.addEventListener("focus", onFocus);
    return () => {
      window.clearTimeout(first);
      window.removeEventListener("focus", onFocus);
    };
  }, [check, userId, verified]);

  useEffect(() => {
    if (lastCheck.current && Date.now() - lastCheck.current > 10_000) check();
  }, [path, check]);

  const value = useMemo(() => ({ check }), [check]);
  const current = queue[0];
  return (
    <CelebrationContext.Provider value={value}>
      {children}
      {current && user && (
        <Celebration
          badge={current}
          username={user.username}
          onClose={() => {
            remember(user.id, current.badge.id);
            setQueue((q) => q.slice(1));
          }}
          onFeatured={(updated) => setQueue((q) => q.map((b) => (b.id === updated.id ? updated : b)))}
        />
      )}
    </CelebrationContext.Provider>
  );
}

export function Celebration({ badge, username, onClose, onFeatured }: { badge: UserBadge; username: string; onClose: () => void; onFeatured: (b: UserBadge) => void }) {
  const closeRef = useRef<HTMLButtonElement>(null);
  const dialogRef = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const reduced = prefersReducedMotion();

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
      if (e.key !== "Tab" || !dialogRef.current) return;
      // Keep the focus inside the dialog while it is open.
      const focusable = dialogRef.current.querySelectorAll<HTMLElement>("button, [href], input, [tabindex]:not([tabindex='-1'])");
      if (focusable.length === 0) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      previous?.focus?.();
    };
  }, [onClose]);

  async function feature() {
    setError(null);
    try {
      const updated = await must(api.PATCH("/api/user-badges/{id}/", { params: { path: { id: badge.id } }, body: { is_featured: true } }));
      onFeatured(updated as unknown as UserBadge);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <div className="modal-backdrop">
      <div ref={dialogRef} className={`modal celebration${reduced ? " reduced-motion" : ""}`} role="dialog" aria-modal="true" aria-labelledby="celebration-title">
        <div className="celebration-icon">
          {!reduced && (
            <div className="burst" aria-hidden="true">
              {Array.from({ length: 12 }, (_, i) => (
                <span key={i} style={{ "--angle": `${i * 30}deg` } as React.CSSProperties} />
              ))}
            </div>
          )}
          <BadgeIcon badge={badge.badge} size={72} />
        </div>
        <h2 id="celebration-title">New badge earned!</h2>
        <BadgeCard badge={badge.badge} earnedAt={badge.earned_at} />
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          {badge.is_featured ? (
            <span className="pill" role="status">
              Featured on your profile
            </span>
          ) : (
            <button type="button" className="button" onClick={() => void feature()}>
              Feature on my profile
            </button>
          )}
          <ShareButton url={badgeUrl(username, badge.badge.id)} title={badge.badge.name} text={`I earned the ${badge.badge.name} badge`} />
          <button type="button" className="button secondary" ref={closeRef} onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
