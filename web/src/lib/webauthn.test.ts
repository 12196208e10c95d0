// The conversions between the API's base64url JSON and navigator.credentials' ArrayBuffers.
import { describe, expect, it } from "vitest";
import { assertionJSON, attestationJSON, creationOptions, fromBase64url, requestOptions, toBase64url } from "./webauthn";

const bytes = (...values: number[]) => new Uint8Array(values);
const asArray = (buffer: ArrayBuffer | ArrayBufferView) => Array.from(ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer));

describe("base64url", () => {
  it("encodes without padding, with - and _ for + and /", () => {
    expect(toBase64url(bytes())).toBe("");
    expect(toBase64url(bytes(0xfb, 0xff))).toBe("-_8");
    expect(toBase64url(bytes(0x66))).toBe("Zg");
    expect(toBase64url(bytes(0x66, 0x6f))).toBe("Zm8");
    expect(toBase64url(bytes(0x66, 0x6f, 0x6f))).toBe("Zm9v");
    expect(toBase64url(new TextEncoder().encode("foobar").buffer)).toBe("Zm9vYmFy");
  });

  it("encodes only the view's bytes of a larger buffer", () => {
    const whole = bytes(1, 2, 3, 4, 5);
    expect(toBase64url(whole.subarray(1, 3))).toBe(toBase64url(bytes(2, 3)));
  });

  it("decodes with or without padding and round-trips every byte value", () => {
    expect(asArray(fromBase64url("-_8"))).toEqual([0xfb, 0xff]);
    expect(asArray(fromBase64url("Zg=="))).toEqual([0x66]);
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (let n = 0; n <= 5; n++) expect(asArray(fromBase64url(toBase64url(all.subarray(0, 250 + n))))).toEqual(Array.from(all.subarray(0, 250 + n)));
  });

  it("refuses standard base64's alphabet and impossible lengths", () => {
    expect(() => fromBase64url("+/8")).toThrow(TypeError);
    expect(() => fromBase64url("Zm9v Zg")).toThrow(TypeError);
    expect(() => fromBase64url("Zm9vY")).toThrow(TypeError);
  });
});

describe("options", () => {
  it("turns creation options' challenge, user id and excluded ids into buffers, keeping the rest", () => {
    const options = creationOptions({
      rp: { id: "localhost", name: "Accounts" },
      user: { id: "AAEC", name: "jane", displayName: "Jane" },
      challenge: "Zm9vYmFy",
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      excludeCredentials: [{ type: "public-key", id: "-_8", transports: ["internal"] }],
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
    });
    expect(asArray(options.challenge as ArrayBuffer)).toEqual(Array.from(new TextEncoder().encode("foobar")));
    expect(asArray(options.user.id as ArrayBuffer)).toEqual([0, 1, 2]);
    expect(options.user.name).toBe("jane");
    expect(options.rp).toEqual({ id: "localhost", name: "Accounts" });
    expect(asArray(options.excludeCredentials![0].id as ArrayBuffer)).toEqual([0xfb, 0xff]);
    expect(options.excludeCredentials![0].transports).toEqual(["internal"]);
    expect(options.authenticatorSelection?.residentKey).toBe("required");
  });

  it("turns request options' challenge and allowed ids into buffers; no list stays absent", () => {
    const usernameless = requestOptions({ challenge: "Zg", rpId: "localhost", userVerification: "required" });
    expect(asArray(usernameless.challenge as ArrayBuffer)).toEqual([0x66]);
    expect(usernameless.allowCredentials).toBeUndefined();
    expect(usernameless.rpId).toBe("localhost");
    const second = requestOptions({ challenge: "Zg", allowCredentials: [{ type: "public-key", id: "AAEC" }] });
    expect(asArray(second.allowCredentials![0].id as ArrayBuffer)).toEqual([0, 1, 2]);
  });
});

describe("credentials", () => {
  it("sends a new credential's bytes as base64url with its transports", () => {
    const credential = {
      rawId: bytes(1, 2, 3).buffer,
      response: { clientDataJSON: bytes(0x7b).buffer, attestationObject: bytes(0xa3, 0x63).buffer, getTransports: () => ["internal", "hybrid"] },
    } as unknown as PublicKeyCredential;
    expect(attestationJSON(credential)).toEqual({ rawId: "AQID", response: { clientDataJSON: "ew", attestationObject: "o2M", transports: ["internal", "hybrid"] } });
  });

  it("sends an assertion, with a null user handle when the authenticator gave none", () => {
    const credential = {
      rawId: bytes(1, 2, 3).buffer,
      response: { clientDataJSON: bytes(0x7b).buffer, authenticatorData: bytes(0x49).buffer, signature: bytes(0x30, 0x45).buffer, userHandle: null },
    } as unknown as PublicKeyCredential;
    expect(assertionJSON(credential)).toEqual({ rawId: "AQID", response: { clientDataJSON: "ew", authenticatorData: "SQ", signature: "MEU", userHandle: null } });
  });
});
