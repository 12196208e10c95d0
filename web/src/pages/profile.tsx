// Profiles: `/u/<username>` with the card, counts, the follow / request / unfollow / blocked
// states and the seed's BadgeShowcase; the followers and following lists; the public page of
// one badge of one user (which shows only what the API lets the viewer see); people search;
// and the home page.
import { useEffect, useState } from "react";
import { api, ApiError, must } from "../api/client";
import type { Badge, Follow, ProfileView, Relationship, UserBadge, UserCard } from "../api/types";
import { BadgeCard, BadgeIcon, BadgeShowcase, describeCriteria } from "../components/badges";
import { ShareButton, badgeUrl } from "../components/share";
import { Empty, ErrorState, Load, Loading, PageTitle } from "../components/ui";
import { formatDate, formatNumber } from "../lib/format";
import { Link, useRoute } from "../lib/router";
import { useSession } from "../lib/session";
import { useApi } from "../lib/useApi";

/** The id of the account with this username (case-insensitive), or a 404 ApiError. */
export async function findUserId(username: string): Promise<number> {
  const page = await must(api.GET("/api/profiles/", { params: { query: { search: username, page_size: 10 } } }));
  const found = page.results.find((p) => p.username.toLowerCase() === username.toLowerCase());
  if (!found) throw new ApiError(404, { detail: "No such user." });
  return found.id;
}

export function Avatar({ user, size = 72 }: { user: Pick<UserCard, "username" | "display_name" | "profile_picture">; size?: number }) {
  if (user.profile_picture) return <img className="avatar" src={user.profile_picture} alt="" width={size} height={size} />;
  const initials = (user.display_name || user.username)
    .split(/\s+/)
    .map((w) => w.charAt(0))
    .join("")
    .slice(0, 2)
    .toUpperCase();
  return (
    <span className="avatar avatar-initials" style={{ width: size, height: size, fontSize: size / 2.6 }} aria-hidden="true">
      {initials}
    </span>
  );
}

