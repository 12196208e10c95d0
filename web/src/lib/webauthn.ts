// WebAuthn between the API's JSON and the browser: the API sends creation and request options
// with every byte string in base64url (RFC 4648 §5, no padding), navigator.credentials wants
// ArrayBuffers, and the API takes the credential back as base64url. Done by hand rather than
// with PublicKeyCredential.parse*FromJSON / toJSON(), which not every supported browser has.

/** Bytes as base64url without padding. */
export function toBase64url(bytes: ArrayBuffer | ArrayBufferView): string {
  // isView, not instanceof ArrayBuffer: a buffer from another realm (a frame, jsdom) fails instanceof.
  const view = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url (padding optional) to bytes; anything else is a TypeError, not silently skipped. */
export function fromBase64url(text: string): ArrayBuffer {
  const bare = text.replace(/=+$/, "");
  // atob would accept "+", "/" and whitespace too: a wrong alphabet is a bug worth seeing.
  if (/[^A-Za-z0-9_-]/.test(bare) || bare.length % 4 === 1) throw new TypeError("not base64url");
  const base64 = bare.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out.buffer;
}

type Json = Record<string, unknown>;
interface CredentialRef {
  type: "public-key";
  id: string;
  transports?: AuthenticatorTransport[];
}

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return (list as CredentialRef[]).map((c) => ({ ...c, id: fromBase64url(c.id) }));
}

/** `{publicKey}` of register/begin as navigator.credentials.create wants it. */
export function creationOptions(json: Json): PublicKeyCredentialCreationOptions {
  const user = json.user as { id: string; name: string; displayName: string };
  const options = { ...json, challenge: fromBase64url(json.challenge as string), user: { ...user, id: fromBase64url(user.id) } } as unknown as PublicKeyCredentialCreationOptions;
  const exclude = descriptors(json.excludeCredentials);
  if (exclude) options.excludeCredentials = exclude;
  return options;
}

/** `{publicKey}` of a sign-in or second-step begin as navigator.credentials.get wants it. */
export function requestOptions(json: Json): PublicKeyCredentialRequestOptions {
  const options = { ...json, challenge: fromBase64url(json.challenge as string) } as unknown as PublicKeyCredentialRequestOptions;
  const allow = descriptors(json.allowCredentials);
  if (allow) options.allowCredentials = allow;
  return options;
}

/** A new credential as register/finish takes it. */
export function attestationJSON(credential: PublicKeyCredential) {
  const response = credential.response as AuthenticatorAttestationResponse;
  return {
    rawId: toBase64url(credential.rawId),
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      // Older engines lack getTransports; the API treats the list as a hint.
      transports: typeof response.getTransports === "function" ? response.getTransports() : [],
    },
  };
}

/** An assertion as sign-in/finish and the second step take it. */
export function assertionJSON(credential: PublicKeyCredential) {
  const response = credential.response as AuthenticatorAssertionResponse;
  return {
    rawId: toBase64url(credential.rawId),
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
    },
  };
}

/**
 * navigator.credentials.get (modal) for the API's `{publicKey}`, as the assertion the API
 * takes; the browser's refusals become Errors with a sentence for the person.
 */
export async function getAssertion(publicKey: unknown) {
  let credential: Credential | null;
  try {
    credential = await navigator.credentials.get({ publicKey: requestOptions(publicKey as Json) });
  } catch (e) {
    throw new Error(ceremonyMessage(e));
  }
  if (!credential) throw new Error("The browser returned no passkey.");
  return assertionJSON(credential as PublicKeyCredential);
}

/** Whether this browser can make and use passkeys at all (not whether it has one). */
export function webauthnSupported(): boolean {
  return typeof window !== "undefined" && typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

/** An AbortError from navigator.credentials: the page cancelled the request, not a failure. */
export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

/** What to tell the person when the browser refused or they cancelled. */
export function ceremonyMessage(e: unknown): string {
  if (e instanceof DOMException) {
    if (e.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
    if (e.name === "InvalidStateError") return "This authenticator already holds a passkey for your account.";
    if (e.name === "SecurityError") return "Passkeys are not available on this address.";
  }
  return e instanceof Error ? e.message : String(e);
}
