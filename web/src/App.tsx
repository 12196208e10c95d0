// The console's shell: providers (route, session, celebrations), the header with navigation
// for the signed-in user's role, and the route table. Pages a visitor needs first (sign-in,
// profile, badges) are in the initial bundle; account settings, security and the staff pages
// load on demand (React.lazy), which keeps the initial JavaScript small.
import { lazy, Suspense, useEffect, type ReactNode } from "react";
import { api, must } from "./api/client";
import { CelebrationProvider } from "./components/celebration";
import { Loading } from "./components/ui";
import { Link, match, RouterProvider, useRoute } from "./lib/router";
import { isAdmin, isStaff, SessionProvider, useSession } from "./lib/session";
import { applyTheme, type ThemeChoice } from "./lib/theme";
import { ForgotPage, LoginPage, SignupPage, VerifyPage } from "./pages/auth";
import { MyBadgesPage } from "./pages/badges";
import { FollowListPage, HomePage, PeoplePage, ProfilePage, PublicBadgePage } from "./pages/profile";

const Account = lazy(() => import("./pages/account"));
const Security = lazy(() => import("./pages/security"));
const Staff = lazy(() => import("./pages/staff"));

interface RouteDef {
  pattern: string;
  render: (params: Record<string, string>) => ReactNode;
  auth?: "user" | "staff";
  /** Rendered while the session is still being read: the page's own requests start at once. */
  eager?: boolean;
  title: string;
}

const ROUTES: RouteDef[] = [
  { pattern: "/", render: () => <HomePage />, title: "Home" },
  { pattern: "/login", render: () => <LoginPage />, title: "Log in" },
  { pattern: "/signup", render: () => <SignupPage />, title: "Sign up" },
  { pattern: "/verify", render: () => <VerifyPage />, title: "Verify your email" },
  { pattern: "/forgot", render: () => <ForgotPage />, title: "Reset your password" },
  { pattern: "/people", render: () => <PeoplePage />, auth: "user", title: "People" },
  { pattern: "/u/:username", render: (p) => <ProfilePage username={p.username} />, auth: "user", eager: true, title: "Profile" },
  { pattern: "/u/:username/followers", render: (p) => <FollowListPage username={p.username} direction="followers" />, auth: "user", title: "Followers" },
  { pattern: "/u/:username/following", render: (p) => <FollowListPage username={p.username} direction="following" />, auth: "user", title: "Following" },
  { pattern: "/u/:username/badges/:badgeId", render: (p) => <PublicBadgePage username={p.username} badgeId={Number(p.badgeId)} />, title: "Badge" },
  { pattern: "/badges", render: () => <MyBadgesPage />, auth: "user", title: "My badges" },
  { pattern: "/settings/profile", render: () => <Account page="profile" />, auth: "user", title: "Edit profile" },
  { pattern: "/settings/professional", render: () => <Account page="professional" />, auth: "user", title: "Professional profile" },
  { pattern: "/settings", render: () => <Account page="settings" />, auth: "user", title: "Settings" },
  { pattern: "/security", render: () => <Security page="password" />, auth: "user", title: "Password" },
  { pattern: "/security/factors", render: () => <Security page="factors" />, auth: "user", title: "Second factors" },
  { pattern: "/security/sessions", render: () => <Security page="sessions" />, auth: "user", title: "Sessions" },
  { pattern: "/security/tokens", render: () => <Security page="tokens" />, auth: "user", title: "API tokens" },
  { pattern: "/security/events", render: () => <Security page="events" />, auth: "user", title: "My events" },
  { pattern: "/security/requests", render: () => <Security page="requests" />, auth: "user", title: "Follow requests" },
  { pattern: "/security/blocks", render: () => <Security page="blocks" />, auth: "user", title: "Blocks" },
  { pattern: "/staff", render: () => <Staff page="analytics" />, auth: "staff", title: "Badge analytics" },
  { pattern: "/staff/badges", render: () => <Staff page="definitions" />, auth: "staff", title: "Badge definitions" },
  { pattern: "/staff/badges/new", render: () => <Staff page="definition" />, auth: "staff", title: "New badge" },
  { pattern: "/staff/badges/:id", render: (p) => <Staff page="definition" id={Number(p.id)} />, auth: "staff", title: "Edit badge" },
  { pattern: "/staff/events", render: () => <Staff page="review" />, auth: "staff", title: "Event review" },
  { pattern: "/staff/users", render: () => <Staff page="users" />, auth: "staff", title: "Users" },
  { pattern: "/staff/tasks", render: () => <Staff page="tasks" />, auth: "staff", title: "Tasks and reports" },
];

