/** Basic authentication exactly as faas-provider: credentials from files, 401 with a realm. */
import type { MiddlewareHandler } from "hono";
import { decodeBase64Text } from "../../lib/base64.ts";

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** Reads `basic-auth-user` and `basic-auth-password` from the secret mount path (trimmed). */
export const readCredentials = async (mountPath: string): Promise<Credentials> => {
  const dir = mountPath.endsWith("/") ? mountPath : `${mountPath}/`;
  const read = async (file: string) => {
    try {
      return (await Deno.readTextFile(`${dir}${file}`)).trim();
    } catch (e) {
      throw new Error(`basic_auth=true but ${dir}${file} cannot be read: ${(e as Error).message}`);
    }
  };
  return { user: await read("basic-auth-user"), password: await read("basic-auth-password") };
};

const encoder = new TextEncoder();

/** Compares in time that depends only on the lengths. */
const constantTimeEqual = (a: string, b: string): boolean => {
  const x = encoder.encode(a), y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
};

export const checkBasicAuth = (header: string | undefined, creds: Credentials): boolean => {
  if (!header || !header.startsWith("Basic ")) return false;
  let decoded: string;
  try {
    decoded = decodeBase64Text(header.slice(6).trim());
  } catch {
    return false;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  const userOk = constantTimeEqual(decoded.slice(0, colon), creds.user);
  const passOk = constantTimeEqual(decoded.slice(colon + 1), creds.password);
  return userOk && passOk;
};

/** The 401 of a request without the credentials. */
export const unauthorized = () =>
  new Response("invalid credentials", {
    status: 401,
    headers: { "WWW-Authenticate": 'Basic realm="Restricted"', "Content-Type": "text/plain; charset=utf-8" },
  });

/** Lets through requests that carry `credentials`, answers the others 401. */
export const basicAuth = (credentials: Credentials): MiddlewareHandler => (c, next) =>
  checkBasicAuth(c.req.header("authorization"), credentials) ? next() : Promise.resolve(unauthorized());
