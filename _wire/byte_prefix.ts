// Whether bytes hold a given prefix at a given place: how the client's fast
// paths recognise frames in our server's exact shapes. Pure: no Deno APIs.

/** Whether `body` holds `prefix` from `at` on. */
export function startsWith(body: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (body.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (body[at + i] !== prefix[i]) return false;
  return true;
}