function resolve(path: string): { route: RouteDef; params: Record<string, string> } | null {
  const clean = path.length > 1 ? path.replace(/\/+$/, "") : path;
  for (const route of ROUTES) {
    const params = match(route.pattern, clean);
    if (params) return { route, params };
  }
  return null;
}

function Header() {
  const { user, logout } = useSession();
  const { navigate } = useRoute();
  async function toggleTheme() {
    const next: ThemeChoice = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    applyTheme(next);
    if (user?.is_verified) await must(api.PATCH("/api/settings/", { body: { theme: next } })).catch(() => undefined);
  }
  return (
    <header className="site-header">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Link to="/" className="brand">
        Accounts
      </Link>
      <nav aria-label="Main">
        {user ? (
          <ul>
            <li>
              <Link to={`/u/${user.username}`}>Profile</Link>
            </li>
            <li>
              <Link to="/badges">Badges</Link>
            </li>
            <li>
              <Link to="/people">People</Link>
            </li>
            <li>
              <Link to="/settings">Settings</Link>
            </li>
            <li>
              <Link to="/security">Security</Link>
            </li>
            {isStaff(user) && (
              <li>
                <Link to="/staff">Staff</Link>
              </li>
            )}
          </ul>
        ) : (
          <ul>
            <li>
              <Link to="/login">Log in</Link>
            </li>
            <li>
              <Link to="/signup">Sign up</Link>
            </li>
          </ul>
        )}
      </nav>
      <div className="header-actions">
        <button type="button" className="button ghost" onClick={() => void toggleTheme()} aria-label="Switch light or dark theme">
          <span aria-hidden="true">◐</span>
        </button>
        {user && (
          <button
            type="button"
            className="button ghost"
            onClick={() => {
              void logout().finally(() => navigate("/login"));
            }}
          >
            Log out
          </button>
        )}
      </div>
    </header>
  );
}

function StaffNav() {
  const { user } = useSession();
  return (
    <nav aria-label="Staff" className="subnav">
      {isAdmin(user) && <Link to="/staff">Analytics</Link>}
      {isAdmin(user) && <Link to="/staff/badges">Definitions</Link>}
      <Link to="/staff/events">Review queue</Link>
      <Link to="/staff/users">Users</Link>
      {isAdmin(user) && <Link to="/staff/tasks">Tasks and reports</Link>}
    </nav>
  );
}

function Routes() {
  const { path, navigate } = useRoute();
  const { user, loading } = useSession();
  const found = resolve(path);

  useEffect(() => {
    document.title = found ? `${found.route.title} · Accounts` : "Not found · Accounts";
  }, [found]);

  useEffect(() => {
    if (!found || loading) return;
    if (found.route.auth && !user) navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true });
    else if (found.route.auth && user && !user.is_verified) navigate(`/verify?email=${encodeURIComponent(user.email)}`, { replace: true });
  }, [found, loading, user, path, navigate]);

  if (!found) {
    return (
      <div className="state state-empty">
        <h1>Page not found</h1>
        <p>
          <Link to="/">Go home</Link>
        </p>
      </div>
    );
  }
  if (loading && found.route.auth && !found.route.eager) return <Loading />;
  if (!loading && found.route.auth && (!user || !user.is_verified)) return <Loading />;
  if (found.route.auth === "staff" && !isStaff(user)) {
    return (
      <div className="state state-error" role="alert">
        <h1>Staff only</h1>
        <p>This page is for moderators and administrators.</p>
      </div>
    );
  }
  return (
    <>
      {found.route.auth === "staff" && <StaffNav />}
      <Suspense fallback={<Loading />}>{found.route.render(found.params)}</Suspense>
    </>
  );
}

/** Applies the signed-in user's theme setting once their settings are known. */
function ThemeFromSettings() {
  const { user } = useSession();
  useEffect(() => {
    if (!user?.is_verified) return;
    // index.html painted the remembered theme already; the setting is checked once the page's
    // own requests are done.
    const timer = window.setTimeout(() => {
      must(api.GET("/api/settings/"))
        .then((settings) => applyTheme(settings.theme as ThemeChoice))
        .catch(() => undefined);
    }, 800);
    return () => window.clearTimeout(timer);
  }, [user?.id, user?.is_verified]);
  return null;
}

export function App() {
  return (
    <RouterProvider>
      <SessionProvider>
        <CelebrationProvider>
          <ThemeFromSettings />
          <Header />
          <main id="main" tabIndex={-1}>
            <Routes />
          </main>
        </CelebrationProvider>
      </SessionProvider>
    </RouterProvider>
  );
}
