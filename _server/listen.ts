// Binding TCP or TLS for serve(): loopback unless a token guards the
// address, and bind failures named with the address they were for.

import { isLoopback } from "./policy.ts";
import { type AnyServeOptions, missingTokenMessage, portOf } from "./settings.ts";

/** Listens where `options` say, or throws a TypeError or an address error naming it. */
export function listenTcp(options: AnyServeOptions, hasToken: boolean): Deno.Listener {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = portOf(options);
  if (!isLoopback(hostname) && !hasToken && !options.allowRemoteWithoutToken) {
    throw new TypeError(missingTokenMessage(hostname));
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("Cannot serve TLS: cert and key go together");
  }
  const where = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  try {
    if (options.cert !== undefined && options.key !== undefined) {
      return Deno.listenTls({ hostname, port, cert: options.cert, key: options.key });
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
