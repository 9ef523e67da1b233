/** Base64 for bytes and UTF-8 text (`btoa`/`atob` alone handle only Latin-1). */

/** Standard base64 of bytes. */
export const encodeBase64 = (bytes: Uint8Array): string => {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
};

/** Standard base64 of a string's UTF-8 bytes. */
export const encodeBase64Text = (text: string): string => encodeBase64(new TextEncoder().encode(text));

/** The bytes of standard base64 (whitespace ignored); throws on invalid input, as `atob` does. */
export const decodeBase64 = (b64: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(b64.replace(/\s+/g, "")), (c) => c.charCodeAt(0));

/** The UTF-8 text of standard base64. */
export const decodeBase64Text = (b64: string): string => new TextDecoder().decode(decodeBase64(b64));
