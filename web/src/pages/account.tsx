// The account's own pages, loaded on demand: edit profile with its privacy flags, the
// professional profile (for the professional and data provider roles) and settings
// (notifications, visibility, language, time zone and the theme, which switches at once).
import { useState } from "react";
import { api, ApiError, must } from "../api/client";
import type { FullUser, Professional, Settings } from "../api/types";
import { Checkbox, Field, FormMessages, Load, PageTitle, Select, TextArea, useSubmit } from "../components/ui";
import { Link } from "../lib/router";
import { useSession } from "../lib/session";
import { applyTheme, type ThemeChoice } from "../lib/theme";
import { useApi } from "../lib/useApi";

function AccountNav() {
  return (
    <nav aria-label="Account" className="subnav">
      <Link to="/settings">Settings</Link>
      <Link to="/settings/profile">Edit profile</Link>
      <Link to="/settings/professional">Professional profile</Link>
    </nav>
  );
}

const PROFILE_TEXT = ["first_name", "last_name", "bio", "phone_number", "date_of_birth", "profile_picture", "cover_media", "country", "city"] as const;
const PROFILE_FLAGS = ["is_private", "show_email", "show_phone", "show_location"] as const;
type ProfileForm = Record<(typeof PROFILE_TEXT)[number] | "cover_media_type", string> & Record<(typeof PROFILE_FLAGS)[number], boolean>;

function toForm(p: FullUser): ProfileForm {
  const text = (v: unknown) => (v == null ? "" : String(v));
  const record = p as unknown as Record<string, unknown>;
  return {
    ...(Object.fromEntries(PROFILE_TEXT.map((k) => [k, text(record[k])])) as Record<(typeof PROFILE_TEXT)[number], string>),
    cover_media_type: text(record.cover_media_type),
    is_private: !!p.is_private,
    show_email: !!record.show_email,
    show_phone: !!record.show_phone,
    show_location: !!record.show_location,
  };
}

function EditProfileForm({ profile }: { profile: FullUser }) {
  const { refresh } = useSession();
  const [values, setValues] = useState(() => toForm(profile));
  const [saved, setSaved] = useState(() => toForm(profile));
  const form = useSubmit([...PROFILE_TEXT, ...PROFILE_FLAGS, "cover_media_type"]);
  const text = (name: keyof ProfileForm) => ({
    name,
    value: values[name] as string,
    onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) => setValues((v) => ({ ...v, [name]: e.target.value })),
    errors: form.errors,
  });
  const flag = (name: (typeof PROFILE_FLAGS)[number]) => ({
    name,
    checked: values[name],
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => setValues((v) => ({ ...v, [name]: e.target.checked })),
    errors: form.errors,
  });

  const onSubmit = form.submit(async () => {
    const body: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      if (value !== saved[key as keyof ProfileForm]) body[key] = typeof value === "string" && value.trim() === "" ? null : value;
    }
    if (Object.keys(body).length === 0) return "Nothing to save.";
    const updated = await must(api.PATCH("/api/profiles/{id}/", { params: { path: { id: profile.id } }, body: body as never }));
    const next = toForm(updated as FullUser);
    setValues(next);
    setSaved(next);
    await refresh();
    return "Profile saved.";
  });

  return (
    <form onSubmit={onSubmit} noValidate>
      <fieldset>
        <legend>About you</legend>
        <div className="row">
          <Field label="First name" autoComplete="given-name" {...text("first_name")} />
          <Field label="Last name" autoComplete="family-name" {...text("last_name")} />
        </div>
        <TextArea label="Bio" rows={3} maxLength={500} hint="At most 500 characters." {...text("bio")} />
        <div className="row">
          <Field label="Phone (E.164, e.g. +14155550100)" type="tel" autoComplete="tel" {...text("phone_number")} />
          <Field label="Date of birth" type="date" {...text("date_of_birth")} />
        </div>
        <div className="row">
          <Field label="City" autoComplete="address-level2" {...text("city")} />
          <Field label="Country (ISO code, e.g. DE)" maxLength={2} autoComplete="country" {...text("country")} />
        </div>
        <Field label="Profile picture URL (https)" type="url" {...text("profile_picture")} />
        <div className="row">
          <Field label="Cover media URL (https)" type="url" {...text("cover_media")} />
          <Select
            label="Cover media type"
            options={[
              ["", "None"],
              ["image", "Image"],
              ["video", "Video"],
            ]}
            {...text("cover_media_type")}
          />
        </div>
      </fieldset>
      <fieldset>
        <legend>Privacy</legend>
        <Checkbox label="Private account: only approved followers see your profile and badges" {...flag("is_private")} />
        <Checkbox label="Show my email address" {...flag("show_email")} />
        <Checkbox label="Show my phone number" {...flag("show_phone")} />
        <Checkbox label="Show my location" {...flag("show_location")} />
      </fieldset>
      <FormMessages messages={form.messages} success={form.success} />
      <button className="button" type="submit" disabled={form.busy}>
        {form.busy ? "Saving…" : "Save profile"}
      </button>
    </form>
  );
}

