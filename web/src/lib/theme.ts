// The light and dark themes: `data-theme` on <html> picks the CSS variables (styles.css). The
// choice is the `theme` setting in /api/settings/ (light, dark or system); a copy of the
// resolved choice in localStorage lets index.html paint the right theme before the page loads.
export type ThemeChoice = "light" | "dark" | "system";

export function resolveTheme(choice: ThemeChoice): "light" | "dark" {
  if (choice !== "system") return choice;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(choice: ThemeChoice): void {
  const theme = resolveTheme(choice);
  document.documentElement.dataset.theme = theme;
  try {
    if (choice === "system") localStorage.removeItem("theme");
    else localStorage.setItem("theme", theme);
  } catch {
    // storage refused (private mode): the theme still applies to this page
  }
}