function FollowControls({ profile, relationship, onChange }: { profile: ProfileView; relationship: Relationship; onChange: () => void }) {
  const { user } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirmBlock, setConfirmBlock] = useState(false);
  if (!user) return null;
  const edge = `${user.id}-${profile.id}`;

  const act = (call: () => Promise<unknown>) => async () => {
    setBusy(true);
    setError(null);
    try {
      await call();
      onChange();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
      setConfirmBlock(false);
    }
  };

  const follow = act(() => must(api.POST("/api/follows/", { body: { following: profile.id } })));
  const unfollow = act(() => must(api.DELETE("/api/follows/{id}/", { params: { path: { id: edge } } })));
  const block = act(() => must(api.POST("/api/blocks/", { body: { blocked: profile.id } })));
  const unblock = act(() => must(api.DELETE("/api/blocks/{id}/", { params: { path: { id: edge } } })));

  return (
    <div className="follow-controls">
      {relationship.followed_by && <span className="pill">Follows you</span>}
      {relationship.requested_by && (
        <Link className="pill" to="/security/requests">
          Wants to follow you
        </Link>
      )}
      {relationship.blocking ? (
        <>
          <span className="pill pill-warn">Blocked</span>
          <button type="button" className="button secondary" disabled={busy} onClick={() => void unblock()}>
            Unblock
          </button>
        </>
      ) : (
        <>
          {relationship.following ? (
            <button type="button" className="button secondary" disabled={busy} onClick={() => void unfollow()}>
              Unfollow
            </button>
          ) : relationship.requested ? (
            <>
              <span className="pill">Requested</span>
              <button type="button" className="button secondary" disabled={busy} onClick={() => void unfollow()}>
                Cancel request
              </button>
            </>
          ) : (
            <button type="button" className="button" disabled={busy} onClick={() => void follow()}>
              {profile.is_private ? "Request to follow" : "Follow"}
            </button>
          )}
          {confirmBlock ? (
            <span className="confirm">
              Block @{profile.username}? Follows both ways end.{" "}
              <button type="button" className="button danger" disabled={busy} onClick={() => void block()}>
                Block
              </button>{" "}
              <button type="button" className="button ghost" onClick={() => setConfirmBlock(false)}>
                Cancel
              </button>
            </span>
          ) : (
            <button type="button" className="button ghost" onClick={() => setConfirmBlock(true)}>
              Block
            </button>
          )}
        </>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

type BadgePage = { results: UserBadge[]; count: number };

interface ProfileData {
  profile: ProfileView;
  relationship: Relationship | null;
  /** Requested beside the profile, so the showcase does not wait for the card to render. */
  badges: Promise<BadgePage>;
}

/**
 * The profile, the caller's relationship to it, and its badges, all requested as soon as the
 * username is resolved. It does not wait for the session: the route is eager, so these start
 * while `/me` is in flight.
 */
async function loadProfile(username: string): Promise<ProfileData> {
  const id = await findUserId(username);
  const badges = must(api.GET("/api/user-badges/", { params: { query: { user: id, page_size: 100 } } })).then((page) => ({
    results: page.results as unknown as UserBadge[],
    count: page.count,
  }));
  badges.catch(() => undefined); // handled where it is shown
  const [profile, relationships] = await Promise.all([
    must(api.GET("/api/profiles/{id}/", { params: { path: { id } } })),
    must(api.GET("/api/relationships/", { params: { query: { id: [id] } } })),
  ]);
  return { profile, relationship: relationships[0] ?? null, badges };
}

function ProfileBadges({ profile, badges }: { profile: ProfileView; badges: Promise<BadgePage> }) {
  const state = useApi(() => badges, [badges]);
  if (state.error?.status === 403) return null;
  return (
    <Load state={state} label="Loading badges…">
      {(page) => (
        <BadgeShowcase
          badges={page.results}
          total={page.count}
          renderActions={(b) => (
            <Link to={`/u/${profile.username}/badges/${b.badge.id}`} className="small-link" aria-label={`Badge page: ${b.badge.name}`}>
              Badge page
            </Link>
          )}
        />
      )}
    </Load>
  );
}

export function ProfilePage({ username }: { username: string }) {
  const { user } = useSession();
  const state = useApi(() => loadProfile(username), [username]);
  return (
    <Load state={state} label="Loading profile…">
      {({ profile, relationship, badges }) => {
        const self = user?.id === profile.id;
        const full = "bio" in profile;
        return (
          <div className="profile">
            <section className="profile-card" aria-labelledby="profile-name">
              <Avatar user={profile} size={88} />
              <div className="profile-main">
                <h1 id="profile-name">{profile.display_name}</h1>
                <p className="muted">
                  @{profile.username}
                  {profile.is_private && <span className="pill">Private</span>}
                  {"is_verified" in profile && profile.is_verified && <span className="pill pill-ok">Verified</span>}
                  {"role" in profile && profile.role && profile.role !== "normal" && <span className="pill">{profile.role.replace("_", " ")}</span>}
                </p>
                {full && profile.bio && <p className="bio">{profile.bio}</p>}
                {"location" in profile && profile.location && <p className="muted">{String(profile.location)}</p>}
                <ul className="counts" aria-label="Counts">
                  <li>
                    <strong>{formatNumber(profile.posts_count)}</strong> posts
                  </li>
                  <li>
                    <Link to={`/u/${profile.username}/followers`}>
                      <strong>{formatNumber(profile.follower_count)}</strong> followers
                    </Link>
                  </li>
                  <li>
                    <Link to={`/u/${profile.username}/following`}>
                      <strong>{formatNumber(profile.following_count)}</strong> following
                    </Link>
                  </li>
                  {"badge_points" in profile && (
                    <li>
                      <strong>{formatNumber(profile.badge_points as number)}</strong> badge points
                    </li>
                  )}
                </ul>
                {self ? (
                  <p>
                    <Link className="button secondary" to="/settings/profile">
                      Edit profile
                    </Link>
                  </p>
                ) : (
                  user && relationship && <FollowControls profile={profile} relationship={relationship} onChange={state.reload} />
                )}
              </div>
            </section>
            {!full && profile.is_private && !self && <p className="notice">This account is private. Follow it to see its profile and badges.</p>}
            <ProfileBadges profile={profile} badges={badges} />
          </div>
        );
      }}
    </Load>
  );
}

export function FollowListPage({ username, direction }: { username: string; direction: "followers" | "following" }) {
  const [items, setItems] = useState<Follow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [count, setCount] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [userId, setUserId] = useState<number | null>(null);

  async function load(cursor: string | null, id: number) {
    setLoading(true);
    try {
      const page = await must(api.GET("/api/follows/", { params: { query: { user: id, direction, page_size: 25, ...(cursor ? { cursor } : {}) } } }));
      setItems((old) => (cursor ? [...old, ...page.results] : page.results));
      setNext(page.next ?? null);
      setCount((page as { count?: number }).count ?? null);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, null));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    setItems([]);
    setError(null);
    findUserId(username).then(
      (id) => {
        setUserId(id);
        void load(null, id);
      },
      (e: ApiError) => {
        setError(e);
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [username, direction]);

  return (
    <div>
      <PageTitle>
        {direction === "followers" ? "Followers" : "Following"} of <Link to={`/u/${username}`}>@{username}</Link>
        {count != null && ` (${formatNumber(count)})`}
      </PageTitle>
      {error ? (
        <ErrorState error={error.status === 403 ? new Error("This account is private.") : error} />
      ) : items.length === 0 && loading ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty>{direction === "followers" ? "No followers yet." : "Not following anyone yet."}</Empty>
      ) : (
        <>
          <ul className="people">
            {items.map((f) => f.user && <PersonRow key={f.id} card={f.user as UserCard} />)}
          </ul>
          {next && userId && (
            <button type="button" className="button secondary" disabled={loading} onClick={() => void load(next, userId)}>
              Load more
            </button>
          )}
        </>
      )}
    </div>
  );
}

export function PersonRow({ card, children }: { card: UserCard; children?: React.ReactNode }) {
  return (
    <li className="person">
      <Avatar user={card} size={40} />
      <div>
        <Link to={`/u/${card.username}`}>{card.display_name}</Link>
        <span className="muted"> @{card.username}</span>
        {card.is_private && <span className="pill">Private</span>}
      </div>
      {children && <div className="person-actions">{children}</div>}
    </li>
  );
}

export function PeoplePage() {
  const { search, navigate } = useRoute();
  const query = search.get("q") ?? "";
  const [text, setText] = useState(query);
  const state = useApi(() => must(api.GET("/api/profiles/", { params: { query: { page_size: 25, ...(query ? { search: query } : {}) } } })), [query]);
  return (
    <div>
      <PageTitle>People</PageTitle>
      <form
        role="search"
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/people?q=${encodeURIComponent(text.trim())}`);
        }}
      >
        <label htmlFor="people-search" className="visually-hidden">
          Search by username or name
        </label>
        <input id="people-search" type="search" placeholder="Username or name" value={text} onChange={(e) => setText(e.target.value)} />
        <button className="button" type="submit">
          Search
        </button>
      </form>
      <Load state={state}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>Nobody matches “{query}”.</Empty>
          ) : (
            <ul className="people">
              {page.results.map((p) => (
                <PersonRow key={p.id} card={p} />
              ))}
            </ul>
          )
        }
      </Load>
    </div>
  );
}

export function PublicBadgePage({ username, badgeId }: { username: string; badgeId: number }) {
  const { user } = useSession();
  const state = useApi(async () => {
    const badge = (await must(api.GET("/api/badges/{id}/", { params: { path: { id: badgeId } } }))) as Badge;
    if (!user?.is_verified) return { badge, held: null as UserBadge | null, why: "anonymous" as const };
    try {
      const id = await findUserId(username);
      const held = (await must(api.GET("/api/user-badges/{id}/", { params: { path: { id: `${id}-${badgeId}` } } }))) as unknown as UserBadge;
      return { badge, held, why: null };
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) return { badge, held: null, why: "private" as const };
      if (e instanceof ApiError && e.status === 404) return { badge, held: null, why: "missing" as const };
      throw e;
    }
  }, [username, badgeId, user?.id]);

  return (
    <div className="narrow">
      <Load state={state}>
        {({ badge, held, why }) => (
          <article className="badge-page" aria-labelledby="badge-title">
            <BadgeIcon badge={badge} size={96} />
            <h1 id="badge-title">{badge.name}</h1>
            <p>{badge.description}</p>
            <p className="meta">
              <span className={`rarity rarity-${badge.rarity}`}>{badge.rarity}</span> · {formatNumber(badge.points)} points · {describeCriteria(badge.criteria)} · earned by {formatNumber(badge.earned_count)}
            </p>
            {held ? (
              <p className="form-success">
                <Link to={`/u/${username}`}>@{username}</Link> earned this badge on {formatDate(held.earned_at)}.
              </p>
            ) : why === "anonymous" ? (
              <p className="notice">
                <Link to={`/login?next=${encodeURIComponent(`/u/${username}/badges/${badgeId}`)}`}>Log in</Link> to see whether @{username} holds this badge.
              </p>
            ) : why === "private" ? (
              <p className="notice">@{username}'s account is private: follow it to see its badges.</p>
            ) : (
              <p className="notice">@{username} has not earned this badge, or their badges are not visible to you.</p>
            )}
            {held && <ShareButton url={badgeUrl(username, badge.id)} title={badge.name} text={`@${username} earned the ${badge.name} badge`} />}
          </article>
        )}
      </Load>
    </div>
  );
}

export function HomePage() {
  const { user, loading } = useSession();
  const { navigate } = useRoute();
  useEffect(() => {
    if (user?.is_verified) navigate(`/u/${user.username}`, { replace: true });
  }, [user, navigate]);
  if (loading || user?.is_verified) return <Loading />;
  return (
    <div className="narrow hero">
      <h1>Your account, your badges</h1>
      <p>Profiles, follows, badges and the security of your account, in one place.</p>
      <div className="badge-grid">
        <BadgeCard badge={{ id: 0, name: "Early Adopter", description: "One of the first to join.", category: "special", icon: "", color: "#FFD43B", image: null, criteria: { type: "counter" }, points: 50, rarity: "rare", is_active: true, earned_count: 0, created_at: "", updated_at: "" }} />
      </div>
      <p>
        <Link className="button" to="/signup">
          Sign up
        </Link>{" "}
        <Link className="button secondary" to="/login">
          Log in
        </Link>
      </p>
    </div>
  );
}