function EditProfilePage() {
  const { user } = useSession();
  const state = useApi(() => must(api.GET("/api/profiles/{id}/", { params: { path: { id: user!.id } } })), [user?.id]);
  return (
    <div>
      <AccountNav />
      <PageTitle>Edit profile</PageTitle>
      <Load state={state}>{(profile) => <EditProfileForm profile={profile as FullUser} />}</Load>
    </div>
  );
}

const PRO_TEXT = ["company_name", "job_title", "description", "phone", "website", "business_address", "years_experience"] as const;
const PRO_LISTS = ["certifications", "services_offered"] as const;
const PRO_ROLES = new Set(["professional", "data_provider"]);

function ProfessionalForm({ existing, userId, onSaved }: { existing: Professional | null; userId: number; onSaved: (p: Professional) => void }) {
  const record = (existing ?? {}) as Record<string, unknown>;
  const [values, setValues] = useState<Record<string, string>>(() => ({
    ...Object.fromEntries(PRO_TEXT.map((k) => [k, record[k] == null ? "" : String(record[k])])),
    ...Object.fromEntries(PRO_LISTS.map((k) => [k, Array.isArray(record[k]) ? (record[k] as string[]).join("\n") : ""])),
  }));
  const form = useSubmit([...PRO_TEXT, ...PRO_LISTS]);
  const bind = (name: string) => ({ name, value: values[name], onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => setValues((v) => ({ ...v, [name]: e.target.value })), errors: form.errors });

  const onSubmit = form.submit(async () => {
    const body: Record<string, unknown> = {};
    for (const k of PRO_TEXT) body[k] = k === "years_experience" ? (values[k] === "" ? 0 : Number(values[k])) : values[k];
    for (const k of PRO_LISTS)
      body[k] = values[k]
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean);
    const saved = existing
      ? await must(api.PATCH("/api/professional-profiles/{id}/", { params: { path: { id: userId } }, body: body as never }))
      : await must(api.POST("/api/professional-profiles/", { body: body as never }));
    onSaved(saved as Professional);
    return existing ? "Professional profile saved." : "Professional profile created.";
  });

  return (
    <form onSubmit={onSubmit} noValidate>
      {existing && <p className="muted">{existing.is_verified ? "Verified by an administrator." : "Not verified yet: an administrator verifies professional profiles."}</p>}
      <div className="row">
        <Field label="Company" {...bind("company_name")} />
        <Field label="Job title" {...bind("job_title")} />
      </div>
      <TextArea label="Description" rows={3} {...bind("description")} />
      <div className="row">
        <Field label="Phone" type="tel" {...bind("phone")} />
        <Field label="Website" type="url" {...bind("website")} />
      </div>
      <Field label="Business address" {...bind("business_address")} />
      <Field label="Years of experience" type="number" min={0} {...bind("years_experience")} />
      <TextArea label="Certifications (one per line)" rows={3} {...bind("certifications")} />
      <TextArea label="Services offered (one per line)" rows={3} {...bind("services_offered")} />
      <FormMessages messages={form.messages} success={form.success} />
      <button className="button" type="submit" disabled={form.busy}>
        {existing ? "Save" : "Create professional profile"}
      </button>
    </form>
  );
}

