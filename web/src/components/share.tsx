// Sharing a badge: the Web Share API where the browser has it, otherwise the link is copied to
// the clipboard (and shown in a read-only field to copy by hand when even that is refused).
import { useState } from "react";

export function ShareButton({ url, title, text }: { url: string; title: string; text: string }) {
  const [status, setStatus] = useState<string | null>(null);
  const [manual, setManual] = useState(false);

  async function share() {
    setStatus(null);
    if (typeof navigator.share === "function") {
      try {
        await navigator.share({ url, title, text });
        setStatus("Shared.");
        return;
      } catch (e) {
        if (e instanceof DOMException && e.name === "AbortError") return;
      }
    }
    try {
      await navigator.clipboard.writeText(url);
      setStatus("Link copied.");
    } catch {
      setManual(true);
      setStatus("Copy the link below.");
    }
  }

  return (
    <div className="share">
      <button type="button" className="button secondary" onClick={() => void share()}>
        Share
      </button>
      <span role="status" className="share-status">
        {status}
      </span>
      {manual && <input className="share-link" readOnly value={url} aria-label="Link to share" onFocus={(e) => e.currentTarget.select()} />}
    </div>
  );
}

export function badgeUrl(username: string, badgeId: number): string {
  return `${window.location.origin}/u/${encodeURIComponent(username)}/badges/${badgeId}`;
}
