// Who is signed in: `/api/auth/me/` once at start and after every sign-in or sign-out. The
// session itself is the HttpOnly `sessionid` cookie; the page only keeps the user it describes.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, must, UNAUTHORIZED_EVENT } from "../api/client";
import type { FullUser } from "../api/types";
import { ADMIN_ROLES, STAFF_ROLES } from "../api/types";

interface SessionValue {
  user: FullUser | null;
  /** The first `/me` has not answered yet. */
  loading: boolean;
  refresh: () => Promise<FullUser | null>;
  setUser: (user: FullUser | null) => void;
  logout: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export async function fetchMe(): Promise<FullUser | null> {
  try {
    return await must(api.GET("/api/auth/me/"));
  } catch (e) {
    if (e && typeof e === "object" && "status" in e && (e.status === 401 || e.status === 403)) return null;
    throw e;
  }
}

export function SessionProvider({ children, initial }: { children: ReactNode; initial?: FullUser | null }) {
  const [user, setUser] = useState<FullUser | null>(initial ?? null);
  const [loading, setLoading] = useState(initial === undefined);

  const refresh = useCallback(async () => {
    try {
      const me = await fetchMe();
      setUser(me);
      return me;
    } catch {
      setUser(null);
      return null;
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    if (initial === undefined) void refresh();
  }, [initial, refresh]);

  // A 401 elsewhere means the session ended (expired, or ended from another device): read
  // `/me` again, and the routes send a signed-out visitor to the login page.
  useEffect(() => {
    const onUnauthorized = () => void refresh();
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [refresh]);

  const logout = useCallback(async () => {
    await must(api.POST("/api/auth/logout/"));
    setUser(null);
  }, []);

  const value = useMemo(() => ({ user, loading, refresh, setUser, logout }), [user, loading, refresh, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

export const isStaff = (user: FullUser | null) => !!user && STAFF_ROLES.has(user.role);
export const isAdmin = (user: FullUser | null) => !!user && ADMIN_ROLES.has(user.role);
