// Binding TCP or TLS for serve(), where the settings say, and bind failures
// named with the address they were for.

import type { Listen } from "./settings.ts";

/** Listens where `listen` says, or throws an address error naming it. */
export function listenTcp(listen: Extract<Listen, { transport: "tcp" }>): Deno.Listener {
  const { hostname, port, cert, key } = listen;
  const where = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  try {
    if (cert !== undefined && key !== undefined) {
      return Deno.listenTls({ hostname, port, cert, key });
    }
    return Deno.listen({ hostname, port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Deno.errors.AddrInUse(`Cannot serve on ${where}: the address is already in use`, {
        cause: error,
      });
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new Deno.errors.AddrNotAvailable(
        `Cannot serve on ${where}: no interface of this host has that address`,
        { cause: error },
      );
    }
    throw error;
  }
}
