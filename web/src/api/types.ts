// Short names for the generated component schemas the pages use.
import type { components, paths } from "./schema";

type S = components["schemas"];
export type Badge = S["Badge"];
export type BadgeCriteria = S["BadgeCriteria"] & Record<string, unknown>;
export type UserBadge = Omit<S["UserBadge"], "badge"> & { badge: Badge };
export type UserCard = S["UserCard"];
export type FullUser = S["User"];
export type PublicUser = S["PublicUser"];
export type ProfileView = S["UserView"];
export type Session = S["Session"];
export type UserEvent = S["Event"];
export type Settings = S["Settings"];
export type Professional = S["ProfessionalProfile"];
export type Follow = S["Follow"];
export type Block = S["Block"];
export type Relationship = S["Relationship"];
export type ApiToken = S["ApiToken"];
export type CreatedApiToken = S["CreatedApiToken"];

type Json<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: { content: { "application/json": infer T } } };
}
  ? T
  : never;

export type Me = Json<"/api/auth/me/", "get">;
export type Progress = Json<"/api/users/{id}/badge-progress/", "get">["eligible_badges"][number];
export type Leaderboard = Json<"/api/badges/leaderboard/", "get">;
export type Analytics = Json<"/api/badges/analytics/", "get">;
export type TaskRun = Json<"/api/tasks/runs/", "get">["results"][number];
export type Role = FullUser["role"];

export const STAFF_ROLES: ReadonlySet<string> = new Set(["owner", "admin", "moderator"]);
export const ADMIN_ROLES: ReadonlySet<string> = new Set(["owner", "admin"]);