function ProfessionalPage() {
  const { user } = useSession();
  const state = useApi(async () => {
    try {
      return (await must(api.GET("/api/professional-profiles/{id}/", { params: { path: { id: user!.id } } }))) as Professional;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }, [user?.id]);
  if (!user) return null;
  return (
    <div>
      <AccountNav />
      <PageTitle>Professional profile</PageTitle>
      <Load state={state}>
        {(existing) =>
          existing || PRO_ROLES.has(user.role) ? (
            <ProfessionalForm key={existing?.updated_at ?? "new"} existing={existing} userId={user.id} onSaved={(p) => state.set(p)} />
          ) : (
            <p className="state state-empty">Professional profiles are for accounts with the professional or data provider role; an administrator gives the role.</p>
          )
        }
      </Load>
    </div>
  );
}

const LANGUAGES = ["en", "en-GB", "en-US", "es", "es-ES", "es-MX", "fr", "fr-CA", "fr-FR", "de", "it", "pt", "pt-BR", "pt-PT", "nl", "sv", "da", "nb", "fi", "pl", "ja", "ko", "zh-Hans", "zh-Hant"];

function timeZones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
}

const SETTINGS_FIELDS = ["email_notifications", "push_notifications", "notification_frequency", "profile_visibility", "language", "timezone", "theme", "mature_content", "auto_play_videos"] as const;

function SettingsForm({ initial }: { initial: Settings }) {
  const [values, setValues] = useState<Settings>(initial);
  const form = useSubmit(SETTINGS_FIELDS);
  const select = (name: "notification_frequency" | "profile_visibility" | "language" | "theme") => ({
    name,
    value: String(values[name] ?? ""),
    errors: form.errors,
    onChange: (e: React.ChangeEvent<HTMLSelectElement>) => {
      const value = e.target.value;
      setValues((v) => ({ ...v, [name]: value }));
      if (name === "theme") applyTheme(value as ThemeChoice);
    },
  });
  const flag = (name: "email_notifications" | "push_notifications" | "mature_content" | "auto_play_videos") => ({
    name,
    checked: !!values[name],
    errors: form.errors,
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => setValues((v) => ({ ...v, [name]: e.target.checked })),
  });

  const onSubmit = form.submit(async () => {
    const body = Object.fromEntries(SETTINGS_FIELDS.map((k) => [k, values[k]]));
    const saved = await must(api.PATCH("/api/settings/", { body: body as never }));
    setValues(saved);
    applyTheme(saved.theme as ThemeChoice);
    return "Settings saved.";
  });

  return (
    <form onSubmit={onSubmit} noValidate>
      <fieldset>
        <legend>Notifications</legend>
        <Checkbox label="Email notifications" {...flag("email_notifications")} />
        <Checkbox label="Push notifications" {...flag("push_notifications")} />
        <Select label="How often" options={["immediate", "daily", "weekly", "never"]} {...select("notification_frequency")} />
      </fieldset>
      <fieldset>
        <legend>Visibility</legend>
        <Select
          label="Who sees my profile"
          hint="Followers only or private makes the account private: non-followers see the card."
          options={[
            ["public", "Everyone"],
            ["followers", "Followers only"],
            ["private", "Private"],
          ]}
          {...select("profile_visibility")}
        />
        <Checkbox label="Show mature content" {...flag("mature_content")} />
        <Checkbox label="Play videos automatically" {...flag("auto_play_videos")} />
      </fieldset>
      <fieldset>
        <legend>Language, time and look</legend>
        <Select label="Language" options={LANGUAGES} {...select("language")} />
        <Field label="Time zone" name="timezone" list="time-zones" value={values.timezone} errors={form.errors} onChange={(e) => setValues((v) => ({ ...v, timezone: e.target.value }))} hint="An IANA name such as Europe/Berlin." />
        <datalist id="time-zones">
          {timeZones().map((tz) => (
            <option key={tz} value={tz} />
          ))}
        </datalist>
        <Select
          label="Theme"
          options={[
            ["light", "Light"],
            ["dark", "Dark"],
            ["system", "As the system"],
          ]}
          {...select("theme")}
        />
      </fieldset>
      <FormMessages messages={form.messages} success={form.success} />
      <button className="button" type="submit" disabled={form.busy}>
        {form.busy ? "Saving…" : "Save settings"}
      </button>
    </form>
  );
}

function SettingsPage() {
  const state = useApi(() => must(api.GET("/api/settings/")), []);
  return (
    <div>
      <AccountNav />
      <PageTitle>Settings</PageTitle>
      <Load state={state}>{(settings) => <SettingsForm initial={settings} />}</Load>
    </div>
  );
}

export default function Account({ page }: { page: "profile" | "professional" | "settings" }) {
  if (page === "profile") return <EditProfilePage />;
  if (page === "professional") return <ProfessionalPage />;
  return <SettingsPage />;
}
